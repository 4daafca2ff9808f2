package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/stack"
)

// kindred never deletes what it did not create: a namespace that existed
// before up, with an object in it, survives down, as does a pre-existing
// object a manifests component names; what kindred created goes.
func TestIntegrationAdoptedObjectsSurviveDown(t *testing.T) {
	testbed.Integration(t)
	f := newFixture(t)
	cs := f.kube.Typed
	if _, err := cs.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "ledger", Namespace: "payments"}, Data: map[string]string{"balance": "42"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "default"}, Data: map[string]string{"owner": "someone else"}},
	} {
		if _, err := cs.CoreV1().ConfigMaps(cm.Namespace).Create(f.ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	manifests := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\ndata: {owner: someone else}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours, namespace: default}\ndata: {made: by kindred}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kindred.yaml"), []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: adopt}
tenants:
  - {name: payments}
components:
  - {name: app, manifests: [app.yaml]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(filepath.Join(dir, "kindred.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.up(st); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.NewDown(f.config(&event.Recorder{})).Run(f.ctx, st); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(f.ctx, "payments", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("down deleted the payments namespace, which existed before up: %v", err)
	}
	if _, ok := ns.Labels["kindred.dev/tenant"]; ok {
		t.Errorf("the payments namespace keeps kindred's labels: %v", ns.Labels)
	}
	shared, _ := cs.CoreV1().ConfigMaps("default").Get(f.ctx, "shared", metav1.GetOptions{})
	for _, o := range []metav1.Object{ns, shared} {
		for _, m := range o.GetManagedFields() {
			if m.Manager == "kindred" {
				t.Errorf("%s keeps kindred's field ownership: %+v", o.GetName(), m)
			}
		}
	}
	if shared.Data["owner"] != "someone else" {
		t.Errorf("giving back the shared ConfigMap changed it: %v", shared.Data)
	}
	if cm, err := cs.CoreV1().ConfigMaps("payments").Get(f.ctx, "ledger", metav1.GetOptions{}); err != nil || cm.Data["balance"] != "42" {
		t.Errorf("down took the ledger with the namespace: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(f.ctx, "shared", metav1.GetOptions{}); err != nil {
		t.Errorf("down deleted a ConfigMap that existed before up: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(f.ctx, "ours", metav1.GetOptions{}); err == nil {
		t.Error("down left the ConfigMap kindred created")
	}
}
