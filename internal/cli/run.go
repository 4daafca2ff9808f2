package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/render"
	"kindred.dev/kindred/pkg/stack"
)

// clusterFlags are the flags of every command that acts on a cluster.
type clusterFlags struct {
	provider   string
	kubeconfig string
	context    string
	runtime    string
	nodeImage  string
	recreate   bool
	dryRun     bool
	purge      bool
	adopt      []string
	stack      string // for commands whose argument is not the stack
	// creates: the command makes the cluster (up, diff), so with no
	// argument it means the default stack, not the one cluster there is.
	creates bool
	// record is what kindred remembers of the cluster the command acts
	// on, when it has one: its provider, unless --provider says otherwise.
	record *cluster.Record
	// source is where the stack came from, as records keep it.
	source string
}

// stackArg is the --stack flag as the argument list loadStack takes.
func (f *clusterFlags) stackArg() []string {
	if f.stack == "" {
		return nil
	}
	return []string{f.stack}
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.provider, "provider", "", "where the cluster comes from: kind, sim or existing (default: the stack's cluster.provider)")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for --provider existing (default $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context for --provider existing")
	cmd.Flags().StringVar(&f.runtime, "runtime", "", "container runtime for kind: docker, podman or nerdctl (default $KINDRED_RUNTIME, then $KIND_EXPERIMENTAL_PROVIDER as kind reads it, else detected)")
}

// provider picks the cluster provider for st.
func (a *app) provider(f *clusterFlags, st *stack.Stack) (cluster.Provider, error) {
	name := f.provider
	if name == "" && f.record != nil {
		name = f.record.Provider
	}
	if name == "" {
		name = st.Cluster.Provider
	}
	o := cluster.Options{Log: a.log, Context: f.context, NodeImage: f.nodeImage, Recreate: f.recreate, Purge: f.purge}
	if r := f.record; r != nil && o.NodeImage == "" && name == cluster.Kind && r.Provider == cluster.Kind {
		o.NodeImage = r.NodeImage // as the cluster was made
	}
	o.Binaries, _ = a.lookupEnv("KINDRED_TESTBED_DIR")
	if o.Kubeconfig = f.kubeconfig; o.Kubeconfig == "" {
		o.Kubeconfig, _ = a.lookupEnv("KUBECONFIG")
	}
	if r := f.record; r != nil && name == cluster.Existing && r.Provider == cluster.Existing && f.kubeconfig == "" && f.context == "" {
		o.Kubeconfig, o.Context = r.Kubeconfig, r.Context
	}
	if o.Runtime = f.runtime; o.Runtime == "" {
		o.Runtime = a.runtimeFromEnv()
	}
	if a.verbose > 0 {
		out := a.stderr
		if f.dryRun {
			out = a.stdout
		}
		o.Config = func(yaml []byte) { fmt.Fprintf(out, "kind config:\n%s", yaml) }
	}
	p, err := cluster.New(name, o)
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid --provider %q: want kind, sim or existing", name)}
	}
	return p, nil
}

// target is what every command that acts on a cluster starts with: the
// stack, its provider, and a context that Ctrl-C and SIGTERM cancel, so
// steps stop cleanly and the next run resumes.
type target struct {
	st   *stack.Stack
	p    cluster.Provider
	ctx  context.Context
	stop context.CancelFunc
}

func (a *app) target(f *clusterFlags, args []string) (*target, error) {
	st, p, err := a.stackAndProvider(f, args)
	if err != nil {
		return nil, err
	}
	ctx, stop := interruptible()
	return &target{st: st, p: p, ctx: ctx, stop: stop}, nil
}

// onTarget runs fn on what a command acts on (see target), and stops the
// target's context after.
func (a *app) onTarget(f *clusterFlags, args []string, fn func(t *target) error) error {
	t, err := a.target(f, args)
	if err != nil {
		return err
	}
	defer t.stop()
	if err := fn(t); err != nil {
		if t.ctx.Err() != nil {
			return cancelledError{err} // Ctrl-C or SIGTERM
		}
		return err
	}
	return nil
}

// stackAndProvider loads the stack a command names and picks its provider.
func (a *app) stackAndProvider(f *clusterFlags, args []string) (*stack.Stack, cluster.Provider, error) {
	st, err := a.resolve(f, args)
	if err != nil {
		return nil, nil, err
	}
	p, err := a.provider(f, st)
	return st, p, err
}

