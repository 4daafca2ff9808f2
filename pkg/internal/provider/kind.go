package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/doctor"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/clusterapi"
	"kindred.dev/kindred/pkg/internal/kind"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/internal/registry"
	"kindred.dev/kindred/pkg/stack"
)

// ErrShapeChanged means an existing cluster differs from the stack's shape
// and Recreate was not asked for.
var ErrShapeChanged = errors.New("the cluster's shape changed")

// ErrNotOurs means a kind cluster of the stack's name exists that kindred
// has no record of making, and Recreate was not asked for.
var ErrNotOurs = errors.New("the kind cluster was not made by kindred")

// Kind runs stacks on kind clusters, through kind's Go library.
type Kind struct {
	// Runtime is docker, podman or nerdctl; empty detects one.
	Runtime string
	// NodeImage overrides the pinned node image.
	NodeImage string
	// Recreate allows deleting a cluster whose shape changed.
	Recreate bool
	// Preloaded lists images to pull through the stack's pull-through
	// caches while the cluster boots (see kindred images), and Preloading
	// says how.
	Preloaded  []string
	Preloading clusterapi.Preload
	// Purge makes Delete remove the data folder too, and the shared
	// registry and caches when no other kindred cluster is left.
	Purge bool
	// Config, if set, receives the rendered kind configuration.
	Config func(yaml []byte)
	Log    *slog.Logger
}

// Name is "kind".
func (p *Kind) Name() string { return api.ProviderKind }

func (p *Kind) dir(st *stack.Stack) string { return filepath.Join(StateDir(), "kind", st.Cluster.Name) }

// Kubeconfig is the private kubeconfig of the stack's kind cluster.
func (p *Kind) Kubeconfig(st *stack.Stack) string { return filepath.Join(p.dir(st), "kubeconfig") }

// Preload lists images to pull through the stack's pull-through caches
// while the cluster boots (see kindred images), and says how.
func (p *Kind) Preload(images []string, o clusterapi.Preload) {
	p.Preloaded = append(p.Preloaded, images...)
	p.Preloading = o
}

// Check: kind has node images for some Kubernetes versions only (unless
// a node image is given), and kind warns about node names past 63
// characters.
func (p *Kind) Check(st *stack.Stack) stack.Problems {
	var ps stack.Problems
	if p.NodeImage == "" {
		if _, err := kind.NodeImage(st.Cluster.KubernetesVersion); err != nil {
			ps = append(ps, st.Problemf("cluster.kubernetesVersion", "%v (or give one with --node-image)", err))
		}
	}
	workers := 0
	for _, g := range st.Cluster.Nodes {
		if g.Role == api.RoleWorker {
			workers += g.Count
		}
	}
	if name := api.NodeName(st.Cluster.Name, api.RoleWorker, max(workers, 1)); len(name) > 63 {
		ps = append(ps, st.Problemf("cluster.name", "node names like %s would be longer than 63 characters; shorten the cluster's name", name))
	}
	return ps
}

// Preflight renders the stack's kind configuration (given to Config) and
// runs doctor, creating nothing.
func (p *Kind) Preflight(ctx context.Context, st *stack.Stack) error {
	_, err := p.preflight(ctx, st, func(string) {})
	return err
}

// preflighted is what the checks before creating found out.
type preflighted struct {
	cfg      *kind.Config
	rendered []byte
	runtime  string
	kc       *kind.Clusters
	exists   bool
	reg      *stackRegistries
	// engineHost is the machine the engine runs on, when another one.
	engineHost string
}

