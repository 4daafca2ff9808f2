package cli_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationReferenceStackOnSim brings the embedded reference stack
// (Calico, Contour, cert-manager with the local CA, Postgres, Redis, a demo
// route) to ready on a simulated cluster, with the real upstream charts
// and manifests (../shared/upstream) as the chart mirror; runs it again, all unchanged; reads status;
// and checks that no output ever shows a generated password or the CA key.
func TestIntegrationReferenceStackOnSim(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	bin := buildKindred(t)
	home := t.TempDir()
	charts := testbed.Upstream(t)
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "KINDRED_CHART_MIRROR="+charts)
	var all bytes.Buffer
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		all.Write(out)
		if err != nil {
			t.Fatalf("kindred %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	stackFile := "../../stacks/default.yaml"
	t.Cleanup(func() {
		cmd := exec.Command(bin, "down", "--provider", "sim", "--delete-cluster", stackFile)
		cmd.Env = env
		_ = cmd.Run()
	})
	out := run("up", "--provider", "sim", "-o", "text", stackFile)
	if !strings.Contains(out, "0 failed, 0 skipped") || !strings.Contains(out, "route     https://echo.kindred.localhost/") || !strings.Contains(out, "postgres://kindred:****@") {
		t.Fatalf("cold up:\n%s", out)
	}
	jsonOut := run("up", "--provider", "sim", "-o", "json", stackFile)
	if strings.Contains(jsonOut, `"changed":true`) || !strings.Contains(jsonOut, `"unchanged":10`) {
		t.Errorf("the re-run changed something:\n%s", jsonOut)
	}
	creds := run("creds", "--provider", "sim", "--in-cluster", "--stack", stackFile)
	if !strings.Contains(creds, "postgres://kindred:****@orders.default.svc.cluster.local:5432/orders") {
		t.Errorf("creds:\n%s", creds)
	}
	status := run("status", "--provider", "sim", "-o", "json", stackFile)
	if strings.Contains(status, `"healthy": false`) {
		t.Errorf("status:\n%s", status)
	}

	// No secret in any output: the databases' passwords, the CA key.
	kubeconfig := strings.TrimSpace(out[strings.Index(out, "kubeconfig ")+len("kubeconfig "):])
	kubeconfig, _, _ = strings.Cut(kubeconfig, "\n")
	var secrets []string
	for _, name := range []string{"orders", "sessions"} {
		pw, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "get", "secret", name+"-credentials", "-o", "jsonpath={.data.password}").Output()
		if err != nil {
			testbed.Missing(t, "kubectl reading the credentials: %v", err)
		}
		dec, _ := base64.StdEncoding.DecodeString(string(pw))
		secrets = append(secrets, string(dec))
	}
	key, err := os.ReadFile(filepath.Join(home, "data", "kindred", "ca", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(home, "data", "kindred", "ca", "ca.key")); info.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", info.Mode().Perm())
	}
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) >= 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line) // each line of the key's body
		}
	}
	for _, s := range secrets {
		if len(s) < 8 || strings.Contains(all.String(), s) {
			t.Errorf("a secret (%d chars) appears in the output, or is too short to check", len(s))
		}
	}
}
