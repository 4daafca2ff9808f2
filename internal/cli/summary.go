package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/render"
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

// jobSummary appends the run's Markdown summary to $GITHUB_STEP_SUMMARY,
// when GitHub Actions names one: the steps, their times, the critical
// path and the timeline, the routes and the databases' URLs, masked.
func (a *app) jobSummary(steps []render.Timed, st *stack.Stack) {
	path, ok := a.lookupEnv("GITHUB_STEP_SUMMARY")
	if !ok || path == "" {
		return
	}
	var extra []string
	for _, r := range st.Routes {
		extra = append(extra, "route "+st.RouteURL(r))
	}
	for _, c := range database.Masked(st) {
		extra = append(extra, fmt.Sprintf("database `%s` (password: secret `%s`)", c.URL, c.Secret))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		a.log.Warn("not writing the job summary", "err", err)
		return
	}
	defer f.Close()
	render.JobSummary(f, "kindred up "+st.Metadata.Name, steps, extra)
}