// resolve finds what a command acts on. Its argument is a stack file,
// builtin:NAME, or the name of a cluster kindred remembers (kindred ls);
// with none, ./kindred.yaml, else (for commands that do not create) the
// one cluster kindred remembers, else the embedded default stack. A stack
// brought up before keeps the provider it was brought up with.
func (a *app) resolve(f *clusterFlags, args []string) (*stack.Stack, error) {
	opts := []stack.Option{stack.WithEnv(a.lookupEnv)}
	fromRecord := func(r cluster.Record) (*stack.Stack, error) {
		recOpts := opts
		if !f.creates {
			// Reading, stopping or removing a remembered cluster needs
			// none of its stack's variables (a chart's secret value,
			// say): an unset one reads as empty.
			recOpts = []stack.Option{stack.WithEnv(func(name string) (string, bool) {
				v, _ := a.lookupEnv(name)
				return v, true
			})}
		}
		st, err := r.Load(recOpts...)
		if errors.Is(err, stack.ErrUnreadable) {
			return nil, usageError{err}
		}
		if err != nil {
			return nil, err
		}
		f.record, f.source = &r, r.Source
		return st, nil
	}
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	_, statErr := os.Stat(name)
	switch {
	case name != "" && !strings.HasPrefix(name, builtinPrefix) && statErr != nil:
		r, err := a.registry().Find(name)
		if err == nil {
			return fromRecord(r)
		}
		if errors.Is(err, cluster.ErrAmbiguous) {
			return nil, usageError{err}
		}
	case name == "" && !f.creates && !fileExists(DefaultStackFile):
		if r, ok, err := a.onlyCluster(); err != nil {
			return nil, err
		} else if ok {
			return fromRecord(r)
		}
	}
	st, err := a.loadStack(args)
	if err != nil {
		if name != "" && statErr != nil && errors.Is(err, stack.ErrUnreadable) {
			return nil, usageError{fmt.Errorf("%w; nor is %q a cluster kindred remembers (kindred ls lists them)", err, name)}
		}
		return nil, err
	}
	f.source = st.File
	if st.FS != nil {
		f.source = builtinPrefix + strings.TrimSuffix(st.File, ".yaml")
	}
	if r, err := a.registry().Find(cluster.Record{Cluster: st.Cluster.Name, Stack: st.Metadata.Name}.Name()); err == nil {
		f.record = &r
	}
	return st, nil
}

// onlyCluster is the one cluster kindred remembers, or the one of them
// that runs; with several, the command must name one.
func (a *app) onlyCluster() (cluster.Record, bool, error) {
	all, err := a.registry().Records()
	if err != nil || len(all) == 0 {
		return cluster.Record{}, false, err
	}
	if len(all) == 1 {
		return all[0], true, nil
	}
	var running []cluster.Record
	names := make([]string, len(all))
	for i, e := range a.recorded(context.Background(), all) {
		names[i] = e.Name
		if e.State == cluster.StateRunning {
			running = append(running, all[i])
		}
	}
	if len(running) == 1 {
		return running[0], true, nil
	}
	return cluster.Record{}, false, usageError{fmt.Errorf("kindred knows %d clusters; name one: %s", len(all), strings.Join(names, ", "))}
}

// remember records the cluster a run brought the stack up on, so later
// commands find it by name; a failure only costs that convenience. A run
// that failed is remembered only when nothing is yet (so its cluster can
// still be found and taken down): a refused run, a changed shape, say,
// must not replace the record of the stack the cluster runs.
func (a *app) remember(ctx context.Context, f *clusterFlags, p cluster.Provider, st *stack.Stack, succeeded bool) {
	if !succeeded && f.record != nil {
		return
	}
	acc, err := p.Access(ctx, st)
	if err != nil {
		return
	}
	r := cluster.Record{Provider: p.Name(), Source: f.source, Kubeconfig: acc.Kubeconfig, Context: acc.Context}
	if p.Name() == cluster.Kind {
		r.NodeImage = f.nodeImage
	}
	if err := a.registry().Remember(r, st); err != nil {
		a.log.Warn("not remembering the cluster", "err", err)
	}
}

