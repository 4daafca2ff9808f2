package prometheus

import (
	"testing"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// With Prometheus in the stack, its chart gets a scrape job for each
// metrics endpoint of the stack's other components: Contour, Envoy and
// cert-manager. (The engine's test renders them through the chart.)
func TestScrapeConfigs(t *testing.T) {
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
	scrapes, err := scrapeConfigs(p)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "prometheus-scrape-configs.yaml", []byte(scrapes))
}
