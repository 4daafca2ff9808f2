package certmanager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/ready"
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

// ErrLocalCAOnExisting is wrapped when local-ca would put its
// intermediate CA into a cluster kindred did not create without the
// stack's consent.
var ErrLocalCAOnExisting = errors.New("the local CA on a cluster kindred did not create")

// Check refuses local-ca on an existing cluster unless the stack opts in:
// the cluster would hold a CA this machine trusts.
func (CertManager) Check(env *component.Env) error {
	if env.Step.Kind != plan.KindIssuer || !env.Access.Existing || env.Stack.TLS.Issuer != api.IssuerLocalCA || env.Stack.TLS.LocalCAOnExisting {
		return nil
	}
	return fmt.Errorf("%w: tls.issuer local-ca would put a CA signed by this machine's trusted root (for the stack's local names) into a cluster others may read; set tls.localCAOnExisting: true to accept that, or use tls.issuer: self-signed; nothing was changed", ErrLocalCAOnExisting)
}

// Render renders the issuer step.
func (CertManager) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	if env.Step.Kind != plan.KindIssuer {
		return nil, fmt.Errorf("cert-manager renders the issuer, not %s steps", env.Step.Kind)
	}
	return issuerObjects(env.Stack, env.CADir)
}

// Finish waits, for the issuer step, until cert-manager reports the issuer
// and the certificate Ready: kstatus takes a custom resource with no
// status yet for done (helm#32615), so the condition is checked itself.
func (CertManager) Finish(ctx context.Context, env *component.Env, objs []*unstructured.Unstructured) (component.Result, error) {
	if env.Step.Kind != plan.KindIssuer {
		return component.Result{}, nil
	}
	var checks []api.Check
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterIssuer", "Issuer", "Certificate":
			checks = append(checks, api.Check{Type: api.CheckCondition, APIVersion: o.GetAPIVersion(), Kind: o.GetKind(),
				Namespace: o.GetNamespace(), Name: o.GetName(), Condition: "Ready", Status: "True"})
		}
	}
	return component.Result{}, ready.RunChecks(ctx, env.Kube, checks, env.Timeout, env.Say)
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

// Simulated: on the simulated cluster cert-manager's webhook, cainjector
// and controller are played in Go (webhook.go, sim.go): the webhook answers
// the API server, and certificates are really signed.
func (CertManager) Simulated() []sim.Controller {
	return []sim.Controller{{Name: ID, Kinds: []string{"cert-manager.io/v1/Certificate", "cert-manager.io/v1/Issuer", "cert-manager.io/v1/ClusterIssuer"}, Run: play,
		How: "played in Go: the webhook (served to the API server), cainjector, and the controller, which really signs CA and self-signed certificates; ACME, Vault and Venafi issuers stay not Ready"}}
}
