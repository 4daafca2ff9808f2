//go:build unix

package provider

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The engine's host comes from DOCKER_HOST (docker, nerdctl),
// CONTAINER_HOST (podman) or the current Docker context (a fake docker
// CLI here); local sockets are this machine. The kubeconfig kind writes
// then points at that host, still 0600.
func TestRemoteEngine(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1 $2\" = \"context inspect\" ] && echo \"$FAKE_CONTEXT_HOST\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	ctx := context.Background()
	for _, c := range []struct {
		runtime string
		env     map[string]string
		want    string
	}{
		{"docker", map[string]string{"DOCKER_HOST": "tcp://build-box.example.test:2376"}, "build-box.example.test"},
		{"docker", map[string]string{"DOCKER_HOST": "ssh://me@10.1.2.3"}, "10.1.2.3"},
		{"docker", map[string]string{"DOCKER_HOST": "unix:///var/run/docker.sock"}, ""},
		{"docker", map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, ""},
		{"docker", map[string]string{"FAKE_CONTEXT_HOST": "tcp://colima-remote.example.test:2376"}, "colima-remote.example.test"},
		{"docker", map[string]string{"FAKE_CONTEXT_HOST": "unix:///Users/me/.colima/default/docker.sock"}, ""},
		{"podman", map[string]string{"CONTAINER_HOST": "ssh://core@podman-vm.example.test:22/run/podman/podman.sock"}, "podman-vm.example.test"},
		{"nerdctl", map[string]string{}, ""},
	} {
		t.Setenv("FAKE_CONTEXT_HOST", c.env["FAKE_CONTEXT_HOST"])
		got := EngineHost(ctx, c.runtime, func(k string) string { return c.env[k] })
		if got != c.want {
			t.Errorf("%s %v: %q, want %q", c.runtime, c.env, got, c.want)
		}
	}

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kind-shop"] = &clientcmdapi.Cluster{Server: "https://0.0.0.0:41235"}
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	if err := pointAtEngine(kc, "build-box.example.test"); err != nil {
		t.Fatal(err)
	}
	back, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	if s := back.Clusters["kind-shop"]; s.Server != "https://build-box.example.test:41235" || s.TLSServerName != "localhost" {
		t.Errorf("kubeconfig cluster: %+v", s)
	}
	if info, _ := os.Stat(kc); info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", info.Mode().Perm())
	}
}
