package contour

import (
	"testing"

	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/pkg/internal/kube"
)

// Contour's release manifests run Envoy as a DaemonSet with host ports on
// every node; kindred pins it to the ingress-ready node and lets it run on
// a tainted control plane. Other objects are left alone, and a second pass
// adds nothing twice.
func TestPlaceIngress(t *testing.T) {
	objs, err := kube.Decode([]byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: envoy, namespace: projectcontour}
spec:
  selector: {matchLabels: {app: envoy}}
  template:
    metadata: {labels: {app: envoy}}
    spec:
      tolerations: [{key: example.test/other, operator: Exists}]
      containers:
        - name: envoy
          image: docker.io/envoyproxy/envoy:v1.35.0
          ports: [{containerPort: 8080, hostPort: 80}, {containerPort: 8443, hostPort: 443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: contour, namespace: projectcontour}
spec:
  selector: {matchLabels: {app: contour}}
  template:
    metadata: {labels: {app: contour}}
    spec:
      containers: [{name: contour, image: ghcr.io/projectcontour/contour:v1.33.8}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := placeIngress(objs); err != nil {
			t.Fatal(err)
		}
	}
	out, err := yaml.Marshal([]any{objs[0].Object, objs[1].Object})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "ingress-envoy.yaml", out)
}
