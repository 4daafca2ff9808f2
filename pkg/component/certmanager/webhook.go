package certmanager

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/sim"
)

// cert-manager's webhook, played on the simulated cluster. As the real one
// (cert-manager v1.21, `--dynamic-serving-*` flags, which the chart sets)
// it keeps its own serving CA in a Secret, serves a certificate for its
// Service's names signed by it, and validates and mutates cert-manager's
// resources. cainjector (sim.go) copies that CA into the webhook
// configurations, so the API server trusts it as on a real cluster.

// webhookPod reports whether pod is cert-manager's webhook.
func webhookPod(pod *corev1.Pod) bool {
	return pod.Labels["app.kubernetes.io/component"] == "webhook" && pod.Labels["app.kubernetes.io/name"] == "webhook"
}

// servingFlags are the webhook's --dynamic-serving-* and --secure-port
// flags, read from its pod.
type servingFlags struct {
	caNamespace, caName string
	dnsNames            []string
	port                int
}

func flagsOf(pod *corev1.Pod) (servingFlags, bool) {
	f := servingFlags{port: 6443, caNamespace: pod.Namespace}
	for _, c := range pod.Spec.Containers {
		for _, a := range c.Args {
			a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", pod.Namespace)
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "--dynamic-serving-ca-secret-namespace":
				f.caNamespace = v
			case "--dynamic-serving-ca-secret-name":
				f.caName = v
			case "--dynamic-serving-dns-names":
				f.dnsNames = append(f.dnsNames, strings.Split(v, ",")...)
			case "--secure-port":
				f.port, _ = strconv.Atoi(v)
			}
		}
	}
	return f, f.caName != ""
}

// webhook serves the played webhook's connections.
type webhook struct {
	h *sim.Host

	mu    sync.Mutex
	certs map[string]*tls.Certificate // by CA secret and names
}

