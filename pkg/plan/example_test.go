package plan_test

import (
	"fmt"

	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// A stack's steps, grouped into levels that run in parallel.
func ExampleBuild() {
	st, err := stack.Parse("stack.yaml", []byte(`
apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
databases:
  - {name: orders, engine: postgres}
jobs:
  - {name: migrate, image: example.test/migrate:1, needs: [orders]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := plan.Build(st)
	if err != nil {
		fmt.Println(err)
		return
	}
	for level, ids := range p.Levels {
		fmt.Println(level, ids)
	}
	// Output:
	// 0 [cluster]
	// 1 [orders]
	// 2 [migrate]
}
