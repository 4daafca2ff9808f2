package cli

import (
	"fmt"
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
	if hit, err := a.registry().Find(r.Cluster); err == nil && hit.Name() == r.Name() {
		return r.Cluster
	}
	return r.Name()
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
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
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
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
			if _, ok := p.(cluster.Stopper); !ok {
				return usageError{fmt.Errorf("the %s provider cannot start clusters: kindred did not create this one", p.Name())}
			}
			if state, err := cluster.State(ctx, p, st); err != nil {
				return err
			} else if state == cluster.StateGone {
				return fmt.Errorf("%w: %s is gone; create it with `kindred up`", cluster.ErrNoCluster, st.Cluster.Name)
			}
			return a.up(ctx, &f, st, p, upOptions{lockTimeout: lockTimeout})
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 2*time.Minute, "how long to wait while another run holds the cluster")
	return cmd
}
