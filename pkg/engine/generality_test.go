package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/chartserver"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/stack"
)

// simRun is a simulated cluster reached through the sim provider, which
// plays the components' controllers as a real run does.
type simRun struct {
	t   *testing.T
	ctx context.Context
	p   cluster.Provider
	cfg engine.Config

	deleteOnCleanup sync.Once
}

func newSimRun(t *testing.T) *simRun {
	t.Helper()
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	log := testbed.Logger(t)
	p, err := cluster.New(cluster.Sim, cluster.Options{Root: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &simRun{t: t, ctx: ctx, p: p, cfg: engine.Config{Provider: p, Log: log, CacheDir: t.TempDir(), CADir: t.TempDir()}}
}

func (r *simRun) up(st *stack.Stack) map[string]string {
	r.t.Helper()
	return r.upWith(st, &event.Recorder{})
}

// upWith runs up, recording its events in rec, and deletes the cluster
// when the test ends.
func (r *simRun) upWith(st *stack.Stack, rec *event.Recorder) map[string]string {
	r.t.Helper()
	r.deleteOnCleanup.Do(func() { r.t.Cleanup(func() { _, _ = r.p.(cluster.Deleter).Delete(context.Background(), st) }) })
	cfg := r.cfg
	cfg.Sink = rec
	if _, err := engine.NewUp(cfg).Run(r.ctx, st); err != nil {
		r.t.Fatalf("up: %v", err)
	}
	return rec.Final()
}

func (r *simRun) kube(st *stack.Stack) *kube.Client {
	r.t.Helper()
	acc, err := r.p.Access(r.ctx, st)
	if err != nil {
		r.t.Fatal(err)
	}
	rc, err := acc.RESTConfig()
	if err != nil {
		r.t.Fatal(err)
	}
	kc, err := kube.New(rc)
	if err != nil {
		r.t.Fatal(err)
	}
	return kc
}

// TestIntegrationOCIChartWithSubchartsAndHooks installs a chart as a team
// would publish it (testdata/charts/storefront: two subcharts, one with a
// CRD the parent's templates use, one behind a condition; a pre-install
// migration Job and a post-install hook) from an OCI reference redirected
// to the in-process registry by the stack's chart mirror.
func TestIntegrationOCIChartWithSubchartsAndHooks(t *testing.T) {
	r := newSimRun(t)
	srv := chartserver.Start(t, "../../testdata/charts")
	st, err := stack.Parse("shop.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
chartMirror: `+srv.OCI+`
components:
  - name: shop
    namespace: shop
    chart: {oci: oci://registry.example.invalid/team/storefront, version: "~2.1"}
    values:
      global: {environment: staging}
      cache: {enabled: true}
  - name: plain
    namespace: plain
    chart: {oci: oci://registry.example.invalid/team/storefront, version: "~2.1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.up(st); got["shop"] != "changed" {
		t.Fatalf("cold up: %v", got)
	}
	kc := r.kube(st)
	for _, name := range []string{"shop-storefront-web", "shop-catalog"} {
		d, err := kc.Typed.AppsV1().Deployments("shop").Get(r.ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Deployment %s: %v", name, err)
		}
		if env := d.Spec.Template.Spec.Containers[0].Env[0]; env.Value != "staging" {
			t.Errorf("%s: global value not passed down: %v", name, env)
		}
	}
	if _, err := kc.Typed.AppsV1().StatefulSets("shop").Get(r.ctx, "shop-cache", metav1.GetOptions{}); err != nil {
		t.Errorf("the subchart the stack enabled: %v", err)
	}
	// The same chart with the condition left false: reading the chart's
	// CRDs before the install once turned the disabled subchart on.
	if sts, err := kc.Typed.AppsV1().StatefulSets("plain").List(r.ctx, metav1.ListOptions{}); err != nil || len(sts.Items) != 0 {
		t.Errorf("the subchart its condition disables was installed: %v, %d StatefulSets", err, len(sts.Items))
	}
	if _, err := kc.Get(r.ctx, schema.GroupVersionKind{Group: "catalog.example.test", Version: "v1", Kind: "Category"}, "shop", "featured"); err != nil {
		t.Errorf("the custom resource of the subchart's CRD: %v", err)
	}
	job, err := kc.Typed.BatchV1().Jobs("shop").Get(r.ctx, "shop-storefront-migrate", metav1.GetOptions{})
	if err != nil || job.Status.Succeeded != 1 {
		t.Errorf("the pre-install migration: %v, %+v", err, job)
	}
	if _, err := kc.Typed.CoreV1().ConfigMaps("shop").Get(r.ctx, "shop-storefront-installed", metav1.GetOptions{}); err != nil {
		t.Errorf("the post-install hook: %v", err)
	}
	if got := r.up(st); got["shop"] != "unchanged" {
		t.Errorf("re-run: %v", got)
	}
	rep, err := engine.NewStatus(r.cfg).Run(r.ctx, st)
	if err != nil || len(rep.Steps) != 2 || !rep.Steps[0].Healthy || !rep.Steps[1].Healthy {
		t.Errorf("status: %v %+v", err, rep)
	}
}

// TestIntegrationKustomizeOverlayOfContour installs Contour's real release
// manifests through a kustomize overlay as a user would write one (a
// registry mirror for the images, one replica of the controller, a label
// on everything), and checks that the real Contour controller judges
// routes on it.
func TestIntegrationKustomizeOverlayOfContour(t *testing.T) {
	r := newSimRun(t)
	dir := t.TempDir()
	// The upstream file goes next to the overlay, in a temporary folder
	// (kustomize reads only below the kustomization's root).
	upstream, err := os.ReadFile(filepath.Join(testbed.Upstream(t), "contour.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("overlay/contour.yaml", string(upstream))
	write("overlay/kustomization.yaml", `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [contour.yaml]
labels:
  - pairs: {team: platform}
images:
  - {name: ghcr.io/projectcontour/contour, newName: registry.internal.example/projectcontour/contour}
  - {name: docker.io/envoyproxy/envoy, newName: registry.internal.example/envoyproxy/envoy}
patches:
  - target: {kind: Deployment, name: contour}
    patch: |
      - op: replace
        path: /spec/replicas
        value: 1
`)
	write("stack.yaml", `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: edge}
components:
  - {name: edge, kustomize: overlay}
`)
	st, err := stack.Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.up(st); got["edge"] != "changed" {
		t.Fatalf("cold up: %v", got)
	}
	kc := r.kube(st)
	d, err := kc.Typed.AppsV1().Deployments("projectcontour").Get(r.ctx, "contour", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 || d.Labels["team"] != "platform" || !strings.HasPrefix(d.Spec.Template.Spec.Containers[0].Image, "registry.internal.example/projectcontour/contour:") {
		t.Errorf("the overlay did not apply: replicas %d, labels %v, image %s", *d.Spec.Replicas, d.Labels, d.Spec.Template.Spec.Containers[0].Image)
	}
	// The real Contour judges a proxy to a Service that is not there.
	proxy := kube.Object("projectcontour.io/v1", "HTTPProxy", "default", "probe", map[string]any{"spec": map[string]any{
		"virtualhost": map[string]any{"fqdn": "probe.edge.localhost"},
		"routes":      []any{map[string]any{"services": []any{map[string]any{"name": "nowhere", "port": int64(80)}}}},
	}})
	if _, err := kc.Apply(r.ctx, proxy); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		u, err := kc.Get(r.ctx, proxy.GroupVersionKind(), "default", "probe")
		if err == nil {
			if s, _, _ := unstructured.NestedString(u.Object, "status", "currentStatus"); s == "invalid" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Contour did not judge the proxy: %v", u)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestIntegrationSimBindsVolumes: claims are bound as on kind, through
// the default class's local-path provisioner once a pod uses them, and a
// claim naming a class the cluster lacks (a production class) is bound too.
func TestIntegrationSimBindsVolumes(t *testing.T) {
	r := newSimRun(t)
	dir := t.TempDir()
	manifest := ""
	for _, c := range []struct{ name, class string }{{"plain", ""}, {"prod", "\n  storageClassName: gp3"}} {
		manifest += `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ` + c.name + `}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}` + c.class + `
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + c.name + `}
spec:
  selector: {matchLabels: {app: ` + c.name + `}}
  template:
    metadata: {labels: {app: ` + c.name + `}}
    spec:
      containers: [{name: app, image: example.test/app:1, volumeMounts: [{name: data, mountPath: /data}]}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: ` + c.name + `}}]
`
	}
	if err := os.WriteFile(filepath.Join(dir, "volumes.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: volumes}\ncomponents:\n  - {name: data, namespace: data, manifests: [volumes.yaml]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r.up(st)
	kc := r.kube(st)
	for _, name := range []string{"plain", "prod"} {
		pvc, err := kc.Typed.CoreV1().PersistentVolumeClaims("data").Get(r.ctx, name, metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != "Bound" {
			t.Errorf("claim %s: %v, %v", name, err, pvc.Status.Phase)
		}
	}
}