func (w *webhook) server() sim.PodServer {
	return sim.PodServer{
		Name: "cert-manager webhook",
		Accepts: func(pod *corev1.Pod, port int) bool {
			f, ok := flagsOf(pod)
			return webhookPod(pod) && ok && port == f.port
		},
		Serve: func(pod *corev1.Pod, conn net.Conn) {
			f, _ := flagsOf(pod)
			cert, err := w.servingCert(context.Background(), f)
			if err != nil {
				w.h.Log.Warn("simulated cert-manager webhook", "err", err)
				conn.Close()
				return
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/validate", w.admit(validate))
			mux.HandleFunc("/mutate", w.admit(mutate))
			mux.HandleFunc("/livez", func(rw http.ResponseWriter, _ *http.Request) { io.WriteString(rw, "ok") })
			sim.ServeHTTP(conn, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, mux)
		},
	}
}

// servingCert is the webhook's certificate, signed by its CA, which it
// creates in the Secret the flags name when missing.
func (w *webhook) servingCert(ctx context.Context, f servingFlags) (*tls.Certificate, error) {
	ca, err := w.ensureCA(ctx, f)
	if err != nil {
		return nil, err
	}
	key := f.caNamespace + "/" + f.caName + "|" + strings.Join(f.dnsNames, ",") + "|" + string(ca.CertPEM)
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.certs[key]; ok {
		return c, nil
	}
	leaf, err := signLeaf(ca, leafSpec{commonName: first(f.dnsNames), dnsNames: f.dnsNames, duration: 365 * 24 * time.Hour, algorithm: "ECDSA", size: 256})
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(leaf.chainPEM, leaf.keyPEM)
	if err != nil {
		return nil, err
	}
	if w.certs == nil {
		w.certs = map[string]*tls.Certificate{}
	}
	w.certs[key] = &c
	return &c, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// ensureCA reads the webhook's CA from its Secret, creating it as the
// real webhook does: a self-signed ECDSA CA for a year, under ca.crt,
// tls.crt and tls.key.
func (w *webhook) ensureCA(ctx context.Context, f servingFlags) (*keyPair, error) {
	secrets := w.h.Kube.CoreV1().Secrets(f.caNamespace)
	s, err := secrets.Get(ctx, f.caName, metav1.GetOptions{})
	if err == nil {
		return parseKeyPair(s.Data["tls.crt"], s.Data["tls.key"])
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	ca, err := selfSignedCA("cert-manager-webhook-ca", 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	_, err = secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: f.caName, Namespace: f.caNamespace,
			Annotations: map[string]string{"cert-manager.io/allow-direct-injection": "true"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": ca.CertPEM, "tls.key": ca.KeyPEM},
	}, metav1.CreateOptions{FieldManager: "cert-manager-webhook"})
	if apierrors.IsAlreadyExists(err) {
		return w.ensureCA(ctx, f)
	}
	return ca, err
}

// admit wraps a review function as cert-manager's webhook answers.
func (w *webhook) admit(review func(*admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		var in admissionv1.AdmissionReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&in); err != nil || in.Request == nil {
			http.Error(rw, "bad admission review", http.StatusBadRequest)
			return
		}
		resp, err := review(in.Request)
		if err != nil {
			resp = &admissionv1.AdmissionResponse{Result: &metav1.Status{Status: metav1.StatusFailure, Message: err.Error(), Reason: metav1.StatusReasonBadRequest, Code: http.StatusBadRequest}}
		}
		resp.UID = in.Request.UID
		out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(out)
	}
}

// validate applies cert-manager's validation to what it knows; other
// resources of its groups (ACME orders and challenges) are allowed.
func validate(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	if req.SubResource != "" || req.Operation == admissionv1.Delete {
		return allowed(), nil
	}
	var obj unstructured.Unstructured
	if err := json.Unmarshal(req.Object.Raw, &obj.Object); err != nil {
		return nil, err
	}
	var errs []string
	switch req.Kind.Kind {
	case "Certificate":
		errs = validateCertificate(obj.Object)
	case "Issuer", "ClusterIssuer":
		errs = validateIssuer(obj.Object)
	case "CertificateRequest":
		errs = validateRequest(req, obj.Object)
	}
	if len(errs) == 0 {
		return allowed(), nil
	}
	msg := fmt.Sprintf("%s.%s %q is invalid: %s", strings.ToLower(req.Kind.Kind)+"s", req.Kind.Group, obj.GetName(), strings.Join(errs, ", "))
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Message: msg, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden}}, nil
}

func allowed() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

func validateCertificate(o map[string]any) []string {
	var errs []string
	str := func(f ...string) string { s, _, _ := unstructured.NestedString(o, f...); return s }
	list := func(f ...string) []string { s, _, _ := unstructured.NestedStringSlice(o, f...); return s }
	if str("spec", "secretName") == "" {
		errs = append(errs, "spec.secretName: Required value: must be specified")
	}
	if str("spec", "issuerRef", "name") == "" {
		errs = append(errs, "spec.issuerRef.name: Required value: must be specified")
	}
	cn := str("spec", "commonName")
	if cn == "" && str("spec", "literalSubject") == "" && len(list("spec", "dnsNames")) == 0 && len(list("spec", "uris")) == 0 &&
		len(list("spec", "emailAddresses")) == 0 && len(list("spec", "ipAddresses")) == 0 {
		errs = append(errs, "spec: Invalid value: \"\": at least one of commonName (from the commonName field or from a literalSubject), dnsNames, uriSANs, ipAddresses, emailSANs or otherNames must be set")
	}
	if len(cn) > 64 {
		errs = append(errs, "spec.commonName: Too long: may not be more than 64 bytes")
	}
	for _, ip := range list("spec", "ipAddresses") {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Sprintf("spec.ipAddresses: Invalid value: %q: invalid IP address", ip))
		}
	}
	alg, size := str("spec", "privateKey", "algorithm"), intField(o, "spec", "privateKey", "size")
	switch alg {
	case "", "RSA":
		if size != 0 && (size < 2048 || size > 8192) {
			errs = append(errs, fmt.Sprintf("spec.privateKey.size: Invalid value: %d: must be between 2048 & 8192 for rsa keyAlgorithm", size))
		}
	case "ECDSA":
		if size != 0 && !slices.Contains([]int64{256, 384, 521}, size) {
			errs = append(errs, fmt.Sprintf("spec.privateKey.size: Unsupported value: %d: supported values: 256, 384, 521", size))
		}
	case "Ed25519":
	default:
		errs = append(errs, fmt.Sprintf("spec.privateKey.algorithm: Unsupported value: %q", alg))
	}
	if d := str("spec", "duration"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			errs = append(errs, fmt.Sprintf("spec.duration: Invalid value: %q", d))
		} else if dur < time.Hour {
			errs = append(errs, fmt.Sprintf("spec.duration: Invalid value: %q: certificate duration must be greater than 1h0m0s", d))
		}
	}
	return errs
}

