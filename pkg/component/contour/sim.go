package contour

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/pkg/sim"
)

// On the simulated cluster the real Contour controller (built from its Go
// module by `make testbed`) runs while Contour's own pod does: it reads the
// cluster's HTTPProxies, Services and Secrets and writes their status, so
// a route to a missing Service or with a bad TLS reference is invalid as
// on a real cluster. It serves xDS on loopback to nobody: Envoy cannot run
// here, so no traffic is proxied.

const process = "contour"

// ControllerVersion is the Contour controller the simulated cluster runs:
// built on first use from its Go module (and by `make testbed`, whose
// testbed/contour/go.mod pins the same).
const ControllerVersion = "v1.33.8"

// controllerBinary is how the controller is built.
var controllerBinary = sim.GoBinary{Name: process, Module: "github.com/projectcontour/contour", Version: ControllerVersion,
	Package: "github.com/projectcontour/contour/cmd/contour", LDFlags: "-s -w"}

// playContour keeps the contour process in step with Contour's pod.
func playContour(ctx context.Context, h *sim.Host) error {
	said := ""
	for {
		if err := runContour(ctx, h); err != nil && ctx.Err() == nil && err.Error() != said {
			h.Log.Warn("simulated contour", "err", err)
			said = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func runContour(ctx context.Context, h *sim.Host) error {
	pod, ok := contourPod(ctx, h)
	if !ok {
		return h.Stop(process)
	}
	if h.Running(process) {
		return nil
	}
	cfg, err := contourConfig(ctx, h, pod)
	if err != nil {
		return err
	}
	ports, err := h.FreePorts(4)
	if err != nil {
		return err
	}
	args := []string{"serve",
		"--kubeconfig=" + h.Kubeconfig(),
		"--xds-address=127.0.0.1", fmt.Sprintf("--xds-port=%d", ports[0]), "--insecure",
		"--http-address=127.0.0.1", fmt.Sprintf("--http-port=%d", ports[1]),
		"--health-address=127.0.0.1", fmt.Sprintf("--health-port=%d", ports[2]),
		"--debug-http-address=127.0.0.1", fmt.Sprintf("--debug-http-port=%d", ports[3]),
		"--disable-leader-election",
		"--envoy-service-namespace=" + pod.Namespace,
	}
	if cfg != "" {
		args = append(args, "--config-path="+cfg)
	}
	h.Log.Info("simulated cluster: running the Contour controller", "namespace", pod.Namespace)
	return h.Start(process, controllerBinary.Name, args...)
}

// contourPod is a running pod of Contour's controller Deployment (its
// release manifests label it app=contour).
func contourPod(ctx context.Context, h *sim.Host) (*corev1.Pod, bool) {
	pods, err := h.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app=contour"})
	if err != nil {
		return nil, false
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && isContourServe(p) {
			return p, true
		}
	}
	return nil, false
}

func isContourServe(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if len(c.Args) > 0 && c.Args[0] == "serve" {
			return true
		}
	}
	return false
}

// contourConfig writes the configuration the pod mounts (--config-path,
// from its ConfigMap) into the cluster's folder; "" when it has none.
func contourConfig(ctx context.Context, h *sim.Host, pod *corev1.Pod) (string, error) {
	var cfgPath string
	var mount string
	for _, c := range pod.Spec.Containers {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--config-path="); ok {
				cfgPath = v
			}
		}
		for _, m := range c.VolumeMounts {
			if cfgPath != "" && strings.HasPrefix(cfgPath, strings.TrimSuffix(m.MountPath, "/")+"/") {
				mount = m.Name
			}
		}
	}
	if cfgPath == "" || mount == "" {
		return "", nil
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name != mount || v.ConfigMap == nil {
			continue
		}
		cm, err := h.Kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		data := cm.Data[filepath.Base(cfgPath)]
		out := filepath.Join(h.Dir, "contour-config.yaml")
		if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, []byte(data)) {
			return out, nil
		}
		return out, os.WriteFile(out, []byte(data), 0o600)
	}
	return "", nil
}
