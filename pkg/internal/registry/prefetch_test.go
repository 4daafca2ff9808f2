package registry_test

import (
	"context"
	"fmt"
	"os/exec"
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
	imgs := testbed.RequireE2E(t)
	t.Setenv("KINDRED_REGISTRY_IMAGE", imgs.Registry)
	ctx := context.Background()
	rt := registry.Runtime{Bin: "docker"}
	id := fmt.Sprint(time.Now().UnixNano() % 1e6)
	network := "kindred-test-net-" + id
	up := registry.Local(testbed.FreePort(t))
	up.Name, up.Volume = "kindred-test-upstream-"+id, "kindred-test-upstream-"+id
	cache := registry.Cache("upstream.test")
	cache.Name, cache.Volume = "kindred-test-cache-"+id, "kindred-test-cache-"+id
	cache.Upstream = "http://" + up.Name + ":5000"
	t.Cleanup(func() {
		_ = rt.Remove(context.Background(), cache, true)
		_ = rt.Remove(context.Background(), up, true)
		_ = exec.Command("docker", "network", "rm", network).Run()
	})
	docker(t, "network", "create", network)
	for _, c := range []registry.Container{up, cache} {
		if _, err := rt.Ensure(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := rt.Connect(ctx, c, network); err != nil {
			t.Fatal(err)
		}
	}
	waitV2(t, up.HostPort)

	img, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err = setPlatform(img)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := name.ParseReference(fmt.Sprintf("127.0.0.1:%d/team/app:1", up.HostPort), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(pushed, img); err != nil {
		t.Fatal(err)
	}

	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	var res []registry.Fetched
	for range 50 { // the cache may still be starting
		res = rt.Prefetch(ctx, []registry.Container{cache}, []string{"upstream.test/team/app:1", "elsewhere.test/other:1"}, amd64, 2)
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

	docker(t, "stop", "-t", "1", up.Name)
	addr, err := rt.HostAddr(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	fromCache, err := name.ParseReference(addr+"/team/app:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(fromCache, remote.WithPlatform(amd64))
	if err != nil {
		t.Fatalf("the cache does not serve the image with its upstream gone: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("digest %s, want %s", d, want)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		if _, err := l.Compressed(); err != nil {
			t.Errorf("layer not in the cache: %v", err)
		}
	}
}

func setPlatform(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	return mutate.ConfigFile(img, cf)
}
