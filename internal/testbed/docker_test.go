package testbed_test

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationDockerPrivileged checks the test bed's Docker engine: an
// image made here with docker import (no registry) runs as a privileged
// container, which needs the test-only runtime wrapper on this kind of VM.
func TestIntegrationDockerPrivileged(t *testing.T) {
	testbed.RequireDocker(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"privileged ok\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probe")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	if err := tw.WriteHeader(&tar.Header{Name: "probe", Mode: 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()

	image := "kindred-test/probe:" + strings.ToLower(filepath.Base(dir))
	imp := exec.Command("docker", "import", "--change", `ENTRYPOINT ["/probe"]`, "-", image)
	imp.Stdin = &rootfs
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	out, err := exec.Command("docker", "run", "--rm", "--privileged", image).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "privileged ok" {
		t.Fatalf("docker run --privileged: %v\n%s", err, out)
	}
}
