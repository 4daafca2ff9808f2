package kindredtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/kindredtest"
	"kindred.dev/kindred/pkg/stack"
)

const refStack = "../../testdata/stacks/engine/stack.yaml"

func TestIntegrationUpSim(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	start := time.Now()
	env := kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
	t.Logf("first Up on the simulated cluster: %.1fs", time.Since(start).Seconds())
	ctx := context.Background()

	info, err := os.Stat(env.Kubeconfig)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: %v, %v", env.Kubeconfig, info, err)
	}
	// Up returned only when everything was ready.
	dep, err := env.Client.AppsV1().Deployments("ops").Get(ctx, "op", metav1.GetOptions{})
	if err != nil || dep.Status.AvailableReplicas != 2 {
		t.Fatalf("the operator after Up: %v", err)
	}
	ns := env.Namespace(t)
	if _, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s: %v", ns, err)
	}
	dsn, err := env.DSN("orders")
	if err != nil || !strings.HasPrefix(dsn, "postgres://kindred:") || !strings.Contains(dsn, "@orders.default.svc.cluster.local:5432/orders") {
		t.Errorf("DSN = %q, %v", dsn, err)
	}
	if _, err := env.DSN("nothing"); err == nil {
		t.Error("DSN of an unknown database did not fail")
	}
	if err := env.LoadImage("example.test/app:dev"); err != nil {
		t.Error(err)
	}
	dir := t.TempDir()
	if err := env.Diagnostics(dir); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir + "/diagnostics.tar.gz"); err != nil {
		t.Errorf("diagnostics: %v", err)
	} else if info.Mode().Perm() != 0o600 {
		t.Errorf("diagnostics are mode %v, want 0600: they may hold what the cluster holds", info.Mode().Perm())
	}

	// The same stack again: the cluster is reused, not re-created.
	start = time.Now()
	again := kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
	t.Logf("reused Up on the simulated cluster: %.2fs", time.Since(start).Seconds())
	if again.Kubeconfig != env.Kubeconfig {
		t.Errorf("a second Up made another cluster: %s, want %s", again.Kubeconfig, env.Kubeconfig)
	}

	// A changed component is upgraded in place, on the same cluster.
	changed := kindredtest.Up(t, "../../testdata/stacks/engine/overlay-replicas.yaml", kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
	if changed.Kubeconfig != env.Kubeconfig {
		t.Errorf("a changed component made another cluster")
	}
	dep, err = env.Client.AppsV1().Deployments("ops").Get(ctx, "op", metav1.GetOptions{})
	if err != nil || dep.Status.AvailableReplicas != 3 {
		t.Errorf("the operator was not upgraded in place to 3 replicas: %v", err)
	}
}

// TestIntegrationFailureDiagnostics brings up a stack that fails in a child
// test process and checks that the child wrote diagnostics where
// KINDRED_ARTIFACTS says and named them in its log.
func TestIntegrationFailureDiagnostics(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	if os.Getenv("KINDREDTEST_FAILING_CHILD") == "1" {
		kindredtest.Up(t, os.Getenv("KINDREDTEST_STACK"), kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
		return
	}
	dir := t.TempDir()
	charts, _ := filepath.Abs("../../testdata/charts")
	stackFile := filepath.Join(dir, "failing.yaml")
	data := "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: failing}\ncomponents:\n  - {name: broken, chart: {path: " + charts + "/broken}}\n"
	if err := os.WriteFile(stackFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(dir, "artifacts")
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationFailureDiagnostics$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KINDREDTEST_FAILING_CHILD=1", "KINDREDTEST_STACK="+stackFile, "KINDRED_ARTIFACTS="+artifacts)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the failing stack did not fail its test:\n%s", out)
	}
	if !strings.Contains(string(out), "diagnostics: "+artifacts) || !strings.Contains(string(out), "value is required") {
		t.Errorf("the failure does not name its diagnostics or its cause:\n%s", out)
	}
	matches, _ := filepath.Glob(filepath.Join(artifacts, "*", "diagnostics.tar.gz"))
	if len(matches) == 0 {
		t.Errorf("no diagnostics under %s", artifacts)
	}
}

