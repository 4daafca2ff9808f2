package engine

import (
	"context"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	api "kindred.dev/kindred/pkg/api/v1alpha1"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
)

// chart ensures the component's helm release and waits for its objects.
func (r *runner) chart(ctx context.Context, s *plan.Step, mod component.Component, env *component.Env) (*StepRecord, []*unstructured.Unstructured, bool, error) {
	c, ns, timeout, progress := s.Component, env.Namespace, env.Timeout, env.Progress
	rel, err := r.chartRelease(s, mod, env)
	if err != nil {
		return nil, nil, false, err
	}
	progress("helm: ensuring release " + c.Name)
	// helm waits only for hooks; the readiness wait below, with kindred's
	// own rules, is the one wait for the rest.
	res, err := r.helm.Ensure(ctx, rel)
	// A failed install or upgrade can leave the release in the cluster: it
	// is recorded either way, so status shows it and down removes it.
	rec := &StepRecord{Release: c.Name, Namespace: ns}
	if err != nil {
		return rec, nil, true, err
	}
	rec.Hash = res.ChartVersion
	if res.Recovered != "" {
		progress("repaired release: " + res.Recovered)
	}
	if len(res.Repaired) > 0 {
		progress("restored what drifted: " + strings.Join(res.Repaired, "; "))
		r.noteRepair(s.ID, res.Repaired)
	}
	if p, ok := mod.(component.Preparer); ok {
		pres, err := p.Prepare(ctx, env)
		rec.Inventory = append(rec.Inventory, pres.Inventory...)
		if err != nil {
			return rec, nil, true, err
		}
	}
	objs, err := releaseObjects(res.Manifest, ns)
	if err != nil {
		return rec, nil, res.Changed(), err
	}
	if err := r.waitReady(ctx, objs, res.Live, timeout, progress); err != nil {
		return rec, nil, res.Changed(), err
	}
	return rec, objs, res.Changed(), nil
}

// chartRelease is the release a chart component asks for: the catalogue's
// chart and values, the values its component adds, then the stack's values
// files and values.
func (r *runner) chartRelease(s *plan.Step, mod component.Component, env *component.Env) (helm.Release, error) {
	ns, timeout := env.Namespace, env.Timeout
	c, e := s.Component, s.Entry
	var ref helm.ChartRef
	if ch := s.Inputs.Chart; ch != nil {
		ref = helm.ChartRef{Repo: ch.Repo, Name: ch.Name, OCI: ch.OCI, Path: ch.Path, Version: ch.Version, Digest: s.Inputs.ChartDigest}
	}
	values := map[string]any{}
	if e != nil {
		mergeValues(values, e.Values)
	}
	if v, ok := mod.(component.Valuer); ok {
		add, err := v.Values(env)
		if err != nil {
			return helm.Release{}, err
		}
		mergeValues(values, add)
	}
	for _, v := range s.Inputs.ValuesFiles {
		mergeValues(values, v)
	}
	mergeValues(values, c.Values)
	return helm.Release{Name: c.Name, Namespace: ns, Chart: ref, Values: values, Timeout: timeout, Adopt: slices.Contains(r.adopt, c.Name)}, nil
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

// expandChecks names what checks of a chart step look at through the
// release: a check's name and namespace, and a webhook probe's namespace,
// may be templates of the chart (see helm.Client.Expand).
func (r *runner) expandChecks(ctx context.Context, s *plan.Step, mod component.Component, env *component.Env, checks []api.Check) ([]api.Check, error) {
	var texts []string
	for _, c := range checks {
		probeNS, _, _ := unstructured.NestedString(c.Object, "metadata", "namespace")
		texts = append(texts, c.Name, c.Namespace, probeNS)
	}
	rel, err := r.chartRelease(s, mod, env)
	if err != nil {
		return nil, err
	}
	texts, err = r.helm.Expand(ctx, rel, texts)
	if err != nil {
		return nil, err
	}
	out := make([]api.Check, len(checks))
	for i, c := range checks {
		c.Name, c.Namespace = texts[3*i], texts[3*i+1]
		if c.Object != nil {
			c.Object = runtime.DeepCopyJSON(c.Object)
			if texts[3*i+2] != "" {
				_ = unstructured.SetNestedField(c.Object, texts[3*i+2], "metadata", "namespace")
			}
		}
		out[i] = c
	}
	return out, nil
}

// releaseObjects are the objects of a release's manifest, in the release's
// namespace where they name none (a cluster-scoped object ignores it).
func releaseObjects(manifest, namespace string) ([]*unstructured.Unstructured, error) {
	objs, err := kube.Decode([]byte(manifest))
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
	}
	return objs, nil
}
