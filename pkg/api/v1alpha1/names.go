package v1alpha1

import "fmt"

// IngressReadyLabel marks the node kind maps the host's ingress ports to,
// where the ingress proxy runs (kind's own convention).
const IngressReadyLabel = "ingress-ready"

// NodeName is the name kind gives the nth node (from 1) of a role in a
// cluster: <cluster>-control-plane, <cluster>-control-plane2, …,
// <cluster>-worker, <cluster>-worker2, ….
func NodeName(cluster, role string, n int) string {
	base := cluster + "-control-plane"
	if role == RoleWorker {
		base = cluster + "-worker"
	}
	if n > 1 {
		return fmt.Sprintf("%s%d", base, n)
	}
	return base
}
