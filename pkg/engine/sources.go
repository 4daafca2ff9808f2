package engine

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
)

// source is a file of manifests: a path in the stack's folder, or an
// https URL, with the sha256 that pins its content, if any.
type source struct {
	path, sha256 string
}

// manifestSources are a manifests component's files and its catalogue
// entry's URLs, with their pins.
func manifestSources(s *plan.Step) []source {
	var sources []source
	for _, m := range s.Component.Manifests {
		sources = append(sources, source{path: m})
	}
	if s.Entry != nil {
		for _, m := range s.Entry.Manifests {
			sources = append(sources, source{path: m.URL, sha256: m.SHA256})
		}
	}
	return sources
}

// manifests reads manifest files from the stack's folder, or by URL
// through the charts' fetcher: its mirror (a folder mirror holds a URL's
// file under the same name), its cache, and the pin checked wherever the
// file came from.
func (r *runner) manifests(ctx context.Context, sources []source) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, src := range sources {
		var data []byte
		var err error
		if strings.HasPrefix(src.path, "https://") || strings.HasPrefix(src.path, "http://") {
			data, err = r.helm.Fetcher.FetchFile(ctx, src.path, src.sha256)
		} else {
			data, err = r.st.ReadFile(src.path)
		}
		if err != nil {
			return nil, fmt.Errorf("reading manifests %s: %w", src.path, err)
		}
		objs, err := kube.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.path, err)
		}
		out = append(out, objs...)
	}
	return out, nil
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
