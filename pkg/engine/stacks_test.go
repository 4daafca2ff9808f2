package engine_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/engine"
)

// Two stacks on one cluster keep separate records: up A, up B, down A
// leaves B whole, and status of each shows only its own steps. A third
// stack that would install a release A installed is refused, naming A.
func TestIntegrationStacksShareACluster(t *testing.T) {
	f := newFixture(t)
	charts, _ := filepath.Abs("../../testdata/charts")
	stackOf := func(name, components string) string {
		return writeStack(t, map[string]string{"stack.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: " + name + "}\ncomponents:\n" + components})
	}
	a := load(t, stackOf("team-a", "  - {name: agent, namespace: a, chart: {path: "+charts+"/agent}}\ntenants: [{name: crew}]\n"), nil)
	b := load(t, stackOf("team-b", "  - {name: op, namespace: b, chart: {path: "+charts+"/operator}}\n"), nil)
	if _, err := f.up(a); err != nil {
		t.Fatal(err)
	}
	if got, err := f.up(b); err != nil || got["prune"] != "unchanged" {
		t.Fatalf("up B: %v, %v (it must not prune A's steps)", got, err)
	}
	for _, c := range []struct {
		stack string
		want  string
	}{{"team-a", "agent tenant/crew"}, {"team-b", "op"}} {
		st := a
		if c.stack == "team-b" {
			st = b
		}
		rep, err := engine.NewStatus(f.config(nil)).Run(f.ctx, st)
		var ids []string
		for _, s := range rep.Steps {
			ids = append(ids, s.ID)
		}
		if err != nil || strings.Join(ids, " ") != c.want {
			t.Errorf("status of %s: %v %+v", c.stack, err, rep)
		}
	}

	// A stack that would take over A's release is refused before it changes anything.
	c := load(t, stackOf("team-c", "  - {name: agent, namespace: a, chart: {path: "+charts+"/agent}, values: {image: example.test/other:1}}\n"), nil)
	if _, err := f.up(c); !errors.Is(err, engine.ErrClaimed) || !strings.Contains(err.Error(), `stack "team-a"`) {
		t.Errorf("a stack taking over another's release: %v", err)
	}

	// So is one whose tenant is the namespace A created for its own.
	d := load(t, stackOf("team-d", "  - {name: dee, namespace: d, chart: {path: "+charts+"/operator}}\ntenants: [{name: crew}]\n"), nil)
	if _, err := f.up(d); !errors.Is(err, engine.ErrClaimed) || !strings.Contains(err.Error(), `Namespace crew, which stack "team-a" (its step tenant/crew) created`) {
		t.Errorf("a stack taking over another's tenant namespace: %v", err)
	}
	if _, err := engine.NewDown(f.config(nil)).Run(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.Typed.CoreV1().Namespaces().Get(f.ctx, "crew", metav1.GetOptions{}); err != nil {
		t.Errorf("down of the refused stack D took A's namespace: %v", err)
	}

	if _, err := engine.NewDown(f.config(nil)).Run(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.Typed.AppsV1().Deployments("b").Get(f.ctx, "op", metav1.GetOptions{}); err != nil {
		t.Errorf("down of A removed B's release: %v", err)
	}
	rep, err := engine.NewStatus(f.config(nil)).Run(f.ctx, b)
	if err != nil || len(rep.Steps) != 1 || !rep.Steps[0].Healthy {
		t.Errorf("B after A's down: %v %+v", err, rep)
	}
}
