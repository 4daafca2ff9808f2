package v1alpha1

import (
	"net"
	"net/url"
	"strings"
)

// Enums are the allowed values of the stack's enum fields, by Go type and
// JSON field name ("Networking.cni"): the one table that the JSON Schema
// and validation both read, in the order messages list them.
var Enums = map[string][]string{
	"Cluster.provider":     {ProviderKind, ProviderSim, ProviderExisting},
	"NodeGroup.role":       {RoleControlPlane, RoleWorker},
	"Taint.effect":         {"NoSchedule", "PreferNoSchedule", "NoExecute"},
	"Networking.cni":       {CNICalico, CNIKindnet},
	"PortMapping.protocol": {"TCP", "UDP", "SCTP"},
	"Ingress.controller":   {IngressContour},
	"TLS.issuer":           {IssuerLocalCA, IssuerSelfSigned},
	"Database.engine":      {EnginePostgres, EngineMySQL, EngineRedis},
	"Check.type":           {CheckCondition, CheckCRD, CheckAPIService, CheckWebhook, CheckRollout},
	"Route.protocol":       {ProtocolHTTP, ProtocolH2C, ProtocolGRPC},
	"Tenant.networkPolicy": {NetworkPolicyDefaultDeny, NetworkPolicyNone},
	"Stack.apiVersion":     {APIVersion},
	"Stack.kind":           {Kind},
}

// Ingress controllers kindred installs; the first is the default.
const IngressContour = "contour"

// DefaultIngressController is the controller of an ingress that names none.
const DefaultIngressController = IngressContour

// DefaultPodSubnets are the pod subnets CNIs assume when a stack sets none
// (kindnet's is the cluster's default).
var DefaultPodSubnets = map[string]string{CNICalico: "192.168.0.0/16"}

// LocalDomains are the top-level domains reserved for local and test use
// (RFC 2606, RFC 6761, and .internal), which no public site can have: the
// only names the local CA signs for.
var LocalDomains = []string{"localhost", "test", "internal", "example"}

// IsLocalName reports whether a DNS name is under one of LocalDomains.
func IsLocalName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, d := range LocalDomains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}

// SecureURL reports whether kindred may fetch from raw: https, or plain
// http to this machine only (127.0.0.0/8, ::1, localhost).
func SecureURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SplitPin splits a manifest URL pinned as URL#sha256:HEX into the URL and
// the pin ("" when it has none).
func SplitPin(ref string) (url, pin string) {
	u, frag, ok := strings.Cut(ref, "#")
	if !ok || !strings.HasPrefix(frag, "sha256:") {
		return ref, ""
	}
	return u, frag
}

// ValidPin reports whether pin is sha256: and 64 hexadecimal digits.
func ValidPin(pin string) bool {
	hex, ok := strings.CutPrefix(pin, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