// preflight renders the kind configuration and runs doctor.
func (p *Kind) preflight(ctx context.Context, st *stack.Stack, progress func(string)) (*preflighted, error) {
	cfg, err := kind.Render(st, kind.Options{NodeImage: p.NodeImage})
	if err != nil {
		return nil, err
	}
	rendered, err := kind.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if p.Config != nil {
		p.Config(rendered)
	}
	runtime, rerr := kind.DetectRuntime(ctx, p.Runtime)
	var kc *kind.Clusters
	exists := false
	if rerr == nil {
		if kc, err = kind.New(runtime, p.Log); err != nil {
			return nil, err
		}
		if exists, err = kc.Exists(cfg.Name); err != nil {
			return nil, err
		}
	}
	progress("running doctor")
	skip := map[int]bool{}
	if exists {
		for _, n := range cfg.Nodes {
			for _, m := range n.ExtraPortMappings {
				skip[int(m.HostPort)] = true
			}
		}
	}
	reg := registries(st)
	if reg != nil && rerr == nil {
		// The shared registry holds its port already; that is no clash.
		if up, _ := (registry.Runtime{Bin: runtime}).Running(ctx, reg.local.Name); up {
			skip[reg.local.HostPort] = true
		}
	}
	checked := runtime
	if checked == "" {
		// Detection failed; doctor asks the runtime that was named (or the
		// usual one) itself, and reports what it says.
		checked = p.Runtime
		if checked == "" {
			checked = kind.RuntimeDocker
		}
	}
	engineHost := EngineHost(ctx, checked, os.Getenv)
	rep := doctor.Run(ctx, st, doctor.Env{Runtime: checked, EngineHost: engineHost}, skip)
	if err := rep.Err(); err != nil {
		return nil, err
	}
	return &preflighted{cfg: cfg, rendered: rendered, runtime: runtime, kc: kc, exists: exists, reg: reg, engineHost: engineHost}, nil
}

