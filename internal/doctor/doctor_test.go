package doctor

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/stack"
)

func testStack(t *testing.T, httpPort int) *stack.Stack {
	t.Helper()
	st := &stack.Stack{}
	st.Metadata.Name = "doc"
	st.Ingress = &api.Ingress{}
	stack.Default(&st.Stack)
	st.Ingress.HostPorts = api.HostPorts{HTTP: httpPort, HTTPS: httpPort + 1}
	return st
}

func fakeEnv(files map[string]string) Env {
	return Env{
		Runtime: "docker",
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		},
		RuntimeInfo: func(_ context.Context, format string) (string, error) {
			if strings.Contains(format, "NCPU") {
				return "4 8589934592", nil
			}
			return "28.2.2", nil
		},
	}
}

func find(r Report, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

// TestPortReallyTaken holds a real port and checks doctor refuses it.
func TestPortReallyTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	r := Run(context.Background(), testStack(t, port), fakeEnv(nil), nil)
	c := find(r, "port "+itoa(port))
	if c.Status != Fail || !strings.Contains(c.Fix, "ingress.hostPorts.http") {
		t.Errorf("taken port: %+v", c)
	}
	if r.OK() || r.Err() == nil {
		t.Error("a taken port did not fail the report")
	}
	// The stack's own running cluster holds its ports legitimately.
	if r := Run(context.Background(), testStack(t, port), fakeEnv(nil), map[int]bool{port: true}); find(r, "port "+itoa(port)).Status != "" {
		t.Error("a port of the stack's own cluster was checked")
	}
}

func TestChecks(t *testing.T) {
	files := map[string]string{
		"/proc/sys/fs/inotify/max_user_watches":   "8192\n",
		"/proc/sys/fs/inotify/max_user_instances": "1024\n",
		"/proc/net/route": "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
			"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"*\t0000600A\t00000000\t0001\t0\t0\t0\t0000F0FF\t0\t0\t0\n" + // blackhole 10.96.0.0/12
			"vpn0\t0000F40A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n", // 10.244.0.0/16 via a VPN
	}
	r := Run(context.Background(), testStack(t, 18080), fakeEnv(files), nil)
	if c := find(r, "inotify max_user_watches"); c.Status != Warn || !strings.Contains(c.Fix, "sysctl -w fs.inotify.max_user_watches=524288") {
		t.Errorf("inotify: %+v", c)
	}
	if c := find(r, "pod subnet"); c.Status != Fail || !strings.Contains(c.Detail, "vpn0") {
		t.Errorf("pod subnet clash: %+v", c)
	}
	if c := find(r, "service subnet"); c.Status != OK {
		t.Errorf("a blackhole route counted as a clash: %+v", c)
	}
	if c := find(r, "cgroup"); c.Status != Warn {
		t.Errorf("cgroup v1 with Kubernetes 1.35: %+v", c)
	}
	if c := find(r, "resources"); c.Status != OK {
		t.Errorf("resources: %+v", c)
	}
}

func TestRuntimeDown(t *testing.T) {
	env := fakeEnv(nil)
	env.RuntimeInfo = func(context.Context, string) (string, error) {
		return "Cannot connect to the Docker daemon at unix:///var/run/docker.sock", errors.New("exit status 1")
	}
	c := find(Run(context.Background(), testStack(t, 18080), env, nil), "runtime")
	if c.Status != Fail || !strings.Contains(c.Detail, "Cannot connect") {
		t.Errorf("runtime down: %+v", c)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
