// Package sim starts a simulated Kubernetes cluster: a real etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, with kwok
// playing the nodes. It needs no containers, starts in seconds, and is what
// kindred's own integration tests and `kindred up --provider sim` run on.
//
// What is real: API validation and defaulting, RBAC, CRDs, admission of the
// built-in types, every controller of kube-controller-manager (Deployments,
// ReplicaSets, StatefulSets, DaemonSets, Jobs, garbage collection, service
// accounts), scheduling, helm release state, the readiness of workloads as
// kstatus sees it, and custom resources such as an ingress controller's
// routes.
//
// What is simulated: containers never run. kwok marks pods Running and Ready
// (after a configurable delay), runs pods with restart policy Never or
// OnFailure to completion, and gives LoadBalancer Services an address. So no
// webhook pod answers and no database accepts connections; the API server
// routes to endpoint IPs (--enable-aggregator-routing), so calls to such
// webhooks fail fast rather than hang.
//
// The processes of one cluster share a process group recorded in a pid file
// in its folder. Stop ends them all; Start first reaps the clusters of
// processes that died without stopping theirs.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Node is a group of simulated nodes.
type Node struct {
	// Name prefix; nodes are NAME-0, NAME-1, ... (or NAME when Count is 1).
	Name   string
	Count  int
	Labels map[string]string
	Taints []corev1.Taint
	// ControlPlane adds the node-role.kubernetes.io/control-plane label.
	ControlPlane bool
}

// FakeNodeAnnotation marks the nodes kwok manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// ServiceSubnet is the service range of every simulated cluster.
const ServiceSubnet = "10.96.0.0/16"

// Cluster is a running simulated cluster.
type Cluster struct {
	// Name of the cluster, used in its kubeconfig context.
	Name string
	// Dir holds the cluster's data, certificates, logs and pid file.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig, mode 0600.
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// AuditLog is the API server's audit log (JSON lines), when the
	// cluster was started WithAuditLog.
	AuditLog string
	// Version is the Kubernetes version the API server reports.
	Version string
	// ReadyzAfter and ReadyAfter measure Start: until the API server's
	// /readyz answered, and until the cluster was ready for pods.
	ReadyzAfter, ReadyAfter time.Duration

	rest  *rest.Config
	group *group
	log   *slog.Logger
}

// RESTConfig returns an admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

type options struct {
	name       string
	binDir     string
	root       string
	nodes      []Node
	delay      time.Duration
	rules      []ReadyDelay
	keep       bool
	log        *slog.Logger
	startGrace time.Duration
	audit      bool
}

// Option configures Start.
type Option func(*options) error

// WithName names the cluster; the default is "sim".
func WithName(name string) Option {
	return func(o *options) error { o.name = name; return nil }
}

// WithBinaries uses the test-bed binaries in dir instead of looking them up
// (see Binaries).
func WithBinaries(dir string) Option {
	return func(o *options) error { o.binDir = dir; return nil }
}

// WithRoot keeps clusters under root instead of the default state folder.
func WithRoot(root string) Option {
	return func(o *options) error { o.root = root; return nil }
}

// WithNodes registers these nodes instead of one control-plane node.
func WithNodes(nodes ...Node) Option {
	return func(o *options) error {
		for _, n := range nodes {
			if n.Name == "" || n.Count < 0 {
				return fmt.Errorf("sim: a node group needs a name and a count >= 0")
			}
		}
		o.nodes = nodes
		return nil
	}
}

// WithReadyDelay makes pods Ready after delay, unless a rule matches first.
func WithReadyDelay(delay time.Duration, rules ...ReadyDelay) Option {
	return func(o *options) error {
		for _, r := range rules {
			if (r.Label == "") == (r.Image == "") {
				return fmt.Errorf("sim: a ready-delay rule matches a label or an image, not both or neither")
			}
			if r.Label != "" && !strings.Contains(r.Label, "=") {
				return fmt.Errorf("sim: ready-delay label %q is not key=value", r.Label)
			}
		}
		o.delay, o.rules = delay, rules
		return nil
	}
}

// WithKeep leaves the cluster running when its owner process exits, for a
// cluster that a command starts and a later command stops.
func WithKeep() Option {
	return func(o *options) error { o.keep = true; return nil }
}

// WithAuditLog makes the API server write an audit log of every request
// (but those of its own controllers) at Metadata level, as JSON lines, to
// the cluster's AuditLog file: who asked what, with which verb.
func WithAuditLog() Option {
	return func(o *options) error { o.audit = true; return nil }
}

