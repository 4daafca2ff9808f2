package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the throw-away certificate authority of one simulated cluster and
// the files made from it. Every key file is 0600.
type pki struct {
	dir        string
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	CACert     string // PEM file
	CAKey      string
	ServerCert string
	ServerKey  string
	SAPub      string // service-account signing key pair
	SAKey      string
	// etcd serves (and its one member peers) over TLS with client
	// certificates; the API server is its only client.
	EtcdCert, EtcdKey    string
	EtcdClient, EtcdCKey string
}

// clientCert is a client certificate and its key, in PEM.
type clientCert struct {
	Cert, Key []byte
}

func newPKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kindred-sim-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	if p.CACert, err = p.write("ca.crt", pemBlock("CERTIFICATE", der)); err != nil {
		return nil, err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if p.CAKey, err = p.write("ca.key", pemBlock("EC PRIVATE KEY", keyDER)); err != nil {
		return nil, err
	}

	server, err := p.issue(pkix.Name{CommonName: "kube-apiserver"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)})
	if err != nil {
		return nil, err
	}
	if p.ServerCert, err = p.write("apiserver.crt", server.Cert); err != nil {
		return nil, err
	}
	if p.ServerKey, err = p.write("apiserver.key", server.Key); err != nil {
		return nil, err
	}

	etcd, err := p.issue(pkix.Name{CommonName: "etcd"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		[]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	if p.EtcdCert, err = p.write("etcd.crt", etcd.Cert); err != nil {
		return nil, err
	}
	if p.EtcdKey, err = p.write("etcd.key", etcd.Key); err != nil {
		return nil, err
	}
	etcdClient, err := p.client("kube-apiserver-etcd-client")
	if err != nil {
		return nil, err
	}
	if p.EtcdClient, err = p.write("apiserver-etcd-client.crt", etcdClient.Cert); err != nil {
		return nil, err
	}
	if p.EtcdCKey, err = p.write("apiserver-etcd-client.key", etcdClient.Key); err != nil {
		return nil, err
	}

	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if p.SAPub, err = p.write("sa.pub", pemBlock("PUBLIC KEY", pub)); err != nil {
		return nil, err
	}
	if p.SAKey, err = p.write("sa.key", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(sa))); err != nil {
		return nil, err
	}
	return p, nil
}

// client issues a client certificate for user in groups.
func (p *pki) client(user string, groups ...string) (clientCert, error) {
	return p.issue(pkix.Name{CommonName: user, Organization: groups}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
}

func (p *pki) issue(subject pkix.Name, usage []x509.ExtKeyUsage, dns []string, ips []net.IP) (clientCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return clientCert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return clientCert{}, fmt.Errorf("issuing certificate for %s: %w", subject.CommonName, err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return clientCert{Cert: pemBlock("CERTIFICATE", der), Key: pemBlock("EC PRIVATE KEY", keyDER)}, nil
}

func (p *pki) write(name string, data []byte) (string, error) {
	path := filepath.Join(p.dir, name)
	return path, os.WriteFile(path, data, 0o600)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
