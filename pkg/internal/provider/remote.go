package provider

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// EngineHost is the machine a container engine runs on when it is not
// this one: the host of DOCKER_HOST (docker, nerdctl) or CONTAINER_HOST
// (podman), else, for docker, of the current context's endpoint. It is
// "" for a local socket (unix://, npipe://), as Docker Desktop, Colima,
// OrbStack and podman machine provide.
func EngineHost(ctx context.Context, runtime string, getenv func(string) string) string {
	endpoint := getenv("DOCKER_HOST")
	if runtime == "podman" {
		endpoint = getenv("CONTAINER_HOST")
	}
	if endpoint == "" && runtime == "docker" && getenv("DOCKER_CONTEXT") != "default" {
		out, err := exec.CommandContext(ctx, "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}").Output()
		if err == nil {
			endpoint = strings.TrimSpace(string(out))
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssh" && u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return ""
	}
	return host
}

// pointAtEngine rewrites the kubeconfig's API server addresses that name
// this machine (loopback, or 0.0.0.0) to host, where the engine publishes
// them. The file stays 0600.
func pointAtEngine(kubeconfig, host string) error {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return err
	}
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			continue
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			u.Host = net.JoinHostPort(host, u.Port())
			c.Server = u.String()
			// The API server's certificate names the loopback address
			// and the node, not the engine's host.
			c.TLSServerName = "localhost"
		}
	}
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		return err
	}
	return os.Chmod(kubeconfig, 0o600)
}