// WithLogger sends diagnostics to log; the default discards them.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) error { o.log = log; return nil }
}

// DefaultRoot is where clusters live unless WithRoot says otherwise.
func DefaultRoot() string {
	return filepath.Join(os.TempDir(), "kindred-sim")
}

// What a simulated cluster runs for real, plays, and skips; -v says so.
const (
	Real    = "etcd, kube-apiserver, kube-controller-manager, kube-scheduler (built from their Go modules)"
	Played  = "kubelets and pods (kwok), the local-path provisioner"
	Skipped = "containers (no image is pulled or run): what needs one to answer (proxies, database logins, traffic to routes) is skipped, and the step says so"
)

// ErrUnsupportedOS: the simulated cluster runs its processes in a POSIX
// process group, which Windows does not have. On Windows, use kind (Docker
// Desktop) or an existing cluster.
var ErrUnsupportedOS = errors.New("the simulated cluster runs on Linux and macOS, not on Windows; use --provider kind (Docker Desktop) or --provider existing")

// RestartAPIServer kills the API server and starts it again, as an
// upgrade or a crash would, and waits until it is ready. Tests use it to
// check that runs survive an API server outage.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if c.group == nil || c.group.procs == nil {
		return errors.New("sim: this cluster was not started by this process")
	}
	if err := c.group.restart("kube-apiserver"); err != nil {
		return err
	}
	// The new process can find its port still held, by connections of
	// the old one that its clients have not closed yet, and exit: then it
	// is started again, until the port is free.
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.waitReadyz(ctx, 5*time.Second)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		if !c.group.alive("kube-apiserver") {
			c.log.Info("the restarted API server exited; starting it again")
			if err := c.group.again("kube-apiserver"); err != nil {
				return err
			}
		}
	}
}

// RSS returns the resident memory of each process of the cluster, in bytes.
func (c *Cluster) RSS() map[string]int64 {
	out := map[string]int64{}
	if c.group == nil {
		return out
	}
	for name, cmd := range c.group.procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				out[name] = kb * 1024
			}
		}
	}
	return out
}

// Stop ends every process of the cluster and removes its folder.
func (c *Cluster) Stop() error {
	if c == nil || c.group == nil {
		return nil
	}
	// The cluster is throw-away, so a short grace is enough.
	if err := c.group.stop(2 * time.Second); err != nil {
		return err
	}
	c.group = nil
	return os.RemoveAll(c.Dir)
}

func (c *Cluster) waitReadyz(ctx context.Context, timeout time.Duration) error {
	cfg := rest.CopyConfig(c.rest)
	cfg.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	err = waitFor(ctx, timeout, "the API server's /readyz", func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	return c.withLogs(err)
}

// withLogs adds the end of each component's log to a start-up error.
func (c *Cluster) withLogs(err error) error {
	if err == nil {
		return nil
	}
	var b strings.Builder
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		data, rerr := os.ReadFile(filepath.Join(c.Dir, "logs", name+".log"))
		if rerr != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "\n--- last lines of %s.log:\n%s", name, strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
	return fmt.Errorf("%w%s", err, b.String())
}

func waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func writeKubeconfig(path, name, server, caFile string, cert clientCert) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert.Cert, ClientKeyData: cert.Key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// Open returns the running cluster that Start with WithKeep left under
// root, or nil when there is none. The folders of kept clusters whose
// processes are gone (after a reboot, say) are removed, unless Pause
// stopped them (see Paused and Resume).
func Open(root string) (*Cluster, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		var pid, pgid, keep int
		var start uint64
		if _, err := fmt.Sscan(string(b), &pid, &start, &pgid, &keep); err != nil || keep != 1 {
			continue
		}
		if !groupAlive(pgid) {
			if _, err := os.Stat(filepath.Join(dir, stoppedFile)); err != nil {
				_ = os.RemoveAll(dir) // not stopped on purpose: gone with a reboot, say
			}
			continue
		}
		return kept(dir, &group{dir: dir, pgid: pgid, keep: true}, slog.New(slog.DiscardHandler))
	}
	return nil, nil
}

// kept is the kept cluster in dir, reached through its admin kubeconfig,
// its processes in g.
func kept(dir string, g *group, log *slog.Logger) (*Cluster, error) {
	c := &Cluster{Name: strings.SplitN(filepath.Base(dir), "-", 2)[0], Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"),
		group: g, log: log, Version: KubernetesVersion}
	var err error
	if c.rest, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	c.Server = c.rest.Host
	return c, nil
}
