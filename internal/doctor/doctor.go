// Package doctor checks that this machine can run a stack's kind cluster,
// before anything is created, and says how to fix what it cannot.
package doctor

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"kindred.dev/kindred/pkg/stack"
)

// Statuses of a check.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// Check is the result of one check.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every check, in order.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK reports whether no check failed.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return false
		}
	}
	return true
}

// Err returns an error naming the failed checks, or nil.
func (r Report) Err() error {
	var failed []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			failed = append(failed, fmt.Sprintf("%s: %s (fix: %s)", c.Name, c.Detail, c.Fix))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("doctor found %d problem%s: %s", len(failed), map[bool]string{true: "", false: "s"}[len(failed) == 1], strings.Join(failed, "; "))
}

// InfoFormats are the `info --format` templates of a runtime's CLI.
type InfoFormats struct{ Version, Resources string }

// InfoFormat returns runtime's templates: podman's info has other fields
// than docker's, which nerdctl follows.
func InfoFormat(runtime string) InfoFormats {
	if runtime == "podman" {
		return InfoFormats{Version: "{{.Version.Version}}", Resources: "{{.Host.CPUs}} {{.Host.MemTotal}}"}
	}
	return InfoFormats{Version: "{{.ServerVersion}}", Resources: "{{.NCPU}} {{.MemTotal}}"}
}

// Env is what the checks read; tests replace parts of it.
type Env struct {
	// Runtime is the container runtime's CLI (docker, podman, nerdctl).
	Runtime string
	// ReadFile reads /proc and /sys files.
	ReadFile func(string) ([]byte, error)
	// Listen tries a port.
	Listen func(network, addr string) (net.Listener, error)
	// RuntimeInfo runs `RUNTIME info --format FORMAT`.
	RuntimeInfo func(ctx context.Context, format string) (string, error)
	// Getenv reads the environment (DOCKER_HOST, CONTAINER_HOST).
	Getenv func(string) string
	// EngineHost is the machine the engine runs on when it is another
	// one; when empty, DOCKER_HOST and CONTAINER_HOST tell.
	EngineHost string
}

func (e *Env) defaults() {
	if e.ReadFile == nil {
		e.ReadFile = os.ReadFile
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Listen == nil {
		e.Listen = net.Listen
	}
	if e.RuntimeInfo == nil {
		rt := e.Runtime
		e.RuntimeInfo = func(ctx context.Context, format string) (string, error) {
			out, err := exec.CommandContext(ctx, rt, "info", "--format", format).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
	}
}

// Run checks the machine for st's cluster. skipPorts lists host ports the
// stack's own cluster already holds (a reused cluster), which are fine.
func Run(ctx context.Context, st *stack.Stack, env Env, skipPorts map[int]bool) Report {
	env.defaults()
	var r Report
	add := func(c Check) { r.Checks = append(r.Checks, c) }

	// The runtime, its version, CPUs and memory.
	if env.Runtime == "" {
		add(Check{Name: "runtime", Status: Fail, Detail: "no container runtime answers", Fix: "install Docker (or podman, nerdctl) and start it"})
	} else if v, err := env.RuntimeInfo(ctx, InfoFormat(env.Runtime).Version); err != nil {
		add(Check{Name: "runtime", Status: Fail, Detail: fmt.Sprintf("%s does not answer: %s", env.Runtime, firstLine(v)), Fix: "start the " + env.Runtime + " engine"})
	} else {
		add(Check{Name: "runtime", Status: OK, Detail: env.Runtime + " " + v})
		for _, c := range runtimeChecks(ctx, st, env) {
			add(c)
		}
		if out, err := env.RuntimeInfo(ctx, InfoFormat(env.Runtime).Resources); err == nil {
			var cpus int
			var mem int64
			fmt.Sscan(out, &cpus, &mem)
			nodes := 0
			for _, g := range st.Cluster.Nodes {
				nodes += g.Count
			}
			c := Check{Name: "resources", Status: OK, Detail: fmt.Sprintf("%d CPUs, %.1f GiB for %d nodes", cpus, float64(mem)/(1<<30), nodes)}
			if cpus < 2 || mem < 2<<30 {
				c.Status, c.Fix = Fail, "give the runtime at least 2 CPUs and 2 GiB"
			} else if mem < int64(nodes)*(1<<30)+(1<<30) {
				c.Status, c.Fix = Warn, "give the runtime about 1 GiB per node more, or use fewer nodes"
			}
			add(c)
		}
	}

	// Host ports.
	for _, p := range hostPorts(st) {
		if skipPorts[p.port] {
			continue
		}
		l, err := env.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err != nil {
			add(Check{Name: "port " + strconv.Itoa(p.port), Status: Fail, Detail: fmt.Sprintf("127.0.0.1:%d (%s) is in use", p.port, p.what), Fix: "free the port, or change " + p.field})
			continue
		}
		l.Close()
		add(Check{Name: "port " + strconv.Itoa(p.port), Status: OK, Detail: fmt.Sprintf("127.0.0.1:%d is free (%s)", p.port, p.what)})
	}

	// inotify limits.
	for _, lim := range []struct {
		name string
		min  int
	}{{"max_user_watches", 524288}, {"max_user_instances", 512}} {
		data, err := env.ReadFile("/proc/sys/fs/inotify/" + lim.name)
		if err != nil {
			continue
		}
		v, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		c := Check{Name: "inotify " + lim.name, Status: OK, Detail: strconv.Itoa(v)}
		if v < lim.min {
			c.Status, c.Detail = Warn, fmt.Sprintf("%d, below %d: clusters with many pods fail with \"too many open files\"", v, lim.min)
			c.Fix = fmt.Sprintf("sysctl -w fs.inotify.%s=%d", lim.name, lim.min)
		}
		add(c)
	}

	// Cluster subnets against host routes.
	routes := hostRoutes(env.ReadFile)
	for _, s := range []struct{ name, cidr string }{{"pod subnet", st.Cluster.Networking.PodSubnet}, {"service subnet", st.Cluster.Networking.ServiceSubnet}} {
		p, err := netip.ParsePrefix(s.cidr)
		if err != nil {
			continue
		}
		c := Check{Name: s.name, Status: OK, Detail: s.cidr + " clashes with no host route"}
		for _, r := range routes {
			if r.prefix.Overlaps(p) {
				c.Status = Fail
				c.Detail = fmt.Sprintf("%s overlaps the host route %s via %s", s.cidr, r.prefix, r.iface)
				c.Fix = "pick another " + s.name + " in cluster.networking"
				break
			}
		}
		add(c)
	}

	// cgroup version.
	if _, err := env.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		add(Check{Name: "cgroup", Status: OK, Detail: "cgroup v2"})
	} else {
		c := Check{Name: "cgroup", Status: OK, Detail: "cgroup v1"}
		if minor(st.Cluster.KubernetesVersion) >= 35 {
			c.Status = Warn
			c.Detail = "cgroup v1: the kubelet of Kubernetes 1.35 and later refuses it unless its node image sets failCgroupV1: false"
			c.Fix = "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or use a node image configured for cgroup v1"
		}
		add(c)
	}
	return r
}

type hostPort struct {
	port        int
	what, field string
}

func hostPorts(st *stack.Stack) []hostPort {
	var out []hostPort
	if in := st.Ingress; in != nil {
		out = append(out, hostPort{in.HostPorts.HTTP, "ingress http", "ingress.hostPorts.http"}, hostPort{in.HostPorts.HTTPS, "ingress https", "ingress.hostPorts.https"})
	}
	if r := st.Cluster.Registry; r != nil {
		out = append(out, hostPort{r.HostPort, "local registry", "cluster.registry.hostPort"})
	}
	if p := st.Cluster.Networking.APIServerPort; p != 0 {
		out = append(out, hostPort{p, "API server", "cluster.networking.apiServerPort"})
	}
	for _, m := range st.Cluster.PortMappings {
		if m.Protocol == "" || m.Protocol == "TCP" {
			out = append(out, hostPort{m.HostPort, "port mapping", "cluster.portMappings"})
		}
	}
	return out
}

type route struct {
	prefix netip.Prefix
	iface  string
}

// hostRoutes reads the IPv4 routes that send traffic somewhere: not the
// default route, and not blackhole or unreachable routes.
func hostRoutes(read func(string) ([]byte, error)) []route {
	data, err := read("/proc/net/route")
	if err != nil {
		return nil
	}
	var out []route
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		flags, err2 := strconv.ParseUint(f[3], 16, 32)
		mask, err3 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || mask == 0 || f[0] == "*" || flags&0x0200 != 0 {
			continue
		}
		var d, m [4]byte
		binary.LittleEndian.PutUint32(d[:], uint32(dst))
		binary.LittleEndian.PutUint32(m[:], uint32(mask))
		ones, _ := net.IPMask(m[:]).Size()
		out = append(out, route{netip.PrefixFrom(netip.AddrFrom4(d), ones), f[0]})
	}
	return out
}