// registry is where kindred remembers clusters: under $XDG_STATE_HOME as
// this run sees it.
func (a *app) registry() cluster.Registry {
	if d, ok := a.lookupEnv("XDG_STATE_HOME"); ok && d != "" {
		return cluster.Registry{Dir: filepath.Join(d, "kindred", "clusters")}
	}
	return cluster.DefaultRegistry()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// sink returns the renderer for the chosen output.
func (a *app) sink() event.Sink {
	if a.json() {
		return render.NewJSON(a.stdout)
	}
	if a.output == OutputGitHub {
		return render.NewGitHub(a.stdout)
	}
	return render.NewText(a.stdout, a.verbose > 0)
}

func (a *app) engineConfig(p cluster.Provider) engine.Config {
	mirror, _ := a.lookupEnv("KINDRED_CHART_MIRROR")
	return engine.Config{Provider: p, Sink: a.sink(), Log: a.log, ChartMirror: mirror}
}

// interruptible cancels the context on Ctrl-C or SIGTERM, so steps stop
// cleanly and the next run resumes.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (a *app) upCmd() *cobra.Command {
	var f clusterFlags
	var parallel int
	var lockTimeout time.Duration
	var prune, deleteData, locked bool
	prefetch := true
	var tagTTL time.Duration
	cmd := &cobra.Command{
		Use:   "up [STACK]",
		Short: "Create the cluster and install the stack, or bring it up to date",
		Long: `Create the cluster and install everything in the stack, as a parallel
dependency graph with real readiness checks. Run it again at any time: steps
whose inputs did not change are left alone, and a run that was interrupted
resumes where it stopped.

Steps the stack no longer has are removed only when allowed: on a terminal
up lists them and asks; otherwise it refuses, changing nothing, unless
--prune is given. A database whose data would go with it (data kept only
in its pod, or its claims) also needs --delete-data. kindred diff shows
what up would do.

When a kindred.lock lies beside the stack file (kindred lock), up fetches
exactly what it pins, and refuses a stack changed since it was written and
any chart or file whose digest differs. --locked refuses to run without one.

With pull-through caches (cluster.registry.mirrors), an image the caches
hold whose tag the upstream was asked about within --tag-ttl is served as
held: a re-created cluster pulls it without reaching the upstream. Older
tags are asked about again while the cluster boots.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tagTTL < 0 {
				return usageError{fmt.Errorf("--tag-ttl %s: want 0 (ask about every tag) or more", tagTTL)}
			}
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				if f.dryRun {
					return a.dryRun(ctx, st, p)
				}
				lock, err := lockFor(st, p, locked)
				if err != nil {
					return err
				}
				return a.up(ctx, &f, st, p, upOptions{parallel: parallel, lockTimeout: lockTimeout, prune: prune, deleteData: deleteData, lock: lock, prefetch: prefetch, tagTTL: tagTTL})
			})
		},
	}
	f.add(cmd)
	f.creates = true
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "plan and run doctor, and create nothing (with -v, print the kind config)")
	cmd.Flags().BoolVar(&f.recreate, "recreate", false, "delete and re-create a kind cluster whose shape changed")
	cmd.Flags().StringVar(&f.nodeImage, "node-image", "", "kind node image to use instead of the pinned one")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "run at most this many steps at once (0: every step that is ready)")
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 2*time.Minute, "how long to wait while another run holds the cluster")
	cmd.Flags().BoolVar(&prune, "prune", false, "remove the steps the stack dropped without asking (needed without a terminal)")
	cmd.Flags().StringSliceVar(&f.adopt, "adopt", nil, "take over these helm releases, which kindred did not install, upgrading them with the stack's chart and values")
	cmd.Flags().BoolVar(&deleteData, "delete-data", false, "let a removal destroy a database's data (its claims, or data kept only in its pod)")
	cmd.Flags().BoolVar(&locked, "locked", false, "refuse to run without an up-to-date kindred.lock beside the stack (for CI)")
	cmd.Flags().BoolVar(&prefetch, "prefetch", true, "warm the stack's pull-through caches with its images while a kind cluster boots (false still has them resolve tags older than --tag-ttl)")
	cmd.Flags().DurationVar(&tagTTL, "tag-ttl", cluster.DefaultTagTTL, "serve an image the pull-through caches hold without asking the upstream again when its tag was asked about this recently (0: ask every time)")
	return cmd
}

// upOptions are up's own flags.
type upOptions struct {
	parallel          int
	lockTimeout       time.Duration
	prune, deleteData bool
	lock              *engine.Lock
	prefetch          bool          // warm the pull-through caches while the cluster boots
	tagTTL            time.Duration // see cluster.Preload
}

// up brings the stack up on p's cluster, creating or starting the cluster
// as needed, shows the run, and remembers the cluster.
func (a *app) up(ctx context.Context, f *clusterFlags, st *stack.Stack, p cluster.Provider, o upOptions) error {
	if pl, ok := p.(cluster.Preloader); ok && st.Cluster.Registry != nil && len(st.Cluster.Registry.Mirrors) > 0 {
		// The images to warm the caches with while the cluster boots
		// (without --prefetch, only their tags).
		imgs, err := engine.NewImages(a.engineConfig(p)).Run(ctx, st)
		if err != nil {
			a.log.Warn("not warming the registry caches: listing the stack's images failed", "err", err)
		}
		var refs []string
		for _, i := range imgs {
			refs = append(refs, i.Image)
		}
		pl.Preload(refs, cluster.Preload{Layers: o.prefetch, TagTTL: o.tagTTL})
	}
	// The run's timeline, for the diagnostics bundle of a failure.
	timeline := &render.Recorder{}
	run := func(ctx context.Context, sink event.Sink, ask asker) (event.Summary, error) {
		cfg := a.engineConfig(p)
		cfg.Sink = event.Tee(sink, timeline)
		up := engine.NewUp(cfg)
		up.Parallelism = o.parallel
		up.LockTimeout = o.lockTimeout
		up.Prune, up.DeleteData, up.Adopt, up.Lock = o.prune, o.deleteData, f.adopt, o.lock
		if ask != nil {
			up.Confirm = func(ctx context.Context, gone []engine.Removal) (bool, error) {
				lines := make([]string, len(gone))
				for i, m := range gone {
					lines[i] = m.String()
				}
				return ask(ctx, fmt.Sprintf("The stack dropped %d step%s; remove %s from the cluster?", len(gone), plural(len(gone)), map[bool]string{true: "it", false: "them"}[len(gone) == 1]), lines)
			}
		}
		return up.Run(ctx, st)
	}
	var err error
	if a.useTUI() {
		err = a.runTUI(ctx, "kindred up "+st.Metadata.Name, creating(p, st), run)
	} else {
		var ask asker
		if !a.json() && a.output != OutputGitHub {
			ask = a.terminalAsker()
		}
		_, err = run(ctx, a.sink(), ask)
		if a.output == OutputGitHub {
			a.jobSummary(timeline.Steps(), st)
		}
	}
	a.remember(context.WithoutCancel(ctx), f, p, st, err == nil)
	if err == nil && !a.json() {
		a.printSummary(ctx, p, st)
	}
	var cancelled cancelledError
	if err != nil && ctx.Err() == nil && !errors.As(err, &cancelled) {
		var md bytes.Buffer
		render.JobSummary(&md, "kindred up "+st.Metadata.Name, timeline.Steps(), nil)
		a.diagnoseFailure(p, st, err, map[string][]byte{"timeline.md": md.Bytes()})
		if acc, aerr := p.Access(context.WithoutCancel(ctx), st); aerr == nil && !a.json() {
			fmt.Fprintf(a.stdout, "kubeconfig %s\n", acc.Kubeconfig) // to look at what failed
		}
	}
	return err
}

// creating says what a run brings up: the cluster, its nodes, the
// Kubernetes version and the provider.
func creating(p cluster.Provider, st *stack.Stack) string {
	nodes := 0
	for _, n := range st.Cluster.Nodes {
		nodes += max(n.Count, 1)
	}
	if p.Name() == cluster.Existing {
		return fmt.Sprintf("stack %s on an existing cluster", st.Metadata.Name)
	}
	s := fmt.Sprintf("%s cluster %s · %d node%s", p.Name(), st.Cluster.Name, nodes, plural(nodes))
	if v := st.Cluster.KubernetesVersion; v != "" {
		s += " · Kubernetes " + v
	}
	return s
}

func (a *app) downCmd() *cobra.Command {
	var f clusterFlags
	var deleteCluster, keepCluster bool
	cmd := &cobra.Command{
		Use:   "down [STACK|CLUSTER]",
		Short: "Delete the cluster kindred created, or uninstall the stack from one it did not",
		Long: `down undoes up. A cluster kindred created (kind or simulated) is deleted,
with everything it ran: nothing is uninstalled one by one first. A kind
cluster's data folder (cluster.dataDir) stays for the next up unless
--purge is given; --purge also removes the shared local registry and
caches once no kindred cluster is left.

On a cluster kindred did not create (--provider existing), or with
--keep-cluster on any provider, down uninstalls everything kindred
recorded in the cluster instead, last level first. That reads the record
in the cluster, so the stack file may have changed or be gone.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				if f.purge && (p.Name() != cluster.Kind || keepCluster) {
					return usageError{fmt.Errorf("--purge needs the kind provider, without --keep-cluster")}
				}
				if d, ok := p.(cluster.Deleter); ok && !keepCluster {
					// Deleting the cluster removes what it runs; uninstalling
					// first would only take longer.
					existed, err := d.Delete(ctx, st)
					if err != nil {
						return err
					}
					if err := a.registry().Forget(st); err != nil {
						return err
					}
					what := map[string]string{cluster.Kind: "kind cluster", cluster.Sim: "simulated cluster"}[p.Name()]
					if !existed {
						a.note(fmt.Sprintf("nothing to remove: no %s %s made by kindred", what, st.Cluster.Name))
					} else {
						a.note(fmt.Sprintf("removed %s %s, and everything it ran (the cluster is deleted whole; --keep-cluster uninstalls the stack instead)", what, st.Cluster.Name))
					}
					return nil
				}
				if _, ok := p.(cluster.Deleter); deleteCluster && !ok {
					return usageError{fmt.Errorf("--delete-cluster does not delete clusters kindred did not create (--provider existing); nothing was changed")}
				}
				if _, err := engine.NewDown(a.engineConfig(p)).Run(ctx, st); errors.Is(err, cluster.ErrNoCluster) {
					a.note("nothing to remove: " + err.Error())
				} else if err != nil {
					return err
				}
				return a.registry().Forget(st)
			})
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&deleteCluster, "delete-cluster", false, "delete a cluster kindred created (what down does unless --keep-cluster)")
	_ = cmd.Flags().MarkDeprecated("delete-cluster", "down deletes the clusters kindred created; --keep-cluster keeps them")
	cmd.Flags().BoolVar(&keepCluster, "keep-cluster", false, "uninstall the stack and keep the cluster (kind or simulated)")
	cmd.Flags().BoolVar(&f.purge, "purge", false, "kind: also delete the data folder (and the shared registry when no cluster is left)")
	return cmd
}

