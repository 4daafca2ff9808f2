package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
)

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

func readFileOS(p string) ([]byte, error) { return os.ReadFile(p) }
