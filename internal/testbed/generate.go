package testbed

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// generatedCharts are the test charts a generated stack installs, in turn.
var generatedCharts = []string{"hooked", "operator", "agent", "storefront"}

// GenerateStack writes a stack of n chart components from the test charts
// under chartsDir, in namespaces of four (one of each chart: two releases
// of one chart in a namespace would both own the objects the chart names
// without its release, such as storefront's Category), with a random but seeded
// dependency graph: each component needs up to three earlier ones. The
// same n and seed give the same stack.
func GenerateStack(n int, seed uint64, chartsDir string) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: gen%d}\ncomponents:\n", n)
	for i := range n {
		fmt.Fprintf(&b, "  - name: c%03d\n    namespace: ns%02d\n    chart: {path: %s/%s}\n", i, i/len(generatedCharts), chartsDir, generatedCharts[i%len(generatedCharts)])
		if i == 0 {
			continue
		}
		seen := map[int]bool{}
		var needs []string
		for range r.IntN(4) {
			d := r.IntN(i)
			if !seen[d] {
				seen[d] = true
				needs = append(needs, fmt.Sprintf("c%03d", d))
			}
		}
		if len(needs) > 0 {
			fmt.Fprintf(&b, "    needs: [%s]\n", strings.Join(needs, ", "))
		}
	}
	return []byte(b.String())
}
