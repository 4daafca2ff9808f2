package kind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kindred.dev/kindred/internal/doctor"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// Runtimes kind can drive.
const (
	RuntimeDocker  = "docker"
	RuntimePodman  = "podman"
	RuntimeNerdctl = "nerdctl"
)

// ErrNoRuntime means no container runtime answers.
var ErrNoRuntime = errors.New("no container runtime answers")

// DetectRuntime returns want if set, else the first of docker, podman and
// nerdctl whose engine answers. kind's own detection lives in an internal
// package, so kindred has its own.
func DetectRuntime(ctx context.Context, want string) (string, error) {
	candidates := []string{RuntimeDocker, RuntimePodman, RuntimeNerdctl}
	if want != "" {
		candidates = []string{want}
	}
	var tried []string
	for _, rt := range candidates {
		if _, err := exec.LookPath(rt); err != nil {
			tried = append(tried, rt+": not installed")
			continue
		}
		out, err := exec.CommandContext(ctx, rt, "info", "--format", doctor.InfoFormat(rt).Version).CombinedOutput()
		if err == nil {
			return rt, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %s", rt, firstLine(string(out))))
	}
	return "", fmt.Errorf("%w (%s)", ErrNoRuntime, strings.Join(tried, "; "))
}

// Clusters creates and deletes kind clusters with one runtime.
type Clusters struct {
	Runtime string
	p       *cluster.Provider
	log     *slog.Logger
	phases  *phases
}

// phases passes kind's own steps (ensuring the node image, preparing the
// nodes, starting the control plane, …) on as a run's progress.
type phases struct {
	mu sync.Mutex
	fn func(string)
	// heard, if set, gets every line kind logs at its default level.
	heard func(string)
}

// say passes on one of kind's status lines, " • Preparing nodes 📦  ...".
func (p *phases) say(m string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	fn, heard := p.fn, p.heard
	p.mu.Unlock()
	m = strings.TrimSpace(m)
	if heard != nil {
		heard(m)
	}
	phase, ok := strings.CutPrefix(m, "• ")
	if fn == nil || !ok {
		return
	}
	phase = strings.TrimSpace(strings.TrimSuffix(phase, "..."))
	// kind decorates each phase with an emoji; the words are enough.
	phase = strings.TrimRightFunc(phase, func(r rune) bool { return r > 0x2000 || r == ' ' || r == '\ufe0f' })
	fn("kind: " + phase)
}

// OnPhase sends kind's phases (while Create runs) to fn.
func (c *Clusters) OnPhase(fn func(string)) {
	c.phases.mu.Lock()
	defer c.phases.mu.Unlock()
	c.phases.fn = fn
}

// New returns a kind client for runtime (docker, podman or nerdctl).
func New(runtime string, log *slog.Logger) (*Clusters, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ph := &phases{}
	opts := []cluster.ProviderOption{cluster.ProviderWithLogger(slogLogger{log, ph})}
	switch runtime {
	case RuntimeDocker:
		opts = append(opts, cluster.ProviderWithDocker())
	case RuntimePodman:
		opts = append(opts, cluster.ProviderWithPodman())
	case RuntimeNerdctl:
		opts = append(opts, cluster.ProviderWithNerdctl("nerdctl"))
	default:
		return nil, fmt.Errorf("unknown container runtime %q: want docker, podman or nerdctl", runtime)
	}
	return &Clusters{Runtime: runtime, p: cluster.NewProvider(opts...), log: log, phases: ph}, nil
}

// Exists reports whether a kind cluster called name exists.
func (c *Clusters) Exists(name string) (bool, error) {
	names, err := c.NodeNames(name)
	return len(names) > 0, err
}

// NodeNames lists the names of cluster name's node containers.
func (c *Clusters) NodeNames(name string) ([]string, error) {
	nodes, err := c.p.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("listing the nodes of kind cluster %s: %w", name, err)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.String()
	}
	return names, nil
}

