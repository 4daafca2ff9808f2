//go:build unix

package doctor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/doctor"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
)

// fakeRuntime puts a fake CLI called name on PATH that answers `info
// --format F` as the real one would, from answers (format → output).
func fakeRuntime(t *testing.T, dir, name string, answers map[string]string) {
	t.Helper()
	var cases strings.Builder
	for format, out := range answers {
		fmt.Fprintf(&cases, "  %q) echo %q ;;\n", format, out)
	}
	script := "#!/bin/sh\n[ \"$1\" = info ] || exit 1\n[ \"$2\" = --format ] || exit 1\ncase \"$3\" in\n" + cases.String() + "  *) echo unknown format >&2; exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Doctor on each runtime kind supports, through fakes of their CLIs:
// each is detected (kind's order, or the one asked for) with its version;
// rootless podman cannot publish the ingress's ports 80 and 443; a remote
// DOCKER_HOST is named with what it means.
func TestRuntimes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	// Each fake answers only its CLI's own templates: podman's info has
	// other fields than docker's, which nerdctl follows (checked against
	// Debian's podman 4.3.1, which refuses {{.ServerVersion}}).
	fakeRuntime(t, dir, "docker", map[string]string{"{{.ServerVersion}}": "28.2.2", "{{.NCPU}} {{.MemTotal}}": "4 8589934592"})
	fakeRuntime(t, dir, "podman", map[string]string{"{{.Version.Version}}": "5.4.2", "{{.Host.CPUs}} {{.Host.MemTotal}}": "4 8589934592", "{{.Host.Security.Rootless}}": "true"})
	fakeRuntime(t, dir, "nerdctl", map[string]string{"{{.ServerVersion}}": "v2.1.2", "{{.NCPU}} {{.MemTotal}}": "4 8589934592"})
	ctx := context.Background()
	for _, c := range []struct {
		want, detected, dockerHost, apiServer, check, detail string
		status                                               string
	}{
		{"", "docker", "", "", "runtime", "docker 28.2.2", doctor.OK},
		{"podman", "podman", "", "", "rootless podman", "cannot publish host port 80", doctor.Fail},
		{"nerdctl", "nerdctl", "", "", "runtime", "nerdctl v2.1.2", doctor.OK},
		{"", "docker", "tcp://build-box.example.test:2376", "", "runtime host", "would publish the API server on that machine's loopback", doctor.Fail},
		{"", "docker", "ssh://me@build-box.example.test", "0.0.0.0", "runtime host", "the engine runs on build-box.example.test; kindred points the kubeconfig there", doctor.OK},
	} {
		rt, err := cluster.DetectRuntime(ctx, c.want)
		if err != nil || rt != c.detected {
			t.Errorf("detecting %q: %q %v, want %s", c.want, rt, err, c.detected)
			continue
		}
		env := doctor.Env{Runtime: rt, Getenv: func(k string) string {
			if k == "DOCKER_HOST" {
				return c.dockerHost
			}
			return ""
		}}
		st := &stack.Stack{}
		st.Metadata.Name = "doc"
		st.Ingress = &api.Ingress{}
		stack.Default(&st.Stack)
		if c.apiServer != "" {
			st.Cluster.Networking.APIServerAddress = c.apiServer
		}
		rep := doctor.Run(ctx, st, env, map[int]bool{80: true, 443: true})
		var lines []string
		for _, ch := range rep.Checks {
			if strings.HasPrefix(ch.Name, "runtime") || strings.HasPrefix(ch.Name, "rootless") || ch.Name == "resources" {
				lines = append(lines, fmt.Sprintf("%s  %s  %s  %s", ch.Status, ch.Name, ch.Detail, ch.Fix))
			}
		}
		t.Logf("doctor with %s (DOCKER_HOST=%q):\n  %s", rt, c.dockerHost, strings.Join(lines, "\n  "))
		var got doctor.Check
		for _, ch := range rep.Checks {
			if ch.Name == c.check {
				got = ch
			}
		}
		if got.Status != c.status || !strings.Contains(got.Detail, c.detail) {
			t.Errorf("%s: %s = %+v, want %s with %q", rt, c.check, got, c.status, c.detail)
		}
	}
}
