package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

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
	if err != nil {
		return nil, nil, false, err
	}
	if res.Recovered != "" {
		progress("repaired release: " + res.Recovered)
	}
	objs, err := kube.Decode([]byte(res.Manifest))
	if err != nil {
		return nil, nil, res.Changed(), err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(ns)
		}
	}
	if err := r.waitReady(ctx, objs, timeout, progress); err != nil {
		return nil, nil, res.Changed(), err
	}
	return &StepRecord{Release: c.Name, Namespace: ns, Hash: res.ChartVersion}, objs, res.Changed(), nil
}

// chartRelease is the release a chart component asks for: the catalogue's
// chart and values, the values its component adds, then the stack's values
// files and values.
func (r *runner) chartRelease(s *plan.Step, mod component.Component, env *component.Env) (helm.Release, error) {
	ns, timeout := env.Namespace, env.Timeout
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
	if v, ok := mod.(component.Valuer); ok {
		add, err := v.Values(env)
		if err != nil {
			return helm.Release{}, err
		}
		mergeValues(values, add)
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
