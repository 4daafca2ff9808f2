//go:build linux

package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
)

// pullRate is the upstream registry's bandwidth, a laptop's share of a
// good office or home line.
const pullRate = "50mbit"

// BenchmarkImagePulls measures, on real kind, how long `kindred up` of a
// stack with two databases and an app waits for their images when they
// come from the internet, simulated honestly on this machine:
//
//   - The "internet" is a registry container (the e2e registry image) on a
//     network of its own, holding the images under names the e2e node image
//     does not preload (Postgres 16 and Redis 7.4 are the e2e database
//     images pushed under those tags; the app is the real-kind tests' app),
//     so containerd must pull them. tc's token bucket on its interface
//     holds what it sends to 50 Mbit/s.
//   - The stack mirrors docker.io, so kindred runs its pull-through cache
//     for it. The one change from what kindred makes: the cache's upstream
//     is that registry instead of registry-1.docker.io (the benchmark
//     creates the cache container as kindred would, with that one
//     setting; kindred finds it running and uses it).
//
// Three cases, each on a new cluster: cold (empty cache, up --prefetch=false),
// warm (down, then up again: the cache kept what the cold run pulled, and
// its tags were asked upstream within --tag-ttl, so it serves them as held)
// and prefetch (empty cache, up warming it with `kindred images` while the
// cluster boots). Each reports up's time, the bytes the upstream sent
// (counted on its interface, so TCP's own packets count too) and the
// registry requests it answered.
func BenchmarkImagePulls(b *testing.B) {
	imgs := testbed.RequireE2E(b)
	testbed.RequireBlackholes(b)
	for _, tool := range []string{"tc", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			testbed.Missing(b, "%s is not installed (iproute2, util-linux)", tool)
		}
	}
	runs := envInts(b, "KINDRED_BENCH_RUNS", []int{benchRuns})[0]
	bin := buildKindred(b)
	ctx := context.Background()
	docker := func(args ...string) string {
		b.Helper()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			b.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	id := os.Getpid() % 100000
	network, upstream := fmt.Sprintf("kb-pulls-%d", id), fmt.Sprintf("kb-upstream-%d", id)
	// The names kindred gives docker.io's cache and its offline face.
	const cache, offline = "kindred-cache-docker.io", "kindred-cache-docker.io-offline"
	for _, c := range []string{cache, offline} {
		if out, err := exec.Command("docker", "container", "inspect", c).CombinedOutput(); err == nil {
			b.Fatalf("a %s container exists already (%s); the benchmark needs its own: remove it with `kindred down --purge`", c, strings.TrimSpace(string(out)))
		}
	}

	dir := b.TempDir()
	home := b.TempDir()
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "KINDRED_REGISTRY_IMAGE="+imgs.Registry)
	stackFile := filepath.Join(dir, "stack.yaml")
	b.Cleanup(func() {
		cmd := exec.Command(bin, "down", "--purge", "--provider", "kind", stackFile)
		cmd.Env = env
		_ = cmd.Run()
		_ = exec.Command("docker", "rm", "-f", upstream, offline, cache).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", cache).Run()
		_ = exec.Command("docker", "network", "rm", network).Run()
	})

	// The upstream, on loopback for pushing and on its own network for the cache.
	docker("network", "create", network)
	port := testbed.FreePort(b)
	docker("run", "-d", "--name", upstream, "--network", network, "-p", fmt.Sprintf("127.0.0.1:%d:5000", port), imgs.Registry)
	images := map[string]string{
		"kindred-e2e/postgres:15": "library/postgres:16",
		"kindred-e2e/redis:7":     "library/redis:7.4",
	}
	for src, dst := range images {
		ref := fmt.Sprintf("127.0.0.1:%d/%s", port, dst)
		docker("tag", src, ref)
		pushed := false
		for range 20 { // the registry takes a moment to listen
			if err := exec.Command("docker", "push", ref).Run(); err == nil {
				pushed = true
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if !pushed {
			docker("push", ref) // fails, saying why
		}
		docker("rmi", ref)
	}
	pushApp(b, fmt.Sprintf("127.0.0.1:%d/kindredbench/app:1", port))
	pid := docker("inspect", "-f", "{{.State.Pid}}", upstream)
	if out, err := exec.Command("nsenter", "-t", pid, "-n", "tc", "qdisc", "replace", "dev", "eth0", "root",
		"tbf", "rate", pullRate, "burst", "64kb", "latency", "200ms").CombinedOutput(); err != nil {
		b.Fatalf("limiting the upstream to %s: %v\n%s", pullRate, err, out)
	}
	sent := func() int64 {
		b.Helper()
		data, err := os.ReadFile("/proc/" + pid + "/net/dev")
		if err != nil {
			b.Fatal(err)
		}
		for line := range strings.Lines(string(data)) {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || name != "eth0" {
				continue
			}
			f := strings.Fields(rest)
			n, err := strconv.ParseInt(f[8], 10, 64) // transmitted bytes
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
		b.Fatalf("no eth0 in the upstream's /proc/%s/net/dev", pid)
		return 0
	}
	// requests counts the registry API requests the upstream has answered,
	// from its access log: the bytes above also count TCP's own packets,
	// such as an idle connection's close.
	requests := func() int {
		b.Helper()
		n := 0
		for line := range strings.Lines(docker("logs", upstream)) {
			if strings.Contains(line, `"GET /v2/`) || strings.Contains(line, `"HEAD /v2/`) {
				n++
			}
		}
		return n
	}
	// An empty docker.io cache whose upstream is the registry above (kindred
	// makes its offline face, on the same volume).
	emptyCache := func() {
		b.Helper()
		_ = exec.Command("docker", "rm", "-f", offline, cache).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", cache).Run()
		docker("volume", "create", "--label", "dev.kindred.registry="+cache, cache)
		docker("run", "-d", "--name", cache, "--restart", "unless-stopped", "--label", "dev.kindred.registry="+cache,
			"-v", cache+":/var/lib/registry", "-p", "127.0.0.1::5000", "--network", network,
			"-e", "REGISTRY_PROXY_REMOTEURL=http://"+upstream+":5000", imgs.Registry)
	}

	manifest, err := os.ReadFile("../../testdata/e2e/app.yaml")
	if err != nil {
		b.Fatal(err)
	}
	writeBenchFile(b, filepath.Join(dir, "app.yaml"), []byte(strings.ReplaceAll(string(manifest), "${APP_IMAGE}", "docker.io/kindredbench/app:1")))
	writeBenchFile(b, stackFile, fmt.Appendf(nil, `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: kb-pulls-%d}
cluster:
  kubernetesVersion: v1.35.4
  registry: {hostPort: %d, mirrors: [docker.io]}
  nodes:
    - role: control-plane
components:
  - name: app
    manifests: [app.yaml]
databases:
  - {name: orders, engine: postgres, version: "16"}
  - {name: sessions, engine: redis, version: "7.4"}
`, id, testbed.FreePort(b)))

	res := map[string][]float64{}
	for b.Loop() {
		for range runs {
			for _, c := range []struct {
				name  string
				empty bool
				args  []string
			}{
				{"cold", true, []string{"--prefetch=false"}},
				{"warm", false, nil},
				{"prefetch", true, nil},
			} {
				if c.empty {
					emptyCache()
				}
				before, beforeReqs := sent(), requests()
				args := append([]string{"up", "--provider", "kind", "--node-image", imgs.Node}, c.args...)
				d, _, o := runBench(ctx, b, env, bin, append(args, "-o", "json", stackFile)...)
				for line := range strings.Lines(string(o)) {
					if strings.Contains(line, "caches warmed") {
						b.Logf("%s: %s", c.name, strings.TrimSpace(line))
					}
				}
				res[c.name+"_s"] = append(res[c.name+"_s"], d.Seconds())
				res[c.name+"_upstream_mb"] = append(res[c.name+"_upstream_mb"], float64(sent()-before)/1e6)
				res[c.name+"_upstream_requests"] = append(res[c.name+"_upstream_requests"], float64(requests()-beforeReqs))
				runBench(ctx, b, env, bin, "down", "--provider", "kind", stackFile)
			}
		}
	}
	out := map[string]float64{}
	for k, v := range res {
		out["pulls_"+k] = medianOf(v)
	}
	// Not a timing: a warm cache serves its held images without asking
	// the upstream anything.
	for _, n := range res["warm_upstream_requests"] {
		if n != 0 {
			b.Errorf("with warm caches the upstream answered %.0f requests, want none", n)
		}
	}
	report := fmt.Sprintf("image pulls at %s, real kind, one node: cold %.1f s (%.0f MB from upstream); warm cache %.1f s (%.0f bytes in %.0f requests, %.2fx faster); prefetch while booting %.1f s (%.0f MB, %.2fx faster)\n",
		pullRate, out["pulls_cold_s"], out["pulls_cold_upstream_mb"], out["pulls_warm_s"], out["pulls_warm_upstream_mb"]*1e6, out["pulls_warm_upstream_requests"], out["pulls_cold_s"]/out["pulls_warm_s"],
		out["pulls_prefetch_s"], out["pulls_prefetch_upstream_mb"], out["pulls_cold_s"]/out["pulls_prefetch_s"])
	testbed.Publish(b, out, report)
}
