package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
)

// runKindred runs kindred in this process with the process's environment,
// and fails t unless it exits with want.
func runKindred(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if code := Run(args, strings.NewReader(""), &out, &out, os.LookupEnv); code != want {
		t.Fatalf("kindred %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out.String())
	}
	return out.String()
}

// referenceWithChart is the reference stack (stacks/default.yaml) plus a
// release of a test chart, in a folder of its own, and a chart mirror
// folder of the real upstream artifacts and that chart (a copy, so a
// test may change it). It sets KINDRED_CHART_MIRROR.
func referenceWithChart(t *testing.T) (stackFile, mirror string) {
	t.Helper()
	dir := t.TempDir()
	mirror = filepath.Join(dir, "charts")
	if err := os.MkdirAll(mirror, 0o755); err != nil {
		t.Fatal(err)
	}
	up, _ := filepath.Glob(filepath.Join(testbed.Upstream(t), "*"))
	for _, p := range up {
		if err := os.Symlink(p, filepath.Join(mirror, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	for _, cp := range [][2]string{{"../../testdata/charts/hooked", mirror}, {"../../stacks/demo", dir}} {
		if out, err := exec.Command("cp", "-r", cp[0], cp[1]).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	t.Setenv("KINDRED_CHART_MIRROR", mirror)
	ref, err := os.ReadFile("../../stacks/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	greeter := "  - name: greeter\n    namespace: demo\n    chart: {repo: https://charts.example.test/platform, name: hooked, version: \"~0.1\"}\n"
	stackFile = filepath.Join(dir, "kindred.yaml")
	if err := os.WriteFile(stackFile, []byte(strings.Replace(string(ref), "routes:\n", greeter+"routes:\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return stackFile, mirror
}

// The CRDs Flux's and Argo CD's objects are checked against, from their Go
// modules as the proxy serves them.
var gitopsCRDs = []string{
	"github.com/fluxcd/helm-controller@v1.4.3/config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml",
	"github.com/fluxcd/kustomize-controller@v1.6.0/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
	"github.com/fluxcd/source-controller@v1.8.5/config/crd/bases/source.toolkit.fluxcd.io_helmrepositories.yaml",
	"github.com/argoproj/argo-cd/v3@v3.0.0/manifests/crds/application-crd.yaml",
}

// TestIntegrationRender renders the reference stack in every format
// (golden), applies the manifests with server-side apply to a fresh
// simulated cluster and checks it holds the objects kindred up makes, and
// validates the Flux and Argo CD objects against their CRDs' schemas with
// a strict server-side dry run.
func TestIntegrationRender(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("KINDRED_DIAGNOSTICS", filepath.Join(home, "diagnostics"))
	stackFile, _ := referenceWithChart(t)
	start := time.Now()
	phase := func(what string) { t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond)) }
	run := func(want int, args ...string) string { t.Helper(); return runKindred(t, want, args...) }
	t.Cleanup(func() {
		var out bytes.Buffer
		for _, name := range []string{"kindred", "target"} {
			Run([]string{"down", name}, strings.NewReader(""), &out, &out, os.LookupEnv)
		}
	})

	out := t.TempDir()
	for _, format := range []string{"manifests", "helmfile", "flux", "argocd"} {
		dir := filepath.Join(out, format)
		run(ExitOK, "render", stackFile, "--format", format, "-o", dir)
		golden.Check(t, "render/"+format+".txt", treeOf(t, dir))
	}
	if out := run(ExitBadInput, "render", stackFile, "--format", "manifests", "-o", filepath.Join(out, "manifests")); !strings.Contains(out, "is not empty") {
		t.Errorf("render into a folder that is not empty: %s", out)
	}
	// --force over an earlier render: what that render wrote and this one
	// does not (a step the stack no longer has) goes, someone's own file
	// stays.
	flux := filepath.Join(out, "flux")
	stale := filepath.Join(flux, "steps", "99-gone", "helmrelease.yaml")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stale, filepath.Join(flux, "mine.txt"), filepath.Join(flux, "steps", "mine.txt")} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := os.OpenFile(filepath.Join(flux, ".kindred-render"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(list, "steps/99-gone/helmrelease.yaml\n../outside.txt")
	list.Close()
	run(ExitOK, "render", stackFile, "--format", "flux", "--force", "-o", flux)
	if _, err := os.Stat(filepath.Dir(stale)); !os.IsNotExist(err) {
		t.Errorf("render --force left the earlier render's stale step: %v", err)
	}
	for _, f := range []string{"mine.txt", "steps/mine.txt"} {
		if _, err := os.Stat(filepath.Join(flux, f)); err != nil {
			t.Errorf("render --force removed %s, which it did not write: %v", f, err)
		}
	}
	if out := run(ExitBadInput, "render", stackFile, "--format", "kustomize", "-o", filepath.Join(out, "x")); !strings.Contains(out, "invalid --format") {
		t.Errorf("an unknown format: %s", out)
	}

	phase("rendered")
	// kindred up on one cluster; the manifests, applied, on another.
	run(ExitOK, "up", "--provider", "sim", "-o", "text", stackFile)
	upDyn, _ := dynamicFor(t, strings.TrimSpace(run(ExitOK, "kubeconfig", "kindred")))
	target := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(target, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: target}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	phase("up")
	run(ExitOK, "up", "--provider", "sim", "-o", "text", target)
	phase("the target cluster")
	dyn, mapper := dynamicFor(t, strings.TrimSpace(run(ExitOK, "kubeconfig", "target")))
	began := time.Now()
	rendered := applyFolders(t, dyn, mapper, filepath.Join(out, "manifests"))
	t.Logf("%d rendered objects applied in %s", len(rendered), time.Since(began))
	if len(rendered) < 40 {
		t.Fatalf("only %d objects rendered", len(rendered))
	}
	ctx := context.Background()
	for _, o := range rendered {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatal(err)
		}
		name := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook || o.GetKind() == "Namespace" {
			continue // helm deletes hooks once run; namespaces are the render's own
		}
		if _, err := upDyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s is rendered but not made by kindred up: %v", name, err)
		}
	}
	// ...and everything up made through helm or for its steps is rendered,
	// but for the Secrets and the local CA's issuer, left out on purpose.
	have := map[string]bool{}
	kinds := map[string]*unstructured.Unstructured{}
	for _, o := range rendered {
		have[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = true
		kinds[o.GetAPIVersion()+"/"+o.GetKind()] = o
	}
	for _, o := range kinds {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatal(err)
		}
		list, err := upDyn.Resource(m.Resource).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Items {
			_, byHelm := u.GetAnnotations()["meta.helm.sh/release-name"]
			byKindred := u.GetLabels()["app.kubernetes.io/managed-by"] == "kindred"
			key := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
			if (byHelm || byKindred) && !have[key] && u.GetKind() != "Namespace" && u.GetNamespace() != "kindred-system" && u.GetName() != "kindred" {
				t.Errorf("kindred up made %s, which the render lacks", key)
			}
		}
	}

	// Flux's and Argo CD's objects pass their CRDs' schemas.
	var crds []string
	for _, p := range gitopsCRDs {
		mod, file, _ := strings.Cut(p, "/config/")
		if !strings.Contains(p, "/config/") {
			mod, file, _ = strings.Cut(p, "/manifests/")
			file = "manifests/" + file
		} else {
			file = "config/" + file
		}
		crds = append(crds, filepath.Join(testbed.Module(t, mod), file))
	}
	phase("modules")
	tmp := t.TempDir()
	for i, c := range crds {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("%d-crds.yaml", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	began = time.Now()
	applyFolders(t, dyn, mapper, tmp)
	t.Logf("Flux's and Argo CD's CRDs applied in %s", time.Since(began))
	var checked int
	files := []string{"flux/flux/sources.yaml", "flux/flux/kustomizations.yaml", "argocd/applications.yaml"}
	releases, _ := filepath.Glob(filepath.Join(out, "flux/steps/*/helmrelease.yaml"))
	if len(releases) < 3 {
		t.Errorf("%d HelmRelease files in the flux render", len(releases))
	}
	for _, r := range releases {
		rel, _ := filepath.Rel(out, r)
		files = append(files, rel)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeAll(t, data) {
			m := served(t, mapper, o)
			ns := o.GetNamespace()
			ensureNamespace(t, dyn, ns)
			if _, err := dyn.Resource(m.Resource).Namespace(ns).Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
				t.Errorf("%s %s does not pass its CRD's schema: %v", o.GetKind(), o.GetName(), err)
			}
			checked++
		}
	}
	t.Logf("%d objects checked in %s", checked, time.Since(began))
	if checked < 10 {
		t.Errorf("only %d Flux and Argo CD objects checked", checked)
	}
}

// served maps o's kind to its resource, waiting for a CRD just applied.
func served(t *testing.T, mapper *restmapper.DeferredDiscoveryRESTMapper, o *unstructured.Unstructured) *meta.RESTMapping {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not served: %v", o.GroupVersionKind(), err)
		}
		mapper.Reset()
		time.Sleep(250 * time.Millisecond)
	}
}

// treeOf describes a folder for a golden file: every file with its size
// and sha256, then the files under 150 lines in full.
func treeOf(t *testing.T, dir string) []byte {
	t.Helper()
	var b, small bytes.Buffer
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	})
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(&b, "%s  %d lines  sha256:%x\n", rel, bytes.Count(data, []byte("\n")), sha256.Sum256(data))
		if bytes.Count(data, []byte("\n")) < 150 {
			fmt.Fprintf(&small, "\n==> %s <==\n%s", rel, data)
		}
	}
	b.Write(small.Bytes())
	return b.Bytes()
}

func dynamicFor(t *testing.T, kubeconfig string) (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func ensureNamespace(t *testing.T, dyn dynamic.Interface, ns string) {
	t.Helper()
	if ns == "" {
		return
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if _, err := dyn.Resource(gvr).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// applyFolders applies a render's files as its README says: folder by
// folder, crds.yaml, objects.yaml then after.yaml, waiting for CRDs to be
// served before what uses them. It returns every object applied.
func applyFolders(t *testing.T, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, dir string) []*unstructured.Unstructured {
	t.Helper()
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	order := map[string]int{"crds.yaml": 0, "objects.yaml": 1, "after.yaml": 2}
	sort.Slice(files, func(i, j int) bool {
		di, dj := filepath.Dir(files[i]), filepath.Dir(files[j])
		if di != dj {
			return di < dj
		}
		return order[filepath.Base(files[i])] < order[filepath.Base(files[j])]
	})
	ctx := context.Background()
	var all []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeAll(t, data) {
			var err error
			deadline := time.Now().Add(30 * time.Second)
			for {
				var mapping, merr = mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
				if merr == nil {
					body, _ := o.MarshalJSON()
					force := true
					ri := dyn.Resource(mapping.Resource)
					if mapping.Scope.Name() == "namespace" {
						_, err = ri.Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "render-test", Force: &force})
					} else {
						_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "render-test", Force: &force})
					}
					if err == nil {
						break
					}
				} else {
					err = merr
					mapper.Reset() // a CRD applied just before
				}
				if time.Now().After(deadline) {
					t.Fatalf("applying %s %s/%s from %s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), f, err)
				}
				time.Sleep(250 * time.Millisecond)
			}
			all = append(all, o)
		}
	}
	return all
}

// TestIntegrationRenderHelmfile renders a stack of charts from a helm
// repository on loopback, a database, a tenant and a scheduled job in its
// namespace, and runs the output with the benchmark's helmfile and helm
// against a simulated cluster: every release deploys.
func TestIntegrationRenderHelmfile(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	tools := os.Getenv("KINDRED_BENCH_TOOLS")
	if tools == "" {
		testbed.Missing(t, "KINDRED_BENCH_TOOLS names no folder with helm and helmfile; run testbed/bench/build.sh")
	}
	helmBin, helmfileBin := filepath.Join(tools, "helm"), filepath.Join(tools, "helmfile")
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("KINDRED_DIAGNOSTICS", filepath.Join(home, "diagnostics"))
	t.Setenv("KINDRED_CHART_MIRROR", "")
	helmEnv := append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "helm", "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(home, "helm", "data"))
	repo := t.TempDir()
	for _, c := range []string{"hooked", "operator"} {
		cmd := exec.Command(helmBin, "package", "../../testdata/charts/"+c, "-d", repo)
		cmd.Env = helmEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm package %s: %v\n%s", c, err, out)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	defer srv.Close()
	cmd := exec.Command(helmBin, "repo", "index", repo, "--url", srv.URL)
	cmd.Env = helmEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm repo index: %v\n%s", err, out)
	}
	stackFile := filepath.Join(t.TempDir(), "kindred.yaml")
	body := fmt.Sprintf(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: promoted}
databases:
  - {name: orders, engine: postgres}
components:
  - name: greeter
    namespace: demo
    chart: {repo: %[1]s, name: hooked, version: "~0.1"}
  - name: operator
    namespace: platform
    chart: {repo: %[1]s, name: operator, version: 0.3.1}
    needs: [greeter]
tenants:
  - {name: team-a, admins: ["group:team-a"]}
jobs:
  - {name: report, namespace: team-a, image: example.test/report:1, schedule: "0 3 * * *", needs: [operator]}
`, srv.URL)
	if err := os.WriteFile(stackFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string { t.Helper(); return runKindred(t, want, args...) }
	t.Cleanup(func() {
		var out bytes.Buffer
		Run([]string{"down", "target"}, strings.NewReader(""), &out, &out, os.LookupEnv)
	})
	dir := filepath.Join(t.TempDir(), "out")
	run(ExitOK, "render", stackFile, "--format", "helmfile", "-o", dir)
	target := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(target, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: target}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(ExitOK, "up", "--provider", "sim", "-o", "text", target)
	kc := strings.TrimSpace(run(ExitOK, "kubeconfig", "target"))
	hf := exec.Command(helmfileBin, "--helm-binary", helmBin, "sync")
	hf.Dir = dir
	hf.Env = append(helmEnv, "KUBECONFIG="+kc)
	out, err := hf.CombinedOutput()
	if err != nil {
		t.Fatalf("helmfile sync: %v\n%s", err, out)
	}
	list := exec.Command(helmBin, "list", "-A", "--deployed", "-q", "--kubeconfig", kc)
	list.Env = helmEnv
	got, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(got))
	sort.Strings(names)
	if want := "greeter operator orders report tenant-team-a"; strings.Join(names, " ") != want {
		t.Errorf("deployed releases %v, want %s\n%s", names, want, out)
	}
}
