package cli

import (
	"context"
	"fmt"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/stack"
)

// printSummary tells what the user now has and what to try next. Database
// credentials are masked: they live in their Secrets.
func (a *app) printSummary(ctx context.Context, p cluster.Provider, st *stack.Stack) {
	acc, err := p.Access(ctx, st)
	if err != nil {
		return
	}
	w := a.stdout
	fmt.Fprintln(w)
	for _, r := range st.Routes {
		fmt.Fprintf(w, "route     %s\n", st.RouteURL(r))
	}
	for _, c := range database.Masked(st) {
		fmt.Fprintf(w, "database  %s  (password: secret %s)\n", c.URL, c.Secret)
	}
	fmt.Fprintf(w, "kubeconfig %s\n", acc.Kubeconfig)
	fmt.Fprintf(w, "next      kindred status --provider %s   ·   kubectl --kubeconfig %s get pods -A   ·   kindred down --provider %s\n", p.Name(), acc.Kubeconfig, p.Name())
}
