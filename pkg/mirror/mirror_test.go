package mirror

import (
	"strings"
	"testing"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/stack"
)

func TestScrubReplacesSecretsOnly(t *testing.T) {
	m := &mirrorer{r: &Result{Stack: &api.Stack{}}}
	values := map[string]any{
		"replicas": 3,
		"image":    "example.test/web:2.1",
		"auth":     map[string]any{"password": "hunter2", "existingSecret": "web-auth", "enabled": true, "pin": 12345678},
		"extraEnv": []any{map[string]any{"name": "DB_PASSWORD", "value": "hunter2"}},
		"db":       map[string]any{"url": "postgres://app:s3cret@db:5432/app"},
		"tls":      map[string]any{"key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"},
		"webhook":  "https://hooks.example.test/notify",
		"apiToken": "",
		"extra":    []any{map[string]any{"token": "abc123abc123"}},
		"opaque":   "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
	}
	got := m.scrub(values, "web", "components[0].values")
	want := map[string]string{
		"auth.password":       "${WEB_AUTH_PASSWORD}",
		"auth.pin":            "${WEB_AUTH_PIN}",
		"extraEnv.0.value":    "${WEB_EXTRAENV_0_VALUE}",
		"extraEnv.0.name":     "DB_PASSWORD",
		"db.url":              "${WEB_DB_URL}",
		"tls.key":             "${WEB_TLS_KEY}",
		"extra.0.token":       "${WEB_EXTRA_0_TOKEN}",
		"opaque":              "${WEB_OPAQUE}",
		"image":               "example.test/web:2.1",
		"webhook":             "https://hooks.example.test/notify",
		"auth.existingSecret": "web-auth",
		"apiToken":            "",
	}
	for path, w := range want {
		var v any = got
		for _, k := range strings.Split(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				v = c[k]
			case []any:
				v = c[0]
			}
		}
		if v != w {
			t.Errorf("%s = %v, want %s", path, v, w)
		}
	}
	if got["replicas"] != 3 || got["auth"].(map[string]any)["enabled"] != true {
		t.Errorf("non-strings changed: %v", got)
	}
	if len(m.r.Variables) != 7 {
		t.Errorf("variables %v, want 7", m.r.Variables)
	}
	// Two values that make the same name get two variables.
	a, b := m.r.variable("X_KEY", "a"), m.r.variable("X_KEY", "b")
	if a != "${X_KEY}" || b != "${X_KEY_2}" || m.r.variable("X_KEY", "a") != a {
		t.Errorf("colliding names: %s %s", a, b)
	}
}

// TestUnrecordedRepositoryStillValidates: a release whose repository no
// record holds gets a variable with a default that never resolves, so the
// file validates as written, and the variable or a chart mirror supplies it.
func TestUnrecordedRepositoryStillValidates(t *testing.T) {
	m := &mirrorer{o: Options{Name: "shop"}, l: nil, r: &Result{Stack: &api.Stack{APIVersion: api.APIVersion, Kind: api.Kind, Metadata: api.Metadata{Name: "shop"}}},
		claimed: map[string]string{}, releases: map[string]*release{}}
	m.releases["web/web"] = &release{name: "web", namespace: "web", chart: "web", version: "1.2.3"}
	ref := "${WEB_CHART_REPO:-https://charts.invalid/web}"
	m.r.Stack.Components = []api.Component{{Name: "web", Namespace: "web", Chart: &api.Chart{Repo: ref, Name: "web", Version: "1.2.3"}}}
	m.r.variable("WEB_CHART_REPO", "the repository")
	m.r.placeholders[ref] = true
	out, err := m.r.YAML("context prod")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Parse("shop.yaml", out, stack.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := st.Components[0].Chart.Repo; got != "https://charts.invalid/web" {
		t.Errorf("repo %q", got)
	}
}

func TestSubtractKeepsOnlyWhatDiffers(t *testing.T) {
	base := map[string]any{"crds": map[string]any{"enabled": true}, "replicas": 1, "a": map[string]any{"b": 1, "c": 2}}
	got := subtract(map[string]any{"crds": map[string]any{"enabled": true}, "replicas": 2, "a": map[string]any{"b": 1, "c": 3}, "new": "x"}, base)
	if len(got) != 3 || got["replicas"] != 2 || got["new"] != "x" || got["a"].(map[string]any)["c"] != 3 || len(got["a"].(map[string]any)) != 1 {
		t.Errorf("subtract = %v", got)
	}
	if subtract(base, base) != nil {
		t.Error("equal values must subtract to nothing")
	}
}

func TestVersionMapsToTheProvider(t *testing.T) {
	kind := []string{"v1.37.0", "v1.36.4", "v1.35.8", "v1.34.11"}
	for _, c := range []struct{ server, want, note string }{
		{"v1.35.4", "v1.35.4", "(the provider runs v1.35.8 for v1.35)"},
		{"v1.33.5-eks-4f4795d", "v1.34.11", "the provider runs no v1.33, v1.34.11 is the nearest"},
		{"v1.38.1+k3s1", "v1.37.0", "the provider runs no v1.38, v1.37.0 is the nearest"},
		{"v1.36.4", "v1.36.4", ""},
	} {
		m := &mirrorer{o: Options{Versions: kind}, r: &Result{Stack: &api.Stack{}}}
		m.version(c.server)
		if got := m.r.Stack.Cluster.KubernetesVersion; got != c.want {
			t.Errorf("%s: %s, want %s", c.server, got, c.want)
		}
		if note := m.r.Inferences[0].From; !strings.Contains(note, c.note) || c.note == "" && strings.Contains(note, "(") {
			t.Errorf("%s: note %q, want %q", c.server, note, c.note)
		}
	}
}

func TestYAMLCommentsAndEscapes(t *testing.T) {
	r := &Result{Server: "v1.35.4", Stack: &api.Stack{APIVersion: api.APIVersion, Kind: api.Kind, Metadata: api.Metadata{Name: "shop"}}}
	ref := r.variable("WEB_PASSWORD", "components[0].values.password")
	r.Stack.Cluster.KubernetesVersion = "v1.35.4"
	r.Stack.Components = []api.Component{{Name: "web", Chart: &api.Chart{Repo: "https://charts.example.test", Name: "web", Version: "1.0.0"},
		Values: map[string]any{"password": ref, "greeting": "costs $5", "flag": "true"}}}
	r.note("cluster.kubernetesVersion", "the server's version")
	r.note("components[0]", "helm release default/web")
	r.note("#", "a header line")
	r.omit("Deployment kube-system/ccm", "a cloud controller")
	out, err := r.YAML("context prod")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"kubernetesVersion: v1.35.4 # the server's version\n",
		"  # helm release default/web\n  - name: web\n",
		"password: \"${WEB_PASSWORD}\"\n",
		"greeting: costs $$5\n",
		"flag: \"true\"\n",
		"#   WEB_PASSWORD: components[0].values.password\n",
		"#   a header line\n",
		"#   Deployment kube-system/ccm: a cloud controller\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the YAML lacks %q:\n%s", want, s)
		}
	}
	// What the loader reads back is what was found, placeholders aside.
	st, err := stack.Parse("shop.yaml", out, stack.WithEnv(func(n string) (string, bool) { return "pw-from-env", n == "WEB_PASSWORD" }))
	if err != nil {
		t.Fatal(err)
	}
	v := st.Components[0].Values
	if v["greeting"] != "costs $5" || v["password"] != "pw-from-env" || v["flag"] != "true" {
		t.Errorf("read back: %v", v)
	}
}

