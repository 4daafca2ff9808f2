package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
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
	Err   error
}

// Prefetch pulls each image through the pull-through cache of its registry,
// in parallel, so that nodes — of this cluster and of every later one —
// find it there. Images whose registry has no cache are reported with an
// empty Cache and left for the nodes to pull. Only the platform of the
// nodes (linux/amd64 or linux/arm64, as given) is fetched.
func (r Runtime) Prefetch(ctx context.Context, caches []Container, images []string, platform v1.Platform, parallel int) []Fetched {
	addrs := map[string]string{} // registry host -> cache address
	byHost := map[string]Container{}
	for _, c := range caches {
		if addr, err := r.HostAddr(ctx, c); err == nil {
			addrs[c.Host] = addr
			byHost[c.Host] = c
		}
	}
	// A cache created a moment ago may not listen yet.
	for _, addr := range addrs {
		answers(ctx, addr, 15*time.Second)
	}
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// A fetch cut short (the cache's port moved when it joined a
			// network, or it dropped a stream) is tried again at the
			// cache's address then; the cache keeps the layers it
			// finished, so that costs only the rest.
			for attempt := range 3 {
				if attempt > 0 {
					time.Sleep(time.Second)
					if a, err := r.HostAddr(ctx, c); err == nil {
						addr = a
					}
				}
				if out[i].Err = fetchThrough(ctx, addr, ref, platform); out[i].Err == nil || ctx.Err() != nil {
					break
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

// fetchThrough reads ref's manifest and every layer from the cache at addr;
// reading is what makes the cache keep them.
func fetchThrough(ctx context.Context, addr string, ref name.Reference, platform v1.Platform) error {
	repo, err := name.NewRepository(addr+"/"+ref.Context().RepositoryStr(), name.Insecure)
	if err != nil {
		return err
	}
	var via name.Reference
	if d, ok := ref.(name.Digest); ok {
		via = repo.Digest(d.DigestStr())
	} else {
		via = repo.Tag(ref.Identifier())
	}
	img, err := remote.Image(via, remote.WithContext(ctx), remote.WithPlatform(platform))
	if err != nil {
		return fmt.Errorf("through %s: %w", addr, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
