package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
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
	if name == "" {
		name = st.Cluster.Provider
	}
	o := cluster.Options{Log: a.log, Context: f.context, NodeImage: f.nodeImage, Recreate: f.recreate, Purge: f.purge}
	o.Binaries, _ = a.lookupEnv("KINDRED_TESTBED_DIR")
	if o.Kubeconfig = f.kubeconfig; o.Kubeconfig == "" {
		o.Kubeconfig, _ = a.lookupEnv("KUBECONFIG")
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

// stackAndProvider loads the stack a command names and picks its provider.
func (a *app) stackAndProvider(f *clusterFlags, args []string) (*stack.Stack, cluster.Provider, error) {
	st, err := a.loadStack(args)
	if err != nil {
		return nil, nil, err
	}
	p, err := a.provider(f, st)
	return st, p, err
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
	var prune, deleteData bool
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
what up would do.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
			if f.dryRun {
				return a.dryRun(ctx, st, p)
			}
			if pl, ok := p.(cluster.Preloader); ok && st.Cluster.Registry != nil && len(st.Cluster.Registry.Mirrors) > 0 {
				// The images to warm the caches with while the cluster boots.
				imgs, err := engine.NewImages(a.engineConfig(p)).Run(ctx, st)
				if err != nil {
					a.log.Warn("not warming the registry caches: listing the stack's images failed", "err", err)
				}
				var refs []string
				for _, i := range imgs {
					refs = append(refs, i.Image)
				}
				pl.Preload(refs)
			}
			run := func(ctx context.Context, sink event.Sink, ask asker) (event.Summary, error) {
				cfg := a.engineConfig(p)
				cfg.Sink = sink
				up := engine.NewUp(cfg)
				up.Parallelism = parallel
				up.LockTimeout = lockTimeout
				up.Prune, up.DeleteData, up.Adopt = prune, deleteData, f.adopt
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
			if a.useTUI() {
				err = a.runTUI(ctx, "kindred up "+st.Metadata.Name, run)
			} else {
				var ask asker
				if !a.json() && a.output != OutputGitHub {
					ask = a.terminalAsker()
				}
				_, err = run(ctx, a.sink(), ask)
			}
			if err == nil && !a.json() {
				a.printSummary(ctx, p, st)
			}
			if err != nil && ctx.Err() == nil {
				a.diagnoseFailure(p, st, err)
			}
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "plan and run doctor, and create nothing (with -v, print the kind config)")
	cmd.Flags().BoolVar(&f.recreate, "recreate", false, "delete and re-create a kind cluster whose shape changed")
	cmd.Flags().StringVar(&f.nodeImage, "node-image", "", "kind node image to use instead of the pinned one")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "run at most this many steps at once (0: every step that is ready)")
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 2*time.Minute, "how long to wait while another run holds the cluster")
	cmd.Flags().BoolVar(&prune, "prune", false, "remove the steps the stack dropped without asking (needed without a terminal)")
	cmd.Flags().StringSliceVar(&f.adopt, "adopt", nil, "take over these helm releases, which kindred did not install, upgrading them with the stack's chart and values")
	cmd.Flags().BoolVar(&deleteData, "delete-data", false, "let a removal destroy a database's data (its claims, or data kept only in its pod)")
	return cmd
}

func (a *app) downCmd() *cobra.Command {
	var f clusterFlags
	var deleteCluster, keepCluster bool
	cmd := &cobra.Command{
		Use:   "down [STACK]",
		Short: "Delete the stack's kind cluster, or uninstall what the stack installed",
		Long: `With the kind provider, delete the stack's cluster. Its data folder
(cluster.dataDir) stays for the next up unless --purge is given; --purge
also removes the shared local registry and caches once no kindred cluster
is left.

With --keep-cluster, or on a simulated or existing cluster, uninstall
everything kindred recorded in the cluster instead, last level first. That
reads the record in the cluster, so the stack file may have changed or be
gone. With --delete-cluster, a simulated cluster is stopped too.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
			if d, ok := p.(cluster.Deleter); ok && p.Name() == cluster.Kind && !keepCluster {
				// Deleting the cluster removes what it runs; uninstalling
				// first would only take longer.
				_, err := p.Access(ctx, st)
				exists := !errors.Is(err, cluster.ErrNoCluster)
				if err := d.Delete(ctx, st); err != nil {
					return err
				}
				if exists {
					a.note(fmt.Sprintf("removed kind cluster %s, and everything it ran", st.Cluster.Name))
				} else {
					a.note(fmt.Sprintf("nothing to remove: no kind cluster %s made by kindred", st.Cluster.Name))
				}
				return nil
			}
			if f.purge {
				return usageError{fmt.Errorf("--purge needs the kind provider, without --keep-cluster")}
			}
			if _, ok := p.(cluster.Deleter); deleteCluster && !ok {
				return usageError{fmt.Errorf("--delete-cluster does not delete clusters kindred did not create (--provider existing); nothing was changed")}
			}
			if _, err := engine.NewDown(a.engineConfig(p)).Run(ctx, st); errors.Is(err, cluster.ErrNoCluster) {
				a.note("nothing to remove: " + err.Error())
			} else if err != nil {
				return err
			}
			if deleteCluster {
				if d, ok := p.(cluster.Deleter); ok {
					return d.Delete(ctx, st)
				}
				return usageError{fmt.Errorf("--delete-cluster does not delete clusters kindred did not create (--provider existing)")}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&deleteCluster, "delete-cluster", false, "after uninstalling, stop a simulated cluster too")
	cmd.Flags().BoolVar(&keepCluster, "keep-cluster", false, "kind: uninstall the stack and keep the cluster")
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
			t, err := a.target(&f, args)
			if err != nil {
				return err
			}
			defer t.stop()
			st, p, ctx := t.st, t.p, t.ctx
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
		},
	}
	f.add(cmd)
	return cmd
}
