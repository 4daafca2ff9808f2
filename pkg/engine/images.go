package engine

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// Image is one container image a stack runs, and the steps that use it.
type Image struct {
	Image string   `json:"image"`
	Steps []string `json:"steps"`
}

// Images lists the container images of a stack without a cluster: it
// renders every chart (as `helm template` does), kustomize folder and
// manifest file, and adds the images of databases and jobs.
//
// Operators start images of their own at run time (Calico's, for one);
// only the images their charts name are listed.
type Images struct {
	cfg Config
}

// NewImages returns an Images action.
func NewImages(cfg Config) *Images {
	cfg.defaults()
	return &Images{cfg: cfg}
}

// Run lists the images, sorted, each once.
func (a *Images) Run(ctx context.Context, st *stack.Stack) ([]Image, error) {
	p, err := plan.Build(st)
	if err != nil {
		return nil, err
	}
	mirror := a.cfg.ChartMirror
	if mirror == "" {
		mirror = st.ChartMirror
	}
	r := &runner{cfg: &a.cfg, st: st, plan: p,
		helm: &helm.Client{Log: a.cfg.Log, Fetcher: &helm.Fetcher{CacheDir: a.cfg.CacheDir, Mirror: mirror}}}
	uses := map[string]map[string]bool{}
	add := func(image, step string) {
		if image == "" {
			return
		}
		if uses[image] == nil {
			uses[image] = map[string]bool{}
		}
		uses[image][step] = true
	}
	for _, s := range p.Steps {
		switch s.Kind {
		case plan.KindComponent:
			objs, err := r.componentObjects(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			for _, o := range objs {
				for _, img := range podImages(o.Object) {
					add(img, s.ID)
				}
			}
		case plan.KindDatabase:
			e, ok := st.Catalog.Engine(s.Database.Engine)
			if !ok {
				return nil, fmt.Errorf("%s: no catalogue entry for engine %s", s.ID, s.Database.Engine)
			}
			version := s.Database.Version
			if version == "" {
				version = e.DefaultVersion
			}
			add(e.Image+":"+version, s.ID)
		case plan.KindJob:
			add(s.Job.Image, s.ID)
		}
	}
	out := make([]Image, 0, len(uses))
	for img, steps := range uses {
		i := Image{Image: img}
		for s := range steps {
			i.Steps = append(i.Steps, s)
		}
		sort.Strings(i.Steps)
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out, nil
}

// componentObjects renders a component's objects with no cluster.
func (r *runner) componentObjects(ctx context.Context, s *plan.Step) ([]*unstructured.Unstructured, error) {
	c, e := s.Component, s.Entry
	ns := componentNamespace(s)
	switch {
	case c.Chart != nil || (e != nil && e.Chart != nil):
		rel, err := r.chartRelease(s, ns, DefaultTimeout)
		if err != nil {
			return nil, err
		}
		manifest, err := r.helm.Render(ctx, rel, r.st.Cluster.KubernetesVersion)
		if err != nil {
			return nil, err
		}
		return kube.Decode([]byte(manifest))
	case c.Kustomize != "":
		return r.kustomize(c.Kustomize)
	default:
		return r.manifests(ctx, manifestSources(s))
	}
}

// podImages finds the images of every container list in an object: pods,
// workloads' pod templates, and custom resources that embed them.
func podImages(v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
				if list, ok := child.([]any); ok {
					for _, c := range list {
						if m, ok := c.(map[string]any); ok {
							if img, ok := m["image"].(string); ok {
								out = append(out, img)
							}
						}
					}
				}
			}
			out = append(out, podImages(child)...)
		}
	case []any:
		for _, child := range t {
			out = append(out, podImages(child)...)
		}
	}
	return out
}
