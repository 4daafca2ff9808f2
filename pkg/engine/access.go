package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// ErrForbidden is wrapped when the user may not do what the plan needs on
// a cluster kindred did not create.
var ErrForbidden = errors.New("not permitted")

// permission is one thing the plan needs to do: a verb on a resource,
// in a namespace ("" for cluster-scoped resources).
type permission struct {
	verb      string
	gvr       schema.GroupVersionResource
	namespace string
}

func (p permission) String() string {
	res := p.gvr.Resource
	if p.gvr.Group != "" {
		res += "." + p.gvr.Group
	}
	if p.namespace == "" {
		return p.verb + " " + res + " (cluster-wide)"
	}
	return p.verb + " " + res + " in namespace " + p.namespace
}

var (
	secrets    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	leases     = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

// fingerprint sums up what a step is asked to do: its definition, its
// catalogue entry, its resolved inputs (chart, values files, manifests,
// scripts) and the stack's settings outside its lists of steps. A step
// whose record has the same fingerprint last ran here, and succeeded,
// with what it has now. "" (never recorded as such) when it cannot be
// computed.
func fingerprint(st *stack.Stack, s *plan.Step) string {
	settings := st.Stack
	settings.Include, settings.Databases, settings.Components, settings.Routes, settings.Tenants, settings.Jobs = nil, nil, nil, nil, nil, nil
	data, err := json.Marshal(struct {
		Kind      string
		Settings  api.Stack
		Component *api.Component
		Entry     *catalog.Entry
		Database  *api.Database
		Route     *api.Route
		Tenant    *api.Tenant
		Job       *api.Job
		Inputs    plan.Inputs
	}{s.Kind, settings, s.Component, s.Entry, s.Database, s.Route, s.Tenant, s.Job, s.Inputs})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// succeededAsIs says whether rec records step s succeeding with the
// definition it has now.
func (r *runner) succeededAsIs(rec *StepRecord, s *plan.Step) bool {
	return rec != nil && rec.Failed == "" && rec.Fingerprint != "" && rec.Fingerprint == r.fingerprint(s)
}

// fingerprint is step s's fingerprint, computed once a run.
func (r *runner) fingerprint(s *plan.Step) string {
	if f, ok := r.fingerprints.Load(s.ID); ok {
		return f.(string)
	}
	f := fingerprint(r.st, s)
	r.fingerprints.Store(s.ID, f)
	return f
}

// unchecked are the steps whose permissions a run on someone else's
// cluster must check: all of them when nothing is recorded, else those
// the record does not show succeeding with what they have now.
func (r *runner) unchecked(prev *State) []*plan.Step {
	var out []*plan.Step
	for _, s := range r.plan.Steps {
		if s.Kind == plan.KindCluster {
			continue
		}
		if prev != nil && r.succeededAsIs(prev.Steps[s.ID], s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// checkPermissions asks the cluster, before anything is changed, whether
// the user may do what the steps need, and what removing the steps the
// stack dropped needs: kindred's records, the namespaces it creates,
// helm's release records, and applying each object the steps render. It
// names everything that is missing.
func (r *runner) checkPermissions(ctx context.Context, steps []*plan.Step) error {
	need := map[permission]bool{}
	add := func(gvr schema.GroupVersionResource, ns string, verbs ...string) {
		for _, v := range verbs {
			need[permission{verb: v, gvr: gvr, namespace: ns}] = true
		}
	}
	add(secrets, SystemNamespace, "get", "list", "create", "update")
	add(leases, SystemNamespace, "get", "create", "update")
	// Namespaces are read before they are created; one the user may not
	// read may have to be created too.
	missingNS := func(ns string) {
		if ns == "" {
			return
		}
		add(namespaces, "", "get")
		if _, err := r.kube.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			add(namespaces, "", "create")
		}
	}
	missingNS(SystemNamespace)
	for _, s := range steps {
		mod := component.For(r.st, s)
		env := r.env(s, func(string) {})
		missingNS(env.Namespace)
		if s.Inputs.Chart != nil {
			add(secrets, env.Namespace, "get", "list", "create", "update") // helm's release records
		}
		objs, err := r.componentObjects(ctx, s, mod, env)
		var status *apierrors.StatusError
		if errors.As(err, &status) && apierrors.IsForbidden(err) && status.ErrStatus.Details != nil {
			// Rendering the step reads the cluster (a database's
			// credentials), and that read was refused: it is one of the
			// things missing.
			d := status.ErrStatus.Details
			add(schema.GroupVersionResource{Group: d.Group, Resource: d.Kind}, env.Namespace, "get")
			continue
		}
		if err != nil {
			continue // the step fails on its own, and says why, when it runs
		}
		for _, o := range objs {
			gvr, namespaced, err := r.kube.Mapping(o.GroupVersionKind())
			if err != nil {
				continue // a kind the step's own CRDs bring: creating those is checked
			}
			ns := ""
			if namespaced {
				if ns = o.GetNamespace(); ns == "" {
					ns = env.Namespace
				}
				missingNS(ns)
			}
			add(gvr, ns, "get", "create", "patch")
		}
	}
	// Removing the steps the stack dropped deletes what kindred created
	// for them, and their helm release's records.
	if r.prev != nil {
		for _, m := range r.removals() {
			rec := r.prev.Steps[m.Step]
			if rec.Release != "" {
				add(secrets, rec.Namespace, "delete")
			}
			for _, o := range rec.Inventory {
				if o.Adopted {
					continue // given back, not deleted
				}
				gv, _ := schema.ParseGroupVersion(o.APIVersion)
				if gvr, namespaced, err := r.kube.Mapping(gv.WithKind(o.Kind)); err == nil {
					ns := ""
					if namespaced {
						ns = o.Namespace
					}
					add(gvr, ns, "delete")
				}
			}
		}
	}
	var list []permission
	for p := range need {
		list = append(list, p)
	}
	denied := make([]bool, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: p.verb, Group: p.gvr.Group, Version: p.gvr.Version, Resource: p.gvr.Resource, Namespace: p.namespace}}}
			out, err := r.kube.Typed.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			denied[i] = !out.Status.Allowed
		}()
	}
	wg.Wait()
	var missing []string
	for i, p := range list {
		if errs[i] != nil {
			return fmt.Errorf("checking what you may do on the cluster: %w", errs[i])
		}
		if denied[i] {
			missing = append(missing, p.String())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%w: on this cluster you may not do what the stack needs; nothing was changed. Missing (%d):\n  %s\nask the cluster's administrator for these, or run the stack on a cluster kindred creates",
		ErrForbidden, len(missing), strings.Join(missing, "\n  "))
}
