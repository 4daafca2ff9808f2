package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
)

// manifests decodes a step's manifests: the files the plan read from the
// stack's folder, and URLs fetched through the charts' fetcher (its
// mirror, where a folder mirror holds a URL's file under the same name, its
// cache, and the pin checked wherever the file came from).
func (r *runner) manifests(ctx context.Context, sources []plan.Manifest) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, src := range sources {
		data, name := src.Data, src.Path
		if src.URL == "" {
			if err := helm.Verify(data, src.SHA256, src.Path); err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
		}
		if src.URL != "" {
			name = src.URL
			var err error
			if data, err = r.helm.Fetcher.FetchFile(ctx, src.URL, src.SHA256); err != nil {
				return nil, fmt.Errorf("reading manifests %s: %w", src.URL, err)
			}
		}
		objs, err := kube.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
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
