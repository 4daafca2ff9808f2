// Command simulated starts a simulated cluster, installs a stack on it with
// the engine, prints each step as it finishes, and stops the cluster.
//
//	KINDRED_TESTBED_DIR=$(testbed/build.sh) go run ./examples/simulated testdata/stacks/engine/stack.yaml
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: simulated STACK")
	}
	st, err := stack.Load(args[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := sim.Start(ctx, sim.WithNodes(cluster.Nodes(st)...))
	if err != nil {
		return err
	}
	defer c.Stop()

	sink := event.SinkFunc(func(e event.Event) {
		if e.Type == event.StepSucceeded || e.Type == event.StepFailed {
			fmt.Printf("%-10s %s %s\n", e.Type, e.Step, e.Message)
		}
	})
	p, err := cluster.New(cluster.Existing, cluster.Options{Kubeconfig: c.Kubeconfig, Simulated: true})
	if err != nil {
		return err
	}
	up := engine.NewUp(engine.Config{Provider: p, Sink: sink})
	sum, err := up.Run(ctx, st)
	fmt.Printf("%d changed, %d unchanged, %d failed\n", sum.Changed, sum.Unchanged, sum.Failed)
	return err
}
