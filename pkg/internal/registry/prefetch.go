package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Fetched is the outcome of warming one image.
type Fetched struct {
	Image string
	Cache string // the cache container it went through; empty when none mirrors its registry
	// Held: the cache held the image, with a tag asked upstream within
	// Warm.TagTTL, so the upstream was not asked again.
	Held bool
	// Unheld says why an image with a fresh pin was asked about upstream
	// after all: what the offline face lacked.
	Unheld error
	// Unanswered: the upstream did not answer, so the cache served the
	// tag as it holds it.
	Unanswered bool
	Err        error
}

// Warm says what Prefetch does.
type Warm struct {
	Platform v1.Platform // the nodes' (linux/amd64 or linux/arm64)
	Parallel int         // images at once; 0 is 4
	// Layers fetches every layer through the cache; without it only the
	// tags are resolved, so the cache (and its offline face) knows them.
	Layers bool
	// TagTTL: an image whose tag the upstream was asked about within
	// TagTTL (as Pins records) and that the cache holds whole is left as
	// it is; the upstream is not asked. 0 asks the upstream about every
	// tag.
	TagTTL time.Duration
	Pins   *Pins // nil records nothing and trusts nothing
}

// Prefetch resolves each image's tag through the pull-through cache of its
// registry and, with w.Layers, pulls its layers, in parallel, so that
// nodes — of this cluster and of every later one — find it there. An image
// held with a fresh tag (see Warm.TagTTL) is checked on the cache's
// offline face and costs the upstream nothing. Images whose registry has
// no cache are reported with an empty Cache and left for the nodes to
// pull. Only the platform of the nodes is fetched.
func (r Runtime) Prefetch(ctx context.Context, caches []Container, images []string, w Warm) []Fetched {
	addrs := map[string]string{}   // registry host -> cache address
	offline := map[string]string{} // registry host -> offline face address
	byHost := map[string]Container{}
	for _, c := range caches {
		if addr, err := r.HostAddr(ctx, c); err == nil {
			addrs[c.Host] = addr
			byHost[c.Host] = c
		}
		if addr, err := r.HostAddr(ctx, Offline(c)); err == nil {
			offline[c.Host] = addr
		}
	}
	// A cache or face created a moment ago may not listen yet.
	for _, addr := range addrs {
		answers(ctx, addr, 15*time.Second)
	}
	for _, addr := range offline {
		answers(ctx, addr, 15*time.Second)
	}
	parallel := w.Parallel
	if parallel < 1 {
		parallel = 4
	}
	out := make([]Fetched, len(images))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, img := range images {
		out[i].Image = img
		ref, err := name.ParseReference(img)
		if err != nil {
			out[i].Err = err
			continue
		}
		host := ref.Context().RegistryStr()
		if host == name.DefaultRegistry {
			host = "docker.io"
		}
		addr, ok := addrs[host]
		if !ok {
			continue
		}
		c := byHost[host]
		out[i].Cache = c.Name
		_, byTag := ref.(name.Tag)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if byTag && w.TagTTL > 0 && w.Pins.fresh(c.Name, img, w.TagTTL) && offline[host] != "" {
				_, err := fetchThrough(ctx, offline[host], ref, w.Platform, w.Layers, true)
				if err == nil {
					out[i].Held = true
					return
				}
				out[i].Unheld = err
			}
			// A fetch cut short (the cache's port moved when it joined a
			// network, or it dropped a stream) is tried again at the
			// cache's address then; the cache keeps the layers it
			// finished, so that costs only the rest.
			var digest string
			for attempt := range 3 {
				if attempt > 0 {
					time.Sleep(time.Second)
					if a, err := r.HostAddr(ctx, c); err == nil {
						addr = a
					}
				}
				if digest, out[i].Err = fetchThrough(ctx, addr, ref, w.Platform, w.Layers, false); out[i].Err == nil || ctx.Err() != nil {
					break
				}
			}
			// The cache answers a tag from what it holds when the upstream
			// does not answer (offline, rate-limited): then the tag stays
			// due, and the next run asks again.
			if out[i].Err == nil && byTag {
				if upstreamAnswers(ctx, addr, ref.Context().RepositoryStr()) {
					w.Pins.set(c.Name, img, digest)
				} else {
					out[i].Unanswered = true
				}
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out
}

// answers waits, up to timeout, until the registry at addr answers its
// API's base endpoint (with any status).
func answers(ctx context.Context, addr string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fetchThrough reads ref's manifest (for an index, the platform's too)
// and its config from the registry at addr and, with layers, every layer;
// reading is what makes a cache keep them. With check it only asks whether
// the registry has them. It returns the digest ref resolved to.
func fetchThrough(ctx context.Context, addr string, ref name.Reference, platform v1.Platform, layers, check bool) (string, error) {
	repo, err := name.NewRepository(addr+"/"+ref.Context().RepositoryStr(), name.Insecure)
	if err != nil {
		return "", err
	}
	var via name.Reference
	if d, ok := ref.(name.Digest); ok {
		via = repo.Digest(d.DigestStr())
	} else {
		via = repo.Tag(ref.Identifier())
	}
	desc, err := remote.Get(via, remote.WithContext(ctx), remote.WithPlatform(platform))
	if err != nil {
		return "", fmt.Errorf("through %s: %w", addr, err)
	}
	img, err := desc.Image()
	if err != nil {
		return "", err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	if check {
		blobs := []v1.Descriptor{m.Config}
		if layers {
			blobs = append(blobs, m.Layers...)
		}
		for _, b := range blobs {
			if err := hasBlob(ctx, addr, repo.RepositoryStr(), b.Digest.String()); err != nil {
				return "", err
			}
		}
		return desc.Digest.String(), nil
	}
	if _, err := img.RawConfigFile(); err != nil {
		return "", err
	}
	if !layers {
		return desc.Digest.String(), nil
	}
	ls, err := img.Layers()
	if err != nil {
		return "", err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return "", err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return "", err
		}
	}
	return desc.Digest.String(), nil
}

// upstreamAnswers reports whether the pull-through cache at addr reaches
// its upstream: asked for a manifest of repo by a digest nothing has, the
// cache asks the upstream and passes on its 404; it answers otherwise
// (500) when the upstream does not.
func upstreamAnswers(ctx context.Context, addr, repo string) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code, err := head(ctx, fmt.Sprintf("http://%s/v2/%s/manifests/sha256:%064d", addr, repo, 0))
	return err == nil && code == http.StatusNotFound
}

// hasBlob asks the registry at addr whether repo has the blob.
func hasBlob(ctx context.Context, addr, repo, digest string) error {
	code, err := head(ctx, fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, digest))
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%s: blob %s of %s: %d %s", addr, digest, repo, code, http.StatusText(code))
	}
	return err
}

// head makes a HEAD request, accepting any manifest type, and returns the
// status code.
func head(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