// Ensure runs doctor, then creates the cluster, reuses it when its shape is
// the same, or starts its stopped nodes.
func (p *Kind) Ensure(ctx context.Context, st *stack.Stack, progress func(string)) (clusterapi.Access, bool, error) {
	pf, err := p.preflight(ctx, st, progress)
	if err != nil {
		return clusterapi.Access{}, false, err
	}
	cfg, rendered, runtime, kc, exists, reg := pf.cfg, pf.rendered, pf.runtime, pf.kc, pf.exists, pf.reg
	dir, kubeconfig := p.dir(st), p.Kubeconfig(st)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return clusterapi.Access{}, false, err
	}
	acc := clusterapi.Access{Kubeconfig: kubeconfig, HostData: st.Cluster.DataDir != ""}
	rt := registry.Runtime{Bin: runtime}
	if reg != nil {
		progress("starting the local registry" + map[bool]string{true: " and pull-through caches", false: ""}[len(reg.caches) > 0])
		for _, c := range reg.all() {
			if _, err := rt.Ensure(ctx, c); err != nil {
				return acc, false, err
			}
		}
	}
	// Warm the caches while the cluster boots; a miss only means the nodes
	// pull from upstream themselves.
	var warmed chan []registry.Fetched
	if reg != nil && len(reg.caches) > 0 && len(p.Preloaded) > 0 {
		// Joining kind's network publishes a container's ports again, on
		// new host ports: when the network is there already (from an
		// earlier cluster), the caches join it first, so that warming them
		// is not cut off when the cluster is wired to them.
		if rt.NetworkExists(ctx, kind.Network()) {
			for _, c := range reg.all()[1:] {
				if err := rt.Connect(ctx, c, kind.Network()); err != nil {
					return acc, false, err
				}
			}
		}
		warmed = make(chan []registry.Fetched, 1)
		go func() {
			pins := registry.LoadPins(pinsFile())
			res := rt.Prefetch(ctx, reg.caches, p.Preloaded, registry.Warm{
				Platform: v1.Platform{OS: "linux", Architecture: goruntime.GOARCH},
				Layers:   p.Preloading.Layers,
				TagTTL:   p.Preloading.TagTTL,
				Pins:     pins,
			})
			if err := pins.Save(); err != nil && p.Log != nil {
				p.Log.Warn("not recording when the caches' tags were asked upstream", "err", err)
			}
			warmed <- res
		}()
	}
	// The configuration a cluster was made from is recorded once kind has
	// made it. Until then a marker says a run is creating it, so that the
	// next run knows a cluster without a record is one it half-made, not
	// somebody else's.
	cfgFile := filepath.Join(dir, "kind-config.yaml")
	creating := filepath.Join(dir, "creating")
	changed := false
	var restarted time.Time // when stopped nodes were started: older node status is stale
	if exists {
		old, err := os.ReadFile(cfgFile)
		noRecord := errors.Is(err, os.ErrNotExist)
		switch {
		case noRecord && fileExists(creating):
			progress("deleting the cluster an interrupted run left half-created, to create it again")
			if err := kc.Delete(cfg.Name, kubeconfig); err != nil {
				return acc, false, err
			}
			exists = false
		case noRecord && !p.Recreate:
			return acc, false, fmt.Errorf("%w: a kind cluster named %s exists, and kindred has no record of making it (none in %s); delete it with `kind delete cluster --name %s`, give the stack another cluster.name, or run up with --recreate to delete and re-create it",
				ErrNotOurs, cfg.Name, dir, cfg.Name)
		case err != nil && !noRecord:
			return acc, false, err
		case !bytes.Equal(old, rendered) && !p.Recreate:
			return acc, false, fmt.Errorf("%w: kind cluster %s was made from another configuration; run up with --recreate to delete and re-create it (data in cluster.dataDir is kept):\n%s",
				ErrShapeChanged, cfg.Name, diff(string(old), string(rendered)))
		case !bytes.Equal(old, rendered): // with Recreate; old is empty without a record
			progress("deleting the cluster to re-create it in its new shape")
			if err := kc.Delete(cfg.Name, kubeconfig); err != nil {
				return acc, false, err
			}
			exists = false
		default:
			restarted = time.Now()
			n, err := kc.StartNodes(ctx, cfg.Name)
			if err != nil {
				return acc, false, err
			}
			if n > 0 {
				progress(fmt.Sprintf("started %d stopped node%s", n, plural(n)))
				changed = true
			} else {
				restarted = time.Time{}
			}
			if err := kc.WriteKubeconfig(cfg.Name, kubeconfig); err != nil {
				return acc, false, err
			}
		}
	}
	if !exists {
		progress(fmt.Sprintf("creating kind cluster %s (%d nodes, %s)", cfg.Name, len(cfg.Nodes), cfg.Nodes[0].Image))
		if err := os.WriteFile(creating, rendered, 0o600); err != nil {
			return acc, false, err
		}
		kc.OnPhase(progress)
		err := kc.Create(ctx, cfg, kubeconfig)
		kc.OnPhase(nil)
		if err != nil {
			return acc, false, err
		}
		if err := os.WriteFile(filepath.Join(dir, runtimeFile), []byte(runtime+"\n"), 0o600); err != nil {
			return acc, false, err
		}
		if err := os.WriteFile(cfgFile, rendered, 0o600); err != nil {
			return acc, false, err
		}
		if err := os.Remove(creating); err != nil {
			return acc, false, err
		}
		changed = true
	}
	// An engine on another machine publishes the API server there.
	if host := pf.engineHost; host != "" {
		progress("the engine runs on " + host + ": the kubeconfig points there")
		if err := pointAtEngine(kubeconfig, host); err != nil {
			return acc, changed, err
		}
	}
	if reg != nil {
		progress("wiring the registry into the nodes")
		if err := reg.wire(ctx, rt, kc, cfg.Name, kubeconfig); err != nil {
			return acc, changed, err
		}
	}
	// The stack's images the caches hold whole (warmed or held) go into a
	// new cluster's nodes while they turn Ready, up to four at a time:
	// from the caches that costs the upstream nothing, and the kubelet,
	// which pulls one image at a time, finds them there.
	var pulled chan error
	if warmed != nil {
		res := <-warmed
		progress(summarizePrefetch(res, p.Preloading))
		var whole []string // what the caches now hold whole
		for _, f := range res {
			if f.Cache != "" && f.Err == nil && p.Preloading.Layers {
				whole = append(whole, f.Image)
			}
			if f.Unheld != nil && p.Log != nil {
				p.Log.Debug("asked the upstream about a tag asked within the TTL: the cache does not hold the image whole", "image", f.Image, "err", f.Unheld)
			}
		}
		if !exists && len(whole) > 0 {
			progress(fmt.Sprintf("pulling %d image%s from the caches into the nodes", len(whole), plural(len(whole))))
			pulled = make(chan error, 1)
			go func() { pulled <- kc.PullImages(ctx, cfg.Name, whole) }()
		}
	}
	// Pulls still running once the nodes are Ready go on while the first
	// steps start: their pods wait for the image either way.
	defer func() {
		if pulled == nil {
			return
		}
		report := func(err error) {
			// A run that ended stops its pulls; that is no failure.
			if err != nil && ctx.Err() == nil && p.Log != nil {
				p.Log.Warn("images not pulled ahead; the kubelet pulls them", "err", err)
			}
		}
		select {
		case err := <-pulled:
			report(err)
		default:
			go func() { report(<-pulled) }()
		}
	}()
	// With kindnet, nodes turn Ready on their own; with another CNI they
	// wait for its step, which checks them.
	if cni := st.Cluster.Networking.CNI; cni == "" || cni == api.CNIKindnet {
		progress("waiting for nodes to be Ready")
		if err := waitNodesReady(ctx, kubeconfig, 3*time.Minute, restarted); err != nil {
			return acc, changed, err
		}
	}
	return acc, changed, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// summarizePrefetch says how warming the caches went, naming failures.
