package certmanager

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// A certificate signed through an intermediate (the cluster's CA under the
// machine's root) carries the leaf and the intermediate in tls.crt, the
// root in ca.crt, and verifies with Go's verifier for its names only.
func TestSignLeafChainsToTheRoot(t *testing.T) {
	root, err := selfSignedCA("root", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := signLeaf(root, leafSpec{commonName: "cluster CA", duration: time.Hour, algorithm: "ECDSA", isCA: true})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := parseKeyPair(append(inter.chainPEM[:len(inter.chainPEM):len(inter.chainPEM)], root.CertPEM...), inter.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	out, err := signLeaf(ca, leafSpec{dnsNames: []string{"*.shop.localhost", "shop.localhost"}, duration: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	for rest := out.chainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, _ := x509.ParseCertificate(b.Bytes)
		chain = append(chain, c)
	}
	if len(chain) != 2 {
		t.Fatalf("tls.crt holds %d certificates, want the leaf and the intermediate", len(chain))
	}
	if string(out.caPEM) != string(root.CertPEM) {
		t.Error("ca.crt is not the root")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.certs[0])
	inters.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: "api.shop.localhost", Roots: roots, Intermediates: inters}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots, Intermediates: inters}); err == nil {
		t.Error("the certificate verifies for a name it was not issued for")
	}
	if _, ok := chain[0].PublicKey.(interface{ Size() int }); !ok {
		t.Errorf("the default key is RSA as cert-manager's is, got %T", chain[0].PublicKey)
	}
}

func review(t *testing.T, kind, op string, obj map[string]any) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, _ := json.Marshal(obj)
	resp, err := validate(&admissionv1.AdmissionRequest{Kind: metav1.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: kind},
		Operation: admissionv1.Operation(op), Object: runtime.RawExtension{Raw: raw}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The played webhook refuses what cert-manager's refuses and allows the rest.
func TestWebhookValidates(t *testing.T) {
	for _, c := range []struct {
		kind string
		spec map[string]any
		want string // "" allowed, else part of the refusal
	}{
		{"Certificate", map[string]any{"secretName": "s", "dnsNames": []any{"a.localhost"}, "issuerRef": map[string]any{"name": "ca"}}, ""},
		{"Certificate", map[string]any{"secretName": "s", "issuerRef": map[string]any{"name": "ca"}}, "at least one of commonName"},
		{"Certificate", map[string]any{"secretName": "s", "dnsNames": []any{"a"}, "issuerRef": map[string]any{}}, "spec.issuerRef.name: Required value"},
		{"Certificate", map[string]any{"secretName": "s", "dnsNames": []any{"a"}, "issuerRef": map[string]any{"name": "ca"}, "privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(1024)}}, "supported values: 256, 384, 521"},
		{"Certificate", map[string]any{"secretName": "s", "dnsNames": []any{"a"}, "issuerRef": map[string]any{"name": "ca"}, "duration": "30m"}, "greater than 1h0m0s"},
		{"ClusterIssuer", map[string]any{"selfSigned": map[string]any{}}, ""},
		{"ClusterIssuer", map[string]any{}, "at least one issuer must be configured"},
		{"Issuer", map[string]any{"selfSigned": map[string]any{}, "ca": map[string]any{"secretName": "x"}}, "may not specify more than one issuer type"},
		{"Issuer", map[string]any{"ca": map[string]any{}}, "spec.ca.secretName: Required value"},
	} {
		resp := review(t, c.kind, "CREATE", map[string]any{"metadata": map[string]any{"name": "x"}, "spec": c.spec})
		switch {
		case c.want == "" && !resp.Allowed:
			t.Errorf("%s %v refused: %s", c.kind, c.spec, resp.Result.Message)
		case c.want != "" && (resp.Allowed || !strings.Contains(resp.Result.Message, c.want)):
			t.Errorf("%s %v: allowed=%v %v, want refused with %q", c.kind, c.spec, resp.Allowed, resp.Result, c.want)
		}
	}
}
