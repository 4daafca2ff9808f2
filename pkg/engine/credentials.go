package engine

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/stack"
)

// ErrNoDatabase means a stack has no database of the name asked for.
var ErrNoDatabase = errors.New("no such database")

// Credential is how to reach one of the stack's databases.
type Credential struct {
	Database string `json:"database"`
	Engine   string `json:"engine"`
	// URL is the connection URL; its password is **** unless the action
	// was asked to show it.
	URL string `json:"url"`
	// Secret is the namespace/name of the Secret that holds the password.
	Secret string `json:"secret"`
}

// Credentials reads the stack's databases' credentials from the cluster.
// It is the one place that turns a credentials Secret into a URL: creds,
// env, the summary after up and kindredtest all use it.
type Credentials struct {
	cfg Config
	// Show puts the real password in the URLs. Never log what it returns.
	Show bool
}

// NewCredentials returns a Credentials action.
func NewCredentials(cfg Config) *Credentials {
	cfg.defaults()
	return &Credentials{cfg: cfg}
}

// Run returns the credentials of the stack's databases, in the stack's
// order, or of the ones named in only.
func (a *Credentials) Run(ctx context.Context, st *stack.Stack, only ...string) ([]Credential, error) {
	for _, n := range only {
		found := false
		for _, db := range st.Databases {
			found = found || db.Name == n
		}
		if !found {
			return nil, fmt.Errorf("%w %q in stack %s", ErrNoDatabase, n, st.Metadata.Name)
		}
	}
	_, kc, _, err := connect(ctx, &a.cfg, st)
	if err != nil {
		return nil, err
	}
	var out []Credential
	for _, db := range st.Databases {
		if len(only) > 0 && !contains(only, db.Name) {
			continue
		}
		name := database.SecretName(db.Name)
		s, err := kc.Typed.CoreV1().Secrets(db.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the credentials of %s: %w", db.Name, err)
		}
		out = append(out, Credential{Database: db.Name, Engine: db.Engine, URL: database.URL(db, s.Data, a.Show), Secret: db.Namespace + "/" + name})
	}
	return out, nil
}

// MaskedCredentials are the stack's databases' credentials with the
// password masked, from what kindred writes into their Secrets, without
// reading them: what a summary shows before anyone asks.
func MaskedCredentials(st *stack.Stack) []Credential {
	var out []Credential
	for _, db := range st.Databases {
		e, ok := st.Catalog.Engine(db.Engine)
		if !ok {
			continue
		}
		data := map[string][]byte{"username": []byte(database.User), "database": []byte(db.Name),
			"host": []byte(db.Name + "." + db.Namespace + ".svc.cluster.local"), "port": []byte(fmt.Sprint(e.Port))}
		out = append(out, Credential{Database: db.Name, Engine: db.Engine, URL: database.URL(db, data, false), Secret: db.Namespace + "/" + database.SecretName(db.Name)})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
