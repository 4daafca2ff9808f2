package sim

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Host is what a controller played in Go works with.
type Host struct {
	// Config is an admin client configuration for the cluster.
	Config *rest.Config
	// Kube and Dynamic are clients built from Config.
	Kube    *kubernetes.Clientset
	Dynamic *dynamic.DynamicClient
	Log     *slog.Logger

	// Dir is the cluster's folder, for a played controller's files.
	Dir string

	egress *egress
	c      *Cluster
	bins   binaries
}

func (c *Cluster) newHost(bins binaries) (*Host, error) {
	cfg := rest.CopyConfig(c.rest)
	cfg.QPS, cfg.Burst = 50, 100
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Host{Config: cfg, Kube: kc, Dynamic: dc, Log: c.log, Dir: c.Dir, egress: &egress{kube: kc, log: c.log}, c: c, bins: bins}, nil
}

// ServePods plays what listens in some pods: the API server's connections
// to them (a service webhook, an aggregated API) reach s.
func (h *Host) ServePods(s PodServer) { h.egress.add(s) }

// Kubeconfig is the path of the cluster's admin kubeconfig.
func (h *Host) Kubeconfig() string { return h.c.Kubeconfig }

// Running reports whether the cluster's process name runs.
func (h *Host) Running(name string) bool { return h.c.playing(name) }

// Start runs the test bed's binary of that name as the cluster's process
// name, with args, unless it runs already. The process joins the
// cluster's process group, so it lives and dies with the cluster, and
// logs to the cluster's logs folder.
func (h *Host) Start(name, binary string, args ...string) error {
	if h.c.playing(name) {
		return nil
	}
	if info, err := os.Stat(h.bins.path(binary)); err != nil || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not in %s; it is built on first use unless %s is set (then build it there, with make testbed)", ErrNoBinaries, binary, h.bins.dir, BinariesEnv)
	}
	if err := h.c.group.start(name, h.bins.path(binary), args...); err != nil {
		return err
	}
	return os.WriteFile(h.c.pidFile(name), []byte(strconv.Itoa(h.c.group.procs[name].Process.Pid)), 0o600)
}

// Stop ends the cluster's process name, if it runs.
func (h *Host) Stop(name string) error {
	b, err := os.ReadFile(h.c.pidFile(name))
	if err != nil {
		return nil
	}
	defer os.Remove(h.c.pidFile(name))
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !h.c.playing(name) {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	return p.Kill()
}

// FreePorts finds n free ports on 127.0.0.1.
func (h *Host) FreePorts(n int) ([]int, error) { return freePorts(n) }
