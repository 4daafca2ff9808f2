package sim

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/pkg/internal/ready"
)

// registerNodes creates the Node objects kwok then brings to life.
func registerNodes(ctx context.Context, cs kubernetes.Interface, groups []Node) error {
	for _, g := range groups {
		for i := range g.Count {
			name := g.Name
			if g.Count > 1 {
				name = fmt.Sprintf("%s-%d", g.Name, i)
			}
			labels := map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			}
			if g.ControlPlane {
				labels["node-role.kubernetes.io/control-plane"] = ""
			}
			maps.Copy(labels, g.Labels)
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name:        name,
					Labels:      labels,
					Annotations: map[string]string{FakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				},
				Spec: corev1.NodeSpec{Taints: g.Taints},
			}
			if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("registering node %s: %w", name, err)
			}
		}
	}
	return nil
}

// nodesReady reports whether there are nodes and every one is Ready.
func nodesReady(ctx context.Context, cs kubernetes.Interface) (bool, error) {
	notReady, err := ready.NodesNotReady(ctx, cs)
	return err == nil && len(notReady) == 0, nil
}
