package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// manifestTypes are the manifest media types a digest is asked for: an
// index first, so a multi-platform image keeps its index digest.
var manifestTypes = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// splitImage splits an image reference into its registry host, repository
// and tag, as containerd normalises it (docker.io/library/ for short names).
func splitImage(image string) (host, repo, tag string) {
	name, tag := image, "latest"
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		name, tag = image[:i], image[i+1:]
	}
	first, rest, ok := strings.Cut(name, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		first, rest = "docker.io", name
		if !ok {
			rest = "library/" + name
		}
	}
	return first, rest, tag
}

// Resolve finds an image's digest through what runs on this machine: the
// local registry (for localhost:PORT images) or the pull-through cache of
// the image's registry. It never reaches the internet itself, and never
// guesses: why says what was asked when there is no digest.
func (r Runtime) Resolve(ctx context.Context, image string) (digest, why string) {
	host, repo, tag := splitImage(image)
	var addr string
	switch {
	case strings.HasPrefix(host, "localhost:") || strings.HasPrefix(host, "127.0.0.1:"):
		addr = host
	default:
		c := Cache(host)
		if up, _ := r.Running(ctx, c.Name); !up {
			return "", fmt.Sprintf("by tag: no pull-through cache for %s runs here (cluster.registry.mirrors)", host)
		}
		a, err := r.HostAddr(ctx, c)
		if err != nil {
			return "", "by tag: " + err.Error()
		}
		addr = a
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, repo, tag), nil)
	if err != nil {
		return "", "by tag: " + err.Error()
	}
	req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Sprintf("by tag: the registry on %s did not answer", addr)
	}
	resp.Body.Close()
	if d := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode == http.StatusOK && strings.HasPrefix(d, "sha256:") {
		return d, ""
	}
	return "", fmt.Sprintf("by tag: the registry on %s answered %s", addr, resp.Status)
}
