package helm

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/chartserver"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/sim"
)

const charts = "../../../testdata/charts"

type fixture struct {
	t      *testing.T
	ctx    context.Context
	sim    *sim.Cluster
	srv    *chartserver.Server
	client *Client
	kube   *kube.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := testbed.Sim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	kc, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t: t, ctx: ctx, sim: c, kube: kc,
		srv:    chartserver.Start(t, charts),
		client: &Client{Kubeconfig: c.Kubeconfig, Fetcher: &Fetcher{CacheDir: t.TempDir()}},
	}
}

func (f *fixture) ensure(rel Release, want string) Result {
	f.t.Helper()
	if rel.Timeout == 0 {
		rel.Timeout = time.Minute
	}
	rel.Wait = true
	res, err := f.client.Ensure(f.ctx, rel)
	if err != nil {
		f.t.Fatalf("Ensure(%s): %v", rel.Name, err)
	}
	if res.Action != want {
		f.t.Fatalf("Ensure(%s) = %s, want %s", rel.Name, res.Action, want)
	}
	return res
}

// TestIntegrationEnsure installs charts from the in-process OCI registry and
// helm repository onto the simulated cluster, and checks that Ensure does
// nothing when nothing changed and upgrades when values change.
func TestIntegrationEnsure(t *testing.T) {
	f := newFixture(t)
	op := Release{Name: "op", Namespace: "ops", Chart: ChartRef{OCI: f.srv.OCI + "/operator", Version: "0.3.1"}, Values: map[string]any{"replicas": 3}}
	res := f.ensure(op, ActionInstall)
	if res.Revision != 1 || !strings.Contains(res.Manifest, "kind: Deployment") {
		t.Errorf("install result %+v", res)
	}
	dep, err := f.kube.Typed.AppsV1().Deployments("ops").Get(f.ctx, "op", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 3 {
		t.Errorf("%d available replicas after a waited install, want 3", dep.Status.AvailableReplicas)
	}
	f.ensure(op, ActionNone)

	op.Values = map[string]any{"replicas": 3, "logLevel": "debug"}
	if res := f.ensure(op, ActionUpgrade); res.Revision != 2 {
		t.Errorf("upgrade revision %d, want 2", res.Revision)
	}
	f.ensure(op, ActionNone)

	// A chart with CRDs and a custom resource, from the helm repository by
	// constraint, then a chart that needs that CRD.
	f.ensure(Release{Name: "widgets", Namespace: "widgets", Chart: ChartRef{Repo: f.srv.RepoURL, Name: "widgets", Version: "~1.2"}}, ActionInstall)
	f.ensure(Release{Name: "user", Namespace: "widgets", Chart: ChartRef{Repo: f.srv.RepoURL, Name: "widget-user", Version: "0.1.0"}}, ActionInstall)
	w, err := f.kube.Get(f.ctx, schema.GroupVersionKind{Group: "test.kindred.dev", Version: "v1", Kind: "Widget"}, "widgets", "user")
	if err != nil {
		t.Fatalf("the Widget the second chart made: %v", err)
	}
	if size, _, _ := unstructuredInt(w.Object, "spec", "size"); size != 3 {
		t.Errorf("widget size %d, want 3", size)
	}

	// A hook Job, which the simulated cluster runs to completion, and a
	// DaemonSet from a local folder.
	f.ensure(Release{Name: "hooked", Namespace: "apps", Chart: ChartRef{Path: charts + "/hooked"}}, ActionInstall)
	f.ensure(Release{Name: "agent", Namespace: "apps", Chart: ChartRef{Path: charts + "/agent"}}, ActionInstall)
	f.ensure(Release{Name: "agent", Namespace: "apps", Chart: ChartRef{Path: charts + "/agent"}}, ActionNone)

	// A template that does not render is an error that says why.
	_, err = f.client.Ensure(f.ctx, Release{Name: "broken", Namespace: "apps", Chart: ChartRef{Path: charts + "/broken"}, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "value is required") {
		t.Errorf("broken chart: err = %v", err)
	}

	if err := f.client.Uninstall(f.ctx, "op", "ops", time.Minute); err != nil {
		t.Fatal(err)
	}
	if st, err := f.client.Get(f.ctx, "op", "ops"); err != nil || st != nil {
		t.Errorf("after uninstall: %+v, %v", st, err)
	}
	if err := f.client.Uninstall(f.ctx, "op", "ops", time.Minute); err != nil {
		t.Errorf("uninstalling an absent release: %v", err)
	}
}

// TestIntegrationRecoverPending plants the release records an interrupted
// run leaves, pending-install and pending-upgrade, and checks that Ensure
// repairs both and converges.
func TestIntegrationRecoverPending(t *testing.T) {
	f := newFixture(t)
	ref := ChartRef{Path: charts + "/operator"}
	fetched, err := f.client.Fetcher.Fetch(f.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	plant := func(name, ns string, version int, status common.Status) {
		t.Helper()
		cfg, err := f.client.config(ns)
		if err != nil {
			t.Fatal(err)
		}
		// As kindred's own run left it: with its labels.
		rel := &rspb.Release{
			Name: name, Namespace: ns, Version: version, Chart: fetched.Chart,
			Info:   &rspb.Info{Status: status, FirstDeployed: time.Now(), LastDeployed: time.Now()},
			Labels: map[string]string{LabelChartDigest: fetched.Digest[:32]},
		}
		if err := cfg.Releases.Create(rel); err != nil {
			t.Fatal(err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rec"}}
	if _, err := f.kube.Typed.CoreV1().Namespaces().Create(f.ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plant("fresh", "rec", 1, common.StatusPendingInstall)
	res := f.ensure(Release{Name: "fresh", Namespace: "rec", Chart: ref}, ActionInstall)
	if !strings.Contains(res.Recovered, "pending-install") {
		t.Errorf("Recovered = %q", res.Recovered)
	}

	f.ensure(Release{Name: "mid", Namespace: "rec", Chart: ref}, ActionInstall)
	plant("mid", "rec", 2, common.StatusPendingUpgrade)
	res = f.ensure(Release{Name: "mid", Namespace: "rec", Chart: ref, Values: map[string]any{"replicas": 1}}, ActionUpgrade)
	if !strings.Contains(res.Recovered, "pending-upgrade") {
		t.Errorf("Recovered = %q", res.Recovered)
	}
	for _, name := range []string{"fresh", "mid"} {
		st, err := f.client.Get(f.ctx, name, "rec")
		if err != nil || st == nil || st.Status != string(common.StatusDeployed) {
			t.Errorf("%s after repair: %+v, %v", name, st, err)
		}
	}
}

// TestIntegrationMirrorAndCache resolves remote references through a folder
// mirror, and re-fetches a repository chart from the cache with the
// repository gone.
func TestIntegrationMirrorAndCache(t *testing.T) {
	testbed.Integration(t)
	ctx := context.Background()
	mirror := &Fetcher{CacheDir: t.TempDir(), Mirror: charts}
	got, err := mirror.Fetch(ctx, ChartRef{Repo: "https://charts.example.invalid", Name: "operator", Version: "0.3.x"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Chart.Metadata.Name != "operator" {
		t.Errorf("mirror gave %s", got.Chart.Metadata.Name)
	}
	_, err = mirror.Fetch(ctx, ChartRef{OCI: "oci://registry.example.invalid/charts/operator", Version: ">=9"})
	if !errors.Is(err, ErrNotInMirror) || !strings.Contains(err.Error(), `"operator"`) || !strings.Contains(err.Error(), charts) {
		t.Errorf("a version the mirror lacks: %v", err)
	}
	_, err = mirror.Fetch(ctx, ChartRef{Repo: "https://charts.example.invalid", Name: "nothing", Version: "1.0.0"})
	if !errors.Is(err, ErrNotInMirror) {
		t.Errorf("a chart the mirror lacks: %v", err)
	}

	srv := chartserver.Start(t, charts)
	cached := &Fetcher{CacheDir: t.TempDir()}
	ref := ChartRef{Repo: srv.RepoURL, Name: "agent", Version: "2.x"}
	first, err := cached.Fetch(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cached.Fetch(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if n := srv.Pulls("agent"); n != 1 {
		t.Errorf("the archive was downloaded %d times, want once", n)
	}
	offline := &Fetcher{CacheDir: cached.CacheDir, HTTP: offlineClient()}
	again, err := offline.Fetch(ctx, ref)
	if err != nil {
		t.Fatalf("offline re-run: %v", err)
	}
	if again.Digest != first.Digest {
		t.Errorf("offline digest %s, want %s", again.Digest, first.Digest)
	}
}

func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[f]
	}
	n, ok := cur.(int64)
	return n, ok, nil
}

// offlineClient fails every request, as a machine without a network does.
func offlineClient() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("network is unreachable")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIntegrationRegistryAndRepoMirrors redirects a chart reference to an
// oci:// registry and to an http(s) repository; a chart or a version the
// mirror lacks is ErrNotInMirror, naming the chart and the mirror.
func TestIntegrationRegistryAndRepoMirrors(t *testing.T) {
	testbed.Integration(t)
	ctx := context.Background()
	srv := chartserver.Start(t, charts)
	for _, m := range []string{srv.OCI, srv.RepoURL} {
		f := &Fetcher{CacheDir: t.TempDir(), Mirror: m}
		got, err := f.Fetch(ctx, ChartRef{Repo: "https://charts.example.invalid", Name: "operator", Version: "0.3.x"})
		if err != nil {
			t.Fatalf("mirror %s: %v", m, err)
		}
		if got.Chart.Metadata.Name != "operator" || got.Chart.Metadata.Version != "0.3.1" || !strings.HasPrefix(got.From, m) {
			t.Errorf("mirror %s gave %s %s from %s", m, got.Chart.Metadata.Name, got.Chart.Metadata.Version, got.From)
		}
		for _, ref := range []ChartRef{
			{Repo: "https://charts.example.invalid", Name: "nothing", Version: "1.0.0"},
			{OCI: "oci://registry.example.invalid/charts/nothing", Version: ">=1"},
			{Repo: "https://charts.example.invalid", Name: "operator", Version: ">=9"},
			{Repo: "https://charts.example.invalid", Name: "operator", Version: "9.0.0"},
		} {
			_, err := f.Fetch(ctx, ref)
			name := ref.chartName()
			if !errors.Is(err, ErrNotInMirror) || !strings.Contains(err.Error(), strconv.Quote(name)) || !strings.Contains(err.Error(), m) {
				t.Errorf("mirror %s, %s %s: %v; want ErrNotInMirror naming the chart and the mirror", m, name, ref.Version, err)
			}
		}
	}
}

// TestIntegrationForeignRelease: a release of the same name that kindred
// did not install (helm install by hand) is refused by Ensure and Plan,
// with the flag that adopts it; adopted, it is upgraded and kindred's from
// then on.
func TestIntegrationForeignRelease(t *testing.T) {
	f := newFixture(t)
	ref := ChartRef{Path: charts + "/operator"}
	fetched, err := f.client.Fetcher.Fetch(f.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.client.config("theirs")
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = "op", "theirs", true
	in.WaitStrategy = helmkube.HookOnlyStrategy
	if _, err := in.RunWithContext(f.ctx, fetched.Chart, map[string]any{"logLevel": "warn"}); err != nil {
		t.Fatal(err)
	}
	rel := Release{Name: "op", Namespace: "theirs", Chart: ref, Timeout: time.Minute}
	if _, err := f.client.Ensure(f.ctx, rel); !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "--adopt op") {
		t.Fatalf("Ensure over a release kindred did not install: %v", err)
	}
	if _, err := f.client.Plan(f.ctx, rel); !errors.Is(err, ErrForeign) {
		t.Errorf("Plan over a release kindred did not install: %v", err)
	}
	if st, err := f.client.Get(f.ctx, "op", "theirs"); err != nil || st.Revision != 1 {
		t.Fatalf("the refused release changed: %+v %v", st, err)
	}
	rel.Adopt = true
	if p, err := f.client.Plan(f.ctx, rel); err != nil || p.Action != ActionUpgrade || !strings.Contains(p.Current, "--log-level=warn") || strings.Contains(p.Desired, "--log-level=warn") {
		t.Errorf("Plan adopting: %+v %v", p.Action, err)
	}
	f.ensure(rel, ActionUpgrade)
	// The stack gave no values: the chart's defaults, not the last
	// release's values (helm's upgrade would reuse those).
	if dep, err := f.kube.Typed.AppsV1().Deployments("theirs").Get(f.ctx, "op", metav1.GetOptions{}); err != nil || dep.Spec.Template.Spec.Containers[0].Args[0] != "--log-level=info" {
		t.Errorf("after adopting with no values: %v %v", err, dep.Spec.Template.Spec.Containers[0].Args)
	}
	rel.Adopt = false
	f.ensure(rel, ActionNone)
}

// An object with a field its kind does not have fails the install, and
// the upgrade, naming the field: the API server validates strictly,
// without helm's client-side OpenAPI pass.
func TestIntegrationUnknownFieldRefused(t *testing.T) {
	f := newFixture(t)
	chart := func(field string) string {
		dir := t.TempDir()
		files := map[string]string{
			"Chart.yaml":         "apiVersion: v2\nname: typo\nversion: 0.1.0\n",
			"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndata: {a: b}\n",
			"templates/dep.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec:\n  selector: {matchLabels: {app: typo}}\n  template:\n    metadata: {labels: {app: typo}}\n    spec:\n      containers:\n      - name: app\n        image: example.test/app:1\n" + field,
		}
		for name, data := range files {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	typo := "        imagePullPolicyy: Always\n"
	_, err := f.client.Ensure(f.ctx, Release{Name: "typo", Namespace: "apps", Chart: ChartRef{Path: chart(typo)}, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "imagePullPolicyy") {
		t.Fatalf("installing a Deployment with an unknown field: %v", err)
	}
	f.ensure(Release{Name: "fine", Namespace: "web", Chart: ChartRef{Path: chart("")}}, ActionInstall)
	_, err = f.client.Ensure(f.ctx, Release{Name: "fine", Namespace: "web", Chart: ChartRef{Path: chart(typo)}, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "imagePullPolicyy") {
		t.Fatalf("upgrading to a Deployment with an unknown field: %v", err)
	}
}
