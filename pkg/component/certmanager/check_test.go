package certmanager

import (
	"errors"
	"testing"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// The local CA goes into a cluster kindred did not create only when the
// stack says it accepts that; self-signed and clusters kindred creates
// need nothing.
func TestLocalCAOnExistingNeedsConsent(t *testing.T) {
	for _, c := range []struct {
		issuer   string
		existing bool
		consent  bool
		refused  bool
	}{
		{api.IssuerLocalCA, false, false, false},
		{api.IssuerLocalCA, true, false, true},
		{api.IssuerLocalCA, true, true, false},
		{api.IssuerSelfSigned, true, false, false},
	} {
		st := &stack.Stack{}
		st.TLS = &api.TLS{Issuer: c.issuer, LocalCAOnExisting: c.consent}
		env := &component.Env{Stack: st, Step: &plan.Step{ID: "issuer", Kind: plan.KindIssuer}, Access: cluster.Access{Existing: c.existing}}
		err := (CertManager{}).Check(env)
		if errors.Is(err, ErrLocalCAOnExisting) != c.refused {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