func summarizePrefetch(res []registry.Fetched, o clusterapi.Preload) string {
	ok, held, unanswered, skipped := 0, 0, 0, 0
	var failed []string
	for _, f := range res {
		switch {
		case f.Cache == "":
			skipped++
		case f.Err != nil:
			failed = append(failed, fmt.Sprintf("%s (%v)", f.Image, f.Err))
		default:
			ok++
			if f.Held {
				held++
			}
		}
		if f.Unanswered {
			unanswered++
		}
	}
	msg := fmt.Sprintf("caches warmed with %d of %d images", ok, len(res))
	if !o.Layers {
		msg = fmt.Sprintf("caches know the tags of %d of %d images (layers not fetched)", ok, len(res))
	}
	if held > 0 {
		msg += fmt.Sprintf("; %d held, their tags asked upstream less than %s ago", held, shortDuration(o.TagTTL))
	}
	if unanswered > 0 {
		msg += fmt.Sprintf("; %d as the caches hold them: the upstream did not answer", unanswered)
	}
	if skipped > 0 {
		msg += fmt.Sprintf("; %d from registries with no cache", skipped)
	}
	if len(failed) > 0 {
		msg += "; not warmed: " + strings.Join(failed, ", ")
	}
	return msg
}

// pinsFile records when the caches, shared by every cluster on the
// machine, last asked their upstreams about each image's tag.
func pinsFile() string { return filepath.Join(StateDir(), "registry", "tags.json") }

// plural is "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// shortDuration is d without zero minutes and seconds: 24h, not 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// stackRegistries are the registry containers a stack asks for.
type stackRegistries struct {
	local  registry.Container
	caches []registry.Container
}

func registries(st *stack.Stack) *stackRegistries {
	r := st.Cluster.Registry
	if r == nil {
		return nil
	}
	out := &stackRegistries{local: registry.Local(r.HostPort)}
	for _, m := range r.Mirrors {
		out.caches = append(out.caches, registry.Cache(m))
	}
	return out
}

// all is the local registry, then each cache after its offline face (which
// is removed first, as it holds the cache's volume).
func (r *stackRegistries) all() []registry.Container {
	out := []registry.Container{r.local}
	for _, c := range r.caches {
		out = append(out, registry.Offline(c), c)
	}
	return out
}

