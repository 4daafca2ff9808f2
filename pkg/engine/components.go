package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/contour"
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
		objs = append(objs, obj("v1", "Secret", ns, "kindred-ca", map[string]any{
			"type": "kubernetes.io/tls",
			"data": map[string]any{
				"tls.crt": base64.StdEncoding.EncodeToString(ca.CertPEM),
				"tls.key": base64.StdEncoding.EncodeToString(ca.KeyPEM),
			},
		}))
		issuerSpec = map[string]any{"ca": map[string]any{"secretName": "kindred-ca"}}
	}
	objs = append(objs,
		obj("cert-manager.io/v1", "ClusterIssuer", "", IssuerName, map[string]any{"spec": issuerSpec}),
		obj("cert-manager.io/v1", "Certificate", contour.CertNamespace, "kindred-wildcard", map[string]any{"spec": map[string]any{
			"secretName": contour.CertSecret,
			"dnsNames":   []any{"*." + domain, domain},
			"issuerRef":  map[string]any{"name": IssuerName, "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}}))
	return objs, nil
}

// routeObjects renders a route's HTTPProxy, and the delegation that lets
// it use the wildcard certificate.
func routeObjects(rt *api.Route) ([]*unstructured.Unstructured, error) {
	p, err := contour.Proxy(*rt)
	if err != nil {
		return nil, err
	}
	objs := []*unstructured.Unstructured{p}
	if rt.TLS != nil && *rt.TLS {
		d, err := contour.Delegation()
		if err != nil {
			return nil, err
		}
		objs = append(objs, d)
	}
	return objs, nil
}

// waitProxy waits until Contour has judged the HTTPProxy, and fails the
// step with Contour's reason when it is not valid.
func (r *runner) waitProxy(ctx context.Context, proxy *unstructured.Unstructured, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	told := false
	for {
		cur, err := r.kube.Get(ctx, proxy.GroupVersionKind(), proxy.GetNamespace(), proxy.GetName())
		if err == nil {
			valid, done, why := contour.Status(cur)
			switch {
			case valid:
				return nil
			case done:
				return fmt.Errorf("HTTPProxy %s/%s is %s", proxy.GetNamespace(), proxy.GetName(), why)
			case !told:
				progress("waiting for Contour to accept HTTPProxy " + proxy.GetName())
				told = true
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Contour to accept HTTPProxy %s/%s: %w", proxy.GetNamespace(), proxy.GetName(), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "kindred"})
	for k, v := range fields {
		u.Object[k] = v
	}
	return u
}

// calico creates the operator's Installation with an IP pool that is the
// cluster's pod subnet, then waits until the operator reports Calico
// Available and every node is Ready: with Calico, nodes stay NotReady until
// the CNI runs.
func (r *runner) calico(ctx context.Context, timeout time.Duration, progress func(string)) error {
	inst := obj("operator.tigera.io/v1", "Installation", "", "default", map[string]any{"spec": map[string]any{
		"calicoNetwork": map[string]any{"ipPools": []any{map[string]any{
			"cidr":          r.st.Cluster.Networking.PodSubnet,
			"encapsulation": "VXLANCrossSubnet",
			"natOutgoing":   "Enabled",
			"nodeSelector":  "all()",
		}}},
	}})
	progress("applying the Calico Installation for " + r.st.Cluster.Networking.PodSubnet)
	if _, err := r.kube.Apply(ctx, inst); err != nil {
		return err
	}
	return runChecks(ctx, r.kube, []api.Check{
		{Type: api.CheckCondition, APIVersion: "operator.tigera.io/v1", Kind: "TigeraStatus", Name: "calico", Condition: "Available", Status: "True"},
		{Type: checkNodesReady},
	}, timeout, progress)
}
