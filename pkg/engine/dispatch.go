package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// ErrNotBuilt is wrapped by steps whose kind a later release of kindred
// brings (the issuer and routes), so the run says so plainly.
var ErrNotBuilt = errors.New("not built yet")

// step runs one plan step and records it.
func (r *runner) step(ctx context.Context, s *plan.Step, progress func(string)) (bool, error) {
	prev := r.prev.Steps[s.ID]
	var rec *StepRecord
	var changed bool
	var err error
	switch s.Kind {
	case plan.KindComponent:
		rec, changed, err = r.component(ctx, s, prev, progress)
	case plan.KindDatabase:
		rec, changed, err = r.objects(ctx, s.ID, s.Database.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.database(ctx, s.Database)
		}, DefaultTimeout)
		if rec != nil {
			e, _ := r.st.Catalog.Engine(s.Database.Engine)
			rec.Endpoint = fmt.Sprintf("%s.%s.svc.cluster.local:%d", s.Database.Name, s.Database.Namespace, e.Port)
			rec.Secret = s.Database.Name + "-credentials"
		}
		if err == nil {
			err = r.pingDatabase(ctx, s.Database, progress)
		}
	case plan.KindTenant:
		rec, changed, err = r.objects(ctx, s.ID, "", prev, progress, func() ([]*unstructured.Unstructured, error) {
			return tenantObjects(s.Tenant)
		}, DefaultTimeout)
	case plan.KindJob:
		rec, changed, err = r.objects(ctx, s.ID, s.Job.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return jobObjects(s.Job)
		}, s.Job.Timeout.Duration)
	case plan.KindIssuer:
		rec, changed, err = r.objects(ctx, s.ID, "", prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.issuerObjects()
		}, DefaultTimeout)
	case plan.KindRoute:
		var proxy *unstructured.Unstructured
		rec, changed, err = r.objects(ctx, s.ID, s.Route.Service.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			objs, err := routeObjects(s.Route)
			if err == nil {
				proxy = objs[0]
			}
			return objs, err
		}, DefaultTimeout)
		if err == nil {
			err = r.waitProxy(ctx, proxy, progress)
		}
	default:
		return false, fmt.Errorf("%s steps are %w", s.Kind, ErrNotBuilt)
	}
	if err != nil {
		return changed, err
	}
	rec.Kind, rec.Level, rec.Applied = s.Kind, s.Level, r.cfg.Now().UTC().Format(time.RFC3339)
	return changed, r.store.update(ctx, func(st *State) { st.Steps[s.ID] = rec })
}

// DefaultTimeout bounds a step that sets no timeout of its own.
const DefaultTimeout = 5 * time.Minute

// component installs a catalogue entry, a chart, a kustomize folder or
// manifests, then runs its readiness checks.
func (r *runner) component(ctx context.Context, s *plan.Step, prev *StepRecord, progress func(string)) (*StepRecord, bool, error) {
	c, e := s.Component, s.Entry
	timeout := c.Timeout.Duration
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ns := componentNamespace(s)
	var checks []api.Check
	if e != nil {
		checks = append(checks, e.Checks...)
	}
	checks = append(checks, c.Checks...)

	var rec *StepRecord
	var changed bool
	var err error
	switch {
	case c.Chart != nil || (e != nil && e.Chart != nil):
		rec, changed, err = r.chart(ctx, s, ns, timeout, progress)
	case c.Kustomize != "":
		rec, changed, err = r.objects(ctx, s.ID, ns, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.kustomize(c.Kustomize)
		}, timeout)
	default:
		rec, changed, err = r.objects(ctx, s.ID, ns, prev, progress, func() ([]*unstructured.Unstructured, error) {
			objs, err := r.manifests(ctx, manifestSources(s))
			if err == nil && e != nil && e.Role == catalog.RoleIngress {
				err = placeIngress(objs)
			}
			return objs, err
		}, timeout)
	}
	if err != nil {
		return nil, changed, err
	}
	if e != nil && e.Role == catalog.RoleIngress && r.st.Ingress != nil {
		ok, err := ensureDNSRewrite(ctx, r.kube, r.st.Ingress.Domain)
		if err != nil {
			return nil, changed, err
		}
		if ok {
			progress("CoreDNS: *." + r.st.Ingress.Domain + " answers with " + envoyService())
			rec.DNSRewrite = r.st.Ingress.Domain
		}
	}
	if e != nil && e.Role == catalog.RoleCNI {
		if err := r.calico(ctx, timeout, progress); err != nil {
			return nil, changed, err
		}
		// down removes the Installation, so the operator tears Calico down.
		rec.Inventory = append(rec.Inventory, ObjectRef{APIVersion: "operator.tigera.io/v1", Kind: "Installation", Name: "default"})
	}
	if len(checks) > 0 {
		progress(fmt.Sprintf("running %d readiness checks", len(checks)))
		if err := runChecks(ctx, r.kube, checks, timeout, progress); err != nil {
			return nil, changed, err
		}
	}
	return rec, changed, nil
}

