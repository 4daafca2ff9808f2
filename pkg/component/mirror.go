package component

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// Live is a read-only view of a running cluster, for kindred mirror. It
// only gets and lists.
type Live interface {
	// List lists the objects of a kind in namespace, or in every namespace
	// when it is empty. A kind the cluster does not serve lists nothing;
	// a list the reader may not make lists nothing too, and Live records
	// it as not read.
	List(ctx context.Context, apiVersion, kind, namespace string) []*unstructured.Unstructured
	// Served reports whether the cluster serves a kind.
	Served(apiVersion, kind string) bool
	// Mirrored reports whether a Service's namespace and name belong to
	// something the mirrored stack installs, so a route to it may be kept.
	Mirrored(namespace, service string) (step string, ok bool)
}

// MirrorNote says where one line of a mirrored stack came from. Path is
// the field's path in the stack, as validation messages write it
// (ingress.domain, routes[0]); a path that is not in the stack makes the
// note part of the file's header.
type MirrorNote struct {
	Path string `json:"path"`
	From string `json:"from"`
}

// Mirrored is what a component found of itself in a live cluster.
type Mirrored struct {
	Notes []MirrorNote
	// Namespaces it accounts for: what runs there is this component's,
	// and is neither a release to mirror nor something left out.
	Namespaces []string
}

// Mirrorer is a component that recognises itself in a live cluster and
// writes what it finds into a stack being mirrored (kindred mirror).
// Mirror is called once the stack's cluster, components and tenants are
// filled in, in registration order.
type Mirrorer interface {
	Mirror(ctx context.Context, live Live, into *api.Stack) (Mirrored, error)
}
