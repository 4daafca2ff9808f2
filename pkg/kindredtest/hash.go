package kindredtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// ShapeHash identifies the cluster a stack needs: its nodes, networking and
// Kubernetes version. Stacks with the same shape share a cluster; a changed
// shape means another cluster.
func ShapeHash(st *stack.Stack) (string, error) {
	c := st.Cluster
	c.Name = "" // the name is derived from this hash
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(data, sim.KubernetesVersion...))
	return hex.EncodeToString(sum[:])[:32], nil
}

// Hash identifies the whole resolved stack (charts, versions, values,
// values files and the cluster shape); kindred records what it applied in
// the cluster, and Up upgrades what changed.
func Hash(st *stack.Stack) (string, error) {
	data, err := json.Marshal(st.Stack)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(data)
	// Local files the stack names count too: a changed values file or
	// chart is a changed stack.
	for _, c := range st.Components {
		for _, f := range c.ValuesFiles {
			if b, err := st.ReadFile(f); err == nil {
				h.Write(b)
			}
		}
	}
	fmt.Fprint(h, sim.KubernetesVersion)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}
