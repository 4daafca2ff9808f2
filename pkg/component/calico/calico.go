// Package calico is the Calico CNI built-in: the Tigera operator's chart
// comes from the catalogue (stacks/catalog/calico.yaml); this package adds
// the operator's Installation, with an IP pool that is the cluster's pod
// subnet, and waits until the operator reports Calico Available and every
// node is Ready (with Calico, nodes stay NotReady until the CNI runs).
package calico

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/sim"
)

// ID is Calico's catalogue entry.
const ID = "calico"

func init() { component.Register(Calico{}) }

// Calico is the built-in.
type Calico struct{}

// ID is "calico".
func (Calico) ID() string { return ID }

// Prepare applies the Installation once the operator's chart is in: the
// operator readies nothing (the chart's Goldmane and Whisker included)
// until it has one. down removes it (it is in the step's inventory) before
// the chart, so the operator tears Calico down.
func (c Calico) Prepare(ctx context.Context, env *component.Env) (component.Result, error) {
	subnet := env.Stack.Cluster.Networking.PodSubnet
	objs, _ := c.PreparedObjects(env)
	inst := objs[0]
	env.Say("applying the Calico Installation for " + subnet)
	res := component.Result{Inventory: []component.Ref{{APIVersion: "operator.tigera.io/v1", Kind: "Installation", Name: "default"}}}
	if _, err := env.Kube.Apply(ctx, inst); err != nil {
		return component.Result{}, err
	}
	return res, nil
}

// PreparedObjects is the Installation, with an IP pool that is the
// cluster's pod subnet.
func (Calico) PreparedObjects(env *component.Env) ([]*unstructured.Unstructured, error) {
	return []*unstructured.Unstructured{kube.Object("operator.tigera.io/v1", "Installation", "", "default", map[string]any{"spec": map[string]any{
		"calicoNetwork": map[string]any{"ipPools": []any{map[string]any{
			"cidr":          env.Stack.Cluster.Networking.PodSubnet,
			"encapsulation": "VXLANCrossSubnet",
			"natOutgoing":   "Enabled",
			"nodeSelector":  "all()",
		}}},
	}})}, nil
}

// Finish waits until the operator reports Calico Available and every node
// is Ready (with Calico, nodes stay NotReady until the CNI runs).
func (Calico) Finish(ctx context.Context, env *component.Env, _ []*unstructured.Unstructured) (component.Result, error) {
	return component.Result{}, ready.RunChecks(ctx, env.Kube, []api.Check{
		{Type: api.CheckCondition, APIVersion: "operator.tigera.io/v1", Kind: "TigeraStatus", Name: "calico", Condition: "Available", Status: "True"},
		{Type: ready.CheckNodesReady},
	}, env.Timeout, env.Say)
}

// Simulated: on the simulated cluster the Tigera operator is played in Go
// (see sim.go), so the real chart's path runs: the operator makes the
// TigeraStatus objects and calico-system, as upstream does.
func (Calico) Simulated() []sim.Controller {
	return []sim.Controller{{Name: "tigera-operator", Kinds: []string{"operator.tigera.io/v1/Installation", "operator.tigera.io/v1/TigeraStatus"}, Run: operate,
		How: "played in Go: the Tigera operator's TigeraStatus, calico-system and its workloads (no Calico dataplane)"}}
}