// intField reads a number however it was decoded (JSON gives float64).
func intField(o map[string]any, fields ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(o, fields...)
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

// issuerTypes are the issuer configurations cert-manager knows.
var issuerTypes = []string{"acme", "ca", "vault", "selfSigned", "venafi"}

func validateIssuer(o map[string]any) []string {
	spec, _, _ := unstructured.NestedMap(o, "spec")
	var set []string
	for _, t := range issuerTypes {
		if _, ok := spec[t]; ok {
			set = append(set, t)
		}
	}
	switch {
	case len(set) == 0:
		return []string{"spec: Required value: at least one issuer must be configured"}
	case len(set) > 1:
		return []string{fmt.Sprintf("spec.%s: Forbidden: may not specify more than one issuer type", set[1])}
	}
	if set[0] == "ca" {
		if s, _, _ := unstructured.NestedString(spec, "ca", "secretName"); s == "" {
			return []string{"spec.ca.secretName: Required value"}
		}
	}
	return nil
}

func validateRequest(req *admissionv1.AdmissionRequest, o map[string]any) []string {
	var errs []string
	if s, _, _ := unstructured.NestedString(o, "spec", "request"); s == "" {
		errs = append(errs, "spec.request: Required value: must be specified")
	}
	if s, _, _ := unstructured.NestedString(o, "spec", "issuerRef", "name"); s == "" {
		errs = append(errs, "spec.issuerRef.name: Required value: must be specified")
	}
	if req.Operation == admissionv1.Update && req.OldObject.Raw != nil {
		var old map[string]any
		if json.Unmarshal(req.OldObject.Raw, &old) == nil && !equalJSON(old["spec"], o["spec"]) {
			errs = append(errs, "spec: Forbidden: cannot change spec after creation")
		}
	}
	return errs
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// mutate sets, as cert-manager does, a CertificateRequest's requester
// (username, UID, groups) from who created it.
func mutate(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	if req.Kind.Kind != "CertificateRequest" || req.Operation != admissionv1.Create || req.SubResource != "" {
		return allowed(), nil
	}
	groups := make([]any, 0, len(req.UserInfo.Groups))
	for _, g := range req.UserInfo.Groups {
		groups = append(groups, g)
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "add", "path": "/spec/username", "value": req.UserInfo.Username},
		{"op": "add", "path": "/spec/uid", "value": req.UserInfo.UID},
		{"op": "add", "path": "/spec/groups", "value": groups},
	})
	if err != nil {
		return nil, err
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}, nil
}

// keyPair is a PEM certificate (chain) and key.
type keyPair struct {
	CertPEM, KeyPEM []byte
	certs           []*x509.Certificate
	key             any
}

func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	kp := &keyPair{CertPEM: certPEM, KeyPEM: keyPEM}
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		kp.certs = append(kp.certs, c)
	}
	if len(kp.certs) == 0 {
		return nil, errors.New("no certificate in tls.crt")
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("no private key in tls.key")
	}
	var err error
	if kp.key, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
		if kp.key, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
			if kp.key, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
				return nil, errors.New("tls.key: unsupported private key")
			}
		}
	}
	return kp, nil
}

func selfSignedCA(cn string, d time.Duration) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(d),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return parseKeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