// Create creates the cluster cfg describes and writes its kubeconfig to the
// private path kubeconfig (0600), never into ~/.kube/config. It does not
// wait for nodes to be Ready: with a CNI other than kindnet they stay
// NotReady until its step. kind's API takes no context, so when ctx ends first Create waits for
// kind to return and then deletes what it half-created.
func (c *Clusters) Create(ctx context.Context, cfg *v1alpha4.Cluster, kubeconfig string) error {
	done := make(chan error, 1)
	go func() {
		done <- c.p.Create(cfg.Name,
			cluster.CreateWithV1Alpha4Config(cfg),
			cluster.CreateWithKubeconfigPath(kubeconfig),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
			cluster.CreateWithRetain(false))
	}()
	select {
	case err := <-done:
		if err != nil {
			return c.explain(cfg, err)
		}
		return os.Chmod(kubeconfig, 0o600)
	case <-ctx.Done():
		c.log.Info("cancelled while kind creates the cluster; waiting to clean up", "cluster", cfg.Name)
		<-done
		if err := c.p.Delete(cfg.Name, kubeconfig); err != nil {
			return fmt.Errorf("%w; removing the half-created cluster %s: %v", ctx.Err(), cfg.Name, err)
		}
		return ctx.Err()
	}
}

// explain adds what the user can do to kind's errors.
func (c *Clusters) explain(cfg *v1alpha4.Cluster, err error) error {
	images := map[string]bool{}
	for _, n := range cfg.Nodes {
		images[n.Image] = true
	}
	var list []string
	for img := range images {
		list = append(list, img)
	}
	msg := err.Error() // kind's own words, without the command's output
	err = withOutput(err)
	if strings.Contains(msg, "pull") || strings.Contains(msg, "image") {
		return fmt.Errorf("creating kind cluster %s: the node image %s could not be used (%v); pull it with `%s pull` where a registry is reachable, or build one locally and set it with --node-image",
			cfg.Name, strings.Join(list, ", "), firstLine(err.Error()), c.Runtime)
	}
	return fmt.Errorf("creating kind cluster %s with node image %s: %w", cfg.Name, strings.Join(list, ", "), err)
}

// Delete deletes the cluster; an absent one is no error.
func (c *Clusters) Delete(name, kubeconfig string) error {
	_, err := c.Remove(name, kubeconfig)
	return err
}

// Remove is Delete, and reports whether kind found node containers to
// delete (it says so in its log: "Deleted nodes: [...]"), which spares a
// listing of its own.
func (c *Clusters) Remove(name, kubeconfig string) (bool, error) {
	var deleted atomic.Bool
	c.phases.mu.Lock()
	c.phases.heard = func(m string) {
		if strings.HasPrefix(m, "Deleted nodes:") {
			deleted.Store(true)
		}
	}
	c.phases.mu.Unlock()
	defer func() {
		c.phases.mu.Lock()
		c.phases.heard = nil
		c.phases.mu.Unlock()
	}()
	err := withOutput(c.p.Delete(name, kubeconfig))
	if err != nil && strings.Contains(err.Error(), "did not receive an exit event") {
		// On cgroup v1 a task in a frozen cgroup cannot die. A node killed
		// while its own runc had a pod's cgroup frozen stays up for good.
		return deleted.Load(), fmt.Errorf("deleting kind cluster %s: %w; on cgroup v1 hosts this happens when a node is killed while it starts a container, which leaves that container's cgroup frozen: thaw it (echo THAWED into each FROZEN freezer.state under /sys/fs/cgroup/freezer/docker/NODE-ID/) and delete again", name, err)
	}
	return deleted.Load(), err
}

// withOutput adds to err what the command kind ran printed, which kind's
// errors leave out of their message.
func withOutput(err error) error {
	if err == nil {
		return nil
	}
	if re := kindexec.RunErrorForError(err); re != nil {
		if out := strings.TrimSpace(string(re.Output)); out != "" {
			lines := strings.Split(out, "\n")
			if len(lines) > 5 {
				lines = lines[len(lines)-5:]
			}
			return fmt.Errorf("%w: %s", err, strings.Join(lines, " / "))
		}
	}
	return err
}

