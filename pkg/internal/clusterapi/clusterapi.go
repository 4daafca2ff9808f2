// Package clusterapi holds what the cluster facade (pkg/cluster) and the
// provider implementations under pkg/internal/provider share: how to reach
// a cluster, the provider interface and its optional capabilities. It sits
// below both, so the facade can construct the implementations without an
// import cycle; users see these types through pkg/cluster.
package clusterapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

// Access is how to reach a cluster, and the facts about it that change
// what the engine does there.
type Access struct {
	Kubeconfig string
	Context    string
	// HostData means the nodes mount the stack's cluster.dataDir, so
	// volumes can live in the host's data folder (kind).
	HostData bool
	// Simulated means the nodes run no containers (the simulated
	// cluster): there is no server to log in to behind a Ready pod.
	Simulated bool
	// Existing means kindred did not create the cluster (the existing
	// provider): it has no ingress-ready node or host ports, and its DNS
	// and network are not kindred's to change unless the stack asks.
	Existing bool
}

// RESTConfig reads the kubeconfig into a client configuration.
func (acc Access) RESTConfig() (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: acc.Kubeconfig}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: acc.Context}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", acc.Kubeconfig, err)
	}
	return kube.Unthrottled(rc), nil
}

// Provider supplies the cluster a stack runs on: kind, the simulated
// cluster, or an existing one.
type Provider interface {
	// Name is kind, sim or existing.
	Name() string
	// Ensure makes the cluster exist and answer, and reports whether it
	// had to create or start it.
	Ensure(ctx context.Context, st *stack.Stack, progress func(string)) (Access, bool, error)
	// Access returns how to reach the cluster, without creating it.
	Access(ctx context.Context, st *stack.Stack) (Access, error)
}

// Deleter is a provider that can delete the clusters it made. Delete
// reports whether the stack's cluster was there to delete; an absent one
// is no error.
type Deleter interface {
	Delete(ctx context.Context, st *stack.Stack) (bool, error)
}

// Stopper is a provider that can stop the clusters it made and keep them
// whole, to give a laptop its memory back: the kind cluster's node
// containers, the simulated cluster's processes. Ensure starts them again.
// Stopped reports whether the stack's cluster exists and is stopped.
type Stopper interface {
	Stop(ctx context.Context, st *stack.Stack) error
	Stopped(ctx context.Context, st *stack.Stack) (bool, error)
}

// ImageLoader is a provider that can copy a local image into the nodes.
type ImageLoader interface {
	LoadImage(ctx context.Context, st *stack.Stack, ref string) error
}

// LogCollector is a provider that can add its own logs (a kind cluster's
// node logs) to a diagnostics bundle folder.
type LogCollector interface {
	CollectLogs(ctx context.Context, st *stack.Stack, dir string) error
}

// Preflighter is a provider that can check, before creating anything,
// that it will be able to make the stack's cluster (a dry run).
type Preflighter interface {
	Preflight(ctx context.Context, st *stack.Stack) error
}

// Checker is a provider that knows what stacks it can run (the
// Kubernetes versions it has nodes for, say): its problems are bad input,
// found before anything is created.
type Checker interface {
	Check(st *stack.Stack) stack.Problems
}

// Preloader is a provider that can pull images into caches while the
// cluster boots, so the nodes find them there.
type Preloader interface {
	Preload(images []string, o Preload)
}

// DefaultTagTTL is how long, by default, a tag the upstream was asked
// about is served as the caches hold it.
const DefaultTagTTL = 24 * time.Hour

// Preload says how a Preloader treats the images it is given.
type Preload struct {
	// Layers pulls every layer into the caches; without it only the
	// images' tags are resolved.
	Layers bool
	// TagTTL is how long a tag the upstream was asked about is served as
	// the caches hold it, without asking again; 0 asks every time.
	TagTTL time.Duration
}

// Simulator is a provider whose cluster plays controllers that cannot run
// on it (the simulated cluster): the engine hands it the components'
// before it ensures the cluster.
type Simulator interface {
	Simulate(controllers []sim.Controller)
}

// ErrNoCluster means the provider has no cluster for the stack.
var ErrNoCluster = errors.New("no cluster")

// ErrStopped means the stack's cluster exists and is stopped (kindred
// stop); Ensure, through up or start, starts it again.
var ErrStopped = errors.New("the cluster is stopped")

// SimulatedNodeAnnotation marks the simulated cluster's nodes (kwok's),
// whichever provider reached the cluster.
const SimulatedNodeAnnotation = "kwok.x-k8s.io/node"

// StateDir is where kindred keeps clusters' state on this machine.
func StateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kindred")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kindred-state")
	}
	return filepath.Join(home, ".local", "state", "kindred")
}
