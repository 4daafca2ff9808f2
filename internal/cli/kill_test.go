package cli_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

const refStack = "../../testdata/stacks/engine/stack.yaml"

// buildKindred builds the kindred binary for tests that run it.
func buildKindred(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kindred")
	out, err := exec.Command("go", "build", "-o", bin, "../..").CombinedOutput()
	if err != nil {
		t.Fatalf("building kindred: %v\n%s", err, out)
	}
	return bin
}

// TestIntegrationKillAndResume kills `kindred up` with SIGKILL at a random
// moment, 20 times, each time after a different number of its events, and
// checks that the next run converges with every release deployed.
func TestIntegrationKillAndResume(t *testing.T) {
	c := testbed.Sim(t, sim.WithReadyDelay(300*time.Millisecond,
		sim.ReadyDelay{Image: "example.test/operator:0.3.1", Delay: 1500 * time.Millisecond}))
	testbed.PlayWidgets(t, c, 0)
	bin := buildKindred(t)
	st, err := stack.Load(refStack, stack.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	p, _ := cluster.New(cluster.Existing, cluster.Options{Kubeconfig: c.Kubeconfig})
	cfg := engine.Config{Provider: p, CacheDir: t.TempDir()}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for trial := range 20 {
		// Odd trials start cold; even ones start converged and scale the
		// operator, so kills land in installs and in upgrades.
		file := "../../testdata/stacks/engine/overlay-replicas.yaml"
		if trial%2 == 1 {
			file = refStack
			if _, err := engine.NewDown(cfg).Run(ctx, st); err != nil {
				t.Fatalf("trial %d: down: %v", trial, err)
			}
		}
		args := []string{"up", "--provider", "existing", "--kubeconfig", c.Kubeconfig, "-o", "json", file}
		killAfter := 1 + rng.IntN(24)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "KINDRED_CHART_MIRROR=")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		seen, last := 0, ""
		for seen < killAfter && sc.Scan() {
			seen++
			last = sc.Text()
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("trial %d: killed after %d events (last %.80s)", trial, seen, last)

		rec := &event.Recorder{}
		cfg.Sink = rec
		if _, err := engine.NewUp(cfg).Run(ctx, st); err != nil {
			t.Fatalf("trial %d: the run after the kill did not converge: %v", trial, err)
		}
		cfg.Sink = nil
		rep, err := engine.NewStatus(cfg).Run(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Steps {
			if !s.Healthy {
				t.Fatalf("trial %d: %s unhealthy after the re-run: %s", trial, s.ID, s.Message)
			}
			if strings.Contains(s.Message, "pending") {
				t.Fatalf("trial %d: %s left pending: %s", trial, s.ID, s.Message)
			}
		}
	}
}
