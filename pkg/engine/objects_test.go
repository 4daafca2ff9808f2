package engine

import (
	"testing"

	"sigs.k8s.io/yaml"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/golden"
)

// TestGeneratedObjectsGolden pins what kindred renders for tenants, jobs
// and routes.
func TestGeneratedObjectsGolden(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name   string
		render func() (any, error)
	}{
		{"tenant.yaml", func() (any, error) {
			return tenantObjects(&api.Tenant{Name: "team-a", Namespace: "team-a", Admins: []string{"group:team-a"}, Viewers: []string{"serviceaccount:ci/reader"},
				NetworkPolicy: api.NetworkPolicyDefaultDeny, Quota: &api.Quota{CPU: "4", Memory: "8Gi", Pods: 50}})
		}},
		{"job.yaml", func() (any, error) {
			return jobObjects(&api.Job{Name: "fixtures", Namespace: "default", Image: "localhost:5001/loader:dev", Command: []string{"load"}, Env: map[string]string{"B": "2", "A": "1"}})
		}},
		{"cronjob.yaml", func() (any, error) {
			return jobObjects(&api.Job{Name: "ingest", Namespace: "batch", Image: "localhost:5001/ingest:dev", Schedule: "*/30 * * * *", BackoffLimit: 2})
		}},
		{"route.yaml", func() (any, error) {
			return routeObjects(&api.Route{Host: "api.shop.localhost", Service: api.ServiceRef{Name: "api", Namespace: "apps", Port: 8080},
				Protocol: api.ProtocolGRPC, PathPrefix: "/", TLS: &yes, HealthCheck: &api.HealthCheck{Path: "/healthz"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(objs)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name, out)
		})
	}
}
