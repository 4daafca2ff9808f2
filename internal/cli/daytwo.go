package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
)

// nameFor is the shortest name later commands find the stack's cluster
// by: its cluster's name, or CLUSTER/STACK when other stacks share it.
func (a *app) nameFor(st *stack.Stack) string {
	return a.shortName(cluster.Record{Cluster: st.Cluster.Name, Stack: st.Metadata.Name})
}

func (a *app) shortName(r cluster.Record) string {
	all, _ := a.registry().Records()
	return shortName(r, all)
}

// shortName is r's cluster name when no other record answers to it (as
// a cluster or a stack name), else CLUSTER/STACK.
func shortName(r cluster.Record, all []cluster.Record) string {
	for _, o := range all {
		if o.Name() != r.Name() && (o.Cluster == r.Cluster || o.Stack == r.Cluster) {
			return r.Name()
		}
	}
	return r.Cluster
}

func (a *app) stopCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "stop [CLUSTER|STACK]",
		Short: "Stop the cluster and keep everything in it, to give the machine its memory back",
		Long: `Stop a cluster kindred created: a kind cluster's node containers, or a
simulated cluster's processes. Everything in it stays: objects, volumes,
databases' data. kindred start (or up) starts it again.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				s, ok := p.(cluster.Stopper)
				if !ok {
					return usageError{fmt.Errorf("the %s provider cannot stop clusters: kindred did not create this one", p.Name())}
				}
				began := time.Now()
				if err := s.Stop(ctx, st); err != nil {
					return err
				}
				a.note(fmt.Sprintf("stopped %s in %s; everything in it is kept. Start it again with `kindred start %s`", st.Cluster.Name, time.Since(began).Round(100*time.Millisecond), a.nameFor(st)))
				return nil
			})
		},
	}
	f.add(cmd)
	return cmd
}

func (a *app) startCmd() *cobra.Command {
	var f clusterFlags
	var lockTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "start [CLUSTER|STACK]",
		Short: "Start a stopped cluster again and check that its stack is healthy",
		Long: `Start a cluster kindred stop stopped, then bring its stack up as up does:
each step's readiness is checked again, and what drifted is repaired.
Nothing the stack dropped is removed (that is up's question).`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				if _, ok := p.(cluster.Stopper); !ok {
					return usageError{fmt.Errorf("the %s provider cannot start clusters: kindred did not create this one", p.Name())}
				}
				if state, err := cluster.State(ctx, p, st); err != nil {
					return err
				} else if state == cluster.StateGone {
					return fmt.Errorf("%w: %s is gone; create it with `kindred up`", cluster.ErrNoCluster, st.Cluster.Name)
				}
				return a.up(ctx, &f, st, p, upOptions{lockTimeout: lockTimeout, prefetch: true, tagTTL: cluster.DefaultTagTTL})
			})
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 2*time.Minute, "how long to wait while another run holds the cluster")
	return cmd
}

func (a *app) openCmd() *cobra.Command {
	var f clusterFlags
	var urlOnly bool
	cmd := &cobra.Command{
		Use:   "open [ROUTE] [-c CLUSTER]",
		Short: "Open a route of the stack in the browser (--url prints its URL)",
		Long: `Open one of the stack's routes in the browser. ROUTE is the route's host,
its first label (echo for echo.kindred.localhost) or its component; with
one route, it may be left out. --url prints the URL instead, for scripts
and for machines without a browser.`,
		Example: `  kindred open echo
  kindred open --url echo.kindred.localhost -c kindred`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.resolve(&f, f.stackArg())
			if err != nil {
				return err
			}
			want := ""
			if len(args) == 1 {
				want = args[0]
			}
			u, err := routeURL(st, want)
			if err != nil {
				return usageError{err}
			}
			if urlOnly {
				fmt.Fprintln(a.stdout, u)
				return nil
			}
			if err := openBrowser(u); err != nil {
				fmt.Fprintln(a.stdout, u)
				a.note("no browser to open it with (" + err.Error() + "); the URL is above")
				return nil
			}
			a.note("opened " + u)
			return nil
		},
	}
	f.add(cmd)
	cmd.ValidArgsFunction = a.completeFromStack(&f, routeNames)
	cmd.Flags().StringVarP(&f.stack, "cluster", "c", "", "the cluster or stack (default ./kindred.yaml, else the only cluster kindred knows)")
	cmd.Flags().BoolVar(&urlOnly, "url", false, "print the URL instead of opening it")
	return cmd
}

// routeURL is the URL of the stack's route that want names: by host, the
// host's first label, or its component; "" names the only route.
func routeURL(st *stack.Stack, want string) (string, error) {
	var hosts []string
	var hits []string
	for _, r := range st.Routes {
		hosts = append(hosts, r.Host)
		first, _, _ := strings.Cut(r.Host, ".")
		if want == "" || want == r.Host || want == first || want == r.Component {
			hits = append(hits, st.RouteURL(r))
		}
	}
	switch {
	case len(st.Routes) == 0:
		return "", fmt.Errorf("stack %s has no routes", st.Metadata.Name)
	case len(hits) == 1:
		return hits[0], nil
	case len(hits) == 0:
		return "", fmt.Errorf("no route %q in stack %s; it has %s", want, st.Metadata.Name, strings.Join(hosts, ", "))
	}
	return "", fmt.Errorf("name one of the routes of stack %s: %s", st.Metadata.Name, strings.Join(hosts, ", "))
}

// openBrowser opens u with the desktop's handler for URLs.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if _, err := exec.LookPath("xdg-open"); err != nil {
			return errors.New("xdg-open is not installed")
		}
		cmd = exec.Command("xdg-open", u)
	}
	return cmd.Run()
}
