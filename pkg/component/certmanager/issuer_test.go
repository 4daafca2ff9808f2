package certmanager

import (
	"testing"

	"kindred.dev/kindred/internal/golden"
	_ "kindred.dev/kindred/pkg/component/contour" // the stack's ingress controller
	"kindred.dev/kindred/pkg/stack"
)

// TestIssuerGolden pins the self-signed ClusterIssuer and the wildcard
// certificate, in the Secret the ingress controller serves.
func TestIssuerGolden(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
tls: {issuer: self-signed}
ingress: {domain: shop.localhost}
`))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := issuerObjects(st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "issuer-selfsigned.yaml", objs)
}
