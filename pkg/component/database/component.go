package database

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"
)

// ID names the databases built-in; it handles every database step.
const ID = "database"

func init() { component.Register(Databases{}) }

// Databases is the built-in.
type Databases struct{}

// ID is "database".
func (Databases) ID() string { return ID }

// StepKinds: every database step.
func (Databases) StepKinds() []string { return []string{plan.KindDatabase} }

// Render renders the database's server, credentials and scripts.
func (Databases) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	return render(ctx, env, env.Step)
}

// Finish logs in to the running server, and records where it answers
// and which Secret holds its credentials.
func (Databases) Finish(ctx context.Context, env *component.Env, _ []*unstructured.Unstructured) (component.Result, error) {
	db, e := env.Step.Database, env.Step.Inputs.Engine
	if e == nil {
		return component.Result{}, fmt.Errorf("no catalogue entry for engine %s", db.Engine)
	}
	res := component.Result{
		Endpoint: fmt.Sprintf("%s.%s.svc.cluster.local:%d", db.Name, db.Namespace, e.Port),
		Secret:   SecretName(db.Name),
		Data:     dataOf(env, db),
	}
	return res, pingDatabase(ctx, env, db)
}

// dataOf says where a database keeps its data: in the cluster's data
// folder on the host, in a claim, or only in its pod.
func dataOf(env *component.Env, db *api.Database) *component.Data {
	switch {
	case db.Persistence != nil && db.Persistence.Enabled && env.Access.HostData:
		return &component.Data{Where: "in the cluster's data folder on the host (cluster.dataDir)", Kept: true}
	case db.Persistence != nil && db.Persistence.Enabled:
		claim := "data-" + db.Name + "-0"
		return &component.Data{Where: "in PersistentVolumeClaim " + db.Namespace + "/" + claim, Kept: true,
			Claims: []component.Ref{{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: db.Namespace, Name: claim}}}
	default:
		return &component.Data{Where: "only in its pod (no persistence)"}
	}
}

// Images is the server's image, at the database's version.
func (Databases) Images(env *component.Env) ([]string, error) {
	db, e := env.Step.Database, env.Step.Inputs.Engine
	if e == nil {
		return nil, fmt.Errorf("no catalogue entry for engine %s", db.Engine)
	}
	v := db.Version
	if v == "" {
		v = e.DefaultVersion
	}
	return []string{e.Image + ":" + v}, nil
}

// SecretName is the Secret that holds a database's credentials.
func SecretName(db string) string { return db + "-credentials" }
