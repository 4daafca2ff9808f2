package trust

import (
	"os/exec"

	"kindred.dev/kindred/internal/testbed"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureCAOnce(t *testing.T) {
	dir := t.TempDir()
	a, created, err := EnsureCA(dir)
	if err != nil || !created || !a.Cert.IsCA {
		t.Fatalf("first: %v %v %v", a, created, err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "ca.key")); info.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", info.Mode().Perm())
	}
	b, created, err := EnsureCA(dir)
	if err != nil || created || string(b.CertPEM) != string(a.CertPEM) {
		t.Errorf("second EnsureCA made another CA (created=%v, err=%v)", created, err)
	}
}

// TestIntegrationTrustStoreInContainer installs the CA into a real Debian
// system trust store (update-ca-certificates) in a throw-away container —
// the e2e node image — and checks with Go's own verifier, in a fresh process
// each time, that the machine trusts it, and then no longer does after
// uninstall. The container runs this test binary, in phases.
func TestIntegrationTrustStoreInContainer(t *testing.T) {
	imgs := testbed.RequireE2E(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `set -e
for phase in before install after uninstall gone; do
  echo "== $phase"
  KINDRED_TRUST_PHASE=$phase /t -test.run '^TestTrustPhase$' -test.v
done`
	out, err := exec.Command("docker", "run", "--rm", "--entrypoint", "/bin/sh", "-v", exe+":/t:ro",
		"-e", "HOME=/root", imgs.Node, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("in the container: %v\n%s", err, out)
	}
	if got := strings.Count(string(out), "--- PASS: TestTrustPhase"); got != 5 {
		t.Fatalf("%d of 5 phases passed:\n%s", got, out)
	}
}

// TestTrustPhase is one phase of TestIntegrationTrustStoreInContainer; it
// runs only inside that container.
func TestTrustPhase(t *testing.T) {
	phase := os.Getenv("KINDRED_TRUST_PHASE")
	if phase == "" {
		t.Skip("runs inside TestIntegrationTrustStoreInContainer's container")
	}
	ca, _, err := EnsureCA("/tmp/kindred-ca")
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore()
	switch phase {
	case "before", "gone":
		if s.Trusted(ca) {
			t.Fatalf("%s: the CA is trusted", phase)
		}
	case "install":
		did, err := s.Install(ca)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(strings.Join(did, "; "))
	case "after":
		if !s.Trusted(ca) {
			t.Fatal("the CA is not trusted after install")
		}
	case "uninstall":
		if _, err := s.Uninstall(ca); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown phase %q", phase)
	}
}
