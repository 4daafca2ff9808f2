// Package registry runs kindred's local image registry and its pull-through
// caches as containers beside the kind nodes, and says how a node's
// containerd reaches them.
//
// There is one local registry and one cache per upstream on a machine, and
// every kindred cluster shares them: a second cluster pulls nothing again.
// Each cache has an offline face (see Offline) that serves what the cache
// holds without asking the upstream. All of them listen on 127.0.0.1 only;
// nodes reach them by container name on the kind network.
package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultImage is the registry image, the CNCF distribution registry. Set
// KINDRED_REGISTRY_IMAGE to use another, such as one built locally.
const DefaultImage = "docker.io/library/registry:3"

// LocalName is the local registry's container and volume name.
const LocalName = "kindred-registry"

// Label marks every container and volume this package creates.
const Label = "dev.kindred.registry"

// containerPort is where the registry listens inside its container.
const containerPort = 5000

// Upstreams maps the registry hosts kindred can cache to their endpoints.
var Upstreams = map[string]string{
	"docker.io":       "https://registry-1.docker.io",
	"registry.k8s.io": "https://registry.k8s.io",
	"quay.io":         "https://quay.io",
	"ghcr.io":         "https://ghcr.io",
}

// Container is one registry container: the local registry, a
// pull-through cache of one upstream, or a cache's offline face.
type Container struct {
	Name     string
	Image    string
	HostPort int    // bound on 127.0.0.1; 0 publishes a cache or face on a free loopback port, and the local registry on none
	Host     string // for a cache: the upstream host it mirrors, like docker.io
	Upstream string // for a cache: the upstream's endpoint
	Volume   string // named volume with the registry's data
	// ReadOnly marks a cache's offline face (see Offline): it mounts the
	// cache's volume read-only and has no upstream.
	ReadOnly bool
}

// Local is the local registry on 127.0.0.1:hostPort.
func Local(hostPort int) Container {
	return Container{Name: LocalName, Image: Image(), HostPort: hostPort, Volume: LocalName}
}

// Cache is the pull-through cache of host, one of Upstreams; for other hosts
// the endpoint is https://host.
func Cache(host string) Container {
	up, ok := Upstreams[host]
	if !ok {
		up = "https://" + host
	}
	name := "kindred-cache-" + strings.NewReplacer(":", "-").Replace(host)
	return Container{Name: name, Image: Image(), Host: host, Upstream: up, Volume: name}
}

// Offline is the offline face of cache c: a plain registry over c's
// volume, mounted read-only, that answers with what the cache holds and
// never asks the upstream. The cache itself asks the upstream what a tag
// points at on every pull by tag, even when it holds the image; nodes ask
// the offline face first, so a warm cache costs the upstream nothing, and
// fall through to the cache for what it does not hold. How fresh the held
// tags are is Prefetch's business (see Warm.TagTTL).
func Offline(c Container) Container {
	return Container{Name: c.Name + "-offline", Image: c.Image, Host: c.Host, Volume: c.Volume, ReadOnly: true}
}

// Image is the registry image in use.
func Image() string {
	if img := os.Getenv("KINDRED_REGISTRY_IMAGE"); img != "" {
		return img
	}
	return DefaultImage
}

// Endpoint is how a node reaches c on the kind network.
func (c Container) Endpoint() string { return fmt.Sprintf("http://%s:%d", c.Name, containerPort) }

// Runtime drives registry containers with a docker-compatible CLI (docker,
// podman or nerdctl).
type Runtime struct {
	Bin string
}

// ErrImage means the registry image is not on the machine and could not be
// pulled.
var ErrImage = errors.New("registry image unavailable")

// Ensure makes c run: it creates it, starts it when stopped, or leaves it
// be. changed reports whether anything was done.
func (r Runtime) Ensure(ctx context.Context, c Container) (changed bool, err error) {
	state, err := r.state(ctx, c.Name)
	if err != nil {
		return false, err
	}
	if state != "" && c.HostPort != 0 {
		if err := r.checkPort(ctx, c); err != nil {
			return false, err
		}
	}
	switch state {
	case "running":
		return false, nil
	case "":
		return true, r.create(ctx, c)
	default:
		if _, err := r.run(ctx, "start", c.Name); err != nil {
			return false, fmt.Errorf("starting registry container %s: %w", c.Name, err)
		}
		return true, nil
	}
}

