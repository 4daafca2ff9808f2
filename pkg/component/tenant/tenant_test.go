package tenant

import (
	"testing"

	"kindred.dev/kindred/internal/golden"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// TestTenantGolden pins what kindred renders for a tenant, with the ingress
// proxy's namespace let in.
func TestTenantGolden(t *testing.T) {
	objs, err := tenantObjects(&api.Tenant{Name: "team-a", Namespace: "team-a", Admins: []string{"group:team-a"}, Viewers: []string{"serviceaccount:ci/reader"},
		NetworkPolicy: api.NetworkPolicyDefaultDeny, Quota: &api.Quota{CPU: "4", Memory: "8Gi", Pods: 50}}, "projectcontour")
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "tenant.yaml", objs)
}

// Without an ingress controller there is no proxy to let in.
func TestTenantWithoutIngress(t *testing.T) {
	objs, err := tenantObjects(&api.Tenant{Name: "team-a", Namespace: "team-a", NetworkPolicy: api.NetworkPolicyDefaultDeny}, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" {
			names = append(names, o.GetName())
		}
	}
	if len(names) != 2 || names[0] != "default-deny" || names[1] != "allow-dns" {
		t.Errorf("network policies %v, want default-deny and allow-dns", names)
	}
}
