package certmanager

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/sim"
)

// ID is cert-manager's catalogue entry.
const ID = "cert-manager"

// Where the wildcard certificate goes when the stack has no ingress
// controller to ask.
const (
	defaultCertNamespace = "kindred-system"
	defaultCertSecret    = "kindred-wildcard-tls"
)

func init() { component.Register(CertManager{}) }

// CertManager is the built-in: its catalogue step, and the stack's issuer
// step.
type CertManager struct{}

// ID is "cert-manager".
func (CertManager) ID() string { return ID }

// StepKinds: cert-manager handles the issuer step.
func (CertManager) StepKinds() []string { return []string{plan.KindIssuer} }

// Render renders the issuer step.
func (CertManager) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	if env.Step.Kind != plan.KindIssuer {
		return nil, fmt.Errorf("cert-manager renders the issuer, not %s steps", env.Step.Kind)
	}
	return issuerObjects(env.Stack, env.CADir)
}

// DetailKind: Certificates.
func (CertManager) DetailKind() string { return "Certificate" }

// Detail shows when a certificate expires.
func (CertManager) Detail(u *unstructured.Unstructured) (string, bool) {
	after, ok, _ := unstructured.NestedString(u.Object, "status", "notAfter")
	if !ok {
		return "", false
	}
	t, err := time.Parse(time.RFC3339, after)
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("certificate %s expires %s", u.GetName(), t.UTC().Format("2006-01-02")), true
}

// Simulated: on the simulated cluster, Certificates and ClusterIssuers
// turn Ready, as cert-manager would make them.
func (CertManager) Simulated() []sim.Controller {
	return []sim.Controller{{Name: ID, Kinds: []string{"cert-manager.io/v1/Certificate", "cert-manager.io/v1/ClusterIssuer"},
		Stages: sim.ReadyStage("cert-manager.io/v1", "Certificate", "Ready") + sim.ReadyStage("cert-manager.io/v1", "ClusterIssuer", "Ready")}}
}