// WriteKubeconfig writes the cluster's admin kubeconfig to path, 0600.
func (c *Clusters) WriteKubeconfig(name, path string) error {
	if err := c.p.ExportKubeConfig(name, path, false); err != nil {
		return fmt.Errorf("writing the kubeconfig of %s: %w", name, err)
	}
	return os.Chmod(path, 0o600)
}

// Nodes lists the cluster's node containers and whether each runs.
func (c *Clusters) Nodes(ctx context.Context, name string) (map[string]bool, error) {
	names, err := c.NodeNames(name)
	if err != nil || len(names) == 0 {
		return map[string]bool{}, err
	}
	out := map[string]bool{}
	args := append([]string{"inspect", "--format", "{{.State.Running}}"}, names...)
	states, err := exec.CommandContext(ctx, c.Runtime, args...).Output()
	if err != nil {
		return nil, fmt.Errorf("inspecting nodes %s: %w", strings.Join(names, ", "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(states)), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("inspecting nodes %s: %d states for %d nodes", strings.Join(names, ", "), len(lines), len(names))
	}
	for i, n := range names {
		out[n] = strings.TrimSpace(lines[i]) == "true"
	}
	return out, nil
}

// StartNodes starts node containers that are stopped.
func (c *Clusters) StartNodes(ctx context.Context, name string) (int, error) {
	nodes, err := c.Nodes(ctx, name)
	if err != nil {
		return 0, err
	}
	started := 0
	for _, n := range nodeOrder(nodes, true) {
		if nodes[n] {
			continue
		}
		if out, err := exec.CommandContext(ctx, c.Runtime, "start", n).CombinedOutput(); err != nil {
			return started, fmt.Errorf("starting node %s: %v: %s", n, err, firstLine(string(out)))
		}
		started++
	}
	return started, nil
}

// StopNodes stops the cluster's running node containers, workers first,
// and keeps them and their disks; StartNodes starts them again. It
// returns how many it stopped.
func (c *Clusters) StopNodes(ctx context.Context, name string) (int, error) {
	nodes, err := c.Nodes(ctx, name)
	if err != nil {
		return 0, err
	}
	stopped := 0
	for _, n := range nodeOrder(nodes, false) {
		if !nodes[n] {
			continue
		}
		if err := c.stopNode(ctx, n); err != nil {
			return stopped, err
		}
		stopped++
	}
	return stopped, nil
}

// stopNode shuts a node down as its init (systemd) expects: SIGRTMIN+3,
// the signal kind's node image declares for stopping, which runtimes
// without `stop --signal` cannot send through stop; then stop, which
// kills what is left after a grace.
func (c *Clusters) stopNode(ctx context.Context, n string) error {
	if out, err := exec.CommandContext(ctx, c.Runtime, "kill", "--signal", "SIGRTMIN+3", n).CombinedOutput(); err == nil {
		// systemd stops its units in order; what has not stopped in 15 s
		// (a kubelet draining, containerd's shims) is what stop kills.
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			state, err := exec.CommandContext(ctx, c.Runtime, "inspect", "--format", "{{.State.Running}}", n).Output()
			if err == nil && strings.TrimSpace(string(state)) == "false" {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	} else {
		c.log.Debug("signalling node to stop", "node", n, "err", firstLine(string(out)))
	}
	if out, err := exec.CommandContext(ctx, c.Runtime, "stop", "--time", "5", n).CombinedOutput(); err != nil {
		return fmt.Errorf("stopping node %s: %v: %s", n, err, firstLine(string(out)))
	}
	return nil
}

// nodeOrder sorts node names with the control plane first (to start) or
// last (to stop), so the API server is there whenever a kubelet is, and
// the runtime hands the nodes their addresses in the same order.
func nodeOrder(nodes map[string]bool, controlPlaneFirst bool) []string {
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ci, cj := strings.Contains(names[i], "control-plane"), strings.Contains(names[j], "control-plane")
		if ci != cj {
			return ci == controlPlaneFirst
		}
		return names[i] < names[j]
	})
	return names
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// slogLogger routes kind's logs to slog; the library never prints.
type slogLogger struct {
	l  *slog.Logger
	ph *phases
}

func (s slogLogger) Warn(m string)                         { s.l.Warn(m) }
func (s slogLogger) Warnf(f string, a ...any)              { s.l.Warn(fmt.Sprintf(f, a...)) }
func (s slogLogger) Error(m string)                        { s.l.Error(m) }
func (s slogLogger) Errorf(f string, a ...any)             { s.l.Error(fmt.Sprintf(f, a...)) }
func (s slogLogger) V(lv kindlog.Level) kindlog.InfoLogger { return slogInfo{s.l, lv, s.ph} }

type slogInfo struct {
	l  *slog.Logger
	lv kindlog.Level
	ph *phases
}

func (s slogInfo) Info(m string) {
	if s.lv == 0 {
		s.l.Info(m)
		s.ph.say(m)
	} else {
		s.l.Debug(m)
	}
}
func (s slogInfo) Infof(f string, a ...any) { s.Info(fmt.Sprintf(f, a...)) }
func (s slogInfo) Enabled() bool {
	lvl := slog.LevelInfo
	if s.lv > 0 {
		lvl = slog.LevelDebug
	}
	return s.l.Enabled(context.Background(), lvl)
}

// Network is the container network kind puts its nodes on.
func Network() string {
	if n := os.Getenv("KIND_EXPERIMENTAL_DOCKER_NETWORK"); n != "" {
		return n
	}
	return "kind"
}

// WriteNodeFiles writes each file (absolute path → content) on every node of
// the cluster, replacing what is there.
func (c *Clusters) WriteNodeFiles(ctx context.Context, name string, files map[string]string) error {
	nodes, err := c.p.ListNodes(name)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, n := range nodes {
		for _, p := range paths {
			script := fmt.Sprintf("mkdir -p %q && cat > %q.tmp && mv %q.tmp %q", filepath.Dir(p), p, p, p)
			var stderr strings.Builder
			cmd := n.CommandContext(ctx, "sh", "-c", script).SetStdin(strings.NewReader(files[p])).SetStderr(&stderr)
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("writing %s on node %s: %v %s", p, n, err, firstLine(stderr.String()))
			}
		}
	}
	return nil
}

