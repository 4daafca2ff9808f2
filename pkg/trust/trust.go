// Package trust keeps kindred's local certificate authority: one per
// machine, generated once under the user's data folder and reused by every
// cluster, so trusting it once is enough. Install adds it to the host's
// trust store and to NSS databases (Firefox, Chromium) where present.
package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/smallstep/truststore"
)

// CA is the local certificate authority.
type CA struct {
	Dir     string
	CertPEM []byte
	KeyPEM  []byte
	Cert    *x509.Certificate
}

// CertFile is the path of the CA certificate.
func (c *CA) CertFile() string { return filepath.Join(c.Dir, "ca.crt") }

// DataDir is where kindred keeps machine-wide data such as the CA.
func DataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "kindred")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kindred-data")
	}
	return filepath.Join(home, ".local", "share", "kindred")
}

// DefaultCADir is where the machine's local CA lives.
func DefaultCADir() string { return filepath.Join(DataDir(), "ca") }

// EnsureCA loads the CA in dir, or generates it (key 0600) when there is
// none. created tells which.
func EnsureCA(dir string) (ca *CA, created bool, err error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, cerr := os.ReadFile(certFile)
	keyPEM, kerr := os.ReadFile(keyFile)
	if cerr == nil && kerr == nil {
		ca, err := parse(dir, certPEM, keyPEM)
		return ca, false, err
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, false, cerr
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	host, _ := os.Hostname()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kindred local CA " + host, Organization: []string{"kindred local development"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, false, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	// The key first, 0600, so a crash never leaves a certificate without it.
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, false, err
	}
	ca, err = parse(dir, certPEM, keyPEM)
	return ca, true, err
}

func parse(dir string, certPEM, keyPEM []byte) (*CA, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, fmt.Errorf("reading the local CA in %s: no PEM certificate", dir)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the local CA in %s: %w", dir, err)
	}
	return &CA{Dir: dir, CertPEM: certPEM, KeyPEM: keyPEM, Cert: cert}, nil
}

// Store is this machine's trust stores, reached through
// github.com/smallstep/truststore: the system store (Debian- and
// Fedora-like Linux, macOS, Windows) and the NSS databases of Firefox and
// Chromium where certutil is installed.
type Store struct{}

// NewStore returns the store of this machine.
func NewStore() *Store { return &Store{} }

// truststore names the system store's file after this prefix and the CA's
// serial number.
const storePrefix = "kindred-local-ca-"

func (s *Store) options() []truststore.Option {
	return []truststore.Option{truststore.WithFirefox(), truststore.WithPrefix(storePrefix)}
}

// nss says what happens with the NSS databases.
func nss() string {
	if _, err := exec.LookPath("certutil"); err != nil {
		return "NSS databases (Firefox, Chromium): skipped, certutil is not installed (apt install libnss3-tools, or dnf install nss-tools)"
	}
	return "NSS databases (Firefox, Chromium) found in your home folder"
}

// Install trusts ca on this machine and returns what it did.
func (s *Store) Install(ca *CA) ([]string, error) {
	if err := truststore.Install(ca.Cert, s.options()...); err != nil {
		return nil, fmt.Errorf("adding the local CA to the trust store: %w (run as root, or where sudo can)", err)
	}
	return []string{"added to the system trust store", nss()}, nil
}

// Uninstall removes ca from the places Install put it.
func (s *Store) Uninstall(ca *CA) ([]string, error) {
	if err := truststore.Uninstall(ca.Cert, s.options()...); err != nil {
		return nil, fmt.Errorf("removing the local CA from the trust store: %w", err)
	}
	return []string{"removed from the system trust store", nss()}, nil
}

// Trusted reports whether this machine's system roots trust ca: a
// certificate ca signs verifies against them.
func (s *Store) Trusted(ca *CA) bool {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return false
	}
	_, err = ca.Cert.Verify(x509.VerifyOptions{Roots: pool})
	return err == nil
}
