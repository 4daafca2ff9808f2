package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/engine"
)

// TestIntegrationLock locks the reference stack (plus a chart of the test
// charts) through a chart mirror holding the real upstream artifacts:
// locking twice gives the same bytes; up --locked installs exactly the
// locked digests, and diff then finds nothing to do; a chart changed in
// the mirror under the same version fails its step with a digest mismatch;
// a changed stack is refused by up --locked, diff and lock --check until
// it is locked again.
func TestIntegrationLock(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("KINDRED_DIAGNOSTICS", filepath.Join(home, "diagnostics"))
	stackFile, mirror := referenceWithChart(t)
	dir := filepath.Dir(stackFile)
	body, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string { t.Helper(); return runKindred(t, want, args...) }
	t.Cleanup(func() {
		var out bytes.Buffer
		Run([]string{"down", "kindred"}, strings.NewReader(""), &out, &out, os.LookupEnv)
	})

	run(ExitBadInput, "up", "--provider", "sim", "--locked", stackFile) // no lock yet
	run(ExitFailure, "lock", "--check", stackFile)
	run(ExitOK, "lock", stackFile)
	lockFile := filepath.Join(dir, "kindred.lock")
	first, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	run(ExitOK, "lock", stackFile)
	if second, _ := os.ReadFile(lockFile); !bytes.Equal(first, second) {
		t.Fatalf("locking twice gave different files:\n%s\n---\n%s", first, second)
	}
	run(ExitOK, "lock", "--check", stackFile)
	var l engine.Lock
	if err := yaml.Unmarshal(first, &l); err != nil {
		t.Fatal(err)
	}
	if l.Version != engine.LockVersion || len(l.Charts) != 3 || len(l.Manifests) != 1 || !strings.Contains(l.NodeImage, "@sha256:") || len(l.Images) < 15 {
		t.Fatalf("the lock:\n%s", first)
	}
	for _, i := range l.Images {
		if i.Digest == "" && i.Unresolved == "" {
			t.Errorf("image %s has neither a digest nor why not", i.Image)
		}
	}

	// up installs exactly the locked charts.
	run(ExitOK, "up", "--provider", "sim", "--locked", "-o", "text", stackFile)
	// diff compares what up would install from the lock: nothing to do.
	run(ExitOK, "diff", "--exit-code", stackFile)
	cs := clientFor(t, strings.TrimSpace(run(ExitOK, "kubeconfig", "kindred")))
	for _, c := range l.Charts {
		ns := map[string]string{"calico": "tigera-operator", "cert-manager": "cert-manager", "greeter": "demo"}[c.Step]
		secrets, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,status=deployed,name=" + c.Step})
		if err != nil || len(secrets.Items) != 1 {
			t.Fatalf("the release of %s: %v %v", c.Step, err, secrets)
		}
		if got, want := secrets.Items[0].Labels["kindred.dev/chart-digest"], strings.TrimPrefix(c.Digest, "sha256:")[:32]; got != want {
			t.Errorf("%s was installed from chart digest %s…, the lock says %s…", c.Step, got, want)
		}
	}

	// The same version, other content: refused.
	values := filepath.Join(mirror, "hooked", "values.yaml")
	orig, _ := os.ReadFile(values)
	if err := os.WriteFile(values, []byte("greeting: changed behind the lock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(ExitFailure, "up", "--provider", "sim", "-o", "text", stackFile)
	if !strings.Contains(out, "sha256 mismatch: chart hooked 0.1.0") || !strings.Contains(out, "the lock says "+l.Charts[2].Digest) {
		t.Errorf("up with a chart changed under its version:\n%s", out)
	}
	if err := os.WriteFile(values, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	// A changed stack: the lock is stale until locked again.
	if err := os.WriteFile(stackFile, []byte(strings.Replace(string(body), `version: "~0.1"`, `version: "0.1.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(ExitBadInput, "up", "--provider", "sim", "--locked", stackFile); !strings.Contains(out, "run kindred lock again") {
		t.Errorf("up --locked with a stale lock:\n%s", out)
	}
	if out := run(ExitBadInput, "diff", stackFile); !strings.Contains(out, "run kindred lock again") {
		t.Errorf("diff with a stale lock:\n%s", out)
	}
	run(ExitFailure, "lock", "--check", stackFile)
	run(ExitOK, "lock", stackFile)
	run(ExitOK, "up", "--provider", "sim", "--locked", "-o", "text", stackFile)
}
