package database

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/kube"
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

// Credentials reads the stack's databases' credentials from the cluster p
// reaches, in the stack's order, or those of the databases named in only.
// It is the one place that turns a credentials Secret into a URL: creds,
// env, the summary after up and kindredtest all use it. With show, the
// URLs hold the real password: never log them.
func Credentials(ctx context.Context, p cluster.Provider, st *stack.Stack, show bool, only ...string) ([]Credential, error) {
	for _, n := range only {
		found := false
		for _, db := range st.Databases {
			found = found || db.Name == n
		}
		if !found {
			return nil, fmt.Errorf("%w %q in stack %s", ErrNoDatabase, n, st.Metadata.Name)
		}
	}
	acc, err := p.Access(ctx, st)
	if err != nil {
		return nil, err
	}
	rc, err := acc.RESTConfig()
	if err != nil {
		return nil, err
	}
	kc, err := kube.New(rc)
	if err != nil {
		return nil, err
	}
	var out []Credential
	for _, db := range st.Databases {
		if len(only) > 0 && !slices.Contains(only, db.Name) {
			continue
		}
		name := SecretName(db.Name)
		s, err := kc.Typed.CoreV1().Secrets(db.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the credentials of %s: %w", db.Name, err)
		}
		out = append(out, Credential{Database: db.Name, Engine: db.Engine, URL: URL(db, s.Data, show), Secret: db.Namespace + "/" + name})
	}
	return out, nil
}

// Masked are the stack's databases' credentials with the
// password masked, from what kindred writes into their Secrets, without
// reading them: what a summary shows before anyone asks.
func Masked(st *stack.Stack) []Credential {
	var out []Credential
	for _, db := range st.Databases {
		e, ok := st.Catalog.Engine(db.Engine)
		if !ok {
			continue
		}
		data := map[string][]byte{"username": []byte(User), "database": []byte(db.Name),
			"host": []byte(db.Name + "." + db.Namespace + ".svc.cluster.local"), "port": []byte(fmt.Sprint(e.Port))}
		out = append(out, Credential{Database: db.Name, Engine: db.Engine, URL: URL(db, data, false), Secret: db.Namespace + "/" + SecretName(db.Name)})
	}
	return out
}
