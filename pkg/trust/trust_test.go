package trust

import (
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

// TestStoreDebian installs into a Debian-shaped root and an NSS database,
// with the tools recorded instead of run.
func TestStoreDebian(t *testing.T) {
	root, home := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/local/share/ca-certificates"), 0o755)
	os.MkdirAll(filepath.Join(home, ".pki/nssdb"), 0o700)
	os.WriteFile(filepath.Join(home, ".pki/nssdb/cert9.db"), nil, 0o600)
	var ran []string
	s := &Store{Root: root, Home: home,
		Run: func(name string, args ...string) error {
			ran = append(ran, name+" "+strings.Join(args, " "))
			return nil
		},
		Have: func(string) bool { return true }}
	ca, _, err := EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Trusted(ca) {
		t.Error("trusted before install")
	}
	did, err := s.Install(ca)
	if err != nil || len(did) != 2 {
		t.Fatalf("install: %v %v", did, err)
	}
	if !s.Trusted(ca) {
		t.Error("not trusted after install")
	}
	if len(ran) != 2 || ran[0] != "update-ca-certificates " || !strings.HasPrefix(ran[1], "certutil -A -d sql:"+home+"/.pki/nssdb") {
		t.Errorf("ran %q", ran)
	}
	if _, err := s.Uninstall(ca); err != nil {
		t.Fatal(err)
	}
	if s.Trusted(ca) {
		t.Error("trusted after uninstall")
	}
}
