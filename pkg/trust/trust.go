// Package trust keeps kindred's local certificate authority: one per
// machine, generated once under the user's data folder and reused by every
// cluster, so trusting it once is enough. Install adds it to the host's
// trust store and to NSS databases (Firefox, Chromium) where present.
package trust

import (
	"bytes"
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
	"runtime"
	"time"
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

// Store is the host's trust store. Root prefixes every path (tests use a
// temporary folder); Run runs the store's tools.
type Store struct {
	Root string
	Home string
	Run  func(name string, args ...string) error
	// Have reports whether a tool is installed.
	Have func(name string) bool
}

// NewStore returns the store of this machine.
func NewStore() *Store {
	home, _ := os.UserHomeDir()
	return &Store{
		Root: "/", Home: home,
		Run: func(name string, args ...string) error {
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", name, err, bytes.TrimSpace(out))
			}
			return nil
		},
		Have: func(name string) bool { _, err := exec.LookPath(name); return err == nil },
	}
}

const nssName = "kindred local CA"

// anchor is where Debian-like and Fedora-like systems take extra CAs.
func (s *Store) anchor() (file, update string, ok bool) {
	for _, c := range []struct{ dir, tool string }{
		{"usr/local/share/ca-certificates", "update-ca-certificates"},
		{"etc/pki/ca-trust/source/anchors", "update-ca-trust"},
	} {
		if fi, err := os.Stat(filepath.Join(s.Root, c.dir)); err == nil && fi.IsDir() {
			return filepath.Join(s.Root, c.dir, "kindred-local-ca.crt"), c.tool, true
		}
	}
	return "", "", false
}

// nssDBs lists the NSS databases of this user: Chromium's and Firefox's.
func (s *Store) nssDBs() []string {
	var out []string
	if _, err := os.Stat(filepath.Join(s.Home, ".pki", "nssdb", "cert9.db")); err == nil {
		out = append(out, filepath.Join(s.Home, ".pki", "nssdb"))
	}
	profiles, _ := filepath.Glob(filepath.Join(s.Home, ".mozilla", "firefox", "*", "cert9.db"))
	for _, p := range profiles {
		out = append(out, filepath.Dir(p))
	}
	return out
}

// Install trusts ca on this machine and returns what it did.
func (s *Store) Install(ca *CA) ([]string, error) {
	var did []string
	switch {
	case runtime.GOOS == "darwin":
		if err := s.Run("security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain", ca.CertFile()); err != nil {
			return did, err
		}
		did = append(did, "added to the System keychain")
	default:
		file, update, ok := s.anchor()
		if !ok {
			return did, errors.New("no system trust store found (looked for /usr/local/share/ca-certificates and /etc/pki/ca-trust/source/anchors)")
		}
		if err := os.WriteFile(file, ca.CertPEM, 0o644); err != nil {
			return did, fmt.Errorf("writing %s: %w (run as root, or with sudo)", file, err)
		}
		if err := s.Run(update); err != nil {
			return did, err
		}
		did = append(did, "added to the system store ("+file+")")
	}
	for _, db := range s.nssDBs() {
		if !s.Have("certutil") {
			did = append(did, "skipped "+db+": certutil (libnss3-tools) is not installed")
			continue
		}
		if err := s.Run("certutil", "-A", "-d", "sql:"+db, "-t", "C,,", "-n", nssName, "-i", ca.CertFile()); err != nil {
			return did, err
		}
		did = append(did, "added to "+db)
	}
	return did, nil
}

// Uninstall removes ca from the places Install put it.
func (s *Store) Uninstall(ca *CA) ([]string, error) {
	var did []string
	switch {
	case runtime.GOOS == "darwin":
		if err := s.Run("security", "remove-trusted-cert", "-d", ca.CertFile()); err != nil {
			return did, err
		}
		did = append(did, "removed from the System keychain")
	default:
		if file, update, ok := s.anchor(); ok {
			if err := os.Remove(file); err == nil {
				if err := s.Run(update, "--fresh"); err != nil {
					return did, err
				}
				did = append(did, "removed from the system store")
			}
		}
	}
	for _, db := range s.nssDBs() {
		if s.Have("certutil") && s.Run("certutil", "-D", "-d", "sql:"+db, "-n", nssName) == nil {
			did = append(did, "removed from "+db)
		}
	}
	return did, nil
}

// Trusted reports whether the system store holds ca.
func (s *Store) Trusted(ca *CA) bool {
	if runtime.GOOS == "darwin" {
		return s.Run("security", "verify-cert", "-c", ca.CertFile()) == nil
	}
	file, _, ok := s.anchor()
	if !ok {
		return false
	}
	have, err := os.ReadFile(file)
	return err == nil && bytes.Equal(have, ca.CertPEM)
}