// chart ensures the component's helm release and waits for its objects.
func (r *runner) chart(ctx context.Context, s *plan.Step, ns string, timeout time.Duration, progress func(string)) (*StepRecord, bool, error) {
	c := s.Component
	rel, err := r.chartRelease(s, ns, timeout)
	if err != nil {
		return nil, false, err
	}
	progress("helm: ensuring release " + c.Name)
	// helm waits only for hooks; the readiness wait below, with kindred's
	// own rules, is the one wait for the rest.
	res, err := r.helm.Ensure(ctx, rel)
	if err != nil {
		return nil, false, err
	}
	if res.Recovered != "" {
		progress("repaired release: " + res.Recovered)
	}
	objs, err := kube.Decode([]byte(res.Manifest))
	if err != nil {
		return nil, res.Changed(), err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(ns)
		}
	}
	if err := r.waitReady(ctx, objs, timeout, progress); err != nil {
		return nil, res.Changed(), err
	}
	return &StepRecord{Release: c.Name, Namespace: ns, Hash: res.ChartVersion}, res.Changed(), nil
}

// placeIngress puts the ingress controller's proxy (Contour's Envoy
// DaemonSet, with host ports 80 and 443) on the node kind maps the host's
// ports to, the one labelled ingress-ready=true, and lets it run there when
// that node is a tainted control plane (clusters with workers).
func placeIngress(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" || o.GetName() != "envoy" {
			continue
		}
		if err := unstructured.SetNestedField(o.Object, "true", "spec", "template", "spec", "nodeSelector", "ingress-ready"); err != nil {
			return err
		}
		tols, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "tolerations")
		for _, key := range []string{"node-role.kubernetes.io/control-plane"} {
			have := false
			for _, t := range tols {
				if m, ok := t.(map[string]any); ok && m["key"] == key {
					have = true
				}
			}
			if !have {
				tols = append(tols, map[string]any{"key": key, "operator": "Exists", "effect": "NoSchedule"})
			}
		}
		if err := unstructured.SetNestedSlice(o.Object, tols, "spec", "template", "spec", "tolerations"); err != nil {
			return err
		}
	}
	return nil
}

// componentNamespace is where a component installs: its own namespace,
// else its catalogue entry's, else the default.
func componentNamespace(s *plan.Step) string {
	if ns := s.Component.Namespace; ns != "" {
		return ns
	}
	if s.Entry != nil && s.Entry.Namespace != "" {
		return s.Entry.Namespace
	}
	return stack.DefaultNamespace
}

// manifestSources are a manifests component's files and its catalogue
// entry's URLs.
func manifestSources(s *plan.Step) []string {
	sources := s.Component.Manifests
	if s.Entry != nil {
		for _, m := range s.Entry.Manifests {
			sources = append(sources, m.URL)
		}
	}
	return sources
}

