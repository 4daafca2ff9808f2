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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/smallstep/truststore"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
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

// ReservedDomains are the names the local CA can sign for: top-level
// domains reserved for local and test use (RFC 2606, RFC 6761, and
// .internal), which no public site can have.
var ReservedDomains = api.LocalDomains

// localIPs are the addresses the local CA can sign for: loopback.
var localIPs = []string{"127.0.0.0/8", "::1/128"}

// ErrNoCA means there is no local CA yet; only EnsureCA makes one.
var ErrNoCA = errors.New("no local CA")

// LoadCA loads the CA in dir, and never makes one.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoCA, dir)
	}
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return parse(dir, certPEM, keyPEM)
}

// EnsureCA loads the CA in dir, or generates it (key 0600) when there is
// none. created tells which. The root is name-constrained to
// ReservedDomains and loopback, may sign one level of intermediate CAs
// (each cluster's), and never leaves this machine. A root from an older
// kindred (unconstrained, and unable to sign intermediates) is retired:
// its certificate moves to retired/ (so uninstall still finds it), its key
// is deleted, and a new root is made.
func EnsureCA(dir string) (ca *CA, created bool, err error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, cerr := os.ReadFile(certFile)
	keyPEM, kerr := os.ReadFile(keyFile)
	if cerr == nil && kerr == nil {
		ca, err := parse(dir, certPEM, keyPEM)
		if err != nil || constrained(ca.Cert) {
			return ca, false, err
		}
		if err := retire(dir, ca); err != nil {
			return nil, false, err
		}
	} else if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
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
		MaxPathLen:            1,
	}
	if err := constrain(tmpl, ReservedDomains); err != nil {
		return nil, false, err
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
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, false, err
	}
	ca, err = parse(dir, certPEM, keyPEM)
	return ca, true, err
}

// constrained reports whether a root is of the current kind: limited to
// local names, and able to sign one level of intermediates.
func constrained(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains) > 0 && c.PermittedDNSDomainsCritical && !c.MaxPathLenZero && c.MaxPathLen >= 1
}

// constrain limits a CA to names under domains, and to loopback addresses.
func constrain(tmpl *x509.Certificate, domains []string) error {
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = domains
	for _, cidr := range localIPs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return err
		}
		tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, n)
	}
	return nil
}

// retire moves a root's certificate to retired/ and deletes its key.
func retire(dir string, ca *CA) error {
	rdir := filepath.Join(dir, "retired")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rdir, "ca-"+ca.Cert.SerialNumber.Text(16)+".crt"), ca.CertPEM, 0o644); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, "ca.key"))
}

// Retired lists the roots an older kindred made in dir, which uninstall
// removes from the trust stores too.
func Retired(dir string) ([]*CA, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "retired", "*.crt"))
	var out []*CA
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ca, err := parse(filepath.Dir(f), data, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ca)
	}
	return out, nil
}

// IntermediateLifetime is how long a cluster's intermediate CA is valid;
// up renews it once less than a third of that is left.
const IntermediateLifetime = 90 * 24 * time.Hour

// Intermediate returns the intermediate CA of one cluster, signed by the
// root: valid for IntermediateLifetime, and name-constrained to domain and
// the reserved local names. Only its key goes into the cluster; a cluster
// can issue certificates for nothing else, and nobody who reads its Secrets
// can mint a certificate this machine trusts for a real site. It is kept
// under the root's folder (key 0600) and reused until it nears its end,
// or its names change.
func Intermediate(root *CA, cluster, domain string) (*CA, error) {
	return intermediateAt(root, cluster, domain, time.Now())
}

func intermediateAt(root *CA, cluster, domain string, now time.Time) (*CA, error) {
	if len(root.KeyPEM) == 0 {
		return nil, fmt.Errorf("the local CA in %s has no key", root.Dir)
	}
	domains := []string{}
	if domain != "" && !api.IsLocalName(domain) {
		domains = append(domains, domain)
	}
	domains = append(domains, ReservedDomains...)
	dir := filepath.Join(root.Dir, "clusters", cluster)
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if certPEM, err := os.ReadFile(certFile); err == nil {
		if keyPEM, err := os.ReadFile(keyFile); err == nil {
			if ca, err := parse(dir, certPEM, keyPEM); err == nil && usable(ca.Cert, root, domains, now) {
				return ca, nil
			}
		}
	}
	rb, _ := pem.Decode(root.KeyPEM)
	if rb == nil {
		return nil, fmt.Errorf("the local CA's key in %s is not PEM", root.Dir)
	}
	rootKey, err := x509.ParseECPrivateKey(rb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the local CA's key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kindred cluster CA " + cluster, Organization: []string{"kindred local development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(IntermediateLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if err := constrain(tmpl, domains); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, &key.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("signing the cluster's CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	return parse(dir, certPEM, keyPEM)
}

// usable: signed by root, for the same names, with a third of its life
// left.
func usable(c *x509.Certificate, root *CA, domains []string, now time.Time) bool {
	if c.CheckSignatureFrom(root.Cert) != nil || !slices.Equal(c.PermittedDNSDomains, domains) {
		return false
	}
	return c.NotAfter.Sub(now) > IntermediateLifetime/3
}

// parse reads a CA's certificate; keyPEM may be empty (a retired root, or
// a root whose key is elsewhere).
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
