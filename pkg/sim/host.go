package sim

import (
	"log/slog"

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

	egress *egress
}

func (c *Cluster) newHost() (*Host, error) {
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
	return &Host{Config: cfg, Kube: kc, Dynamic: dc, Log: c.log, egress: &egress{kube: kc, log: c.log}}, nil
}

// ServePods plays what listens in some pods: the API server's connections
// to them (a service webhook, an aggregated API) reach s.
func (h *Host) ServePods(s PodServer) { h.egress.add(s) }
