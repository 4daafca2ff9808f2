package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
)

// Ctrl-C is a cancel, not a failure: at any moment, `kindred up` ends with
// exit 130 and says how to resume, writes no diagnostics bundle, and the
// next run goes on. Here while the simulated cluster starts (the cluster
// step), while a step waits for its readiness (mid-install), and while a
// dropped step is removed (prune, held up by a finalizer).
func TestIntegrationCtrlC(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	bin := buildKindred(t)
	home := t.TempDir()
	diag := filepath.Join(home, "diagnostics")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(home, "state"), "KINDRED_DIAGNOSTICS="+diag, "CI=true")
	name := fmt.Sprintf("ctrlc-%d", os.Getpid()%100000)
	stackFile := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(stackFile, []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: `+name+`}
cluster: {name: `+name+`, nodes: [{role: control-plane}]}
components:
  - name: waiting
    manifests: [cm.yaml]
    timeout: 10m
    # Never true: the step waits until it is cancelled.
    checks: [{type: condition, apiVersion: v1, kind: ConfigMap, namespace: default, name: waiting, condition: Ready}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(stackFile), "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: waiting, namespace: default}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd := exec.Command(bin, "down", name)
		cmd.Env = env
		_ = cmd.Run()
	})
	interrupt := func(when string, stackFile string, extra ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"up", "--provider", "sim", "-o", "text"}, append(extra, stackFile)...)...)
		cmd.Env = env
		var out testbed.Output
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for deadline := time.Now().Add(5 * time.Minute); !strings.Contains(out.String(), when); time.Sleep(50 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("up ended (%v) before %q:\n%s", err, when, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("up never said %q:\n%s", when, out.String())
			}
		}
		time.Sleep(500 * time.Millisecond) // into the step
		_ = cmd.Process.Signal(syscall.SIGINT)
		var err error
		select {
		case err = <-exited:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("up did not end within 2 minutes of Ctrl-C:\n%s", out.String())
		}
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 || !strings.Contains(out.String(), "resumes") {
			t.Errorf("Ctrl-C %s: %v, want exit 130 and the way to resume:\n%s", when, err, out.String())
		}
		if entries, _ := os.ReadDir(diag); len(entries) > 0 {
			t.Errorf("Ctrl-C %s wrote a diagnostics bundle: %v", when, entries)
		}
		return out.String()
	}
	interrupt("start     cluster", stackFile)
	out := interrupt("start     waiting", stackFile)
	if !strings.Contains(out, "cancelled") {
		t.Errorf("the run interrupted mid-install does not say it was cancelled:\n%s", out)
	}

	// A step whose ConfigMap holds a finalizer: removing it waits.
	dir := filepath.Dir(stackFile)
	held := filepath.Join(dir, "held.yaml")
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "held-cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: default, finalizers: [example.test/hold]}\n")
	write(held, "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: "+name+"}\ncluster: {name: "+name+", nodes: [{role: control-plane}]}\ncomponents: [{name: held, manifests: [held-cm.yaml]}]\n")
	empty := filepath.Join(dir, "empty.yaml")
	write(empty, "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: "+name+"}\ncluster: {name: "+name+", nodes: [{role: control-plane}]}\n")
	up := exec.Command(bin, "up", "--provider", "sim", "-o", "text", "--prune", held)
	up.Env = env
	if b, err := up.CombinedOutput(); err != nil {
		t.Fatalf("up with the held step: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		// Let the ConfigMap go, so down can finish.
		kc := exec.Command(bin, "kubeconfig", name)
		kc.Env = env
		path, _ := kc.Output()
		_ = exec.Command("kubectl", "--kubeconfig", strings.TrimSpace(string(path)), "patch", "configmap", "held", "-n", "default", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`).Run()
	})
	interrupt("start     prune", empty, "--prune")
}
