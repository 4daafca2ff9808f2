package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/component"
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
// Operators start images of their own at run time (a CNI operator's
// agents); the catalogue entry lists them (runtimeImages), per version.
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
	r := offlineRunner(&a.cfg, st, p)
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
		mod := component.For(st, s)
		env := r.env(s, nil)
		if im, ok := mod.(component.Imager); ok {
			imgs, err := im.Images(env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			for _, img := range imgs {
				add(img, s.ID)
			}
			continue
		}
		if s.Kind != plan.KindComponent {
			continue
		}
		objs, err := r.componentObjects(ctx, s, mod, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		for _, o := range objs {
			for _, img := range podImages(o.Object) {
				add(img, s.ID)
			}
		}
		imgs, err := runtimeImages(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		for _, img := range imgs {
			add(img, s.ID)
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

// runtimeImages are the images the catalogue says the step's operator
// starts, for the version the step installs.
func runtimeImages(s *plan.Step) ([]string, error) {
	if s.Entry == nil || len(s.Entry.RuntimeImages) == 0 {
		return nil, nil
	}
	version := s.Entry.Version
	if s.Inputs.Chart != nil {
		version = s.Inputs.Chart.Version
	}
	var out []string
	for _, text := range s.Entry.RuntimeImages {
		t, err := template.New("image").Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("catalogue entry %s: runtime image %q: %w", s.Entry.Name, text, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, map[string]string{"Version": version}); err != nil {
			return nil, fmt.Errorf("catalogue entry %s: runtime image %q: %w", s.Entry.Name, text, err)
		}
		out = append(out, b.String())
	}
	return out, nil
}

// componentObjects renders a component's objects with no cluster.
func (r *runner) componentObjects(ctx context.Context, s *plan.Step, mod component.Component, env *component.Env) ([]*unstructured.Unstructured, error) {
	switch {
	case s.Inputs.Chart != nil:
		rel, err := r.chartRelease(s, mod, env)
		if err != nil {
			return nil, err
		}
		manifest, err := r.helm.Render(ctx, rel, r.st.Cluster.KubernetesVersion)
		if err != nil {
			return nil, err
		}
		return kube.Decode([]byte(manifest))
	default:
		return r.render(ctx, s, mod, env)
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
