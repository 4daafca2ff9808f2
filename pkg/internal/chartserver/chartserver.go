// Package chartserver serves the project's own test charts (testdata/charts)
// the ways users' charts are served: a helm repository with an index.yaml,
// and an OCI registry. Both run in-process on 127.0.0.1, so helm code in
// tests goes through real pulls.
package chartserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"go.yaml.in/yaml/v3"
)

// Media types of a helm chart in an OCI registry.
const (
	ConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	ChartMediaType  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Chart is one packaged chart.
type Chart struct {
	Name, Version string
	Metadata      map[string]any
	Archive       []byte // .tgz
	Digest        string // sha256 hex of Archive
}

// Package archives the chart folder dir as helm does: a gzipped tar whose
// files sit under NAME/. version, if not empty, replaces the chart's own.
func Package(dir, version string) (*Chart, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var meta map[string]any
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("reading %s/Chart.yaml: %w", dir, err)
	}
	if version != "" {
		meta["version"] = version
		if raw, err = yaml.Marshal(meta); err != nil {
			return nil, err
		}
	}
	name, _ := meta["name"].(string)
	ver, _ := meta["version"].(string)
	if name == "" || ver == "" {
		return nil, fmt.Errorf("%s/Chart.yaml needs a name and a version", dir)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		data := raw
		if rel != "Chart.yaml" {
			if data, err = os.ReadFile(p); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Name: name + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &Chart{Name: name, Version: ver, Metadata: meta, Archive: buf.Bytes(), Digest: hex.EncodeToString(sum[:])}, nil
}

// Server is a helm repository and an OCI registry holding the same charts.
type Server struct {
	// RepoURL is the helm repository: RepoURL/index.yaml.
	RepoURL string
	// OCI is the registry prefix: OCI/NAME is a chart's reference.
	OCI string
	// Host is the registry's host:port.
	Host string

	mu     sync.Mutex
	charts []*Chart
	repo   *httptest.Server
	reg    *httptest.Server
	pulls  map[string]int
}

// Start serves every chart folder under dir until t ends.
func Start(t testing.TB, dir string) *Server {
	t.Helper()
	s := &Server{pulls: map[string]int{}}
	s.repo = httptest.NewServer(http.HandlerFunc(s.serveRepo))
	s.reg = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(func() { s.repo.Close(); s.reg.Close() })
	s.RepoURL = s.repo.URL
	s.Host = strings.TrimPrefix(s.reg.URL, "http://")
	s.OCI = "oci://" + s.Host + "/charts"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := s.Add(filepath.Join(dir, e.Name()), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// Add packages the chart folder dir (as version, if set) and serves it
// from the repository and the registry.
func (s *Server) Add(dir, version string) error {
	c, err := Package(dir, version)
	if err != nil {
		return err
	}
	if err := s.push(c); err != nil {
		return fmt.Errorf("pushing %s %s: %w", c.Name, c.Version, err)
	}
	s.mu.Lock()
	s.charts = append(s.charts, c)
	s.mu.Unlock()
	return nil
}

// Pulls reports how many times the repository served name's archive.
func (s *Server) Pulls(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pulls[name]
}

func (s *Server) serveRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/index.yaml" {
		entries := map[string][]map[string]any{}
		for _, c := range s.charts {
			e := map[string]any{}
			for k, v := range c.Metadata {
				e[k] = v
			}
			e["urls"] = []string{fmt.Sprintf("charts/%s-%s.tgz", c.Name, c.Version)}
			e["digest"] = c.Digest
			e["created"] = "2026-01-01T00:00:00Z"
			entries[c.Name] = append(entries[c.Name], e)
		}
		out, _ := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries, "generated": "2026-01-01T00:00:00Z"})
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(out)
		return
	}
	for _, c := range s.charts {
		if r.URL.Path == fmt.Sprintf("/charts/%s-%s.tgz", c.Name, c.Version) {
			s.pulls[c.Name]++
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(c.Archive)
			return
		}
	}
	http.NotFound(w, r)
}

// push uploads c to the registry as a helm OCI artifact with the plain
// distribution API.
func (s *Server) push(c *Chart) error {
	config, _ := json.Marshal(c.Metadata)
	repo := s.reg.URL + "/v2/charts/" + c.Name
	var descs []map[string]any
	for _, blob := range []struct {
		data []byte
		typ  string
	}{{config, ConfigMediaType}, {c.Archive, ChartMediaType}} {
		sum := sha256.Sum256(blob.data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		resp, err := http.Post(repo+"/blobs/uploads/", "", nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = s.reg.URL + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+digest, bytes.NewReader(blob.data))
		req.Header.Set("Content-Type", "application/octet-stream")
		if err := do(req); err != nil {
			return err
		}
		descs = append(descs, map[string]any{"mediaType": blob.typ, "digest": digest, "size": len(blob.data)})
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descs[0],
		"layers":        descs[1:],
	})
	req, _ := http.NewRequest(http.MethodPut, repo+"/manifests/"+c.Version, bytes.NewReader(manifest))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return do(req)
}

func do(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return nil
}