// ErrPortTaken means the shared registry container exists with another host
// port than the stack asks for.
var ErrPortTaken = errors.New("the local registry is published on another port")

// checkPort compares the existing container's published port with c's.
func (r Runtime) checkPort(ctx context.Context, c Container) error {
	out, err := r.run(ctx, "inspect", "--format", `{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIP}}:{{.HostPort}} {{end}}{{end}}`, c.Name)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", c.Name, err)
	}
	want := fmt.Sprintf("127.0.0.1:%d", c.HostPort)
	have := strings.TrimSpace(out)
	if have != want {
		return fmt.Errorf("%w: %s, shared by every kindred cluster on this machine, is published on %q, and the stack asks for %s; set cluster.registry.hostPort to match, or remove it with `kindred down --purge` once no cluster uses it",
			ErrPortTaken, c.Name, have, want)
	}
	return nil
}

func (r Runtime) create(ctx context.Context, c Container) error {
	if _, err := r.run(ctx, "image", "inspect", c.Image); err != nil {
		if _, perr := r.run(ctx, "pull", c.Image); perr != nil {
			return fmt.Errorf("%w: %s is not on this machine and pulling it failed (%v); pull or build it, or set KINDRED_REGISTRY_IMAGE", ErrImage, c.Image, perr)
		}
	}
	mount := c.Volume + ":/var/lib/registry"
	if c.ReadOnly {
		mount += ":ro"
	}
	args := []string{"run", "-d", "--name", c.Name, "--restart", "unless-stopped",
		"--label", Label + "=" + c.Name,
		"-v", mount,
		// The registry exports traces to an OpenTelemetry collector on
		// localhost unless told not to, and logs each failed export.
		"-e", "OTEL_TRACES_EXPORTER=none"}
	switch {
	case c.HostPort != 0:
		args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:%d", c.HostPort, containerPort))
	case c.Upstream != "" || c.ReadOnly:
		// A cache and its offline face get a free loopback port, so
		// kindred can warm the one and ask the other what it holds.
		args = append(args, "-p", fmt.Sprintf("127.0.0.1::%d", containerPort))
	}
	if c.Upstream != "" {
		args = append(args, "-e", "REGISTRY_PROXY_REMOTEURL="+c.Upstream)
	}
	if c.ReadOnly {
		// Nothing to purge and nothing to accept: the volume is the cache's.
		// And no memory of what it held: the cache deletes what it has kept
		// for a week, and the face must not answer for it after.
		args = append(args, "-e", "REGISTRY_STORAGE_MAINTENANCE={uploadpurging: {enabled: false}, readonly: {enabled: true}}",
			"-e", "REGISTRY_STORAGE_CACHE={}")
	}
	args = append(args, c.Image)
	// A cache's offline face mounts the cache's volume, whichever of the
	// two is created first; the volume is labelled with its own name, and
	// created only when missing (podman refuses to create it twice).
	if _, err := r.run(ctx, "volume", "inspect", c.Volume); err != nil {
		if _, err := r.run(ctx, "volume", "create", "--label", Label+"="+c.Volume, c.Volume); err != nil {
			return fmt.Errorf("creating volume %s: %w", c.Volume, err)
		}
	}
	if _, err := r.run(ctx, args...); err != nil {
		// Leave nothing half-made: a container that failed to start would
		// hold the name and the port.
		_, _ = r.run(context.WithoutCancel(ctx), "rm", "-f", c.Name)
		return fmt.Errorf("creating registry container %s: %w", c.Name, err)
	}
	return nil
}

// HostAddr is where c answers on this machine, 127.0.0.1:port.
func (r Runtime) HostAddr(ctx context.Context, c Container) (string, error) {
	out, err := r.run(ctx, "port", c.Name, fmt.Sprintf("%d/tcp", containerPort))
	if err != nil {
		return "", fmt.Errorf("%s publishes no port: %w", c.Name, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "127.0.0.1:") {
			return l, nil
		}
	}
	return "", fmt.Errorf("%s is not published on 127.0.0.1 (%s)", c.Name, strings.TrimSpace(out))
}