// chartRelease is the release a chart component asks for: the catalogue's
// chart and values, then the component's values files and values.
func (r *runner) chartRelease(s *plan.Step, ns string, timeout time.Duration) (helm.Release, error) {
	c, e := s.Component, s.Entry
	var ref helm.ChartRef
	values := map[string]any{}
	if e != nil {
		if e.Chart != nil {
			ref = helm.ChartRef{Repo: e.Chart.Repo, Name: e.Chart.Name, OCI: e.Chart.OCI, Path: e.Chart.Path, Version: e.Chart.Version}
		}
		mergeValues(values, e.Values)
	}
	if c.Chart != nil {
		ref = helm.ChartRef{Repo: c.Chart.Repo, Name: c.Chart.Name, OCI: c.Chart.OCI, Path: c.Chart.Path, Version: c.Chart.Version}
	}
	if e != nil && e.Monitoring != nil {
		// Scrape the stack's other components; the stack's own values
		// below may still override this.
		scrapes, err := scrapeConfigs(r.plan)
		if err != nil {
			return helm.Release{}, err
		}
		if scrapes != "" {
			mergeValues(values, map[string]any{e.Monitoring.ScrapeConfigsValue: scrapes})
		}
	}
	for _, f := range c.ValuesFiles {
		data, err := r.st.ReadFile(f)
		if err != nil {
			return helm.Release{}, fmt.Errorf("reading values file: %w", err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return helm.Release{}, fmt.Errorf("reading values file %s: %w", f, err)
		}
		mergeValues(values, v)
	}
	mergeValues(values, c.Values)
	return helm.Release{Name: c.Name, Namespace: ns, Chart: ref, Values: values, Timeout: timeout}, nil
}

// objects applies objects server-side with an inventory: unchanged objects
// are left alone, removed ones are pruned, and all are waited for.
func (r *runner) objects(ctx context.Context, id, ns string, prev *StepRecord, progress func(string), render func() ([]*unstructured.Unstructured, error), timeout time.Duration) (*StepRecord, bool, error) {
	objs, err := render()
	if err != nil {
		return nil, false, err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && ns != "" {
			if _, namespaced, err := r.kube.Resource(o.GroupVersionKind(), ns); err == nil && namespaced {
				o.SetNamespace(ns)
			}
		}
	}
	hash, err := hashObjects(objs)
	if err != nil {
		return nil, false, err
	}
	rec := &StepRecord{Hash: hash}
	for _, o := range objs {
		rec.Inventory = append(rec.Inventory, ObjectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()})
	}
	changed := prev == nil || prev.Hash != hash || !r.allExist(ctx, objs)
	if changed {
		if err := r.ensureNamespaces(ctx, objs, progress); err != nil {
			return nil, false, err
		}
		progress(fmt.Sprintf("applying %d objects", len(objs)))
		for _, o := range objs {
			if _, err := r.kube.Apply(ctx, o); err != nil {
				return nil, true, err
			}
		}
		if prev != nil {
			for _, old := range prev.Inventory {
				if !containsRef(rec.Inventory, old) {
					progress("pruning " + old.Kind + " " + old.Name)
					gv, _ := schema.ParseGroupVersion(old.APIVersion)
					if err := r.kube.Delete(ctx, gv.WithKind(old.Kind), old.Namespace, old.Name); err != nil {
						return nil, true, fmt.Errorf("pruning %s %s: %w", old.Kind, old.Name, err)
					}
				}
			}
		}
	}
	if err := r.waitReady(ctx, objs, timeout, progress); err != nil {
		return nil, changed, err
	}
	return rec, changed, nil
}

func (r *runner) waitReady(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration, progress func(string)) error {
	if len(objs) == 0 {
		return nil
	}
	last := ""
	return ready.Wait(ctx, r.kube, objs, timeout, func(n, total int, pending []ready.Status) {
		msg := fmt.Sprintf("%d/%d objects ready", n, total)
		if len(pending) > 0 {
			msg += ", waiting for " + pending[0].Object
		}
		// What a person must fix comes first, and alone: progress lines
		// are cut to the terminal's width.
		for _, s := range pending {
			if s.Trouble != "" {
				msg = fmt.Sprintf("%d/%d ready; %s, for %s", n, total, s.Trouble, s.Object)
				break
			}
		}
		if msg != last {
			last = msg
			progress(msg)
		}
	})
}

func (r *runner) allExist(ctx context.Context, objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if _, err := r.kube.Get(ctx, o.GroupVersionKind(), o.GetNamespace(), o.GetName()); err != nil {
			return false
		}
	}
	return true
}

// ensureNamespaces creates the namespaces objects live in, first waiting
// out any that are still being deleted.
func (r *runner) ensureNamespaces(ctx context.Context, objs []*unstructured.Unstructured, progress func(string)) error {
	seen := map[string]bool{}
	for _, o := range objs {
		ns := o.GetNamespace()
		if o.GetKind() == "Namespace" {
			ns = o.GetName()
		}
		if ns == "" || seen["wait/"+ns] {
			continue
		}
		seen["wait/"+ns] = true
		if terminating, err := r.kube.Terminating(ctx, ns); err != nil {
			return err
		} else if terminating {
			progress("waiting for namespace " + ns + " to finish terminating")
			if err := r.kube.WaitGone(ctx, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", ns, DefaultTimeout); err != nil {
				return err
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			seen[o.GetName()] = true
		}
	}
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if _, err := r.kube.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			if _, err := r.kube.Apply(ctx, nsObj); err != nil {
				return err
			}
		}
	}
	return nil
}

