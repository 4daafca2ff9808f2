// Package testbed gives kindred's integration tests the real test bed: a
// simulated cluster, a Docker engine, and the network rule that cluster
// ranges never leave the machine. Outside CI a missing prerequisite skips
// the test with the reason; under CI=true it fails it.
package testbed

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/pkg/sim"
)

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Missing skips t, or fails it under CI, because a prerequisite is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("prerequisite missing under CI=true: "+format, args...)
	}
	t.Skipf("prerequisite missing: "+format, args...)
}

// Integration marks t as an integration test: skipped under -short.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short")
	}
}

// blackholed are addresses of the cluster ranges tests use; each must be
// unroutable (testbed/network.sh).
var blackholed = []string{"10.96.0.1", "10.244.0.1", "10.0.0.1"}

// RequireBlackholes checks that cluster ranges cannot route out of the
// machine before a test starts a cluster.
func RequireBlackholes(t testing.TB) {
	t.Helper()
	for _, ip := range blackholed {
		out, _ := exec.Command("ip", "route", "get", ip).CombinedOutput()
		s := string(out)
		if !strings.Contains(s, "blackhole") && !strings.Contains(s, "Invalid argument") && !strings.Contains(s, "No route") {
			Missing(t, "%s routes out of the machine (%s); run make blackhole as root (it changes this machine's routing)", ip, strings.TrimSpace(s))
		}
	}
}

// Sim starts a simulated cluster for t and stops it when t ends.
func Sim(t testing.TB, opts ...sim.Option) *sim.Cluster {
	t.Helper()
	Integration(t)
	RequireBlackholes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := Logger(t)
	c, err := sim.Start(ctx, append([]sim.Option{sim.WithLogger(log)}, opts...)...)
	if errors.Is(err, sim.ErrNoBinaries) {
		Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatalf("starting the simulated cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the simulated cluster: %v", err)
		}
	})
	return c
}

// RequireDocker checks that a Docker engine answers.
func RequireDocker(t testing.TB) {
	t.Helper()
	Integration(t)
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		Missing(t, "no Docker engine answers (%v: %s); run testbed/docker/setup.sh as root", err, strings.TrimSpace(string(out)))
	}
}

// Logger logs to t's output, at Info.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// E2EImages are the images `make e2e-image` builds here with no registry:
// a kind node image and a registry image.
type E2EImages struct {
	Node     string // KINDRED_E2E_NODE_IMAGE
	Registry string // KINDRED_E2E_REGISTRY_IMAGE
}

// RequireE2E needs Docker and the e2e images, named by the environment that
// `make test` and `make test-kind` set, and present in Docker.
func RequireE2E(t testing.TB) E2EImages {
	t.Helper()
	RequireDocker(t)
	imgs := E2EImages{Node: os.Getenv("KINDRED_E2E_NODE_IMAGE"), Registry: os.Getenv("KINDRED_E2E_REGISTRY_IMAGE")}
	for name, img := range map[string]string{"KINDRED_E2E_NODE_IMAGE": imgs.Node, "KINDRED_E2E_REGISTRY_IMAGE": imgs.Registry} {
		if img == "" {
			Missing(t, "%s is not set; run `make test-kind`, which builds the e2e images (testbed/e2e/build.sh)", name)
		}
		if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", img).CombinedOutput(); err != nil {
			Missing(t, "image %s (%s) is not in Docker: %s; run testbed/e2e/build.sh", img, name, strings.TrimSpace(string(out)))
		}
	}
	return imgs
}

// PlayWidgets has the simulated cluster play the controller of the test
// charts' Widget resources (testdata/charts/widgets): a kwok stage that
// marks each Widget Ready, as an operator would, after delay. Without it a
// Widget is never ready, as on a cluster whose operator is missing.
func PlayWidgets(t testing.TB, c *sim.Cluster, delay time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SimulateControllers(ctx, []sim.Controller{WidgetController(delay)})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// WidgetController plays the test charts' Widget operator: each Widget
// turns Ready after delay.
func WidgetController(delay time.Duration) sim.Controller {
	return sim.Controller{Name: "widgets", Kinds: []string{"test.kindred.dev/v1/Widget"},
		Stages: sim.ReadyStageAfter("test.kindred.dev/v1", "Widget", "Ready", delay)}
}