// Connect attaches c to network (kind's "kind"), unless it already is.
func (r Runtime) Connect(ctx context.Context, c Container, network string) error {
	out, err := r.run(ctx, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", c.Name)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", c.Name, err)
	}
	for _, n := range strings.Fields(out) {
		if n == network {
			return nil
		}
	}
	if _, err := r.run(ctx, "network", "connect", network, c.Name); err != nil {
		return fmt.Errorf("connecting %s to network %s: %w", c.Name, network, err)
	}
	return nil
}

// NetworkExists reports whether the container network exists.
func (r Runtime) NetworkExists(ctx context.Context, network string) bool {
	_, err := r.run(ctx, "network", "inspect", network)
	return err == nil
}

// Remove deletes c's container and, with volume, its data. An offline
// face's data is its cache's: removing the face leaves it.
func (r Runtime) Remove(ctx context.Context, c Container, volume bool) error {
	if _, err := r.run(ctx, "rm", "-f", c.Name); err != nil && !isMissing(err) {
		return fmt.Errorf("removing %s: %w", c.Name, err)
	}
	if volume && !c.ReadOnly {
		if _, err := r.run(ctx, "volume", "rm", "-f", c.Volume); err != nil && !isMissing(err) {
			return fmt.Errorf("removing volume %s: %w", c.Volume, err)
		}
	}
	return nil
}

// List returns the names of the registry containers this package made.
func (r Runtime) List(ctx context.Context) ([]string, error) {
	out, err := r.run(ctx, "ps", "-a", "--filter", "label="+Label, "--format", "{{.Names}}")
	if err != nil {
		return nil, err
	}
	names := strings.Fields(out)
	sort.Strings(names)
	return names, nil
}

// Running reports whether a container called name runs.
func (r Runtime) Running(ctx context.Context, name string) (bool, error) {
	s, err := r.state(ctx, name)
	return s == "running", err
}

// state is the container's status, or "" when there is none.
func (r Runtime) state(ctx context.Context, name string) (string, error) {
	out, err := r.run(ctx, "ps", "-a", "--filter", "name=^/?"+name+"$", "--format", "{{.State}}")
	if err != nil {
		return "", fmt.Errorf("asking %s about %s: %w", r.Bin, name, err)
	}
	return strings.TrimSpace(out), nil
}

func (r Runtime) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, r.Bin, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return string(out), fmt.Errorf("%s %s: %s", r.Bin, args[0], msg)
	}
	return string(out), nil
}

func isMissing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "No such") || strings.Contains(s, "no such")
}

// HostsFile is one containerd hosts.toml, at Dir/hosts.toml under
// /etc/containerd/certs.d on every node.
type HostsFile struct {
	Dir     string
	Content string
}

// HostsFiles wire the local registry as localhost:<port> and each cache as
// the mirror of its upstream: its offline face first, which answers with
// what the cache holds (a 404 for the rest makes containerd try the next
// host), then the cache, then the upstream itself.
func HostsFiles(local *Container, caches []Container) []HostsFile {
	var out []HostsFile
	if local != nil {
		out = append(out, HostsFile{
			Dir: fmt.Sprintf("localhost:%d", local.HostPort),
			Content: fmt.Sprintf("# kindred: the local registry\n[host.%q]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n",
				local.Endpoint()),
		})
	}
	for _, c := range caches {
		host := c.Host
		out = append(out, HostsFile{
			Dir: host,
			Content: fmt.Sprintf("# kindred: pull-through cache of %s, asked after its offline face\nserver = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n",
				host, c.Upstream, Offline(c).Endpoint(), c.Endpoint()),
		})
	}
	return out
}

// HostingConfigMap is the KEP-1755 local-registry-hosting ConfigMap, which
// tells tools (Tilt, Skaffold, ko) where to push images for this cluster.
func HostingConfigMap(hostPort int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "local-registry-hosting", Namespace: "kube-public"},
		Data: map[string]string{
			"localRegistryHosting.v1": fmt.Sprintf(
				"host: \"localhost:%d\"\nhostFromContainerRuntime: \"%s:%d\"\nhostFromClusterNetwork: \"%s:%d\"\nhelp: \"https://kindred.dev/docs/registry\"\n",
				hostPort, LocalName, containerPort, LocalName, containerPort),
		},
	}
}
