package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/registry"
)

func TestHostsFilesAndConfigMap(t *testing.T) {
	local := registry.Local(5001)
	caches := []registry.Container{registry.Cache("docker.io"), registry.Cache("registry.example.com:8443")}
	var b strings.Builder
	for _, h := range registry.HostsFiles(&local, caches) {
		fmt.Fprintf(&b, "# --- /etc/containerd/certs.d/%s/hosts.toml\n%s", h.Dir, h.Content)
	}
	golden.Check(t, "hosts.golden.toml", []byte(b.String()))

	cm, err := yaml.Marshal(registry.HostingConfigMap(5001))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "local-registry-hosting.golden.yaml", cm)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// The registry container's whole life on the test bed's real dockerd:
// create, answer on 127.0.0.1, reuse, restart when stopped, join a network,
// delete with its volume.
func TestIntegrationRegistryLifecycle(t *testing.T) {
	imgs := testbed.RequireE2E(t)
	t.Setenv("KINDRED_REGISTRY_IMAGE", imgs.Registry)
	ctx := context.Background()
	rt := registry.Runtime{Bin: "docker"}
	c := registry.Local(testbed.FreePort(t))
	c.Name = "kindred-test-registry-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	c.Volume = c.Name
	network := c.Name + "-net"
	t.Cleanup(func() {
		_ = rt.Remove(context.Background(), c, true)
		_ = exec.Command("docker", "network", "rm", network).Run()
	})

	changed, err := rt.Ensure(ctx, c)
	if err != nil || !changed {
		t.Fatalf("first Ensure: changed=%v err=%v", changed, err)
	}
	if got := docker(t, "port", c.Name, "5000/tcp"); got != fmt.Sprintf("127.0.0.1:%d", c.HostPort) {
		t.Fatalf("registry is published on %q, want 127.0.0.1:%d only", got, c.HostPort)
	}
	waitV2(t, c.HostPort)

	if changed, err := rt.Ensure(ctx, c); err != nil || changed {
		t.Fatalf("second Ensure should reuse the running registry: changed=%v err=%v", changed, err)
	}
	other := c
	other.HostPort = c.HostPort + 1
	if _, err := rt.Ensure(ctx, other); !errors.Is(err, registry.ErrPortTaken) || !strings.Contains(err.Error(), fmt.Sprint(c.HostPort)) {
		t.Fatalf("Ensure with another port: %v, want ErrPortTaken naming the port in use", err)
	}
	docker(t, "stop", "-t", "1", c.Name)
	if changed, err := rt.Ensure(ctx, c); err != nil || !changed {
		t.Fatalf("Ensure after stop should start it: changed=%v err=%v", changed, err)
	}
	waitV2(t, c.HostPort)

	docker(t, "network", "create", network)
	for range 2 { // the second connect is a no-op
		if err := rt.Connect(ctx, c, network); err != nil {
			t.Fatal(err)
		}
	}
	if nets := docker(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", c.Name); !strings.Contains(nets, network) {
		t.Fatalf("registry networks %q lack %s", nets, network)
	}
	names, err := rt.List(ctx)
	if err != nil || !contains(names, c.Name) {
		t.Fatalf("List = %v, %v; want it to include %s", names, err, c.Name)
	}

	if err := rt.Remove(ctx, c, true); err != nil {
		t.Fatal(err)
	}
	if s := docker(t, "ps", "-a", "--filter", "name="+c.Name, "-q"); s != "" {
		t.Fatalf("container left after Remove: %s", s)
	}
	if s := docker(t, "volume", "ls", "-q", "--filter", "name="+c.Volume); s != "" {
		t.Fatalf("volume left after Remove: %s", s)
	}
	if err := rt.Remove(ctx, c, true); err != nil {
		t.Fatalf("removing an absent registry should be no error: %v", err)
	}
}

// An image that is neither on the machine nor pullable is a clear error
// that names it, and leaves no container behind.
func TestIntegrationRegistryImageMissing(t *testing.T) {
	testbed.RequireDocker(t)
	t.Setenv("KINDRED_REGISTRY_IMAGE", "127.0.0.1:1/kindred/no-such-registry:0")
	rt := registry.Runtime{Bin: "docker"}
	c := registry.Local(testbed.FreePort(t))
	c.Name = "kindred-test-noimage-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	c.Volume = c.Name
	t.Cleanup(func() { _ = rt.Remove(context.Background(), c, true) })
	_, err := rt.Ensure(context.Background(), c)
	if !errors.Is(err, registry.ErrImage) || !strings.Contains(err.Error(), "no-such-registry") {
		t.Fatalf("err = %v, want ErrImage naming the image", err)
	}
	if s := docker(t, "ps", "-a", "--filter", "name="+c.Name, "-q"); s != "" {
		t.Fatalf("a container was left: %s", s)
	}
}

func waitV2(t *testing.T, port int) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/v2/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not answer: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}
