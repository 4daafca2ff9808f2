package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// ErrNotBuilt is wrapped by steps whose kind a later release of kindred
// brings (the issuer and routes), so the run says so plainly.
var ErrNotBuilt = errors.New("not built yet")

// step runs one plan step and records it.
func (r *runner) step(ctx context.Context, s *plan.Step, progress func(string)) (bool, error) {
	prev := r.prev.Steps[s.ID]
	var rec *StepRecord
	var changed bool
	var err error
	switch s.Kind {
	case plan.KindComponent:
		rec, changed, err = r.component(ctx, s, prev, progress)
	case plan.KindDatabase:
		rec, changed, err = r.objects(ctx, s.ID, s.Database.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.database(ctx, s.Database)
		}, DefaultTimeout)
		if rec != nil {
			e, _ := r.st.Catalog.Engine(s.Database.Engine)
			rec.Endpoint = fmt.Sprintf("%s.%s.svc.cluster.local:%d", s.Database.Name, s.Database.Namespace, e.Port)
			rec.Secret = s.Database.Name + "-credentials"
		}
		if err == nil {
			err = r.pingDatabase(ctx, s.Database, progress)
		}
	case plan.KindTenant:
		rec, changed, err = r.objects(ctx, s.ID, "", prev, progress, func() ([]*unstructured.Unstructured, error) {
			return tenantObjects(s.Tenant)
		}, DefaultTimeout)
	case plan.KindJob:
		rec, changed, err = r.objects(ctx, s.ID, s.Job.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return jobObjects(s.Job)
		}, s.Job.Timeout.Duration)
	case plan.KindIssuer:
		rec, changed, err = r.objects(ctx, s.ID, "", prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.issuerObjects()
		}, DefaultTimeout)
	case plan.KindRoute:
		var proxy *unstructured.Unstructured
		rec, changed, err = r.objects(ctx, s.ID, s.Route.Service.Namespace, prev, progress, func() ([]*unstructured.Unstructured, error) {
			objs, err := routeObjects(s.Route)
			if err == nil {
				proxy = objs[0]
			}
			return objs, err
		}, DefaultTimeout)
		if err == nil {
			err = r.waitProxy(ctx, proxy, progress)
		}
	default:
		return false, fmt.Errorf("%s steps are %w", s.Kind, ErrNotBuilt)
	}
	if err != nil {
		return changed, err
	}
	rec.Kind, rec.Level, rec.Applied = s.Kind, s.Level, r.cfg.Now().UTC().Format(time.RFC3339)
	return changed, r.store.update(ctx, func(st *State) { st.Steps[s.ID] = rec })
}

// DefaultTimeout bounds a step that sets no timeout of its own.
const DefaultTimeout = 5 * time.Minute

// component installs a catalogue entry, a chart, a kustomize folder or
// manifests, then runs its readiness checks.
func (r *runner) component(ctx context.Context, s *plan.Step, prev *StepRecord, progress func(string)) (*StepRecord, bool, error) {
	c, e := s.Component, s.Entry
	timeout := c.Timeout.Duration
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ns := componentNamespace(s)
	var checks []api.Check
	if e != nil {
		checks = append(checks, e.Checks...)
	}
	checks = append(checks, c.Checks...)

	var rec *StepRecord
	var changed bool
	var err error
	switch {
	case c.Chart != nil || (e != nil && e.Chart != nil):
		rec, changed, err = r.chart(ctx, s, ns, timeout, progress)
	case c.Kustomize != "":
		rec, changed, err = r.objects(ctx, s.ID, ns, prev, progress, func() ([]*unstructured.Unstructured, error) {
			return r.kustomize(c.Kustomize)
		}, timeout)
	default:
		rec, changed, err = r.objects(ctx, s.ID, ns, prev, progress, func() ([]*unstructured.Unstructured, error) {
			objs, err := r.manifests(ctx, manifestSources(s))
			if err == nil && e != nil && e.Role == catalog.RoleIngress {
				err = placeIngress(objs)
			}
			return objs, err
		}, timeout)
	}
	if err != nil {
		return nil, changed, err
	}
	if e != nil && e.Role == catalog.RoleIngress && r.st.Ingress != nil {
		ok, err := ensureDNSRewrite(ctx, r.kube, r.st.Ingress.Domain)
		if err != nil {
			return nil, changed, err
		}
		if ok {
			progress("CoreDNS: *." + r.st.Ingress.Domain + " answers with " + envoyService())
			rec.DNSRewrite = r.st.Ingress.Domain
		}
	}
	if e != nil && e.Role == catalog.RoleCNI {
		if err := r.calico(ctx, timeout, progress); err != nil {
			return nil, changed, err
		}
		// down removes the Installation, so the operator tears Calico down.
		rec.Inventory = append(rec.Inventory, ObjectRef{APIVersion: "operator.tigera.io/v1", Kind: "Installation", Name: "default"})
	}
	if len(checks) > 0 {
		progress(fmt.Sprintf("running %d readiness checks", len(checks)))
		if err := ready.RunChecks(ctx, r.kube, checks, timeout, progress); err != nil {
			return nil, changed, err
		}
	}
	return rec, changed, nil
}

// componentNamespace is where a component installs: its own namespace,
// else its catalogue entry's, else the default.
func componentNamespace(s *plan.Step) string {
	if ns := s.Component.Namespace; ns != "" {
		return ns
	}
	if s.Entry != nil && s.Entry.Namespace != "" {
		return s.Entry.Namespace
	}
	return stack.DefaultNamespace
}
