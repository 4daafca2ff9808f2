//go:build unix

package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
)

// BenchmarkKindCluster measures kindred's cluster step beside kind's own
// CLI (built from the kind module kindred links), alternating, on the e2e
// node image: `kindred up` of a stack with one node and nothing else
// against `kind create cluster --wait` with the kind config kindred
// prints for it, and `kindred down` against `kind delete cluster`. Medians
// go to bench/out/results.json. It asserts no timings.
func BenchmarkKindCluster(b *testing.B) {
	imgs := testbed.RequireE2E(b)
	testbed.RequireBlackholes(b)
	runs := envInts(b, "KINDRED_BENCH_RUNS", []int{benchRuns})[0]
	bin := buildKindred(b)
	dir := b.TempDir()
	kindBin := filepath.Join(dir, "kind")
	if out, err := exec.Command("go", "build", "-o", kindBin, "sigs.k8s.io/kind").CombinedOutput(); err != nil {
		b.Fatalf("building kind's CLI: %v\n%s", err, out)
	}
	home := b.TempDir()
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(home, "state"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "KUBECONFIG="+filepath.Join(home, "kubeconfig"))
	ctx := context.Background()
	name := fmt.Sprintf("kb-%d", os.Getpid()%100000)
	stackFile := filepath.Join(dir, "stack.yaml")
	writeBenchFile(b, stackFile, fmt.Appendf(nil, `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: %s}
cluster:
  kubernetesVersion: v1.35.4
  nodes:
    - role: control-plane
`, name))
	// The kind config kindred would create the cluster with.
	_, _, out := runBench(ctx, b, env, bin, "up", "--dry-run", "-v", "--provider", "kind", "--node-image", imgs.Node, stackFile)
	config := kindConfig(b, out)
	configFile := filepath.Join(dir, "kind.yaml")
	writeBenchFile(b, configFile, []byte(config))
	b.Cleanup(func() {
		_ = exec.Command(kindBin, "delete", "cluster", "--name", name).Run()
		cmd := exec.Command(bin, "down", "--provider", "kind", stackFile)
		cmd.Env = env
		_ = cmd.Run()
	})

	res := map[string][]time.Duration{}
	for b.Loop() {
		for i := range runs {
			order := []string{"kindred", "kind"}
			if i%2 == 1 {
				order = []string{"kind", "kindred"}
			}
			for _, tool := range order {
				switch tool {
				case "kindred":
					d, _, _ := runBench(ctx, b, env, bin, "up", "--provider", "kind", "--node-image", imgs.Node, stackFile)
					res["kindred_create_s"] = append(res["kindred_create_s"], d)
					d, _, _ = runBench(ctx, b, env, bin, "down", "--provider", "kind", stackFile)
					res["kindred_delete_s"] = append(res["kindred_delete_s"], d)
				case "kind":
					d, _, _ := runBench(ctx, b, env, kindBin, "create", "cluster", "--config", configFile, "--wait", "5m")
					res["kind_create_s"] = append(res["kind_create_s"], d)
					d, _, _ = runBench(ctx, b, env, kindBin, "delete", "cluster", "--name", name)
					res["kind_delete_s"] = append(res["kind_delete_s"], d)
				}
			}
		}
	}
	out2 := map[string]float64{}
	for k, v := range res {
		out2["cluster_"+k] = median(v).Seconds()
	}
	report := fmt.Sprintf("cluster step (one node, %s): kindred create %.1f s, kind create %.1f s (%.3fx); kindred delete %.1f s, kind delete %.1f s (%.3fx)\n",
		imgs.Node, out2["cluster_kindred_create_s"], out2["cluster_kind_create_s"], out2["cluster_kindred_create_s"]/out2["cluster_kind_create_s"],
		out2["cluster_kindred_delete_s"], out2["cluster_kind_delete_s"], out2["cluster_kindred_delete_s"]/out2["cluster_kind_delete_s"])
	testbed.Publish(b, out2, report)
}

// kindConfig takes the kind config out of `kindred up --dry-run -v`: the
// lines after "kind config:", up to the first that is not YAML of it.
func kindConfig(b *testing.B, out []byte) string {
	_, after, ok := strings.Cut(string(out), "kind config:\n")
	if !ok {
		b.Fatalf("no kind config in:\n%s", out)
	}
	var cfg strings.Builder
	for line := range strings.Lines(after) {
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "-") && !strings.Contains(line, ":") ||
			strings.HasPrefix(line, "time=") || strings.HasPrefix(line, "plan:") || strings.HasPrefix(line, "provider ") {
			break
		}
		cfg.WriteString(line)
	}
	return cfg.String()
}
