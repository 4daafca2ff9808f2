package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// GoBinary is a program the simulated cluster runs, built from its Go
// module at a pinned version when it is not there yet.
type GoBinary struct {
	// Name is the file it is built to.
	Name string
	// Module and Version are required; Package is built from it.
	Module, Version, Package string
	// LDFlags stamp it (a version, say).
	LDFlags string
	// Staging: the module pins its own staging modules at v0.0.0, as
	// k8s.io/kubernetes does; each is replaced by its release.
	Staging bool
}

// ErrNoGo is wrapped when a binary must be built and no Go toolchain is
// on PATH.
var ErrNoGo = errors.New("no Go toolchain to build the simulated cluster's binaries")

// coreBinaries are the control plane's: etcd, the Kubernetes servers and
// kwok, at the versions this package runs.
func coreBinaries() []GoBinary {
	minor := strings.SplitN(strings.TrimPrefix(KubernetesVersion, "v1."), ".", 2)[0]
	kube := "-s -w" +
		" -X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
		" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=" + minor +
		" -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z" +
		" -X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion +
		" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=" + minor
	out := []GoBinary{
		{Name: "etcd", Module: "go.etcd.io/etcd/server/v3", Version: EtcdVersion, Package: "go.etcd.io/etcd/server/v3", LDFlags: "-s -w"},
		{Name: "kwok", Module: "sigs.k8s.io/kwok", Version: KwokVersion, Package: "sigs.k8s.io/kwok/cmd/kwok", LDFlags: "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=" + KwokVersion},
	}
	for _, cmd := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		out = append(out, GoBinary{Name: cmd, Module: "k8s.io/kubernetes", Version: KubernetesVersion, Package: "k8s.io/kubernetes/cmd/" + cmd, LDFlags: kube, Staging: true})
	}
	return out
}

// Build builds each binary missing from dir from its Go module, through
// the Go module proxy, with the Go toolchain on PATH; what is there is
// kept. Builds of one folder are serialised across processes. say
// reports each step (the first build of the Kubernetes servers takes 15-30
// minutes on two cores; later ones find them).
func Build(ctx context.Context, dir string, bins []GoBinary, say func(string)) error {
	if say == nil {
		say = func(string) {}
	}
	var todo []GoBinary
	for _, b := range bins {
		if !executable(filepath.Join(dir, b.Name)) {
			todo = append(todo, b)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		var names []string
		for _, b := range todo {
			names = append(names, b.Name)
		}
		return fmt.Errorf("%w: %s missing in %s; install Go (https://go.dev/dl), or point %s at a folder that has them", ErrNoGo, strings.Join(names, ", "), dir, BinariesEnv)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock := flock.New(filepath.Join(dir, ".build.lock"), flock.SetPermissions(0o600))
	if _, err := lock.TryLockContext(ctx, time.Second); err != nil {
		return err
	}
	defer lock.Unlock()
	for i, b := range todo {
		if executable(filepath.Join(dir, b.Name)) { // another process built it meanwhile
			continue
		}
		say(fmt.Sprintf("building %s %s from its Go module (%d of %d; cached in %s)", b.Name, b.Version, i+1, len(todo), dir))
		started := time.Now()
		if err := buildOne(ctx, goBin, dir, b); err != nil {
			return fmt.Errorf("building %s %s: %w", b.Name, b.Version, err)
		}
		say(fmt.Sprintf("built %s in %s", b.Name, time.Since(started).Round(time.Second)))
	}
	return nil
}

func executable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// buildOne builds b in a scratch module that requires b's module (with
// its staging replaced, if it asks), into dir.
func buildOne(ctx context.Context, goBin, dir string, b GoBinary) error {
	work, err := os.MkdirTemp("", "kindred-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil {
			return out.Bytes(), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 15))
		}
		return out.Bytes(), nil
	}
	mod := fmt.Sprintf("module kindred.local/build/%s\n\ngo 1.26\n\nrequire %s %s\n", b.Name, b.Module, b.Version)
	if b.Staging {
		replaces, err := stagingReplaces(run, b)
		if err != nil {
			return err
		}
		mod += replaces
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(mod), 0o600); err != nil {
		return err
	}
	tools := fmt.Sprintf("//go:build tools\n\npackage build\n\nimport _ %q\n", b.Package)
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(tools), 0o600); err != nil {
		return err
	}
	if _, err := run("mod", "tidy"); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+b.Name+".tmp")
	if _, err := run("build", "-trimpath", "-ldflags", b.LDFlags, "-o", tmp, b.Package); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, b.Name))
}

var stagingLine = regexp.MustCompile(`(?m)^\s*(k8s\.io/[^\s]+)\s+v0\.0\.0(\s*//.*)?$`)

// stagingReplaces reads b's own go.mod and replaces each module it pins at
// v0.0.0 with its release (v0.35.4 for Kubernetes v1.35.4).
func stagingReplaces(run func(...string) ([]byte, error), b GoBinary) (string, error) {
	out, err := run("mod", "download", "-json", b.Module+"@"+b.Version)
	if err != nil {
		return "", err
	}
	var info struct{ GoMod string }
	if err := json.Unmarshal(out, &info); err != nil || info.GoMod == "" {
		return "", fmt.Errorf("reading the go.mod of %s@%s: %v", b.Module, b.Version, err)
	}
	data, err := os.ReadFile(info.GoMod)
	if err != nil {
		return "", err
	}
	return replacesFor(data, b.Version), nil
}

// replacesFor is the replace block for a Kubernetes go.mod at version:
// each k8s.io module it pins at v0.0.0 goes to its release.
func replacesFor(gomod []byte, version string) string {
	release := "v0." + strings.TrimPrefix(version, "v1.")
	var sb strings.Builder
	sb.WriteString("\nreplace (\n")
	seen := map[string]bool{}
	for _, m := range stagingLine.FindAllStringSubmatch(string(gomod), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			fmt.Fprintf(&sb, "\t%s => %s %s\n", m[1], m[1], release)
		}
	}
	sb.WriteString(")\n")
	return sb.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logSay reports build steps to log.
func logSay(log *slog.Logger) func(string) {
	return func(msg string) { log.Info("simulated cluster: " + msg) }
}