func minor(version string) int {
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// runtimeChecks are what the runtime itself means for the stack: a
// rootless podman cannot publish host ports below 1024, and a runtime on
// another host (DOCKER_HOST or CONTAINER_HOST over tcp or ssh) publishes
// the API server and the ingress there, not on this machine's loopback.
func runtimeChecks(ctx context.Context, st *stack.Stack, env Env) []Check {
	var out []Check
	if env.Runtime == "podman" {
		if rootless, err := env.RuntimeInfo(ctx, "{{.Host.Security.Rootless}}"); err == nil && strings.TrimSpace(rootless) == "true" {
			c := Check{Name: "rootless podman", Status: OK, Detail: "rootless: no host port below 1024 can be published"}
			for _, p := range hostPorts(st) {
				if p.port < 1024 {
					c.Status = Fail
					c.Detail = fmt.Sprintf("rootless podman cannot publish host port %d (%s)", p.port, p.what)
					c.Fix = "set " + p.field + " to a port from 1024 up (8080 and 8443 for the ingress), or run podman as root"
					break
				}
			}
			out = append(out, c)
		}
	}
	host, from := env.EngineHost, "the current Docker context"
	for _, k := range []string{"DOCKER_HOST", "CONTAINER_HOST"} {
		v := env.Getenv(k)
		if v == "" || strings.HasPrefix(v, "unix://") || strings.HasPrefix(v, "npipe://") {
			continue
		}
		if u, err := url.Parse(v); err == nil && u.Hostname() != "" && (host == "" || host == u.Hostname()) {
			host, from = u.Hostname(), k+"="+v
			break
		}
	}
	if host != "" {
		c := Check{Name: "runtime host", Status: OK,
			Detail: fmt.Sprintf("%s: the engine runs on %s; kindred points the kubeconfig there", from, host)}
		if addr, err := netip.ParseAddr(st.Cluster.Networking.APIServerAddress); err != nil || addr.IsLoopback() {
			c.Status = Fail
			c.Detail = fmt.Sprintf("%s: the engine runs on %s and would publish the API server on that machine's loopback, which this one cannot reach", from, host)
			c.Fix = "set cluster.networking.apiServerAddress: 0.0.0.0 (that machine then serves the API, with its client certificates, on its network), or run kindred there"
		}
		out = append(out, c)
	}
	return out
}
