package sim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"kindred.dev/kindred/pkg/internal/securehttp"

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
	// Published says where the project publishes this binary for a
	// platform, if it does; it is downloaded from there, and checked
	// against the published checksum, before building is tried.
	Published func(goos, goarch string) (Published, bool)
}

// Published is a released binary: its URL (or that of a .tar.gz holding it
// at Member), and the URL of its checksum (a file whose lines are "HEX" or
// "HEX  NAME").
type Published struct {
	URL, SumURL, Member string
}

// ErrChecksum is wrapped when a download does not match its published
// checksum; it is never installed.
var ErrChecksum = errors.New("checksum mismatch")

// releaseBase are the hosts releases come from; tests serve them.
var releaseBase = struct{ kubernetes, github string }{"https://dl.k8s.io/release", "https://github.com"}

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
		{Name: "etcd", Module: "go.etcd.io/etcd/server/v3", Version: EtcdVersion, Package: "go.etcd.io/etcd/server/v3", LDFlags: "-s -w",
			Published: func(goos, goarch string) (Published, bool) {
				if goos != "linux" {
					return Published{}, false // a zip elsewhere
				}
				base := fmt.Sprintf("%s/etcd-io/etcd/releases/download/%s/", releaseBase.github, EtcdVersion)
				name := fmt.Sprintf("etcd-%s-%s-%s", EtcdVersion, goos, goarch)
				return Published{URL: base + name + ".tar.gz", SumURL: base + "SHA256SUMS", Member: name + "/etcd"}, true
			}},
		{Name: "kwok", Module: "sigs.k8s.io/kwok", Version: KwokVersion, Package: "sigs.k8s.io/kwok/cmd/kwok", LDFlags: "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=" + KwokVersion},
	}
	for _, cmd := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		out = append(out, GoBinary{Name: cmd, Module: "k8s.io/kubernetes", Version: KubernetesVersion, Package: "k8s.io/kubernetes/cmd/" + cmd, LDFlags: kube, Staging: true,
			Published: func(goos, goarch string) (Published, bool) {
				if goos != "linux" {
					return Published{}, false // server binaries are released for Linux only
				}
				u := fmt.Sprintf("%s/%s/bin/%s/%s/%s", releaseBase.kubernetes, KubernetesVersion, goos, goarch, cmd)
				return Published{URL: u, SumURL: u + ".sha256"}, true
			}})
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
		started := time.Now()
		if b.Published != nil {
			if pub, ok := b.Published(runtime.GOOS, runtime.GOARCH); ok {
				say(fmt.Sprintf("downloading %s %s (%d of %d; cached in %s)", b.Name, b.Version, i+1, len(todo), dir))
				err := download(ctx, dir, b.Name, pub)
				if err == nil {
					say(fmt.Sprintf("downloaded and checked %s in %s", b.Name, time.Since(started).Round(time.Second)))
					continue
				}
				if errors.Is(err, ErrChecksum) {
					return fmt.Errorf("downloading %s %s: %w", b.Name, b.Version, err)
				}
				say(fmt.Sprintf("could not download %s (%v); building it instead", b.Name, err))
			}
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			return fmt.Errorf("%w: %s %s could not be downloaded for %s/%s; install Go (https://go.dev/dl), or point %s at a folder that has it",
				ErrNoGo, b.Name, b.Version, runtime.GOOS, runtime.GOARCH, BinariesEnv)
		}
		say(fmt.Sprintf("building %s %s from its Go module (%d of %d; cached in %s)", b.Name, b.Version, i+1, len(todo), dir))
		if err := buildOne(ctx, goBin, dir, b); err != nil {
			return fmt.Errorf("building %s %s: %w", b.Name, b.Version, err)
		}
		say(fmt.Sprintf("built %s in %s", b.Name, time.Since(started).Round(time.Second)))
	}
	return nil
}

// maxDownload bounds a downloaded release file.
const maxDownload = 512 << 20

// download fetches pub over https (http to loopback only, redirects held
// to the same), checks it against its published checksum and installs
// the binary as dir/name. A mismatch is ErrChecksum, and nothing is
// installed.
func download(ctx context.Context, dir, name string, pub Published) error {
	sums, err := securehttp.Get(ctx, releaseClient, pub.SumURL, 1<<20)
	if err != nil {
		return err
	}
	data, err := securehttp.Get(ctx, releaseClient, pub.URL, maxDownload)
	if err != nil {
		return err
	}
	file := path.Base(pub.URL)
	want := ""
	for _, line := range strings.Split(string(sums), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1:
			want = f[0]
		case len(f) >= 2 && strings.TrimPrefix(f[1], "*") == file:
			want = f[0]
		}
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); want == "" || !strings.EqualFold(got, want) {
		return fmt.Errorf("%w: %s has sha256 %s, %s says %q", ErrChecksum, pub.URL, got, pub.SumURL, want)
	}
	if pub.Member != "" {
		if data, err = untarMember(data, pub.Member); err != nil {
			return fmt.Errorf("%s: %w", pub.URL, err)
		}
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// releaseClient reaches the projects' release hosts; a machine that
// cannot reach them fails fast, and builds instead.
var releaseClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
	DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 30 * time.Second}}

// untarMember reads one file out of a .tar.gz.
func untarMember(data []byte, member string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s is not in the archive", member)
		}
		if h.Name == member && h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, maxDownload))
		}
	}
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
