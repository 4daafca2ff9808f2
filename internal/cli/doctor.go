package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/internal/doctor"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

func (a *app) doctorCmd() *cobra.Command {
	var runtime string
	cmd := &cobra.Command{
		Use:   "doctor [STACK]",
		Short: "Check that this machine can run the stack's kind cluster",
		Long: `Check the container runtime, its CPUs and memory, the host ports the stack
needs, inotify limits, the cluster subnets against host routes, and the
cgroup version. Each problem comes with a one-line fix. up runs the same
checks before it creates anything.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			if runtime == "" {
				runtime = a.runtimeFromEnv()
			}
			rt, _ := cluster.DetectRuntime(cmd.Context(), runtime)
			rep := doctor.Run(cmd.Context(), st, doctor.Env{Runtime: rt}, nil)
			if a.json() {
				if err := a.writeJSON(rep); err != nil {
					return err
				}
			} else {
				a.printDoctor(rep)
			}
			if !rep.OK() {
				return errors.New("doctor found problems")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", "", "container runtime: docker, podman or nerdctl")
	return cmd
}

func (a *app) printDoctor(rep doctor.Report) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, c := range rep.Checks {
		line := fmt.Sprintf("%s\t%s\t%s", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			line += "\t→ " + c.Fix
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// dryRun plans the stack and, for kind, renders its config and runs
// doctor, creating nothing.
func (a *app) dryRun(ctx context.Context, st *stack.Stack, p cluster.Provider) error {
	pl, err := plan.Build(st, plan.ForProvider(p.Name()))
	if err != nil {
		return err
	}
	if c, ok := p.(cluster.Checker); ok {
		if ps := c.Check(st); len(ps) > 0 {
			return ps
		}
	}
	doctor := "nothing to check before creating"
	if pf, ok := p.(cluster.Preflighter); ok {
		if err := pf.Preflight(ctx, st); err != nil {
			return err
		}
		doctor = "ok"
	}
	if a.json() {
		return a.writeJSON(map[string]any{"stack": st.Metadata.Name, "provider": p.Name(), "levels": pl.Levels, "doctor": doctor, "created": false})
	}
	fmt.Fprintf(a.stdout, "plan: %d steps in %d levels\n", len(pl.Steps), len(pl.Levels))
	for i, lv := range pl.Levels {
		fmt.Fprintf(a.stdout, "  level %d: %v\n", i, lv)
	}
	fmt.Fprintf(a.stdout, "provider %s, doctor: %s; dry run, nothing was created\n", p.Name(), doctor)
	return nil
}

// runtimeFromEnv is the runtime the environment asks for: KINDRED_RUNTIME,
// else KIND_EXPERIMENTAL_PROVIDER as kind itself reads it ("" detects).
func (a *app) runtimeFromEnv() string {
	if rt, ok := a.lookupEnv("KINDRED_RUNTIME"); ok && rt != "" {
		return rt
	}
	rt, _ := a.lookupEnv("KIND_EXPERIMENTAL_PROVIDER")
	return rt
}
