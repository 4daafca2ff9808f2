package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// The plan resolves what its steps read, once: values files parsed, the
// stack's manifests and database scripts read, the catalogue's chart and
// engine found. A run reads none of them again.
func TestInputsResolvedOnce(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"values.yaml": "replicas: 3\n",
		"app.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
		"schema.sql":  "CREATE TABLE t (id int);\n",
		"kindred.yaml": `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
tls: {issuer: self-signed}
databases:
  - {name: orders, engine: postgres, init: [schema.sql], seed: [schema.sql]}
components:
  - {name: api, chart: {path: ./chart}, valuesFiles: [values.yaml]}
  - {name: app, manifests: [app.yaml]}
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "chart"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(filepath.Join(dir, "kindred.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		_ = os.Remove(filepath.Join(dir, name)) // nothing is read after the plan
	}
	api, _ := p.Step("api")
	if api.Inputs.Chart == nil || api.Inputs.Chart.Path == "" || len(api.Inputs.ValuesFiles) != 1 || api.Inputs.ValuesFiles[0]["replicas"] != float64(3) {
		t.Errorf("api's inputs: %+v", api.Inputs)
	}
	app, _ := p.Step("app")
	if len(app.Inputs.Manifests) != 1 || !strings.Contains(string(app.Inputs.Manifests[0].Data), "ConfigMap") {
		t.Errorf("app's inputs: %+v", app.Inputs)
	}
	db, _ := p.Step("orders")
	if db.Inputs.Engine == nil || db.Inputs.Engine.Port != 5432 || len(db.Inputs.Init) != 1 || db.Inputs.Init[0].Name != "00-schema.sql" || len(db.Inputs.Seed) != 1 {
		t.Errorf("orders' inputs: %+v", db.Inputs)
	}
	cm, _ := p.Step("cert-manager")
	if cm.Inputs.Chart == nil {
		t.Error("the catalogue's chart is not resolved for cert-manager")
	}
}

// A values file that is not a mapping is a problem at its place in the
// stack, found when planning, before any cluster is touched; the message
// does not quote the file.
func TestBadValuesFileAtPlan(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("- just\n- a list with a SECRET-TOKEN-1234\n"), 0o644)
	_ = os.Mkdir(filepath.Join(dir, "chart"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "kindred.yaml"), []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
components:
  - {name: api, chart: {path: ./chart}, valuesFiles: [values.yaml]}
`), 0o644)
	st, err := stack.Load(filepath.Join(dir, "kindred.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Build(st)
	var ps stack.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Pos.Line != 5 || !strings.Contains(ps[0].Msg, "is not a YAML mapping") || strings.Contains(ps[0].Msg, "SECRET-TOKEN") {
		t.Errorf("planning with a values file that is a list: %v", err)
	}
}

// On an existing cluster the network is already there: a stack written
// for kind that names a CNI does not install it there; one written for an
// existing cluster does, since it asks for it there.
func TestExistingClusterGetsNoCNIUnlessAsked(t *testing.T) {
	for _, c := range []struct {
		stackProvider, runOn string
		want                 bool
	}{
		{"", "kind", true},
		{"", "sim", true},
		{"", "existing", false},
		{"kind", "existing", false},
		{"existing", "existing", true},
	} {
		provider := ""
		if c.stackProvider != "" {
			provider = "\n  provider: " + c.stackProvider
		}
		st, err := stack.Parse("s.yaml", []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncluster:"+provider+"\n  networking: {cni: calico, podSubnet: 192.168.0.0/16}\n"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Build(st, plan.ForProvider(c.runOn))
		if err != nil {
			t.Fatal(err)
		}
		if _, got := p.Step("calico"); got != c.want {
			t.Errorf("stack provider %q, run on %s: calico step %v, want %v", c.stackProvider, c.runOn, got, c.want)
		}
	}
}

// A stack pins its own manifest URLs as URL#sha256:HEX; the plan fetches
// the URL and checks the pin.
func TestStackPinsManifestURLs(t *testing.T) {
	pin := "sha256:" + strings.Repeat("ab", 32)
	st, err := stack.Parse("s.yaml", []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\ncomponents:\n  - {name: app, manifests: [\"https://example.test/app.yaml#"+pin+"\", https://example.test/other.yaml]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(st)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Step("app")
	got := s.Inputs.Manifests
	if len(got) != 2 || got[0].URL != "https://example.test/app.yaml" || got[0].SHA256 != pin || got[1].SHA256 != "" {
		t.Errorf("manifests: %+v", got)
	}
}
