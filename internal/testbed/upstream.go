package testbed

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// UpstreamEnv names the folder of the real upstream artifacts, overriding
// the default: ../shared/upstream beside the project's root.
const UpstreamEnv = "KINDRED_UPSTREAM"

// Upstream is the folder of the real charts and manifests the catalogue
// pins (tigera-operator, cert-manager, prometheus, Contour's release
// manifests), laid out as a folder chart mirror. They are third-party
// files: tests use them from there and never copy them into the project.
// Missing, it skips t, or fails it under CI.
func Upstream(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(UpstreamEnv)
	if dir == "" {
		root, err := projectRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "upstream")
	}
	for _, f := range []string{"tigera-operator-v3.31.5.tgz", "cert-manager-v1.21.2.tgz", "prometheus-27.45.0.tgz", "contour.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			Missing(t, "the real upstream artifacts: %v (set %s, or put them in ../shared/upstream)", err, UpstreamEnv)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// projectRoot is the folder of kindred's go.mod, found upwards from the
// test's working folder.
func projectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module kindred.dev/kindred\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Module is the folder of a Go module at a version (module@version),
// downloaded through the Go module proxy: third-party files such as CRD
// schemas that tests read in place. Unavailable, it skips t, or fails it
// under CI.
func Module(t testing.TB, modVersion string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = os.TempDir() // outside this module, so its go.mod is not consulted
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Dir == "" {
		Missing(t, "Go module %s: %v %s", modVersion, err, m.Error)
	}
	return m.Dir
}
