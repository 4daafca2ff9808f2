// Package certmanager is the cert-manager built-in: its chart comes from
// the catalogue (stacks/catalog/cert-manager.yaml); this package renders
// the stack's issuer step (a ClusterIssuer backed by the machine's local CA,
// or a self-signed one) and the wildcard certificate the ingress
// controller serves, and shows certificates' expiry on the status page.
package certmanager

import (
	"encoding/base64"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/internal/trust"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/stack"
)

// IssuerName is the ClusterIssuer kindred creates for a stack's TLS.
const IssuerName = "kindred"

// issuerObjects renders the stack's issuer: the cluster's own CA (signed
// by the machine's local CA, limited to local names) as a Secret and a CA
// ClusterIssuer (or a self-signed ClusterIssuer), and a
// wildcard Certificate for the ingress domain, whose Secret the ingress
// controller serves.
func issuerObjects(st *stack.Stack, caDir string) ([]*unstructured.Unstructured, error) {
	ns := ID
	if e, ok := st.Catalog.Get(ID); ok && e.Namespace != "" {
		ns = e.Namespace
	}
	domain := st.Metadata.Name + ".localhost"
	certNS, certSecret := defaultCertNamespace, defaultCertSecret
	if st.Ingress != nil {
		domain = st.Ingress.Domain
		if in, ok := component.IngressFor(st.Ingress.Controller); ok {
			certNS, certSecret = in.CertificateSecret()
		}
	}
	var objs []*unstructured.Unstructured
	issuerSpec := map[string]any{"selfSigned": map[string]any{}}
	if st.TLS.Issuer == api.IssuerLocalCA {
		root, _, err := trust.EnsureCA(caDir)
		if err != nil {
			return nil, fmt.Errorf("preparing the local CA: %w", err)
		}
		// The cluster gets a CA of its own, signed by the machine's root
		// and limited to local names; the root's key never leaves the host.
		ca, err := trust.Intermediate(root, st.Cluster.Name, domain)
		if err != nil {
			return nil, fmt.Errorf("preparing the cluster's CA: %w", err)
		}
		objs = append(objs, kube.Object("v1", "Secret", ns, "kindred-ca", map[string]any{
			"type": "kubernetes.io/tls",
			"data": map[string]any{
				"tls.crt": base64.StdEncoding.EncodeToString(append(append([]byte{}, ca.CertPEM...), root.CertPEM...)),
				"tls.key": base64.StdEncoding.EncodeToString(ca.KeyPEM),
				"ca.crt":  base64.StdEncoding.EncodeToString(root.CertPEM),
			},
		}))
		issuerSpec = map[string]any{"ca": map[string]any{"secretName": "kindred-ca"}}
	}
	objs = append(objs,
		kube.Object("cert-manager.io/v1", "ClusterIssuer", "", IssuerName, map[string]any{"spec": issuerSpec}),
		kube.Object("cert-manager.io/v1", "Certificate", certNS, "kindred-wildcard", map[string]any{"spec": map[string]any{
			"secretName": certSecret,
			"dnsNames":   []any{"*." + domain, domain},
			"issuerRef":  map[string]any{"name": IssuerName, "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}}))
	return objs, nil
}
