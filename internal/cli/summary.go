package cli

import (
	"context"
	"fmt"
	"strings"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
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
	if in, ok := ingressOf(st); ok && acc.Existing && len(st.Routes) > 0 {
		// No host ports on a cluster kindred did not create: the proxy
		// is reached through its Service.
		ns, svc := in.ProxyService()
		fmt.Fprintf(w, "          (this cluster is not kindred's: no host ports; reach the routes through Service %s/%s, by its load balancer or kubectl -n %s port-forward svc/%s %d:80, with the routes' names resolving to it)\n",
			ns, svc, ns, svc, max(st.Ingress.HostPorts.HTTP, 8080))
	}
	for _, c := range database.Masked(st) {
		fmt.Fprintf(w, "database  %s  (password: secret %s)\n", c.URL, c.Secret)
	}
	fmt.Fprintf(w, "kubeconfig %s\n", acc.Kubeconfig)
	fmt.Fprintf(w, "next      %s\n", strings.Join(a.nextHints(p, st, acc), "   ·   "))
}

// nextHints are the commands to try after up, each with the exact
// arguments that work: the cluster by the name kindred remembers it by.
func (a *app) nextHints(p cluster.Provider, st *stack.Stack, acc cluster.Access) []string {
	name := a.nameFor(st)
	hints := []string{"kindred status " + name}
	if len(st.Databases) > 0 {
		hints = append(hints, "kindred env "+name)
	}
	hints = append(hints, "kubectl --kubeconfig "+acc.Kubeconfig+" get pods -A")
	if _, ok := p.(cluster.Stopper); ok {
		hints = append(hints, "kindred stop "+name)
	}
	return append(hints, "kindred down "+name)
}

// ingressOf is the stack's ingress controller component, if it has one.
func ingressOf(st *stack.Stack) (component.Ingress, bool) {
	if st.Ingress == nil {
		return nil, false
	}
	return component.IngressFor(st.Ingress.Controller)
}
