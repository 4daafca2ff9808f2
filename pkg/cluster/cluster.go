// Package cluster is the facade over the clusters stacks run on, modelled on
// kind's pkg/cluster: one constructor chooses kind, the simulated cluster or
// an existing cluster, and what only some providers can do (delete a
// cluster, load an image, collect node logs, check before creating, warm
// image caches) is a small interface to test for, never a type switch.
//
// The engine imports this package, never an implementation; the
// implementations, the kind adapter and the registry containers live under
// pkg/internal.
package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/clusterapi"
	"kindred.dev/kindred/pkg/internal/kind"
	"kindred.dev/kindred/pkg/internal/provider"
	"kindred.dev/kindred/pkg/internal/registry"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// The names of the providers.
const (
	Kind     = api.ProviderKind
	Sim      = api.ProviderSim
	Existing = api.ProviderExisting
)

type (
	// Access is how to reach a cluster, and the facts about it (whether
	// its nodes mount the host's data folder, whether they are simulated).
	Access = clusterapi.Access
	// Provider supplies the cluster a stack runs on.
	Provider = clusterapi.Provider
	// Deleter is a provider that can delete the clusters it made.
	Deleter = clusterapi.Deleter
	// Stopper is a provider that can stop its clusters and keep them whole;
	// Ensure (up, start) starts them again.
	Stopper = clusterapi.Stopper
	// ImageLoader is a provider that can copy a local image into the nodes.
	ImageLoader = clusterapi.ImageLoader
	// LogCollector is a provider that can add its node logs to a
	// diagnostics bundle.
	LogCollector = clusterapi.LogCollector
	// Preflighter is a provider that can check, creating nothing, that it
	// will be able to make the stack's cluster.
	Preflighter = clusterapi.Preflighter
	// Preloader is a provider that can warm image caches while the
	// cluster boots.
	Preloader = clusterapi.Preloader
	// Preload says how a Preloader treats the images it is given.
	Preload = clusterapi.Preload
	// Checker is a provider that reports, as bad input, what of a stack
	// it cannot run.
	Checker = clusterapi.Checker
	// Simulator is a provider whose cluster plays the controllers that
	// cannot run on it, as components ask.
	Simulator = clusterapi.Simulator
	// SimController is a controller a simulated cluster plays (see
	// sim.Controller).
	SimController = sim.Controller
)

// ErrNoCluster means the provider has no cluster for the stack.
var ErrNoCluster = clusterapi.ErrNoCluster

// ErrStopped means the stack's cluster exists and is stopped (Stopper);
// Ensure starts it again.
var ErrStopped = clusterapi.ErrStopped

// SimulatedNodeAnnotation marks the simulated cluster's nodes.
const SimulatedNodeAnnotation = clusterapi.SimulatedNodeAnnotation

// DefaultTagTTL is how long, by default, a tag a pull-through cache's
// upstream was asked about is served as the cache holds it.
const DefaultTagTTL = clusterapi.DefaultTagTTL

// StateDir is where kindred keeps clusters' state on this machine.
func StateDir() string { return clusterapi.StateDir() }

// Options configure the provider New makes; each provider reads its own.
type Options struct {
	// Log receives the provider's diagnostics; nil discards them.
	Log *slog.Logger

	// Existing: the kubeconfig (default ~/.kube/config) and its context
	// (default the stack's cluster.context).
	Kubeconfig string
	Context    string
	// Simulated says an existing cluster is a simulated one.
	Simulated bool

	// Kind: the container runtime (docker, podman or nerdctl; empty
	// detects one), a node image instead of the pinned one, whether a
	// cluster whose shape changed may be re-created, whether Delete also
	// removes the data folder and the shared registry, and a function
	// that receives the rendered kind configuration.
	Runtime   string
	NodeImage string
	Recreate  bool
	Purge     bool
	Config    func(yaml []byte)

	// Sim: the folder of the test-bed binaries (empty looks them up), and
	// the folder that holds one folder per simulated cluster (default
	// StateDir()/sim).
	Binaries string
	Root     string
}

// New returns the provider called name: kind, sim or existing.
func New(name string, o Options) (Provider, error) {
	switch name {
	case Kind:
		return &provider.Kind{Runtime: o.Runtime, NodeImage: o.NodeImage, Recreate: o.Recreate, Purge: o.Purge, Config: o.Config, Log: o.Log}, nil
	case Sim:
		return &provider.Sim{Root: o.Root, Binaries: o.Binaries, Log: o.Log}, nil
	case Existing:
		return &provider.Existing{Kubeconfig: o.Kubeconfig, Context: o.Context, Simulated: o.Simulated}, nil
	}
	return nil, fmt.Errorf("unknown provider %q: want kind, sim or existing", name)
}

// Folder is where kindred keeps the local state of the stack's cluster
// (its private kubeconfig, the configuration it was made from), or "" for
// a provider that keeps none (existing).
func Folder(name string, o Options, st *stack.Stack) string {
	switch name {
	case Kind:
		return filepath.Dir((&provider.Kind{}).Kubeconfig(st))
	case Sim:
		return (&provider.Sim{Root: o.Root}).Folder(st)
	}
	return ""
}

// DetectRuntime returns the container runtime kind would use: name when it
// answers, else the first of docker, podman and nerdctl that does.
func DetectRuntime(ctx context.Context, name string) (string, error) {
	return kind.DetectRuntime(ctx, name)
}

// KubernetesVersions are the versions kind has a pinned node image for,
// newest first.
func KubernetesVersions() []string { return kind.Versions() }

// NodeImage is the kind node image, by digest, kind runs for a Kubernetes
// version.
func NodeImage(version string) (string, error) { return kind.NodeImage(version) }

// Nodes names the nodes of a stack's cluster as kind names them, with their
// labels (ingress-ready on the ingress node), for the simulated cluster.
func Nodes(st *stack.Stack) []sim.Node { return provider.Nodes(st) }

// ResolveImage finds an image's digest through what runs on this machine
// for runtime (docker, podman): the local registry, or the pull-through
// cache of the image's registry. why says what was asked when there is no
// digest; it never guesses.
func ResolveImage(runtime string) func(ctx context.Context, image string) (digest, why string) {
	return registry.Runtime{Bin: runtime}.Resolve
}
