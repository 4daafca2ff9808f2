package mirror

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/internal/kube"
)

// live reads a cluster with gets and lists only, and remembers what it
// could not read instead of failing: a reader bound to view still gets a
// stack, and is told what is missing from it.
type live struct {
	kc *kube.Client

	mu     sync.Mutex
	cache  map[string][]*unstructured.Unstructured
	unread map[string]string
	// owners maps namespace/Service to the stack step it belongs to.
	owners map[string]string
}

func newLive(kc *kube.Client) *live {
	return &live{kc: kc, cache: map[string][]*unstructured.Unstructured{}, unread: map[string]string{}, owners: map[string]string{}}
}

func gvkOf(apiVersion, kind string) schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(apiVersion, kind)
}

// Served reports whether the cluster serves a kind.
func (l *live) Served(apiVersion, kind string) bool {
	_, _, err := l.kc.Mapping(gvkOf(apiVersion, kind))
	return err == nil
}

// List lists a kind, caching the answer; a kind not served lists nothing,
// and a refused list is recorded.
func (l *live) List(ctx context.Context, apiVersion, kind, namespace string) []*unstructured.Unstructured {
	key := apiVersion + "/" + kind + "@" + namespace
	l.mu.Lock()
	if objs, ok := l.cache[key]; ok {
		l.mu.Unlock()
		return objs
	}
	l.mu.Unlock()
	objs, err := l.kc.List(ctx, gvkOf(apiVersion, kind), namespace)
	if err != nil {
		objs = nil
		if ctx.Err() != nil {
			return nil // Read reports the cancellation
		}
		if !meta.IsNoMatchError(err) && !strings.Contains(err.Error(), "no matches for kind") {
			l.refused(kind, namespace, err)
		}
	}
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
	l.mu.Lock()
	l.cache[key] = objs
	l.mu.Unlock()
	return objs
}

// refused records a read that failed.
func (l *live) refused(what, namespace string, err error) {
	where := "(all)"
	if namespace != "" {
		where = "in namespace " + namespace
	}
	why := "failed"
	switch {
	case apierrors.IsForbidden(err):
		why = "forbidden"
	case apierrors.IsUnauthorized(err):
		why = "unauthorized"
	default:
		if s := err.Error(); len(s) < 160 {
			why = s
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unread[fmt.Sprintf("%s %s", what, where)] = why
}

// Mirrored reports the step a Service belongs to.
func (l *live) Mirrored(namespace, service string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.owners[namespace+"/"+service]
	return s, ok
}

func (l *live) own(namespace, service, step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owners[namespace+"/"+service] = step
}

// Unread is what could not be read, sorted.
func (l *live) Unread() []Unread {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Unread
	for what, why := range l.unread {
		out = append(out, Unread{What: what, Why: why})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].What < out[j].What })
	return out
}
