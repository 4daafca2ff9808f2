package cli_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationKindUpWithoutImage runs `kindred up` with the kind provider
// on the test bed's real Docker. The pinned node image cannot be pulled
// here, so up must validate, plan, run doctor, print the kind config with
// -v, call kind, and fail naming the image, leaving no container behind.
func TestIntegrationKindUpWithoutImage(t *testing.T) {
	testbed.RequireDocker(t)
	bin := buildKindred(t)
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "stack.yaml")
	name := fmt.Sprintf("kt-pull-%d", os.Getpid())
	data := "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: " + name + "}\ncluster:\n  nodes:\n    - role: control-plane\n    - role: worker\n      labels: {topology.kubernetes.io/zone: zone-a}\n"
	if err := os.WriteFile(stackFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up", "-v", "-o", "text", "--provider", "kind", stackFile)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+dir)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"kind config:", "topology.kubernetes.io/zone: zone-a", // -v printed the config
		"could not be used", "kindest/node:v1.35.8@sha256:", // the failure names the image
		"kindred: failed: cluster",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	left, _ := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+name, "--format", "{{.Names}}").Output()
	if strings.TrimSpace(string(left)) != "" {
		t.Errorf("containers left behind: %s", left)
	}
}

// TestIntegrationDryRun plans, runs doctor and prints the kind config, and
// creates nothing.
func TestIntegrationDryRun(t *testing.T) {
	testbed.RequireDocker(t)
	bin := buildKindred(t)
	out, err := exec.Command(bin, "up", "--dry-run", "-v", "--provider", "kind", "../../stacks/minimal.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"plan: 1 steps", "kind config:", "name: minimal", "nothing was created"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Bad input that only the machine can reveal fails before anything is
// created: a container runtime that does not answer, and a host port that
// is already taken. Each names what is wrong.
func TestIntegrationKindRefusesBeforeCreating(t *testing.T) {
	testbed.RequireDocker(t)
	bin := buildKindred(t)
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	name := fmt.Sprintf("kt-refuse-%d", os.Getpid())
	stackFile := filepath.Join(dir, "stack.yaml")
	data := fmt.Sprintf("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: %s}\ningress: {hostPorts: {http: %d, https: %d}}\n", name, port, port+1)
	if err := os.WriteFile(stackFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"runtime not running", []string{"DOCKER_HOST=unix://" + filepath.Join(dir, "no-docker.sock")}, []string{"runtime", "no-docker.sock"}},
		{"port taken", nil, []string{fmt.Sprintf("127.0.0.1:%d", port), "in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "up", "-o", "text", "--provider", "kind", "--runtime", "docker", stackFile)
			cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+dir), tc.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				t.Fatalf("exit %v, want a failure\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			left, _ := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+name, "--format", "{{.Names}}").Output()
			if strings.TrimSpace(string(left)) != "" {
				t.Errorf("containers created: %s", left)
			}
		})
	}
}