func TestDiff(t *testing.T) {
	base := func() *api.Stack {
		return &api.Stack{Metadata: api.Metadata{Name: "shop"}, Cluster: api.Cluster{KubernetesVersion: "v1.35.4",
			Nodes: []api.NodeGroup{{Role: api.RoleControlPlane}, {Role: api.RoleWorker, Labels: map[string]string{"topology.kubernetes.io/zone": "a"}}}},
			Components: []api.Component{{Name: "web", Chart: &api.Chart{Name: "web", Version: "1.0.0"}}},
			Tenants:    []api.Tenant{{Name: "team-a", NetworkPolicy: api.NetworkPolicyDefaultDeny}},
			Jobs:       []api.Job{{Name: "report", Image: "r:1", Schedule: "0 3 * * *"}}}
	}
	if d := Diff(base(), &Result{Stack: base()}); len(d) != 0 {
		t.Errorf("identical stacks drift: %v", d)
	}
	live := base()
	live.Cluster.KubernetesVersion = "v1.35.9" // a patch release is no drift
	live.Cluster.Nodes = append(live.Cluster.Nodes, api.NodeGroup{Role: api.RoleWorker, Count: 3, Labels: map[string]string{"topology.kubernetes.io/zone": "b"}})
	live.Components[0].Chart.Version = "1.1.0"
	live.Components = append(live.Components, api.Component{Name: "api", Chart: &api.Chart{Name: "api", Version: "2.0.0"}})
	live.Tenants[0].Quota = &api.Quota{CPU: "4"}
	live.Jobs = nil
	var got []string
	for _, d := range Diff(base(), &Result{Stack: live}) {
		got = append(got, d.String())
	}
	want := []string{
		"cluster.nodes: missing from the stack: worker nodes with topology.kubernetes.io/zone=b",
		"components.api: missing from the stack: chart api 2.0.0",
		"components.web: the stack has chart web 1.0.0, the cluster chart web 1.1.0",
		"tenants.team-a: the stack has network policy default-deny, the cluster network policy default-deny, quota cpu 4 memory  pods 0",
		"jobs.default/report: not in the cluster: \"0 3 * * *\" running r:1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSelected(t *testing.T) {
	m := &mirrorer{o: Options{Include: []string{"shop*", "platform"}, Exclude: []string{"shop-old"}}}
	for names, want := range map[string]bool{"shop": true, "shop-eu": true, "shop-old": false, "platform": true, "team-a": false} {
		if got := m.selected(names); got != want {
			t.Errorf("selected(%s) = %v", names, got)
		}
	}
}

func FuzzEnvName(f *testing.F) {
	for _, s := range []string{"web", "auth.password", "0day", "ünï-cödé", "", "__"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := envName("rel", s)
		if n == "" || n[0] >= '0' && n[0] <= '9' {
			t.Fatalf("envName(%q) = %q", s, n)
		}
		for _, c := range n {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				t.Fatalf("envName(%q) = %q", s, n)
			}
		}
	})
}
