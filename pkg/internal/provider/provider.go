// Package provider implements the clusters stacks run on: kind clusters,
// the simulated cluster (sim), and any existing cluster through a
// kubeconfig (existing). Programs reach them through pkg/cluster.
package provider

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/clusterapi"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// ErrNoCluster means the provider has no cluster for the stack.
var ErrNoCluster = clusterapi.ErrNoCluster

// ErrStopped means the stack's cluster is stopped.
var ErrStopped = clusterapi.ErrStopped

// StateDir is where kindred keeps clusters' state on this machine.
func StateDir() string { return clusterapi.StateDir() }

// Sim runs stacks on a simulated cluster that outlives the command, so
// that up, status and down work across commands.
type Sim struct {
	// Root holds one folder per cluster; defaults to StateDir()/sim.
	Root string
	// Binaries is the folder of the test-bed binaries; empty looks them up.
	Binaries string
	Log      *slog.Logger
	// Controllers are what the cluster plays for components whose own
	// controllers cannot run on it (see Simulate).
	Controllers []sim.Controller
}

// Simulate sets the controllers the cluster plays while a run goes on.
func (p *Sim) Simulate(controllers []sim.Controller) { p.Controllers = controllers }

// Name is "sim".
func (p *Sim) Name() string { return api.ProviderSim }

// Check: the simulated cluster runs one Kubernetes version.
func (p *Sim) Check(st *stack.Stack) stack.Problems {
	if minor(st.Cluster.KubernetesVersion) != minor(sim.KubernetesVersion) {
		return stack.Problems{st.Problemf("cluster.kubernetesVersion", "the simulated cluster runs Kubernetes %s only: set %s (or any %s patch), or use the kind provider", sim.KubernetesVersion, sim.KubernetesVersion, minor(sim.KubernetesVersion))}
	}
	return nil
}

