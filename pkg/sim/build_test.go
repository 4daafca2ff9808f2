//go:build unix

package sim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	if err := Build(context.Background(), t.TempDir(), []GoBinary{b}, nil); !errors.Is(err, ErrNoGo) || !strings.Contains(err.Error(), "stringer v0.38.0 could not be downloaded") {
		t.Errorf("without Go: %v", err)
	}
	_ = os.Remove(filepath.Join(dir, ".build.lock"))
}

// On first use the control plane's binaries are downloaded from their
// projects' releases where these publish them (Kubernetes' server
// binaries, etcd's archive), each checked against the published checksum;
// a corrupted one is refused and never installed. The releases are served
// here from loopback.
func TestDownloadFromReleases(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Kubernetes publishes its server binaries for Linux only")
	}
	apiserver := []byte("#!/bin/sh\necho kube-apiserver\n")
	corrupted := []byte("#!/bin/sh\necho tampered\n")
	etcd := []byte("#!/bin/sh\necho etcd\n")
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	member := fmt.Sprintf("etcd-%s-linux-%s/etcd", EtcdVersion, runtime.GOARCH)
	_ = tw.WriteHeader(&tar.Header{Name: member, Mode: 0o755, Size: int64(len(etcd)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(etcd)
	_ = tw.Close()
	_ = zw.Close()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	kube := fmt.Sprintf("/release/%s/bin/linux/%s/", KubernetesVersion, runtime.GOARCH)
	gh := fmt.Sprintf("/etcd-io/etcd/releases/download/%s/", EtcdVersion)
	files := map[string][]byte{
		kube + "kube-apiserver":        apiserver,
		kube + "kube-apiserver.sha256": []byte(sum(apiserver) + "\n"),
		kube + "kube-scheduler":        corrupted,
		kube + "kube-scheduler.sha256": []byte(sum([]byte("the real scheduler")) + "\n"),
		gh + fmt.Sprintf("etcd-%s-linux-%s.tar.gz", EtcdVersion, runtime.GOARCH): archive.Bytes(),
		gh + "SHA256SUMS": []byte(fmt.Sprintf("%s  etcd-%s-linux-%s.tar.gz\n", sum(archive.Bytes()), EtcdVersion, runtime.GOARCH)),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	old := releaseBase
	releaseBase.kubernetes, releaseBase.github = srv.URL+"/release", srv.URL
	defer func() { releaseBase = old }()
	t.Setenv("PATH", t.TempDir()) // no Go: only downloads can succeed

	pick := func(names ...string) []GoBinary {
		var out []GoBinary
		for _, b := range coreBinaries() {
			if slices.Contains(names, b.Name) {
				out = append(out, b)
			}
		}
		return out
	}
	dir := t.TempDir()
	var said []string
	if err := Build(context.Background(), dir, pick("kube-apiserver", "etcd"), func(s string) { said = append(said, s) }); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"kube-apiserver": apiserver, "etcd": etcd} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) || !executable(filepath.Join(dir, name)) {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	t.Logf("progress: %q", said)
	err := Build(context.Background(), dir, pick("kube-scheduler"), nil)
	if !errors.Is(err, ErrChecksum) {
		t.Errorf("a corrupted download: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "kube-scheduler")); serr == nil {
		t.Error("the corrupted binary was installed")
	}
}
