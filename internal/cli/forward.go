package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
)

// portFree reports whether a port on 127.0.0.1 can be listened on now.
func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// hostPorts are the host ports of the credentials' databases, chosen once
// per cluster and remembered with it, so env's URLs and forward's
// listeners agree from one run to the next.
func (a *app) hostPorts(st *stack.Stack, list []database.Credential) (map[string]int, error) {
	want, fixed := map[string]int{}, map[string]int{}
	for _, c := range list {
		for _, db := range st.Databases {
			if db.Name == c.Database && db.HostPort != 0 {
				fixed[c.Database] = db.HostPort // the stack says
			}
		}
		if _, ok := fixed[c.Database]; ok {
			continue
		}
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, fmt.Errorf("the URL of %s: %w", c.Database, err)
		}
		p, _ := strconv.Atoi(u.Port())
		want[c.Database] = p
	}
	return a.registry().HostPorts(cluster.Record{Cluster: st.Cluster.Name, Stack: st.Metadata.Name}, want, fixed, portFree)
}

// onHost rewrites credentials' in-cluster URLs to their host ports.
func (a *app) onHost(st *stack.Stack, list []database.Credential) ([]database.Credential, error) {
	ports, err := a.hostPorts(st, list)
	if err != nil {
		return nil, err
	}
	out := make([]database.Credential, len(list))
	for i, c := range list {
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, fmt.Errorf("the URL of %s: %w", c.Database, err)
		}
		u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[c.Database]))
		c.URL = u.String()
		out[i] = c
	}
	return out, nil
}

func (a *app) forwardCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "forward [DATABASE...] [-c CLUSTER]",
		Short: "Reach the stack's databases on the host's loopback while it runs",
		Long: `Forward each database (all of them with no argument) to a port on
127.0.0.1: the port kindred env and creds put in their URLs, chosen once
per cluster (the engine's usual port when it is free, else another) and
kept. The forward follows the database: when its pod restarts, it reaches
the new one on the same port. It runs until Ctrl-C.`,
		Example: `  kindred forward
  kindred forward orders -c shop
  eval "$(kindred env)"; psql "$ORDERS_URL"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, f.stackArg(), func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				list, err := database.Credentials(ctx, p, st, false, args...)
				if errors.Is(err, database.ErrNoDatabase) {
					return usageError{err}
				}
				if err != nil {
					return err
				}
				if len(list) == 0 {
					return usageError{fmt.Errorf("stack %s has no databases", st.Metadata.Name)}
				}
				ports, err := a.hostPorts(st, list)
				if err != nil {
					return err
				}
				var fs []engine.Forward
				for _, c := range list {
					u, _ := url.Parse(c.URL)
					remote, _ := strconv.Atoi(u.Port())
					for _, db := range st.Databases {
						if db.Name == c.Database {
							fs = append(fs, engine.Forward{Database: db.Name, Namespace: db.Namespace, Service: db.Name, Port: ports[db.Name], Remote: remote})
						}
					}
				}
				fw := engine.NewForwarder(a.engineConfig(p))
				var mu sync.Mutex
				fw.Event = func(f engine.Forward, msg string) {
					mu.Lock()
					defer mu.Unlock()
					a.note(fmt.Sprintf("%s: %s", f.Database, msg))
				}
				a.note("forwarding until Ctrl-C; kindred env prints the URLs")
				return fw.Run(ctx, st, fs)
			})
		},
	}
	f.add(cmd)
	cmd.ValidArgsFunction = a.completeFromStack(&f, databaseNames)
	cmd.Flags().StringVarP(&f.stack, "cluster", "c", "", "the cluster or stack (default ./kindred.yaml, else the only cluster kindred knows)")
	return cmd
}
