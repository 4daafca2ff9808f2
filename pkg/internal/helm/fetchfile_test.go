package helm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// Manifests by URL go through one fetcher: a pin is checked wherever the
// file comes from, a pinned file is cached and then read offline, and
// nothing is fetched over plain http from another machine.
func TestFetchFile(t *testing.T) {
	const content = "apiVersion: v1\nkind: Namespace\nmetadata: {name: pinned}\n"
	pin := sha256Hex([]byte(content))
	served := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, "http://example.test/ns.yaml", http.StatusFound)
		default:
			served++
			_, _ = w.Write([]byte(content))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	f := &Fetcher{CacheDir: t.TempDir(), HTTP: srv.Client()}

	data, err := f.FetchFile(ctx, srv.URL+"/ns.yaml", pin)
	if err != nil || string(data) != content {
		t.Fatalf("pinned fetch: %q %v", data, err)
	}
	if _, err := f.FetchFile(ctx, srv.URL+"/ns.yaml", "sha256:"+pin); err != nil || served != 1 {
		t.Errorf("the second fetch of a pinned file should come from the cache: served %d times, %v", served, err)
	}
	wrong := sha256Hex([]byte("something else"))
	if _, err := f.FetchFile(ctx, srv.URL+"/other.yaml", wrong); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("a wrong pin: %v", err)
	}
	if _, err := f.FetchFile(ctx, srv.URL+"/to-http", ""); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("a redirect from https to http: %v", err)
	}
	if _, err := f.FetchFile(ctx, "http://example.test/ns.yaml", ""); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("plain http to another machine: %v", err)
	}

	// A folder mirror is held to the pin too.
	mirror := t.TempDir()
	if err := os.WriteFile(filepath.Join(mirror, "ns.yaml"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Fetcher{Mirror: mirror}
	if _, err := m.FetchFile(ctx, "https://example.test/v1/ns.yaml", pin); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("a mirror file that does not match the pin: %v", err)
	}
	if data, err := m.FetchFile(ctx, "https://example.test/v1/ns.yaml", ""); err != nil || string(data) != "tampered" {
		t.Errorf("an unpinned mirror file: %q %v", data, err)
	}
}

// Chart repositories, and mirrors of them, are held to the same rule:
// https, or http to this machine; an https repository that redirects to
// plain http is refused.
func TestChartRepositoryOverPlainHTTP(t *testing.T) {
	srv := httptest.NewTLSServer(http.RedirectHandler("http://example.test/index.yaml", http.StatusFound))
	defer srv.Close()
	ctx := context.Background()
	f := &Fetcher{CacheDir: t.TempDir(), HTTP: srv.Client()}
	for _, repo := range []string{"http://charts.example.test", srv.URL} {
		if _, err := f.Fetch(ctx, ChartRef{Repo: repo, Name: "api", Version: "1.0.0"}); !errors.Is(err, ErrInsecureURL) {
			t.Errorf("repository %s: %v", repo, err)
		}
	}
	m := &Fetcher{CacheDir: t.TempDir(), Mirror: "http://mirror.example.test/charts"}
	if _, err := m.Fetch(ctx, ChartRef{Repo: "https://charts.example.test", Name: "api", Version: "1.0.0"}); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("a plain-http mirror: %v", err)
	}
}
