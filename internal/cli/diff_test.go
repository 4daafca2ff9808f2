package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/internal/cli"
	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationDiffAndRemovals, on a simulated cluster used as an
// existing one: kindred diff shows a value change in a chart, a changed
// manifest (a Secret's value masked), a new and a dropped component; up
// without a terminal refuses to drop the component and changes nothing;
// --prune removes it; down removes everything and a second down has
// nothing to remove, exiting 0.
func TestIntegrationDiffAndRemovals(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	c := testbed.Sim(t)
	testbed.PlayWidgets(t, c, 0)
	dir := t.TempDir()
	charts, _ := filepath.Abs("../../testdata/charts")
	files := map[string]string{
		"cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {token: first-secret-value}\n",
		"cm2.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: careful}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {token: second-secret-value}\n",
		"old.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: diffs}\ncomponents:\n" +
			"  - {name: settings, namespace: apps, manifests: [cm.yaml]}\n" +
			"  - {name: legacy, namespace: legacy, manifests: [cm.yaml]}\n" +
			"  - {name: op, namespace: ops, chart: {path: " + charts + "/operator}, values: {logLevel: info}}\n",
		"new.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: diffs}\ncomponents:\n" +
			"  - {name: settings, namespace: apps, manifests: [cm2.yaml]}\n" +
			"  - {name: fresh, namespace: fresh, manifests: [cm.yaml]}\n" +
			"  - {name: op, namespace: ops, chart: {path: " + charts + "/operator}, values: {logLevel: debug}}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	env := map[string]string{"XDG_STATE_HOME": filepath.Join(home, "state"), "XDG_CACHE_HOME": filepath.Join(home, "cache"), "XDG_DATA_HOME": filepath.Join(home, "data"),
		"KINDRED_DIAGNOSTICS": filepath.Join(home, "diagnostics")}
	run := func(args ...string) (string, int) {
		var out bytes.Buffer
		args = append(args, "--provider", "existing", "--kubeconfig", c.Kubeconfig)
		code := cli.Run(args, strings.NewReader(""), &out, &out, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return out.String(), code
	}
	old, neu := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	if out, code := run("up", "-o", "text", old); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	out, code := run("diff", old)
	if code != 0 || !strings.Contains(out, "0 of 4 steps would change") {
		t.Errorf("diff with nothing changed: exit %d\n%s", code, out)
	}
	if _, code := run("diff", "--exit-code", old); code != 0 {
		t.Errorf("diff --exit-code with nothing changed: exit %d", code)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Drift: a chart's Deployment deleted by hand is what up would repair.
	if err := cs.AppsV1().Deployments("ops").Delete(ctx, "op", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _ = run("diff", old)
	if !strings.Contains(out, "~ op        repair (helm release op): restores what drifted: Deployment ops/op was deleted") || !strings.Contains(out, "1 of 4 steps would change") {
		t.Errorf("diff after a Deployment was deleted by hand:\n%s", out)
	}
	if out, code := run("up", "-o", "text", old); code != 0 || !strings.Contains(out, "repaired") {
		t.Fatalf("up repairing: exit %d\n%s", code, out)
	}

	out, code = run("diff", neu)
	if code != 0 {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	golden.Check(t, "diff.txt", []byte(out))
	jsonOut, _ := run("diff", "-o", "json", neu)
	golden.Check(t, "diff.json", []byte(jsonOut))
	verbose, _ := run("diff", "-v", neu)
	for _, text := range []string{out, jsonOut, verbose} {
		if strings.Contains(text, "secret-value") {
			t.Errorf("diff shows a Secret's value:\n%s", text)
		}
	}
	if _, code := run("diff", "--exit-code", neu); code != 1 {
		t.Errorf("diff --exit-code with changes: exit %d, want 1", code)
	}

	mode := func() string {
		cm, err := cs.CoreV1().ConfigMaps("apps").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return cm.Data["mode"]
	}
	out, code = run("up", "-o", "text", neu)
	if code != 1 || !strings.Contains(out, "legacy: 2 objects") || !strings.Contains(out, "--prune") {
		t.Errorf("up dropping a component, no terminal, no --prune: exit %d\n%s", code, out)
	}
	if _, err := cs.CoreV1().ConfigMaps("legacy").Get(ctx, "settings", metav1.GetOptions{}); err != nil || mode() != "fast" {
		t.Errorf("the refused up changed the cluster: legacy %v, mode %s", err, mode())
	}
	out, code = run("up", "-o", "text", "--prune", neu)
	if code != 0 || !strings.Contains(out, "removed   prune") {
		t.Errorf("up --prune: exit %d\n%s", code, out)
	}
	if _, err := cs.CoreV1().ConfigMaps("legacy").Get(ctx, "settings", metav1.GetOptions{}); err == nil || mode() != "careful" {
		t.Errorf("after up --prune: legacy %v, mode %s", err, mode())
	}

	out, code = run("down", "-o", "text", neu)
	if code != 0 || !strings.Contains(out, "removed   op") || !strings.Contains(out, "3 removed") {
		t.Errorf("down: exit %d\n%s", code, out)
	}
	out, code = run("down", "-o", "text", neu)
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Errorf("a second down: exit %d\n%s", code, out)
	}
}
