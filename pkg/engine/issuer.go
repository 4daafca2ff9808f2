package engine

import (
	"encoding/base64"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/contour"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/trust"
)

// IssuerName is the ClusterIssuer kindred creates for a stack's TLS.
const IssuerName = "kindred"

// issuerObjects renders the stack's issuer: the machine's local CA as a
// Secret and a CA ClusterIssuer (or a self-signed ClusterIssuer), and a
// wildcard Certificate for the ingress domain, whose Secret Contour serves.
func (r *runner) issuerObjects() ([]*unstructured.Unstructured, error) {
	ns := "cert-manager"
	if e, ok := r.st.Catalog.Get("cert-manager"); ok && e.Namespace != "" {
		ns = e.Namespace
	}
	domain := r.st.Metadata.Name + ".localhost"
	if r.st.Ingress != nil {
		domain = r.st.Ingress.Domain
	}
	var objs []*unstructured.Unstructured
	issuerSpec := map[string]any{"selfSigned": map[string]any{}}
	if r.st.TLS.Issuer == api.IssuerLocalCA {
		ca, _, err := trust.EnsureCA(r.cfg.CADir)
		if err != nil {
			return nil, fmt.Errorf("preparing the local CA: %w", err)
		}
		objs = append(objs, kube.Object("v1", "Secret", ns, "kindred-ca", map[string]any{
			"type": "kubernetes.io/tls",
			"data": map[string]any{
				"tls.crt": base64.StdEncoding.EncodeToString(ca.CertPEM),
				"tls.key": base64.StdEncoding.EncodeToString(ca.KeyPEM),
			},
		}))
		issuerSpec = map[string]any{"ca": map[string]any{"secretName": "kindred-ca"}}
	}
	objs = append(objs,
		kube.Object("cert-manager.io/v1", "ClusterIssuer", "", IssuerName, map[string]any{"spec": issuerSpec}),
		kube.Object("cert-manager.io/v1", "Certificate", contour.CertNamespace, "kindred-wildcard", map[string]any{"spec": map[string]any{
			"secretName": contour.CertSecret,
			"dnsNames":   []any{"*." + domain, domain},
			"issuerRef":  map[string]any{"name": IssuerName, "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}}))
	return objs, nil
}