func (a *app) statusCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "status [STACK]",
		Short: "Show what the cluster runs and whether each step is healthy",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onTarget(&f, args, func(t *target) error {
				st, p, ctx := t.st, t.p, t.ctx
				if state, _ := cluster.State(ctx, p, st); state == cluster.StateStopped {
					return fmt.Errorf("%w: %s; start it with `kindred start %s`", cluster.ErrStopped, st.Cluster.Name, a.nameFor(st))
				}
				if a.useTUI() {
					return a.runStatusTUI(ctx, p, st)
				}
				rep, err := engine.NewStatus(a.engineConfig(p)).Run(ctx, st)
				if err != nil {
					return err
				}
				if a.json() {
					if err := a.writeJSON(rep); err != nil {
						return err
					}
					for _, s := range rep.Steps {
						if !s.Healthy {
							return shownError{errors.New("the stack is unhealthy; see the report")}
						}
					}
					return nil
				}
				fmt.Fprintf(a.stdout, "stack %q (kubeconfig %s)\n", rep.Stack, rep.Kubeconfig)
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STEP\tKIND\tHEALTH\tDETAIL")
				unhealthy := 0
				for _, s := range rep.Steps {
					h := "healthy"
					if !s.Healthy {
						h = "UNHEALTHY"
						unhealthy++
					}
					detail := s.Message
					if s.Endpoint != "" {
						detail += " at " + s.Endpoint
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Kind, h, detail)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if unhealthy > 0 {
					return fmt.Errorf("%d step%s unhealthy", unhealthy, plural(unhealthy))
				}
				return nil
			})
		},
	}
	f.add(cmd)
	return cmd
}
