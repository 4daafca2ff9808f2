package engine

import (
	"context"
	"time"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
)

// calico creates the operator's Installation with an IP pool that is the
// cluster's pod subnet, then waits until the operator reports Calico
// Available and every node is Ready: with Calico, nodes stay NotReady until
// the CNI runs.
func (r *runner) calico(ctx context.Context, timeout time.Duration, progress func(string)) error {
	inst := kube.Object("operator.tigera.io/v1", "Installation", "", "default", map[string]any{"spec": map[string]any{
		"calicoNetwork": map[string]any{"ipPools": []any{map[string]any{
			"cidr":          r.st.Cluster.Networking.PodSubnet,
			"encapsulation": "VXLANCrossSubnet",
			"natOutgoing":   "Enabled",
			"nodeSelector":  "all()",
		}}},
	}})
	progress("applying the Calico Installation for " + r.st.Cluster.Networking.PodSubnet)
	if _, err := r.kube.Apply(ctx, inst); err != nil {
		return err
	}
	return ready.RunChecks(ctx, r.kube, []api.Check{
		{Type: api.CheckCondition, APIVersion: "operator.tigera.io/v1", Kind: "TigeraStatus", Name: "calico", Condition: "Available", Status: "True"},
		{Type: ready.CheckNodesReady},
	}, timeout, progress)
}
