package contour

import (
	"testing"

	"kindred.dev/kindred/internal/golden"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// TestRouteGolden pins a route's HTTPProxy and the delegation of the
// wildcard certificate.
func TestRouteGolden(t *testing.T) {
	yes := true
	objs, err := routeObjects(&api.Route{Host: "api.shop.localhost", Service: api.ServiceRef{Name: "api", Namespace: "apps", Port: 8080},
		Protocol: api.ProtocolGRPC, PathPrefix: "/", TLS: &yes, HealthCheck: &api.HealthCheck{Path: "/healthz"}})
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "route.yaml", objs)
}
