package engine

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// With Prometheus in the stack, its chart gets a scrape job for each
// metrics endpoint of the stack's other components: Contour, Envoy and
// cert-manager.
func TestPrometheusScrapesTheStack(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
ingress: {domain: shop.localhost}
tls: {issuer: self-signed}
components:
  - {name: prometheus, use: prometheus}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		t.Fatal(err)
	}
	// Rendered by the real chart into Prometheus's configuration.
	mirror := testbed.Upstream(t)
	r := &runner{cfg: &Config{}, st: st, plan: p, helm: &helm.Client{Fetcher: &helm.Fetcher{CacheDir: t.TempDir(), Mirror: mirror}}}
	step, _ := p.Step("prometheus")
	env := r.env(step, nil)
	env.Namespace = "monitoring"
	rel, err := r.chartRelease(step, component.For(st, step), env)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := r.helm.Render(context.Background(), rel, "v1.35.4")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var config string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "prometheus-server" {
			config, _, _ = unstructured.NestedString(o.Object, "data", "prometheus.yml")
		}
	}
	for _, job := range []string{"job_name: prometheus", "job_name: contour", "job_name: envoy", "job_name: cert-manager", "replacement: $1:8002", "/stats/prometheus"} {
		if !strings.Contains(config, job) {
			t.Errorf("Prometheus's configuration lacks %q:\n%s", job, config)
		}
	}
}
