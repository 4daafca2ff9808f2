package certmanager

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/trust"
	_ "kindred.dev/kindred/pkg/component/contour" // the stack's ingress controller
	"kindred.dev/kindred/pkg/stack"
)

// TestIssuerGolden pins the self-signed ClusterIssuer and the wildcard
// certificate, in the Secret the ingress controller serves.
func TestIssuerGolden(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
tls: {issuer: self-signed}
ingress: {domain: shop.localhost}
`))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := issuerObjects(st, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "issuer-selfsigned.yaml", objs)
}

// With the local CA, what enters the cluster is the cluster's own CA,
// signed by the machine's root and limited to local names: never the
// root's key.
func TestLocalCAKeyStaysOnTheHost(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
tls: {issuer: local-ca}
ingress: {domain: shop.localhost}
`))
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	objs, err := issuerObjects(st, caDir)
	if err != nil {
		t.Fatal(err)
	}
	root, err := trust.LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	secret := objs[0]
	if secret.GetKind() != "Secret" || secret.GetName() != "kindred-ca" {
		t.Fatalf("first object %s %s", secret.GetKind(), secret.GetName())
	}
	data, _, _ := unstructured.NestedStringMap(secret.Object, "data")
	key, _ := base64.StdEncoding.DecodeString(data["tls.key"])
	crt, _ := base64.StdEncoding.DecodeString(data["tls.crt"])
	if len(key) == 0 || bytes.Contains(key, root.KeyPEM) || bytes.Equal(key, root.KeyPEM) {
		t.Fatal("the Secret holds the root's key, or none")
	}
	b, _ := pem.Decode(crt)
	inter, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := inter.CheckSignatureFrom(root.Cert); err != nil || !inter.PermittedDNSDomainsCritical || len(inter.PermittedDNSDomains) == 0 {
		t.Errorf("the cluster's CA is not a constrained intermediate of the root: %v %v", err, inter.PermittedDNSDomains)
	}
}