// TestIntegrationSharedAcrossProcesses runs three processes that Up the
// same stack at once, as go test does with packages: they share one
// cluster, and none fails on the lock.
func TestIntegrationSharedAcrossProcesses(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	if os.Getenv("KINDREDTEST_CHILD") == "1" {
		env := kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
		t.Logf("KUBECONFIG=%s", env.Kubeconfig)
		return
	}
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationSharedAcrossProcesses$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "KINDREDTEST_CHILD=1")
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	configs := map[string]bool{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if _, kc, ok := strings.Cut(line, "KUBECONFIG="); ok {
				configs[kc] = true
			}
		}
	}
	if len(configs) != 1 {
		t.Errorf("the processes used %d clusters, want 1: %v", len(configs), configs)
	}
}

func TestHashFollowsTheStack(t *testing.T) {
	a, err := stack.Load(refStack)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := stack.Load(refStack)
	b.Components[1].Values["replicas"] = 3
	ha, _ := kindredtest.Hash(a)
	hb, _ := kindredtest.Hash(b)
	ha2, _ := kindredtest.Hash(a)
	if ha == hb || ha != ha2 {
		t.Errorf("hashes %s %s %s: want stable, and different for a changed value", ha, hb, ha2)
	}
}

// TestIntegrationReuseAcrossTests: a second test's Up reuses the cluster the
// first test's Up made, although the first test has ended.
func TestIntegrationReuseAcrossTests(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	var first string
	t.Run("first", func(t *testing.T) {
		first = kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0))).Kubeconfig
	})
	t.Run("second", func(t *testing.T) {
		if got := kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0))).Kubeconfig; got != first {
			t.Errorf("second test got cluster %s, want the first's %s", got, first)
		}
	})
}

// TestIntegrationCleanupAfterExit runs Up in a child process and checks
// that once the process exits, its cluster's processes and folders go.
func TestIntegrationCleanupAfterExit(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	if os.Getenv("KINDREDTEST_CLEANUP_CHILD") == "1" {
		kindredtest.Up(t, refStack, kindredtest.WithProvider(kindredtest.Sim), kindredtest.WithSimulated(testbed.WidgetController(0)))
		return
	}
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationCleanupAfterExit$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KINDREDTEST_CLEANUP_CHILD=1", "XDG_STATE_HOME="+state, "KINDRED_REUSE=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	clusters := filepath.Join(state, "kindred", "kindredtest", "clusters")
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(clusters)
		if len(entries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster is still there after its process exited: %v", entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestIntegrationLiveComponentsKept: two test processes share a cluster
// (same shape) with stacks of the same name but different components.
// The second one's Up does not remove what the first, still running,
// uses; once the first is gone, its component may go.
func TestIntegrationLiveComponentsKept(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	stackFor := func(dir, component string) string {
		cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {owner: %s}\n", component, component)
		if err := os.WriteFile(filepath.Join(dir, component+".yaml"), []byte(cm), 0o600); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, component+"-stack.yaml")
		st := fmt.Sprintf("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: live-share}\ncomponents:\n  - {name: %s, namespace: live-share, manifests: [%s.yaml]}\n", component, component)
		if err := os.WriteFile(file, []byte(st), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	if dir := os.Getenv("KINDREDTEST_LIVE_DIR"); dir != "" {
		kindredtest.Up(t, stackFor(dir, "beta"), kindredtest.WithProvider(kindredtest.Sim))
		return
	}
	dir := t.TempDir()
	env := kindredtest.Up(t, stackFor(dir, "alpha"), kindredtest.WithProvider(kindredtest.Sim))
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationLiveComponentsKept$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KINDREDTEST_LIVE_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the other process: %v\n%s", err, out)
	}
	for _, name := range []string{"alpha", "beta"} {
		if _, err := env.Client.CoreV1().ConfigMaps("live-share").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			t.Errorf("after the other process's Up, ConfigMap %s: %v", name, err)
		}
	}
	// The other process has exited, so nothing needs beta any more.
	kindredtest.Up(t, stackFor(dir, "alpha"), kindredtest.WithProvider(kindredtest.Sim))
	if _, err := env.Client.CoreV1().ConfigMaps("live-share").Get(context.Background(), "beta", metav1.GetOptions{}); err == nil {
		t.Error("beta stayed after the process that used it exited")
	}
}