// PullImages pulls each image into containerd on every node of the
// cluster through the CRI (crictl), as the kubelet would: through the same
// registry hosts, unpacked the same way, so that pods find them there. Up
// to four pulls run at once; the error names each that failed.
func (c *Clusters) PullImages(ctx context.Context, name string, images []string) error {
	nodes, err := c.p.ListInternalNodes(name) // not an HA cluster's load balancer
	if err != nil {
		return err
	}
	errs := make([]error, len(nodes)*len(images))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, n := range nodes {
		for j, img := range images {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				var stderr strings.Builder
				if err := n.CommandContext(ctx, "crictl", "pull", img).SetStderr(&stderr).Run(); err != nil {
					errs[i*len(images)+j] = fmt.Errorf("pulling %s into node %s: %v %s", img, n, err, firstLine(stderr.String()))
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LoadImage copies an image from the runtime's local store into containerd
// on every node of the cluster, as `kind load docker-image` does.
func (c *Clusters) LoadImage(ctx context.Context, name, ref string) error {
	nodes, err := c.p.ListNodes(name)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes", name)
	}
	archive, err := os.CreateTemp("", "kindred-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	save := exec.CommandContext(ctx, c.Runtime, "save", ref)
	save.Stdout = archive
	var stderr strings.Builder
	save.Stderr = &stderr
	if err := save.Run(); err != nil {
		return fmt.Errorf("saving image %s from %s: %v %s", ref, c.Runtime, err, firstLine(stderr.String()))
	}
	for _, n := range nodes {
		if _, err := archive.Seek(0, 0); err != nil {
			return err
		}
		if err := nodeutils.LoadImageArchive(n, archive); err != nil {
			return fmt.Errorf("loading image %s into node %s: %w", ref, n, err)
		}
	}
	return nil
}

// CollectLogs writes kind's logs of the cluster into dir: each node's
// journal, kubelet and containerd logs, and container logs, as `kind
// export logs` does.
func (c *Clusters) CollectLogs(name, dir string) error {
	return c.p.CollectLogs(name, dir)
}
