package calico

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
)

// Mirror recognises Calico by the operator's Installation (or, for a
// manifest install, the calico-node DaemonSet) and takes the pod subnet
// from its first IP pool.
func (Calico) Mirror(ctx context.Context, live component.Live, into *api.Stack) (component.Mirrored, error) {
	var m component.Mirrored
	n := &into.Cluster.Networking
	if insts := live.List(ctx, "operator.tigera.io/v1", "Installation", ""); len(insts) > 0 {
		inst := insts[0]
		n.CNI = api.CNICalico
		m.Notes = append(m.Notes, component.MirrorNote{Path: "cluster.networking.cni", From: "Calico: Installation " + inst.GetName() + " (operator.tigera.io/v1)"})
		pools, _, _ := unstructured.NestedSlice(inst.Object, "spec", "calicoNetwork", "ipPools")
		if len(pools) > 0 {
			if p, ok := pools[0].(map[string]any); ok {
				if cidr, _ := p["cidr"].(string); cidr != "" {
					n.PodSubnet = cidr
					m.Notes = append(m.Notes, component.MirrorNote{Path: "cluster.networking.podSubnet", From: "the Installation's first IP pool"})
				}
			}
		}
	} else {
		for _, ds := range live.List(ctx, "apps/v1", "DaemonSet", "") {
			if ds.GetName() == "calico-node" {
				n.CNI = api.CNICalico
				m.Notes = append(m.Notes, component.MirrorNote{Path: "cluster.networking.cni", From: "Calico: DaemonSet " + ds.GetNamespace() + "/calico-node (a manifest install; kindred installs it through the operator)"})
				break
			}
		}
	}
	if n.CNI == api.CNICalico {
		m.Namespaces = []string{"tigera-operator", "calico-system", "calico-apiserver"}
	}
	return m, nil
}
