package plan_test

import (
	"fmt"
	"testing"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// validateAndPlan is what every command does before it touches a cluster.
func validateAndPlan(tb testing.TB, data []byte) *plan.Plan {
	tb.Helper()
	st, err := stack.Parse("generated.yaml", data)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkValidatePlan loads, validates and plans generated stacks of 10,
// 50 and 200 components (issue 24's goal: under 100 ms at 200).
func BenchmarkValidatePlan(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		data := testbed.GenerateStack(n, 24, "../../testdata/charts")
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) {
			for b.Loop() {
				validateAndPlan(b, data)
			}
		})
	}
}

// TestGeneratedStacksPlan runs the benchmark's smallest stack once, so the
// benchmark cannot rot, and checks the generator: every component is a
// step, the graph has more than one level, and the same seed gives the
// same stack.
func TestGeneratedStacksPlan(t *testing.T) {
	data := testbed.GenerateStack(10, 24, "../../testdata/charts")
	p := validateAndPlan(t, data)
	if len(p.Steps) != 11 || len(p.Levels) < 3 { // the cluster step, and ten
		t.Errorf("%d steps in %d levels:\n%s", len(p.Steps), len(p.Levels), data)
	}
	if string(testbed.GenerateStack(10, 24, "../../testdata/charts")) != string(data) {
		t.Error("the generator is not deterministic")
	}
}
