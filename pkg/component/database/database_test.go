package database

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"kindred.dev/kindred/internal/golden"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// envWith is an Env on a fake cluster that holds each database's password
// already, so the output is stable.
func envWith(st *stack.Stack, acc cluster.Access) *component.Env {
	var secrets []runtime.Object
	for _, db := range st.Databases {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName(db.Name), Namespace: db.Namespace},
			Data: map[string][]byte{"password": []byte("fixed-for-the-golden-file")}})
	}
	return &component.Env{Stack: st, Access: acc, Kube: &kube.Client{Typed: fake.NewSimpleClientset(secrets...)}}
}

// TestDatabaseGolden pins the database servers kindred renders, one per
// engine.
func TestDatabaseGolden(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "schema.sql"), []byte("CREATE TABLE orders (id serial PRIMARY KEY);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackFile, []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
databases:
  - {name: orders, engine: postgres, version: "16", init: [schema.sql], seed: [schema.sql], persistence: {enabled: true, size: 2Gi}}
  - {name: inventory, engine: mysql, namespace: stock}
  - {name: sessions, engine: redis}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	env := envWith(st, cluster.Access{})
	p, err := plan.Build(st)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Databases {
		db := &st.Databases[i]
		t.Run(db.Name, func(t *testing.T) {
			step, _ := p.Step(db.Name)
			objs, err := render(context.Background(), env, step)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckYAML(t, "database-"+db.Engine+".yaml", objs)
		})
	}
}

// On kind with a data folder, a persistent database gets a volume at a
// fixed place in it, pinned to its node, so its data outlives the cluster.
func TestDatabaseOnHostDataGolden(t *testing.T) {
	st, err := stack.Parse("stack.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster:
  dataDir: /var/lib/kindred-data
  nodes: [{role: control-plane}, {role: worker, count: 2}]
databases:
  - {name: orders, engine: postgres, persistence: {enabled: true, size: 2Gi}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := p.Step("orders")
	objs, err := render(context.Background(), envWith(st, cluster.Access{HostData: true}), step)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "database-postgres-hostdata.yaml", objs)
}

// URL builds each engine's connection URL, the password masked unless asked.
func TestURL(t *testing.T) {
	secret := map[string][]byte{"username": []byte("kindred"), "password": []byte("pw"), "database": []byte("orders"), "host": []byte("orders.default.svc.cluster.local"), "port": []byte("5432")}
	for engine, want := range map[string]string{
		"postgres": "postgres://kindred:****@orders.default.svc.cluster.local:5432/orders?sslmode=disable",
		"mysql":    "mysql://kindred:****@orders.default.svc.cluster.local:5432/orders",
		"redis":    "redis://:****@orders.default.svc.cluster.local:5432/0",
	} {
		if got := URL(api.Database{Name: "orders", Engine: engine}, secret, false); got != want {
			t.Errorf("%s: %s, want %s", engine, got, want)
		}
	}
}