// minor is v1.35 of v1.35.4.
func minor(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// Folder is the folder of the stack's simulated cluster.
func (p *Sim) Folder(st *stack.Stack) string { return p.root(st) }

func (p *Sim) root(st *stack.Stack) string {
	root := p.Root
	if root == "" {
		root = filepath.Join(StateDir(), "sim")
	}
	return filepath.Join(root, st.Cluster.Name)
}

// Ensure reuses the stack's running simulated cluster or starts one shaped
// like the stack's nodes.
func (p *Sim) Ensure(ctx context.Context, st *stack.Stack, progress func(string)) (clusterapi.Access, bool, error) {
	c, err := sim.Open(p.root(st))
	if err != nil {
		return clusterapi.Access{}, false, err
	}
	if c != nil {
		p.simulate(ctx, c)
		return clusterapi.Access{Kubeconfig: c.Kubeconfig, Simulated: true}, false, nil
	}
	if dir := sim.Paused(p.root(st)); dir != "" {
		progress("starting the stopped simulated cluster again")
		c, err := sim.Resume(ctx, dir, p.Log)
		if err != nil {
			return clusterapi.Access{}, false, err
		}
		p.simulate(ctx, c)
		return clusterapi.Access{Kubeconfig: c.Kubeconfig, Simulated: true}, true, nil
	}
	progress("starting a simulated cluster")
	opts := []sim.Option{sim.WithRoot(p.root(st)), sim.WithKeep(), sim.WithName(st.Cluster.Name), sim.WithNodes(Nodes(st)...)}
	if p.Binaries != "" {
		opts = append(opts, sim.WithBinaries(p.Binaries))
	}
	if p.Log != nil {
		opts = append(opts, sim.WithLogger(p.Log))
	}
	// The binaries first, outside the start's deadline: on first use they
	// are built, which takes minutes.
	if err := sim.EnsureBinaries(ctx, p.Binaries, progress, p.Controllers...); err != nil {
		return clusterapi.Access{}, false, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	c, err = sim.Start(startCtx, opts...)
	if err != nil {
		return clusterapi.Access{}, false, err
	}
	p.simulate(ctx, c)
	return clusterapi.Access{Kubeconfig: c.Kubeconfig, Simulated: true}, true, nil
}

// simulate plays the components' controllers for as long as the run goes
// on (see sim.SimulateControllers).
func (p *Sim) simulate(ctx context.Context, c *sim.Cluster) {
	if len(p.Controllers) == 0 {
		return
	}
	if p.Log != nil {
		var controllers []string
		for _, ctl := range p.Controllers {
			if ctl.How != "" {
				controllers = append(controllers, ctl.Name+": "+ctl.How)
			}
		}
		p.Log.Info("simulated cluster", "real", sim.Real, "played", sim.Played, "skipped", sim.Skipped, "controllers", strings.Join(controllers, "; "))
	}
	go func() {
		if err := c.SimulateControllers(ctx, p.Controllers); err != nil && p.Log != nil {
			p.Log.Warn("simulating controllers", "err", err)
		}
	}()
}

// Access returns the running simulated cluster of the stack.
func (p *Sim) Access(ctx context.Context, st *stack.Stack) (clusterapi.Access, error) {
	c, err := sim.Open(p.root(st))
	if err != nil {
		return clusterapi.Access{}, err
	}
	if c == nil && sim.Paused(p.root(st)) != "" {
		return clusterapi.Access{}, fmt.Errorf("%w: simulated cluster %q is stopped; start it with `kindred start %s`", ErrStopped, st.Cluster.Name, st.Cluster.Name)
	}
	if c == nil {
		return clusterapi.Access{}, fmt.Errorf("%w: no simulated cluster %q is running; start one with `kindred up --provider sim`", ErrNoCluster, st.Cluster.Name)
	}
	p.simulate(ctx, c)
	return clusterapi.Access{Kubeconfig: c.Kubeconfig, Simulated: true}, nil
}

// Stop ends the processes of the stack's simulated cluster and keeps its
// folder, so Ensure resumes it with everything it held.
func (p *Sim) Stop(ctx context.Context, st *stack.Stack) error {
	c, err := sim.Open(p.root(st))
	if err != nil {
		return err
	}
	if c == nil {
		if sim.Paused(p.root(st)) != "" {
			return nil
		}
		return fmt.Errorf("%w: no simulated cluster %q", ErrNoCluster, st.Cluster.Name)
	}
	return c.Pause()
}

// Stopped reports whether the stack's simulated cluster is stopped.
func (p *Sim) Stopped(ctx context.Context, st *stack.Stack) (bool, error) {
	c, err := sim.Open(p.root(st))
	if err != nil || c != nil {
		return false, err
	}
	if sim.Paused(p.root(st)) != "" {
		return true, nil
	}
	return false, fmt.Errorf("%w: no simulated cluster %q", ErrNoCluster, st.Cluster.Name)
}

// Delete stops the stack's simulated cluster, if one runs, and removes it.
func (p *Sim) Delete(ctx context.Context, st *stack.Stack) (bool, error) {
	c, err := sim.Open(p.root(st))
	if err != nil {
		return false, err
	}
	if c != nil {
		if err := c.Stop(); err != nil {
			return true, err
		}
	}
	return c != nil, os.RemoveAll(p.root(st))
}

// Nodes shapes simulated nodes like the stack's node groups, named as kind
// names its nodes.
func Nodes(st *stack.Stack) []sim.Node {
	var out []sim.Node
	workers := 0
	for _, g := range st.Cluster.Nodes {
		name := st.Cluster.Name + "-control-plane"
		if g.Role == api.RoleWorker {
			workers++
			name = fmt.Sprintf("%s-worker%d", st.Cluster.Name, workers)
		}
		labels := map[string]string{}
		for k, v := range g.Labels {
			labels[k] = v
		}
		if g.Ingress {
			labels[api.IngressReadyLabel] = "true"
		}
		n := sim.Node{Name: name, Count: g.Count, Labels: labels, ControlPlane: g.Role == api.RoleControlPlane}
		for _, t := range g.Taints {
			n.Taints = append(n.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
		}
		out = append(out, n)
	}
	return out
}

// Existing runs stacks on a cluster kindred did not create.
type Existing struct {
	Kubeconfig string
	Context    string
	// Simulated says the cluster is a simulated one (its nodes run no
	// containers); kindredtest and programs that start sim.Cluster know.
	Simulated bool
}

// Name is "existing".
func (p *Existing) Name() string { return api.ProviderExisting }

// Ensure checks nothing beyond the kubeconfig; the first API call tells.
func (p *Existing) Ensure(ctx context.Context, st *stack.Stack, progress func(string)) (clusterapi.Access, bool, error) {
	acc, err := p.Access(ctx, st)
	return acc, false, err
}

// Access returns the kubeconfig and context to use.
func (p *Existing) Access(ctx context.Context, st *stack.Stack) (clusterapi.Access, error) {
	kc := p.Kubeconfig
	if kc == "" {
		home, _ := os.UserHomeDir()
		kc = filepath.Join(home, ".kube", "config")
	}
	if _, err := os.Stat(kc); err != nil {
		return clusterapi.Access{}, fmt.Errorf("%w: kubeconfig %s: %v", ErrNoCluster, kc, err)
	}
	ctxName := p.Context
	if ctxName == "" {
		ctxName = st.Cluster.Context
	}
	return clusterapi.Access{Kubeconfig: kc, Context: ctxName, Simulated: p.Simulated, Existing: true}, nil
}
