package certmanager

import (
	"context"
	"fmt"
	"sort"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
)

// Mirror recognises cert-manager by its Deployment, and maps its issuers
// to kindred's: a production issuer (ACME, Vault, a cloud CA) cannot work
// on a laptop, so routes get the local CA instead. A cluster whose only
// issuer is kindred's self-signed one keeps self-signed.
func (CertManager) Mirror(ctx context.Context, live component.Live, into *api.Stack) (component.Mirrored, error) {
	var m component.Mirrored
	if !live.Served("cert-manager.io/v1", "ClusterIssuer") {
		return m, nil
	}
	var where string
	for _, d := range live.List(ctx, "apps/v1", "Deployment", "") {
		if d.GetName() == "cert-manager" || d.GetLabels()["app.kubernetes.io/name"] == "cert-manager" && d.GetLabels()["app.kubernetes.io/component"] == "controller" {
			where = d.GetNamespace() + "/" + d.GetName()
			m.Namespaces = append(m.Namespaces, d.GetNamespace())
			break
		}
	}
	if where == "" {
		m.Notes = append(m.Notes, component.MirrorNote{Path: "#", From: "cert-manager's CRDs are served but no cert-manager Deployment was found: tls left out"})
		return m, nil
	}
	var kinds []string
	selfSignedOnly := true
	for _, kind := range []string{"ClusterIssuer", "Issuer"} {
		for _, is := range live.List(ctx, "cert-manager.io/v1", kind, "") {
			spec, _ := is.Object["spec"].(map[string]any)
			var types []string
			for k := range spec {
				types = append(types, k)
			}
			sort.Strings(types)
			t := strings.Join(types, ",")
			if !(is.GetName() == IssuerName && kind == "ClusterIssuer" && t == "selfSigned") {
				selfSignedOnly = false
			}
			name := is.GetName()
			if is.GetNamespace() != "" {
				name = is.GetNamespace() + "/" + name
			}
			kinds = append(kinds, fmt.Sprintf("%s %s (%s)", kind, name, t))
		}
	}
	issuer := api.IssuerLocalCA
	if selfSignedOnly && len(kinds) > 0 {
		issuer = api.IssuerSelfSigned
	}
	into.TLS = &api.TLS{Issuer: issuer}
	from := "cert-manager: Deployment " + where
	if len(kinds) > 0 {
		from += "; issuers " + strings.Join(kinds, ", ") + " → " + issuer
	}
	m.Notes = append(m.Notes, component.MirrorNote{Path: "tls", From: from})
	return m, nil
}
