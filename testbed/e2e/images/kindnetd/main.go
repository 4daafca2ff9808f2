// Command kindnetd is the e2e node image's minimal CNI daemon, standing in
// for kind's kindnetd, whose image cannot be pulled here. On every node it
//
//   - writes a CNI config list that gives pods addresses from the node's
//     podCIDR (ptp + host-local, portmap for hostPorts), and
//   - keeps one route per other node: that node's podCIDR via its
//     InternalIP.
//
// It runs with host networking as a DaemonSet.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const confPath = "/etc/cni/net.d/10-kindnet.conflist"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	nodeName := os.Getenv("NODE_NAME")
	if nodeName == "" {
		return fmt.Errorf("NODE_NAME is not set")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	// kind patches in the API server's node address, so the daemon does not
	// wait for kube-proxy to make the service address work.
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		if err := sync(ctx, client, nodeName); err != nil {
			log.Printf("sync: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func sync(ctx context.Context, client kubernetes.Interface, self string) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Spec.PodCIDR == "" {
			continue
		}
		if n.Name == self {
			if err := writeConf(n.Spec.PodCIDR); err != nil {
				return err
			}
			continue
		}
		ip := internalIP(n)
		if ip == nil {
			continue
		}
		_, dst, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: ip}); err != nil {
			return fmt.Errorf("route %s via %s: %w", dst, ip, err)
		}
	}
	return nil
}

func internalIP(n *corev1.Node) net.IP {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip := net.ParseIP(a.Address); ip != nil && ip.To4() != nil {
				return ip
			}
		}
	}
	return nil
}

// writeConf writes the CNI config for podCIDR, atomically and only when it
// changed, so the runtime never reads half a file.
func writeConf(podCIDR string) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type": "ptp",
				"mtu":  1500,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(confPath); err == nil && string(old) == string(b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(confPath), 0o755); err != nil {
		return err
	}
	tmp := confPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, confPath)
}
