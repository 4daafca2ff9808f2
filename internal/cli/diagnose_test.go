package cli_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationDiagnosticsOfAFailingStack: up on a stack that fails on
// purpose writes a diagnostics bundle by itself, and names it; the bundle
// explains the failure (the summary, the stuck Deployment and its Pending
// pod with the scheduler's events); kindred diagnose writes one on demand.
func TestIntegrationDiagnosticsOfAFailingStack(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	bin := buildKindred(t)
	home := t.TempDir()
	bundles := filepath.Join(home, "bundles")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "KINDRED_DIAGNOSTICS="+bundles)
	stackFile := "../../testdata/failing/stack.yaml"
	t.Cleanup(func() {
		cmd := exec.Command(bin, "down", "--provider", "sim", "--delete-cluster", stackFile)
		cmd.Env = env
		_ = cmd.Run()
	})
	cmd := exec.Command(bin, "up", "--provider", "sim", "-o", "text", stackFile)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("up on a failing stack: %v, want exit 1\n%s", err, out)
	}
	m := regexp.MustCompile(`diagnostics bundle: (\S+\.tar\.gz)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("up did not name a diagnostics bundle:\n%s", out)
	}
	files := readBundle(t, string(m[1]))
	var names []string
	for n := range files {
		names = append(names, n)
	}
	t.Logf("bundle %s:\n%s", m[1], strings.Join(names, "\n"))
	for name, want := range map[string]string{
		"summary.txt":                           "the run failed",
		"objects/default/deployment-stuck.yaml": "kindred.dev/no-such-node",
		"events.txt":                            "FailedScheduling",
		"pods.txt":                              "Pending",
		"nodes.yaml":                            "kubeletVersion: v1.35.4",
		"timeline.md":                           "```mermaid\ngantt",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
	pending := false
	for name, data := range files {
		if strings.HasPrefix(name, "objects/default/pod-stuck-") && strings.Contains(data, "FailedScheduling") {
			pending = true
		}
		if strings.Contains(data, "kind: Secret") {
			t.Errorf("%s holds a Secret", name)
		}
	}
	if !pending {
		t.Error("the bundle has no description of the Pending pod with its scheduling event")
	}

	file := filepath.Join(home, "on-demand.tar.gz")
	cmd = exec.Command(bin, "diagnose", "--provider", "sim", "--file", file, stackFile)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kindred diagnose: %v\n%s", err, out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle %s: %v %v, want mode 0600", file, fi, err)
	}
	if files := readBundle(t, file); files["summary.txt"] == "" {
		t.Error("the on-demand bundle has no summary")
	}
}

func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[strings.TrimPrefix(h.Name, "kindred-diagnostics/")] = string(data)
	}
	return files
}
