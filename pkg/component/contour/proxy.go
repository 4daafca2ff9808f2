package contour

import (
	"fmt"
	"regexp"
	"strings"

	contourv1 "github.com/projectcontour/contour/apis/projectcontour/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
)

// The wildcard certificate's Secret, and the namespace that holds it and
// delegates it to every route's namespace.
const (
	CertNamespace = "kindred-system"
	CertSecret    = "kindred-wildcard-tls"
)

// Health-check defaults, for routes that set only a path.
const (
	healthInterval  = 5
	healthTimeout   = 2
	healthUnhealthy = 3
	healthHealthy   = 1
)

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// Name is the HTTPProxy's name for a host.
func Name(host string) string {
	n := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(host), "-"), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// Proxy builds the HTTPProxy of one route.
func Proxy(r api.Route) (*unstructured.Unstructured, error) {
	svc := contourv1.Service{Name: r.Service.Name, Port: r.Service.Port}
	switch r.Protocol {
	case api.ProtocolH2C, api.ProtocolGRPC:
		// gRPC reaches its upstream as HTTP/2 cleartext.
		p := "h2c"
		svc.Protocol = &p
	}
	route := contourv1.Route{
		Conditions: []contourv1.MatchCondition{{Prefix: r.PathPrefix}},
		Services:   []contourv1.Service{svc},
	}
	if hc := r.HealthCheck; hc != nil {
		policy := &contourv1.HTTPHealthCheckPolicy{
			Path:                    hc.Path,
			IntervalSeconds:         healthInterval,
			TimeoutSeconds:          healthTimeout,
			UnhealthyThresholdCount: healthUnhealthy,
			HealthyThresholdCount:   healthHealthy,
		}
		if hc.Interval.Duration > 0 {
			policy.IntervalSeconds = int64(hc.Interval.Seconds())
		}
		if hc.Timeout.Duration > 0 {
			policy.TimeoutSeconds = int64(hc.Timeout.Seconds())
		}
		route.HealthCheckPolicy = policy
	}
	if r.Timeout.Duration > 0 {
		route.TimeoutPolicy = &contourv1.TimeoutPolicy{Response: r.Timeout.String()}
	}
	if r.Retries > 0 {
		route.RetryPolicy = &contourv1.RetryPolicy{NumRetries: int64(r.Retries)}
	}
	vh := &contourv1.VirtualHost{Fqdn: r.Host}
	if r.TLS != nil && *r.TLS {
		vh.TLS = &contourv1.TLS{SecretName: CertNamespace + "/" + CertSecret}
	}
	proxy := &contourv1.HTTPProxy{
		TypeMeta: metav1.TypeMeta{APIVersion: contourv1.GroupVersion.String(), Kind: "HTTPProxy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      Name(r.Host),
			Namespace: r.Service.Namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "kindred"},
		},
		Spec: contourv1.HTTPProxySpec{VirtualHost: vh, Routes: []contourv1.Route{route}},
	}
	return one(kube.ToUnstructured(proxy))
}

// Delegation lets every namespace's HTTPProxy use the wildcard
// certificate's Secret.
func Delegation() (*unstructured.Unstructured, error) {
	return one(kube.ToUnstructured(&contourv1.TLSCertificateDelegation{
		TypeMeta:   metav1.TypeMeta{APIVersion: contourv1.GroupVersion.String(), Kind: "TLSCertificateDelegation"},
		ObjectMeta: metav1.ObjectMeta{Name: "kindred-wildcard", Namespace: CertNamespace},
		Spec: contourv1.TLSCertificateDelegationSpec{
			Delegations: []contourv1.CertificateDelegation{{SecretName: CertSecret, TargetNamespaces: []string{"*"}}},
		},
	}))
}

// Status reads an HTTPProxy's status: valid, or why not. done is false
// while Contour has not judged the proxy yet.
func Status(u *unstructured.Unstructured) (valid, done bool, why string) {
	var p contourv1.HTTPProxy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		return false, true, err.Error()
	}
	switch p.Status.CurrentStatus {
	case "valid":
		return true, true, p.Status.Description
	case "", "NotReconciled":
		return false, false, "Contour has not processed it yet"
	}
	why = p.Status.Description
	for _, c := range p.Status.Conditions {
		for _, e := range c.Errors {
			why += "; " + e.Message
		}
	}
	return false, true, fmt.Sprintf("%s: %s", p.Status.CurrentStatus, why)
}

func one(objs []*unstructured.Unstructured, err error) (*unstructured.Unstructured, error) {
	if err != nil {
		return nil, err
	}
	return objs[0], nil
}
