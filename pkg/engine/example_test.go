package engine_test

import (
	"context"
	"fmt"
	"log"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/stack"
)

// Bring a stack up on a kind cluster, printing each step as it finishes;
// then read back what the cluster runs. The library prints nothing itself.
func ExampleNewUp() {
	st, err := stack.Load("kindred.yaml")
	if err != nil {
		log.Fatal(err)
	}
	kind, err := cluster.New(cluster.Kind, cluster.Options{})
	if err != nil {
		log.Fatal(err)
	}
	cfg := engine.Config{
		Provider: kind,
		Sink: event.SinkFunc(func(e event.Event) {
			if e.Type == event.StepSucceeded || e.Type == event.StepFailed {
				fmt.Println(e.Type, e.Step, e.Message)
			}
		}),
	}
	ctx := context.Background()
	sum, err := engine.NewUp(cfg).Run(ctx, st)
	if err != nil {
		log.Fatal(err) // a *RunError names each failed step
	}
	fmt.Printf("%d changed, %d unchanged\n", sum.Changed, sum.Unchanged)

	rep, err := engine.NewStatus(cfg).Run(ctx, st)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Steps {
		fmt.Println(s.ID, s.Healthy)
	}
}
