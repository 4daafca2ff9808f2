package helm

import (
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// Reading a chart's CRDs leaves the chart as loaded: a subchart its
// condition disables (storefront's cache) stays disabled for the install
// that follows. (Processing dependencies on a shallow copy once changed
// the shared metadata, and helm then took the disabled subchart for one
// not listed in Chart.yaml, always installed.)
func TestChartCRDsLeavesTheChartAlone(t *testing.T) {
	ch, err := loader.Load("../../../testdata/charts/storefront")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartCRDs(ch, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := chartCRDs(ch, map[string]any{"cache": map[string]any{"enabled": true}}); err != nil {
		t.Fatal(err)
	}
	if err := chartutil.ProcessDependencies(ch, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range ch.Dependencies() {
		if d.Name() == "cache" {
			t.Errorf("the cache subchart, disabled by its condition, is enabled after reading the chart's CRDs")
		}
	}
}
