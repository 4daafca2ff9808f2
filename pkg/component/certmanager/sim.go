package certmanager

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/sim"
)

// cert-manager's controller and cainjector, played on the simulated
// cluster. The controller issues real certificates: for a CA issuer it
// signs a new key with the CA in the issuer's Secret, for a self-signed
// issuer with the key itself, and writes the certificate Secret
// (tls.crt with the chain, tls.key, ca.crt) as cert-manager does. ACME,
// Vault and Venafi issuers need the outside world and stay not Ready.
// Each part plays only while its pod runs, as upstream.

var (
	certificatesGVR   = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	issuersGVR        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	clusterIssuersGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	injectables       = []schema.GroupVersionResource{
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
		{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"},
	}
)

const (
	annotInjectSecret = "cert-manager.io/inject-ca-from-secret"
	annotInjectCert   = "cert-manager.io/inject-ca-from"
)

// play runs the webhook, cainjector and controller until ctx ends.
func play(ctx context.Context, h *sim.Host) error {
	w := &webhook{h: h}
	h.ServePods(w.server())
	for {
		if _, ok := runningPod(ctx, h, "cainjector"); ok {
			if err := inject(ctx, h); err != nil && ctx.Err() == nil {
				h.Log.Debug("simulated cert-manager cainjector", "err", err)
			}
		}
		if ns, ok := runningPod(ctx, h, "controller"); ok {
			if err := control(ctx, h, ns); err != nil && ctx.Err() == nil {
				h.Log.Debug("simulated cert-manager controller", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// runningPod finds a running, ready pod of cert-manager's part and returns
// its namespace.
func runningPod(ctx context.Context, h *sim.Host, part string) (string, bool) {
	pods, err := h.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=" + part + ",app.kubernetes.io/instance"})
	if err != nil {
		return "", false
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		if part == "controller" && p.Labels["app.kubernetes.io/name"] != "cert-manager" {
			continue
		}
		return p.Namespace, true
	}
	return "", false
}

// inject copies CA bundles into the objects that ask for them.
func inject(ctx context.Context, h *sim.Host) error {
	for _, gvr := range injectables {
		list, err := h.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // a kind this cluster does not serve
		}
		for i := range list.Items {
			u := &list.Items[i]
			bundle, ok := caFor(ctx, h, u.GetAnnotations())
			if !ok || !setBundle(u, gvr.Resource, bundle) {
				continue
			}
			if _, err := h.Dynamic.Resource(gvr).Update(ctx, u, metav1.UpdateOptions{FieldManager: "cert-manager-cainjector"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// caFor reads the CA an object's annotation points at.
func caFor(ctx context.Context, h *sim.Host, annots map[string]string) ([]byte, bool) {
	ref, fromCert := annots[annotInjectSecret], false
	if ref == "" {
		ref, fromCert = annots[annotInjectCert], true
	}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok {
		return nil, false
	}
	if fromCert {
		c, err := h.Dynamic.Resource(certificatesGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, false
		}
		name, _, _ = unstructured.NestedString(c.Object, "spec", "secretName")
	}
	s, err := h.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || len(s.Data["ca.crt"]) == 0 {
		return nil, false
	}
	return s.Data["ca.crt"], true
}

// setBundle writes bundle where the kind keeps it; it reports a change.
func setBundle(u *unstructured.Unstructured, resource string, bundle []byte) bool {
	enc := base64.StdEncoding.EncodeToString(bundle)
	changed := false
	set := func(m map[string]any, fields ...string) {
		if cur, _, _ := unstructured.NestedString(m, fields...); cur != enc {
			_ = unstructured.SetNestedField(m, enc, fields...)
			changed = true
		}
	}
	switch resource {
	case "validatingwebhookconfigurations", "mutatingwebhookconfigurations":
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for _, hk := range hooks {
			if m, ok := hk.(map[string]any); ok {
				set(m, "clientConfig", "caBundle")
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
	case "customresourcedefinitions":
		if _, ok, _ := unstructured.NestedMap(u.Object, "spec", "conversion", "webhook"); ok {
			set(u.Object, "spec", "conversion", "webhook", "clientConfig", "caBundle")
		}
	case "apiservices":
		set(u.Object, "spec", "caBundle")
	}
	return changed
}

// control brings issuers' and certificates' status up to date, and issues.
func control(ctx context.Context, h *sim.Host, clusterNS string) error {
	issuers := map[string]*issuer{}
	for _, gvr := range []schema.GroupVersionResource{issuersGVR, clusterIssuersGVR} {
		list, err := h.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for i := range list.Items {
			u := &list.Items[i]
			is := loadIssuer(ctx, h, u, clusterNS)
			issuers[is.key] = is
			if err := setReady(ctx, h, gvr, u, is.ready, is.reason, is.message, nil); err != nil {
				return err
			}
		}
	}
	certs, err := h.Dynamic.Resource(certificatesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range certs.Items {
		if err := reconcileCertificate(ctx, h, &certs.Items[i], issuers); err != nil {
			return err
		}
	}
	return nil
}

// issuer is what an Issuer or ClusterIssuer signs with.
type issuer struct {
	key, kind, name string
	selfSigned      bool
	ca              *keyPair
	ready           bool
	reason, message string
}

func loadIssuer(ctx context.Context, h *sim.Host, u *unstructured.Unstructured, clusterNS string) *issuer {
	is := &issuer{kind: u.GetKind(), name: u.GetName(), key: issuerKey(u.GetKind(), u.GetNamespace(), u.GetName())}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	switch {
	case spec["selfSigned"] != nil:
		is.selfSigned, is.ready, is.reason, is.message = true, true, "IsReady", ""
	case spec["ca"] != nil:
		secret, _, _ := unstructured.NestedString(spec, "ca", "secretName")
		ns := u.GetNamespace()
		if ns == "" {
			ns = clusterNS
		}
		s, err := h.Kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			is.reason, is.message = "ErrGetKeyPair", fmt.Sprintf("Error getting keypair for CA issuer: %v", err)
			return is
		}
		kp, err := parseKeyPair(s.Data["tls.crt"], s.Data["tls.key"])
		if err != nil || !kp.certs[0].IsCA {
			is.reason, is.message = "ErrInvalidKeyPair", fmt.Sprintf("Error getting keypair for CA issuer: certificate is not a CA or unreadable (%v)", err)
			return is
		}
		is.ca, is.ready, is.reason, is.message = kp, true, "KeyPairVerified", "Signing CA verified"
	default:
		is.reason, is.message = "Unsupported", "the simulated cluster plays CA and self-signed issuers only; ACME, Vault and Venafi need the outside world"
	}
	return is
}

func issuerKey(kind, ns, name string) string {
	if kind == "ClusterIssuer" {
		ns = ""
	}
	return kind + "/" + ns + "/" + name
}

// reconcileCertificate issues the certificate when its Secret is missing,
// does not match the spec or the issuer, or is due for renewal.
func reconcileCertificate(ctx context.Context, h *sim.Host, u *unstructured.Unstructured, issuers map[string]*issuer) error {
	str := func(f ...string) string { s, _, _ := unstructured.NestedString(u.Object, f...); return s }
	kind := str("spec", "issuerRef", "kind")
	if kind == "" {
		kind = "Issuer"
	}
	if g := str("spec", "issuerRef", "group"); g != "" && g != "cert-manager.io" {
		return nil // an external issuer: its own controller signs
	}
	is, ok := issuers[issuerKey(kind, u.GetNamespace(), str("spec", "issuerRef", "name"))]
	if !ok || !is.ready {
		msg := fmt.Sprintf("Referenced %q not found", kind)
		if ok {
			msg = fmt.Sprintf("Referenced %s %q does not have a Ready status condition", kind, is.name)
		}
		return setReady(ctx, h, certificatesGVR, u, false, "Pending", msg, nil)
	}
	spec := specOf(u)
	secrets := h.Kube.CoreV1().Secrets(u.GetNamespace())
	secretName := str("spec", "secretName")
	cur, err := secrets.Get(ctx, secretName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil {
		if leaf, ok := upToDate(cur, spec, is); ok {
			return setReady(ctx, h, certificatesGVR, u, true, "Ready", "Certificate is up to date and has not expired", leaf)
		}
	}
	out, err := signLeafWith(is, spec)
	if err != nil {
		return setReady(ctx, h, certificatesGVR, u, false, "Failed", err.Error(), nil)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: u.GetNamespace(),
			Labels: map[string]string{"controller.cert-manager.io/fao": "true"},
			Annotations: map[string]string{
				"cert-manager.io/certificate-name": u.GetName(),
				"cert-manager.io/issuer-name":      is.name,
				"cert-manager.io/issuer-kind":      is.kind,
				"cert-manager.io/issuer-group":     "cert-manager.io",
				"cert-manager.io/common-name":      spec.commonName,
				"cert-manager.io/alt-names":        strings.Join(spec.dnsNames, ","),
				"cert-manager.io/ip-sans":          strings.Join(spec.ips, ","),
				"cert-manager.io/uri-sans":         strings.Join(spec.uris, ","),
			}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": out.chainPEM, "tls.key": out.keyPEM, "ca.crt": out.caPEM},
	}
	if cur == nil || apierrors.IsNotFound(err) || cur.Name == "" {
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "cert-manager-certificates-issuing"})
	} else {
		cur.Type, cur.Data = s.Type, s.Data
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		for k, v := range s.Labels {
			cur.Labels[k] = v
		}
		for k, v := range s.Annotations {
			cur.Annotations[k] = v
		}
		_, err = secrets.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "cert-manager-certificates-issuing"})
	}
	if err != nil {
		return err
	}
	return setReady(ctx, h, certificatesGVR, u, true, "Ready", "Certificate is up to date and has not expired", out.leaf)
}

// leafSpec is what a certificate asks for.
type leafSpec struct {
	commonName            string
	dnsNames, ips, uris   []string
	emails                []string
	duration, renewBefore time.Duration
	algorithm             string
	size                  int
	isCA                  bool
}

func specOf(u *unstructured.Unstructured) leafSpec {
	str := func(f ...string) string { s, _, _ := unstructured.NestedString(u.Object, f...); return s }
	list := func(f ...string) []string { s, _, _ := unstructured.NestedStringSlice(u.Object, f...); return s }
	s := leafSpec{commonName: str("spec", "commonName"), dnsNames: list("spec", "dnsNames"), ips: list("spec", "ipAddresses"),
		uris: list("spec", "uris"), emails: list("spec", "emailAddresses"), algorithm: str("spec", "privateKey", "algorithm"), duration: 90 * 24 * time.Hour}
	s.size = int(intField(u.Object, "spec", "privateKey", "size"))
	s.isCA, _, _ = unstructured.NestedBool(u.Object, "spec", "isCA")
	if d, err := time.ParseDuration(str("spec", "duration")); err == nil {
		s.duration = d
	}
	s.renewBefore = s.duration / 3
	if d, err := time.ParseDuration(str("spec", "renewBefore")); err == nil {
		s.renewBefore = d
	}
	return s
}

// upToDate reports whether the Secret holds a certificate for spec, from
// is, not yet due for renewal.
func upToDate(s *corev1.Secret, spec leafSpec, is *issuer) (*x509.Certificate, bool) {
	kp, err := parseKeyPair(s.Data["tls.crt"], s.Data["tls.key"])
	if err != nil {
		return nil, false
	}
	leaf := kp.certs[0]
	if s.Annotations["cert-manager.io/issuer-name"] != is.name || s.Annotations["cert-manager.io/issuer-kind"] != is.kind {
		return nil, false
	}
	if leaf.Subject.CommonName != spec.commonName || !sameSet(leaf.DNSNames, spec.dnsNames) {
		return nil, false
	}
	if is.ca != nil && leaf.CheckSignatureFrom(is.ca.certs[0]) != nil {
		return nil, false
	}
	if time.Now().After(leaf.NotAfter.Add(-spec.renewBefore)) {
		return nil, false
	}
	return leaf, true
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// issued is a signed certificate as cert-manager writes it.
type issued struct {
	chainPEM, keyPEM, caPEM []byte
	leaf                    *x509.Certificate
}

func signLeafWith(is *issuer, spec leafSpec) (*issued, error) {
	if is.selfSigned {
		return signLeaf(nil, spec)
	}
	return signLeaf(is.ca, spec)
}

// signLeaf makes a key as spec asks and signs a certificate for it with
// ca, or with the key itself when ca is nil. tls.crt carries the leaf and
// the CA's chain up to, not including, a self-signed root; ca.crt is the
// top of the chain.
func signLeaf(ca *keyPair, spec leafSpec) (*issued, error) {
	key, err := newKey(spec.algorithm, spec.size)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: spec.commonName}, DNSNames: spec.dnsNames, EmailAddresses: spec.emails,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(spec.duration),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, BasicConstraintsValid: true, IsCA: spec.isCA,
	}
	if spec.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	for _, ip := range spec.ips {
		if p := net.ParseIP(ip); p != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, p)
		}
	}
	for _, u := range spec.uris {
		if p, err := url.Parse(u); err == nil {
			tmpl.URIs = append(tmpl.URIs, p)
		}
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.certs[0], ca.key.(crypto.Signer)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := &issued{leaf: leaf, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})}
	var chain bytes.Buffer
	chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	top := leaf
	if ca != nil {
		for _, c := range ca.certs {
			top = c
			if !selfSigned(c) {
				chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
			}
		}
	}
	out.chainPEM, out.caPEM = chain.Bytes(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: top.Raw})
	return out, nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func newKey(alg string, size int) (crypto.Signer, error) {
	switch alg {
	case "ECDSA":
		curve := elliptic.P256()
		switch size {
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		}
		return ecdsa.GenerateKey(curve, rand.Reader)
	case "Ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	if size == 0 {
		size = 2048
	}
	return rsa.GenerateKey(rand.Reader, size)
}

// setReady writes the Ready condition (and a certificate's dates) when
// they changed.
func setReady(ctx context.Context, h *sim.Host, gvr schema.GroupVersionResource, u *unstructured.Unstructured, ready bool, reason, msg string, leaf *x509.Certificate) error {
	status := "False"
	if ready {
		status = "True"
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == status && m["message"] == msg {
			if leaf == nil {
				return nil
			}
			if na, _, _ := unstructured.NestedString(u.Object, "status", "notAfter"); na == leaf.NotAfter.UTC().Format(time.RFC3339) {
				return nil
			}
		}
	}
	st, _, _ := unstructured.NestedMap(u.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	st["conditions"] = []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration()}}
	if leaf != nil {
		rev, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
		st["notBefore"] = leaf.NotBefore.UTC().Format(time.RFC3339)
		st["notAfter"] = leaf.NotAfter.UTC().Format(time.RFC3339)
		st["renewalTime"] = leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3).UTC().Format(time.RFC3339)
		st["revision"] = rev + 1
	}
	u.Object["status"] = st
	var err error
	if ns := u.GetNamespace(); ns != "" {
		_, err = h.Dynamic.Resource(gvr).Namespace(ns).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: "cert-manager-certificates-readiness"})
	} else {
		_, err = h.Dynamic.Resource(gvr).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: "cert-manager-issuers"})
	}
	if apierrors.IsConflict(err) {
		return nil // changed meanwhile: the next pass sees it
	}
	return err
}
