package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// leaf signs a server certificate for names with ca's key, as cert-manager
// would with the cluster's CA.
func leaf(t *testing.T, ca *CA, names []string, ips ...net.IP) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(ca.KeyPEM)
	caKey, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A cluster's CA can only serve local names: with Go's verifier, a leaf it
// signs for the stack's domain verifies against the trusted root; one for
// a real site does not, nor one for a public address. The root's key
// stays on the host, 0600; the cluster's CA is reused, and renewed when a
// third of its life is left.
func TestIntermediateServesOnlyLocalNames(t *testing.T) {
	root, _, err := EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !constrained(root.Cert) {
		t.Fatal("a new root is not name-constrained")
	}
	inter, err := Intermediate(root, "shop", "shop.localhost")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	inters := x509.NewCertPool()
	inters.AddCert(inter.Cert)
	verify := func(c *x509.Certificate, name string) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: name})
		return err
	}
	if err := verify(leaf(t, inter, []string{"*.shop.localhost", "shop.localhost"}), "api.shop.localhost"); err != nil {
		t.Errorf("a leaf for the stack's domain: %v", err)
	}
	if err := verify(leaf(t, inter, []string{"mail.test"}), "mail.test"); err != nil {
		t.Errorf("a leaf for a .test name: %v", err)
	}
	for _, name := range []string{"accounts.google.com", "example.com", "github.com"} {
		if err := verify(leaf(t, inter, []string{name}), name); err == nil {
			t.Errorf("a leaf for %s, signed by the cluster's CA, is trusted", name)
		}
	}
	if _, err := leaf(t, inter, []string{"api.shop.localhost"}, net.ParseIP("8.8.8.8")).Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters}); err == nil {
		t.Error("a leaf for a public address is trusted")
	}
	// Even a leaf the root signed itself is held to its constraints.
	if err := verify(leaf(t, root, []string{"accounts.google.com"}), "accounts.google.com"); err == nil {
		t.Error("the root signs for a real site")
	}

	if info, err := os.Stat(filepath.Join(inter.Dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the cluster's CA key: %v %v", info, err)
	}
	again, err := Intermediate(root, "shop", "shop.localhost")
	if err != nil || string(again.CertPEM) != string(inter.CertPEM) {
		t.Errorf("a second call made another CA: %v", err)
	}
	later, err := intermediateAt(root, "shop", "shop.localhost", time.Now().Add(IntermediateLifetime*3/4))
	if err != nil || string(later.CertPEM) == string(inter.CertPEM) {
		t.Errorf("a CA with a quarter of its life left was not renewed: %v", err)
	}
}

// A root from an older kindred (unconstrained, unable to sign a cluster's
// CA) is retired: its key is deleted, its certificate kept for uninstall,
// and a constrained root takes its place.
func TestOldRootRetired(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "kindred local CA old"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	_ = os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	ca, created, err := EnsureCA(dir)
	if err != nil || !created || !constrained(ca.Cert) {
		t.Fatalf("EnsureCA over an old root: created=%v %v", created, err)
	}
	old, err := Retired(dir)
	if err != nil || len(old) != 1 || old[0].Cert.Subject.CommonName != "kindred local CA old" || len(old[0].KeyPEM) != 0 {
		t.Errorf("retired roots: %v %v", old, err)
	}
}

// status and uninstall never make a CA.
func TestLoadCANeverCreates(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCA(dir); err == nil {
		t.Fatal("LoadCA of an empty folder succeeded")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("LoadCA wrote %d files", len(files))
	}
}
