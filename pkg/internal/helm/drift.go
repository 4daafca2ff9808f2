package helm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"kindred.dev/kindred/pkg/internal/kube"
)

// drift lists how the release's objects differ from what it rendered: an
// object deleted by hand, or a field of the chart's changed by someone
// else (kubectl scale, kubectl edit). It also returns each object as read,
// in the manifest's order (nil where deleted), for the readiness wait that
// follows. What others added and the chart does not set is not drift.
// cached reads the objects from the API server's watch cache.
func (c *Client) drift(ctx context.Context, cfg *action.Configuration, rel *rspb.Release, cached bool) ([]string, []*unstructured.Unstructured, error) {
	kc, err := c.cluster(cfg)
	if err != nil {
		return nil, nil, err
	}
	objs, err := kube.Decode([]byte(rel.Manifest))
	if err != nil {
		return nil, nil, err
	}
	// Objects are compared eight at a time: a no-op run pays this for
	// every release.
	results := make([]string, len(objs))
	live := make([]*unstructured.Unstructured, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, u := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], live[i], errs[i] = driftOf(ctx, kc, rel, u, cached)
		}()
	}
	wg.Wait()
	var out []string
	for i := range objs {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		if results[i] != "" {
			out = append(out, results[i])
		}
	}
	return out, live, nil
}

// driftOf says how one object of the release drifted, or "", with the
// object as read. An object that has every field the chart sets, with the
// chart's value, has not drifted, and costs one read. Otherwise the server
// decides: the object is applied as a dry run, as helm would apply it, and
// the result compared with the live object; that also settles values the
// server writes in its own form (a quantity of "1000m" read back as "1",
// a defaulted list entry).
func driftOf(ctx context.Context, kc *kube.Client, rel *rspb.Release, u *unstructured.Unstructured, cached bool) (string, *unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	ns := u.GetNamespace()
	if ns == "" {
		ns = rel.Namespace
	}
	ri, namespaced, err := kc.Resource(gvk, ns)
	if err != nil {
		return fmt.Sprintf("%s %s: its kind is not served (%v)", gvk.Kind, u.GetName(), err), nil, nil
	}
	name := gvk.Kind + " " + u.GetName()
	if namespaced {
		name = gvk.Kind + " " + ns + "/" + u.GetName()
	} else {
		ns = ""
	}
	opts := metav1.GetOptions{}
	if cached {
		opts.ResourceVersion = "0"
	}
	live, err := ri.Get(ctx, u.GetName(), opts)
	if apierrors.IsNotFound(err) {
		return name + " was deleted", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	desired := u.DeepCopy()
	desired.SetNamespace(ns)
	markOwned(desired, rel.Name, rel.Namespace)
	if covers(live.Object, desired.Object) {
		return "", live, nil
	}
	applied, err := ri.Apply(ctx, u.GetName(), desired, metav1.ApplyOptions{FieldManager: managedFieldsManager(), Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return "", nil, fmt.Errorf("comparing %s with the release: %w", name, err)
	}
	if !sameObject(live, applied) {
		return name + " was changed", live, nil
	}
	return "", live, nil
}

// covers reports whether live holds every field of want with want's
// value. Maps may have more keys; lists must have the same length, item
// by item. Numbers compare by value, whether decoded as integers or not.
// It may say false where applying would change nothing; it never says true
// where applying would change a field the chart sets.
func covers(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok || !covers(lv, wv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !covers(l[i], w[i]) {
				return false
			}
		}
		return true
	case nil:
		return false // the server drops a null: let it say what that means
	}
	if a, ok := number(want); ok {
		b, ok := number(live)
		return ok && a == b
	}
	return live == want
}

// number is v as a float64, if it is a number (decoded objects hold
// int64 and float64).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// markOwned adds the ownership metadata helm sets on what it applies.
func markOwned(u *unstructured.Unstructured, release, namespace string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	u.SetLabels(labels)
	annots := u.GetAnnotations()
	if annots == nil {
		annots = map[string]string{}
	}
	annots["meta.helm.sh/release-name"] = release
	annots["meta.helm.sh/release-namespace"] = namespace
	u.SetAnnotations(annots)
}

// managedFieldsManager is the field manager helm applies with.
func managedFieldsManager() string {
	if helmkube.ManagedFieldsManager != "" {
		return helmkube.ManagedFieldsManager
	}
	if len(os.Args) == 0 || os.Args[0] == "" {
		return "unknown"
	}
	return filepath.Base(os.Args[0])
}

// sameObject compares two versions of an object, leaving out what the
// server keeps for itself.
func sameObject(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) string {
		cp := u.DeepCopy()
		for _, f := range []string{"managedFields", "resourceVersion", "generation"} {
			unstructured.RemoveNestedField(cp.Object, "metadata", f)
		}
		b, _ := json.Marshal(cp.Object)
		return string(b)
	}
	return strip(a) == strip(b)
}

// Drift lists how release name's objects differ from what it rendered
// (see drift); nil when they match or there is no release.
func (c *Client) Drift(ctx context.Context, name, namespace string) ([]string, error) {
	cfg, err := c.config(namespace)
	if err != nil {
		return nil, err
	}
	last, err := lastRelease(cfg, name)
	if err != nil || last == nil {
		return nil, err
	}
	drift, _, err := c.drift(ctx, cfg, last, false)
	return drift, err
}