// wire connects the registries to kind's network, tells every node's
// containerd where they are, and publishes the KEP-1755 ConfigMap.
func (r *stackRegistries) wire(ctx context.Context, rt registry.Runtime, kc *kind.Clusters, cluster, kubeconfig string) error {
	for _, c := range r.all() {
		if err := rt.Connect(ctx, c, kind.Network()); err != nil {
			return err
		}
	}
	files := map[string]string{}
	for _, h := range registry.HostsFiles(&r.local, r.caches) {
		files[path.Join(kind.CertsDir, h.Dir, "hosts.toml")] = h.Content
	}
	if err := kc.WriteNodeFiles(ctx, cluster, files); err != nil {
		return err
	}
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	cm := registry.HostingConfigMap(r.local.HostPort)
	return wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			_, err = cs.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		}
		return err == nil, nil
	})
}

func clientset(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// Access returns the private kubeconfig of an existing cluster.
func (p *Kind) Access(ctx context.Context, st *stack.Stack) (clusterapi.Access, error) {
	kubeconfig := p.Kubeconfig(st)
	if _, err := os.Stat(kubeconfig); err != nil {
		return clusterapi.Access{}, fmt.Errorf("%w: no kind cluster %q made by kindred (%v)", ErrNoCluster, st.Cluster.Name, err)
	}
	return clusterapi.Access{Kubeconfig: kubeconfig, HostData: st.Cluster.DataDir != ""}, nil
}

// Delete deletes the stack's kind cluster and its private kubeconfig. The
// data folder stays unless Purge is set; so do the shared registry and
// caches, unless Purge is set and no other kindred cluster remains. It
// reports whether the cluster was there.
func (p *Kind) Delete(ctx context.Context, st *stack.Stack) (bool, error) {
	kc, err := p.clustersOf(ctx, st)
	if err != nil {
		return false, err
	}
	existed, err := kc.Remove(st.Cluster.Name, p.Kubeconfig(st))
	if err != nil {
		return existed, err
	}
	if err := os.RemoveAll(p.dir(st)); err != nil {
		return existed, err
	}
	if !p.Purge {
		return existed, nil
	}
	if dir := st.Cluster.DataDir; dir != "" {
		nodes, _ := filepath.Glob(filepath.Join(dir, st.Cluster.Name+"-*"))
		for _, db := range st.Databases { // the passwords kept with their data
			nodes = append(nodes, filepath.Join(dir, "kindred-credentials", db.Namespace+"-"+db.Name))
		}
		nodes = append(nodes, filepath.Join(dir, "kindred-credentials")) // once empty
		for _, n := range nodes {
			if filepath.Base(n) == "kindred-credentials" {
				_ = os.Remove(n) // only when no other stack keeps passwords there
				continue
			}
			if err := os.RemoveAll(n); err != nil {
				return existed, fmt.Errorf("purging the data folder: %w", err)
			}
		}
	}
	others, _ := os.ReadDir(filepath.Join(StateDir(), "kind"))
	if reg := registries(st); reg != nil && len(others) == 0 {
		rt := registry.Runtime{Bin: kc.Runtime}
		for _, c := range reg.all() {
			if err := rt.Remove(ctx, c, true); err != nil {
				return existed, err
			}
		}
		if err := registry.ForgetPins(pinsFile()); err != nil {
			return existed, err
		}
	}
	return existed, nil
}

func waitNodesReady(ctx context.Context, kubeconfig string, timeout time.Duration, since time.Time) error {
	cs, err := clientset(kubeconfig)
	if err != nil {
		return err
	}
	// A node that has just joined can report Ready and drop back while its
	// kubelet and network settle, so Ready must be seen twice, a quarter of
	// a second apart. (A full second, five polls, cost the cluster step
	// most of what it took beyond `kind create cluster --wait`, which looks
	// once; a node that still drops back after that only delays the pods
	// of the first steps, whose readiness waits see it.)
	const settled = 2
	missing, streak := "nodes", 0
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		notReady, err := ready.NodesNotReadySince(ctx, cs, since)
		if err != nil {
			streak = 0
			return false, nil
		}
		missing = strings.Join(notReady, ", ")
		if len(notReady) > 0 {
			streak = 0
			return false, nil
		}
		streak++
		return streak >= settled, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for nodes to be Ready (not yet: %s): %w", missing, err)
	}
	return nil
}

