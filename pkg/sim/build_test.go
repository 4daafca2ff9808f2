//go:build unix

package sim

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The replace block for Kubernetes' staging modules comes from its own
// go.mod: every k8s.io module pinned at v0.0.0, indirect or not, once.
func TestStagingReplaces(t *testing.T) {
	gomod := "module k8s.io/kubernetes\n\nrequire (\n\tgithub.com/x/y v1.2.3\n\tk8s.io/api v0.0.0\n\tk8s.io/client-go v0.0.0 // indirect\n\tk8s.io/klog/v2 v2.130.1\n)\n\nreplace k8s.io/api => ./staging/src/k8s.io/api\n"
	got := replacesFor([]byte(gomod), "v1.35.4")
	want := "\nreplace (\n\tk8s.io/api => k8s.io/api v0.35.4\n\tk8s.io/client-go => k8s.io/client-go v0.35.4\n)\n"
	if got != want {
		t.Errorf("replaces:\n%s\nwant:\n%s", got, want)
	}
}

// Build builds a missing binary from its Go module (here a small one the
// module cache has), keeps what is there, and without a Go toolchain says
// what to do.
func TestBuildFromModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no Go toolchain")
	}
	dir := t.TempDir()
	b := GoBinary{Name: "stringer", Module: "golang.org/x/tools", Version: "v0.38.0", Package: "golang.org/x/tools/cmd/stringer", LDFlags: "-s -w"}
	var said []string
	say := func(s string) { said = append(said, s) }
	if err := Build(context.Background(), dir, []GoBinary{b}, say); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "stringer"), "-help").CombinedOutput()
	if !strings.Contains(string(out), "Usage of stringer") {
		t.Errorf("the built program: %v\n%s", err, out)
	}
	if len(said) != 2 || !strings.Contains(said[0], "building stringer v0.38.0 from its Go module") {
		t.Errorf("progress: %q", said)
	}
	said = nil
	if err := Build(context.Background(), dir, []GoBinary{b}, say); err != nil || len(said) != 0 {
		t.Errorf("a second Build: %v, said %q", err, said)
	}

	t.Setenv("PATH", t.TempDir())
	if err := Build(context.Background(), t.TempDir(), []GoBinary{b}, nil); !errors.Is(err, ErrNoGo) || !strings.Contains(err.Error(), "stringer missing") {
		t.Errorf("without Go: %v", err)
	}
	_ = os.Remove(filepath.Join(dir, ".build.lock"))
}
