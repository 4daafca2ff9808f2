package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/internal/golden"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/stack"
)

// TestGeneratedObjectsGolden pins what kindred renders for tenants, jobs
// and routes.
func TestGeneratedObjectsGolden(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name   string
		render func() (any, error)
	}{
		{"tenant.yaml", func() (any, error) {
			return tenantObjects(&api.Tenant{Name: "team-a", Namespace: "team-a", Admins: []string{"group:team-a"}, Viewers: []string{"serviceaccount:ci/reader"},
				NetworkPolicy: api.NetworkPolicyDefaultDeny, Quota: &api.Quota{CPU: "4", Memory: "8Gi", Pods: 50}})
		}},
		{"job.yaml", func() (any, error) {
			return jobObjects(&api.Job{Name: "fixtures", Namespace: "default", Image: "localhost:5001/loader:dev", Command: []string{"load"}, Env: map[string]string{"B": "2", "A": "1"}})
		}},
		{"cronjob.yaml", func() (any, error) {
			return jobObjects(&api.Job{Name: "ingest", Namespace: "batch", Image: "localhost:5001/ingest:dev", Schedule: "*/30 * * * *", BackoffLimit: 2})
		}},
		{"route.yaml", func() (any, error) {
			return routeObjects(&api.Route{Host: "api.shop.localhost", Service: api.ServiceRef{Name: "api", Namespace: "apps", Port: 8080},
				Protocol: api.ProtocolGRPC, PathPrefix: "/", TLS: &yes, HealthCheck: &api.HealthCheck{Path: "/healthz"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			checkYAML(t, tc.name, objs)
		})
	}
}

// TestDatabaseAndIssuerGolden pins the database servers kindred renders
// (with a password already in the cluster, so the output is stable) and
// the cert-manager issuer with its wildcard certificate.
func TestDatabaseAndIssuerGolden(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "schema.sql"), []byte("CREATE TABLE orders (id serial PRIMARY KEY);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackFile, []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
tls: {issuer: self-signed}
ingress: {domain: shop.localhost}
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
	var secrets []runtime.Object
	for _, db := range st.Databases {
		secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: db.Name + "-credentials", Namespace: db.Namespace},
			Data: map[string][]byte{"password": []byte("fixed-for-the-golden-file")}})
	}
	r := &runner{cfg: &Config{}, st: st, kube: &kube.Client{Typed: fake.NewSimpleClientset(secrets...)}}
	for i := range st.Databases {
		db := &st.Databases[i]
		t.Run(db.Name, func(t *testing.T) {
			objs, err := r.database(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			checkYAML(t, "database-"+db.Engine+".yaml", objs)
		})
	}
	t.Run("issuer", func(t *testing.T) {
		objs, err := r.issuerObjects()
		if err != nil {
			t.Fatal(err)
		}
		checkYAML(t, "issuer-selfsigned.yaml", objs)
	})
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
	db := &st.Databases[0]
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orders-credentials", Namespace: db.Namespace},
		Data: map[string][]byte{"password": []byte("fixed-for-the-golden-file")}}
	r := &runner{cfg: &Config{}, st: st, access: cluster.Access{HostData: true}, kube: &kube.Client{Typed: fake.NewSimpleClientset(secret)}}
	objs, err := r.database(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	checkYAML(t, "database-postgres-hostdata.yaml", objs)
}

// checkYAML compares v, as YAML, with the golden file name.
func checkYAML(t *testing.T, name string, v any) {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, name, out)
}