// diff lists the lines only one of a and b has, marked - and +.
func diff(a, b string) string {
	in := func(lines []string, l string) bool {
		for _, x := range lines {
			if x == l {
				return true
			}
		}
		return false
	}
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !in(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !in(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// clusters is kind's client for the detected (or named) runtime.
func (p *Kind) clusters(ctx context.Context) (*kind.Clusters, error) {
	runtime, err := kind.DetectRuntime(ctx, p.Runtime)
	if err != nil {
		return nil, err
	}
	return kind.New(runtime, p.Log)
}

// runtimeFile, in the cluster's folder, names the container runtime kindred
// created the cluster with.
const runtimeFile = "runtime"

// clustersOf works with the stack's cluster through the runtime asked for,
// else the one the cluster was created with, else the one detected. A
// runtime named or recorded is not asked first whether it answers: what
// follows asks it anyway.
func (p *Kind) clustersOf(ctx context.Context, st *stack.Stack) (*kind.Clusters, error) {
	rt := p.Runtime
	if rt == "" {
		if b, err := os.ReadFile(filepath.Join(p.dir(st), runtimeFile)); err == nil {
			rt = strings.TrimSpace(string(b))
		}
	}
	if rt == "" {
		return p.clusters(ctx)
	}
	return kind.New(rt, p.Log)
}

// Stop stops the node containers of the stack's kind cluster and keeps
// them; Ensure starts them again.
func (p *Kind) Stop(ctx context.Context, st *stack.Stack) error {
	kc, err := p.existing(ctx, st)
	if err != nil {
		return err
	}
	_, err = kc.StopNodes(ctx, st.Cluster.Name)
	return err
}

// Stopped reports whether every node of the stack's kind cluster is
// stopped.
func (p *Kind) Stopped(ctx context.Context, st *stack.Stack) (bool, error) {
	kc, err := p.existing(ctx, st)
	if err != nil {
		return false, err
	}
	nodes, err := kc.Nodes(ctx, st.Cluster.Name)
	if err != nil {
		return false, err
	}
	for _, running := range nodes {
		if running {
			return false, nil
		}
	}
	return len(nodes) > 0, nil
}

// existing returns kind's clusters when the stack's cluster is one kindred
// made that still exists, else ErrNoCluster.
func (p *Kind) existing(ctx context.Context, st *stack.Stack) (*kind.Clusters, error) {
	if _, err := p.Access(ctx, st); err != nil {
		return nil, err
	}
	kc, err := p.clustersOf(ctx, st)
	if err != nil {
		return nil, err
	}
	ok, err := kc.Exists(st.Cluster.Name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: kind cluster %q is gone (deleted outside kindred)", ErrNoCluster, st.Cluster.Name)
	}
	return kc, nil
}

// LoadImage copies a local image into every node of the stack's cluster.
func (p *Kind) LoadImage(ctx context.Context, st *stack.Stack, ref string) error {
	kc, err := p.clusters(ctx)
	if err != nil {
		return err
	}
	return kc.LoadImage(ctx, st.Cluster.Name, ref)
}

// CollectLogs adds every node's logs to a diagnostics bundle.
func (p *Kind) CollectLogs(ctx context.Context, st *stack.Stack, dir string) error {
	kc, err := p.clusters(ctx)
	if err != nil {
		return err
	}
	return kc.CollectLogs(st.Cluster.Name, dir)
}