// manifests reads manifest files from the stack's folder, or by URL. With
// a chart mirror folder, a URL is read from the file of the same name there.
func (r *runner) manifests(ctx context.Context, sources []string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, src := range sources {
		var data []byte
		var err error
		if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
			data, err = r.fetchURL(ctx, src)
		} else {
			data, err = r.st.ReadFile(src)
		}
		if err != nil {
			return nil, fmt.Errorf("reading manifests %s: %w", src, err)
		}
		objs, err := kube.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

func (r *runner) fetchURL(ctx context.Context, u string) ([]byte, error) {
	mirror := r.cfg.ChartMirror
	if mirror == "" {
		mirror = r.st.ChartMirror
	}
	if mirror != "" && !strings.Contains(mirror, "://") {
		return readFileOS(filepath.Join(mirror, filepath.Base(u)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// kustomize builds a kustomize folder.
func (r *runner) kustomize(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	data, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	return kube.Decode(data)
}

// removeStep undoes one recorded step.
func removeStep(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord) error {
	if rec.DNSRewrite != "" {
		if err := removeDNSRewrite(ctx, kc); err != nil {
			return err
		}
	}
	if rec.Release != "" {
		if err := hc.Uninstall(ctx, rec.Release, rec.Namespace, DefaultTimeout); err != nil {
			return err
		}
	}
	for i := len(rec.Inventory) - 1; i >= 0; i-- {
		o := rec.Inventory[i]
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		if err := kc.Delete(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name); err != nil {
			return fmt.Errorf("deleting %s %s: %w", o.Kind, o.Name, err)
		}
	}
	// Wait until they are really gone, namespaces included, so that a run
	// that follows does not write into a namespace being terminated.
	for _, o := range rec.Inventory {
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		if err := kc.WaitGone(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name, DefaultTimeout); err != nil {
			return err
		}
	}
	return nil
}

// health tells whether a recorded step is healthy now.
func health(ctx context.Context, kc *kube.Client, hc *helm.Client, rec *StepRecord) (bool, string) {
	if rec.Release != "" {
		st, err := hc.Get(ctx, rec.Release, rec.Namespace)
		switch {
		case err != nil:
			return false, err.Error()
		case st == nil:
			return false, "release " + rec.Release + " is missing"
		case st.Status != "deployed":
			return false, "release " + rec.Release + " is " + st.Status
		}
		return true, fmt.Sprintf("release %s revision %d (chart %s) deployed", rec.Release, st.Revision, st.ChartVersion)
	}
	var objs []*unstructured.Unstructured
	for _, o := range rec.Inventory {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(o.APIVersion)
		u.SetKind(o.Kind)
		u.SetNamespace(o.Namespace)
		u.SetName(o.Name)
		objs = append(objs, u)
	}
	sts, err := ready.Poll(ctx, kc, objs)
	if err != nil {
		return false, err.Error()
	}
	if msg := ready.Describe(sts); msg != "" {
		return false, "not ready: " + msg
	}
	msg := fmt.Sprintf("%d objects ready", len(objs))
	for _, d := range details(ctx, kc, rec) {
		msg += "; " + d
	}
	return true, msg
}

// details are what a status page shows of a step's certificates (their
// expiry) and HTTPProxies (Contour's verdict).
func details(ctx context.Context, kc *kube.Client, rec *StepRecord) []string {
	var out []string
	for _, o := range rec.Inventory {
		switch o.Kind {
		case "Certificate", "HTTPProxy":
		default:
			continue
		}
		gv, _ := schema.ParseGroupVersion(o.APIVersion)
		u, err := kc.Get(ctx, gv.WithKind(o.Kind), o.Namespace, o.Name)
		if err != nil {
			continue
		}
		if o.Kind == "Certificate" {
			if after, ok, _ := unstructured.NestedString(u.Object, "status", "notAfter"); ok {
				if t, err := time.Parse(time.RFC3339, after); err == nil {
					out = append(out, fmt.Sprintf("certificate %s expires %s", o.Name, t.UTC().Format("2006-01-02")))
				}
			}
			continue
		}
		if cs, ok, _ := unstructured.NestedString(u.Object, "status", "currentStatus"); ok {
			out = append(out, "HTTPProxy "+cs)
		}
	}
	return out
}

// mergeValues deep-merges src into dst; src wins.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
			cp := map[string]any{}
			mergeValues(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

func hashObjects(objs []*unstructured.Unstructured) (string, error) {
	h := sha256.New()
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return "", err
		}
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func containsRef(list []ObjectRef, r ObjectRef) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}
