package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/registry"
)

// A pull-through cache warmed by Prefetch serves the image after its
// upstream is gone. The upstream is a second registry container on a
// network of the test's own; everything stays on this machine.
func TestIntegrationPrefetchThroughCache(t *testing.T) {
	ctx := context.Background()
	rt, up, cache, offline := upstreamAndCache(t)
	waitV2(t, up.HostPort)

	want := pushApp(t, up.HostPort, 64<<10, 3)

	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	var res []registry.Fetched
	for range 50 { // the cache may still be starting
		res = rt.Prefetch(ctx, []registry.Container{cache}, []string{"upstream.test/team/app:1", "elsewhere.test/other:1"}, registry.Warm{Platform: amd64, Parallel: 2, Layers: true})
		if res[1].Err == nil && res[1].Cache != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res[0].Image != "elsewhere.test/other:1" || res[0].Cache != "" || res[0].Err != nil {
		t.Errorf("an image no cache mirrors: %+v", res[0])
	}
	if res[1].Cache != cache.Name || res[1].Err != nil {
		t.Fatalf("prefetch through the cache: %+v", res[1])
	}

	// Once the offline face serves it all, the cache has stored it all (it
	// stores a blob after sending it).
	face, err := rt.HostAddr(ctx, offline)
	if err != nil {
		t.Fatal(err)
	}
	pull(t, face+"/team/app:1", amd64)
	docker(t, "stop", "-t", "1", up.Name)
	addr, err := rt.HostAddr(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	if d := pull(t, addr+"/team/app:1", amd64); d != want {
		t.Errorf("with its upstream gone the cache serves %s, want %s", d, want)
	}
}

// upstreamAndCache runs, on a network of the test's own, a registry
// standing in for an upstream, a pull-through cache of it, and the cache's
// offline face.
func upstreamAndCache(t *testing.T) (rt registry.Runtime, up, cache, offline registry.Container) {
	t.Helper()
	imgs := testbed.RequireE2E(t)
	t.Setenv("KINDRED_REGISTRY_IMAGE", imgs.Registry)
	ctx := context.Background()
	rt = registry.Runtime{Bin: "docker"}
	id := fmt.Sprint(time.Now().UnixNano() % 1e6)
	network := "kindred-test-net-" + id
	up = registry.Local(testbed.FreePort(t))
	up.Name, up.Volume = "kindred-test-upstream-"+id, "kindred-test-upstream-"+id
	cache = registry.Cache("upstream.test")
	cache.Name, cache.Volume = "kindred-test-cache-"+id, "kindred-test-cache-"+id
	cache.Upstream = "http://" + up.Name + ":5000"
	offline = registry.Offline(cache)
	t.Cleanup(func() {
		for _, c := range []registry.Container{offline, cache, up} {
			_ = rt.Remove(context.Background(), c, true)
		}
		_ = exec.Command("docker", "network", "rm", network).Run()
	})
	docker(t, "network", "create", network)
	for _, c := range []registry.Container{up, offline, cache} {
		if _, err := rt.Ensure(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := rt.Connect(ctx, c, network); err != nil {
			t.Fatal(err)
		}
	}
	waitV2(t, up.HostPort)
	return rt, up, cache, offline
}

// pull reads the image at ref, with every layer, as a node would, and
// returns its digest. A cache stores a blob once it has sent it, so a
// pull right after a prefetch may find it missing for a moment: pull
// tries for a few seconds before it fails the test.
func pull(t *testing.T, ref string, platform v1.Platform) v1.Hash {
	t.Helper()
	var err error
	for range 50 {
		var d v1.Hash
		if d, err = pullOnce(ref, platform); err == nil {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s is not served: %v", ref, err)
	return v1.Hash{}
}

func pullOnce(ref string, platform v1.Platform) (v1.Hash, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(r, remote.WithPlatform(platform))
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, fmt.Errorf("a layer: %w", err)
		}
	}
	return img.Digest()
}

// pushApp pushes a random linux/amd64 image of size bytes in layers
// layers to the registry on 127.0.0.1:port as team/app:1, and returns its
// digest.
func pushApp(t *testing.T, port int, size, layers int64) v1.Hash {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(fmt.Sprintf("127.0.0.1:%d/team/app:1", port), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A cache's offline face serves what the cache holds without asking the
// upstream, and Prefetch asks the upstream about a tag only when its pin
// is older than the TTL (or the cache does not hold the image whole). The
// upstream's access log counts what it was asked.
func TestIntegrationOfflineFaceAndTagTTL(t *testing.T) {
	ctx := context.Background()
	rt, up, cache, offline := upstreamAndCache(t)
	waitV2(t, up.HostPort)
	asked := func() int { // requests the upstream has answered
		t.Helper()
		n := 0
		for line := range strings.Lines(docker(t, "logs", up.Name)) {
			if strings.Contains(line, `"GET /v2/`) || strings.Contains(line, `"HEAD /v2/`) {
				n++
			}
		}
		return n
	}
	push := func(size int64) v1.Hash { return pushApp(t, up.HostPort, size, 2) }
	const image = "upstream.test/team/app:1"
	pinsFile := filepath.Join(t.TempDir(), "tags.json")
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	prefetch := func(ttl time.Duration) registry.Fetched {
		t.Helper()
		pins := registry.LoadPins(pinsFile)
		var res []registry.Fetched
		for range 50 { // the containers may still be starting
			res = rt.Prefetch(ctx, []registry.Container{cache}, []string{image}, registry.Warm{Platform: amd64, Layers: true, TagTTL: ttl, Pins: pins})
			if res[0].Err == nil && res[0].Cache != "" { // the cache restarts once: it starts before it can reach the upstream
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if res[0].Err != nil || res[0].Cache == "" {
			t.Fatalf("prefetch: %+v", res[0])
		}
		if err := pins.Save(); err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	// served is the digest the offline face gives for the tag, with every
	// layer readable from it: what a node pulls.
	served := func() v1.Hash {
		t.Helper()
		addr, err := rt.HostAddr(ctx, offline)
		if err != nil {
			t.Fatal(err)
		}
		return pull(t, addr+"/team/app:1", amd64)
	}

	first := push(32 << 10)
	if f := prefetch(time.Hour); f.Held {
		t.Fatalf("an empty cache held the image: %+v", f)
	}
	if d := served(); d != first {
		t.Fatalf("offline face serves %s, want %s", d, first)
	}

	// Warm, with a fresh pin: the upstream is not asked at all, and the
	// offline face (what nodes ask first) answers alone.
	before := asked()
	if f := prefetch(time.Hour); !f.Held {
		t.Errorf("a fresh pin of a held image was asked upstream: %+v", f)
	}
	if d := served(); d != first {
		t.Errorf("offline face serves %s, want %s", d, first)
	}
	if n := asked() - before; n != 0 {
		t.Errorf("the upstream answered %d requests for a warm cache, want 0", n)
	}

	// The tag moves upstream. Within the TTL the cache serves what it
	// holds; with a TTL of 0 the upstream is asked, and the offline face
	// serves the new image after.
	second := push(48 << 10)
	if f := prefetch(time.Hour); !f.Held || served() != first {
		t.Errorf("within the TTL: held %v, serves %s, want the held %s", f.Held, served(), first)
	}
	if f := prefetch(0); f.Held {
		t.Errorf("TTL 0 served the held tag: %+v", f)
	}
	if d := served(); d != second {
		t.Errorf("after asking upstream the offline face serves %s, want %s", d, second)
	}

	// A pin older than the TTL is asked about again.
	age := func() {
		t.Helper()
		data, err := os.ReadFile(pinsFile)
		if err != nil {
			t.Fatal(err)
		}
		var pins map[string]registry.Pin
		if err := json.Unmarshal(data, &pins); err != nil {
			t.Fatal(err)
		}
		for k, p := range pins {
			p.Asked = p.Asked.Add(-2 * time.Hour)
			pins[k] = p
		}
		data, _ = json.Marshal(pins)
		if err := os.WriteFile(pinsFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	age()
	before = asked()
	if f := prefetch(time.Hour); f.Held || f.Unanswered {
		t.Errorf("a stale pin was served as held: %+v", f)
	}
	if asked() == before {
		t.Error("a stale pin did not ask the upstream")
	}

	// With the upstream gone, the cache answers the tag from what it
	// holds: the image is served, and its tag stays due (the pin is not
	// renewed by an answer the upstream never gave).
	age()
	docker(t, "stop", "-t", "1", up.Name)
	for range 2 {
		if f := prefetch(time.Hour); f.Held || !f.Unanswered {
			t.Errorf("with the upstream gone: %+v, want it served as the cache holds it, unanswered", f)
		}
	}
	if d := served(); d != second {
		t.Errorf("with the upstream gone the offline face serves %s, want %s", d, second)
	}
}
