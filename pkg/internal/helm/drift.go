package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// drift lists how the release's objects differ from what it rendered: an
// object deleted by hand, or a field of the chart's changed by someone
// else (kubectl scale, kubectl edit). Each object of the manifest is
// applied server-side as a dry run, as helm would apply it, and the result
// compared with the live object; what others added and the chart does not
// set is not drift.
func (c *Client) drift(ctx context.Context, cfg *action.Configuration, rel *rspb.Release) ([]string, error) {
	rc, err := cfg.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = 100, 200
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	mapper, err := cfg.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		return nil, err
	}
	// Objects are compared eight at a time: a no-op run pays this for
	// every release.
	results := make([]string, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, u := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = c.driftOf(ctx, dc, mapper, rel, u)
		}()
	}
	wg.Wait()
	var out []string
	for i := range objs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if results[i] != "" {
			out = append(out, results[i])
		}
	}
	return out, nil
}

// driftOf says how one object of the release drifted, or "".
func (c *Client) driftOf(ctx context.Context, dc dynamic.Interface, mapper meta.RESTMapper, rel *rspb.Release, u *unstructured.Unstructured) (string, error) {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Sprintf("%s %s: its kind is not served (%v)", gvk.Kind, u.GetName(), err), nil
	}
	var ri dynamic.ResourceInterface = dc.Resource(m.Resource)
	ns := u.GetNamespace()
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ns == "" {
			ns = rel.Namespace
		}
		ri = dc.Resource(m.Resource).Namespace(ns)
	}
	name := gvk.Kind + " " + u.GetName()
	if ns != "" {
		name = gvk.Kind + " " + ns + "/" + u.GetName()
	}
	live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return name + " was deleted", nil
	}
	if err != nil {
		return "", err
	}
	desired := u.DeepCopy()
	desired.SetNamespace(ns)
	markOwned(desired, rel.Name, rel.Namespace)
	applied, err := ri.Apply(ctx, u.GetName(), desired, metav1.ApplyOptions{FieldManager: managedFieldsManager(), Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return "", fmt.Errorf("comparing %s with the release: %w", name, err)
	}
	if !sameObject(live, applied) {
		return name + " was changed", nil
	}
	return "", nil
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

// decodeObjects reads a stream of YAML documents into objects, skipping
// empty ones.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
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
	return c.drift(ctx, cfg, last)
}
