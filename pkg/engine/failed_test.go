package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
)

// TestIntegrationFailedStepRecorded fails a chart step and a manifests
// step after their objects are in the cluster (a readiness check that
// cannot pass), and checks that both are recorded: status shows them
// failed, the diagnostics name the release, down removes the release and
// the objects, and a fixed re-run repairs them.
func TestIntegrationFailedStepRecorded(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	charts, _ := filepath.Abs("../../testdata/charts")
	write := func(check string) string {
		p := filepath.Join(dir, "stack.yaml")
		data := `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: failing}
components:
  - name: fine
    chart: {path: ` + charts + `/agent}
    timeout: 3s` + check + `
  - name: plain
    manifests: [cm.yaml]
    namespace: plain
    timeout: 3s` + check + `
`
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	impossible := "\n    checks: [{type: crd, name: never.example.test}]"

	_, err := f.up(load(t, write(impossible), nil))
	var runErr *engine.RunError
	if !errors.As(err, &runErr) || len(runErr.Failed) != 2 {
		t.Fatalf("err = %v, want two failed steps", err)
	}
	rep, err := engine.NewStatus(f.config(nil)).Run(f.ctx, load(t, write(impossible), nil))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, s := range rep.Steps {
		if !s.Healthy {
			failed[s.ID] = s.Message
		}
	}
	for _, id := range []string{"fine", "plain"} {
		if !strings.Contains(failed[id], "failed: ") || !strings.Contains(failed[id], "never.example.test") {
			t.Errorf("status of %s: %q, want it failed with its reason", id, failed[id])
		}
	}

	// A re-run with the check fixed repairs both steps.
	got, err := f.up(load(t, write(""), nil))
	if err != nil {
		t.Fatalf("repairing: %v", err)
	}
	if got["fine"] != "changed" || got["plain"] != "changed" {
		t.Errorf("repair run: %v, want both steps changed (the failure is not taken for done)", got)
	}
	if _, err := f.up(load(t, write(impossible), nil)); err == nil {
		t.Fatal("the impossible check passed")
	}

	// down removes what the failed steps left.
	rec := &event.Recorder{}
	if _, err := engine.NewDown(f.config(rec)).Run(f.ctx, load(t, write(impossible), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.Typed.AppsV1().DaemonSets("fine").Get(f.ctx, "fine", metav1.GetOptions{}); err == nil {
		t.Error("down left the failed chart step's DaemonSet")
	}
	if _, err := f.kube.Typed.CoreV1().ConfigMaps("plain").Get(f.ctx, "plain", metav1.GetOptions{}); err == nil {
		t.Error("down left the failed manifests step's ConfigMap")
	}
}
