package engine

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// Export is a stack resolved and rendered for another tool (kindred
// render): each step's objects, and for chart steps the chart and values,
// with what only makes sense on a local cluster left out and listed.
type Export struct {
	Stack string
	Steps []ExportStep
	// Secrets are the Secrets the stack's steps would create (database
	// credentials, the local CA), to be created by their user: never
	// their values.
	Secrets []SecretToCreate
	// LeftOut says what was left out or replaced, and why.
	LeftOut []string

	// scopes says, for the kinds the export's own CRDs define (by
	// group/kind), whether they are namespaced; built on first use.
	scopes map[string]bool
}

// ExportStep is one step.
type ExportStep struct {
	ID        string
	Kind      string
	Level     int
	Needs     []string
	Namespace string
	// Chart is set for a chart step, with the version it resolved to.
	Chart *ExportChart
	// Objects are what the step applies (a chart's rendered manifest),
	// without Secrets; CRDs first.
	Objects []*unstructured.Unstructured
	// After are objects applied once the chart's are in (an operator's
	// configuration, whose kind the chart's CRDs define).
	After []*unstructured.Unstructured
}

// ExportChart is a chart step's chart, resolved, and its values.
type ExportChart struct {
	Repo, OCI, Name, Version string
	Values                   map[string]any
}

// SecretToCreate names a Secret and its keys.
type SecretToCreate struct {
	Namespace, Name, Step string
	Keys                  []string
}

// Exporter renders a stack for another tool.
type Exporter struct {
	cfg Config
	// Lock, when set, pins the charts and files rendered.
	Lock *Lock
}

// NewExporter returns an Exporter action.
func NewExporter(cfg Config) *Exporter {
	cfg.defaults()
	return &Exporter{cfg: cfg}
}

// Run resolves and renders st with no cluster. Left out: the cluster
// step, the local CA's issuer step, placement that only fits kind (the ingress proxy's
// host ports on the ingress node), and every Secret's data.
func (a *Exporter) Run(ctx context.Context, st *stack.Stack) (*Export, error) {
	p, err := plan.Build(st, a.cfg.forProvider()...)
	if err != nil {
		return nil, err
	}
	if a.Lock != nil {
		if err := a.Lock.apply(st, p); err != nil {
			return nil, err
		}
	}
	r := offlineRunner(&a.cfg, st, p)
	ex := &Export{Stack: st.Metadata.Name}
	for _, s := range p.Steps {
		switch s.Kind {
		case plan.KindCluster:
			continue
		case plan.KindIssuer:
			ex.LeftOut = append(ex.LeftOut, fmt.Sprintf("step %s: the issuer backed by this machine's local CA, and its wildcard certificate; provide a ClusterIssuer named %q on the target cluster", s.ID, "kindred"))
			continue
		}
		mod := component.For(st, s)
		env := r.env(s, nil)
		es := ExportStep{ID: s.ID, Kind: s.Kind, Level: s.Level, Needs: s.Needs, Namespace: env.Namespace}
		var objs []*unstructured.Unstructured
		if s.Inputs.Chart != nil {
			rel, err := r.chartRelease(s, mod, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			f, err := r.helm.Fetcher.Fetch(ctx, rel.Chart)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			ch := s.Inputs.Chart
			es.Chart = &ExportChart{Repo: ch.Repo, OCI: ch.OCI, Name: f.Chart.Metadata.Name, Version: f.Chart.Metadata.Version, Values: rel.Values}
			if ch.Path != "" {
				// No repository to point a tool at: the step is written
				// as its rendered objects.
				es.Chart = nil
				ex.LeftOut = append(ex.LeftOut, fmt.Sprintf("step %s: its chart is a local folder (%s), so it is written rendered, as plain objects; publish the chart to keep it a release", s.ID, ch.Path))
			}
			manifest, err := r.helm.Render(ctx, helm.Release{Name: rel.Name, Namespace: rel.Namespace, Chart: rel.Chart, Values: rel.Values}, st.Cluster.KubernetesVersion)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			if objs, err = kube.Decode([]byte(manifest)); err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			if po, ok := mod.(component.PreparedObjects); ok {
				if es.After, err = po.PreparedObjects(env); err != nil {
					return nil, fmt.Errorf("%s: %w", s.ID, err)
				}
			}
		} else {
			if rd, ok := mod.(component.Renderer); ok && !hasSource(s) {
				objs, err = rd.Render(ctx, env)
			} else if s.Component != nil && s.Component.Kustomize != "" {
				objs, err = r.kustomize(s.Component.Kustomize)
			} else {
				objs, err = r.manifests(ctx, s.Inputs.Manifests)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			if _, ok := mod.(component.Patcher); ok && hasSource(s) {
				ex.LeftOut = append(ex.LeftOut, fmt.Sprintf("step %s: kindred's changes for a local cluster (its proxy on the ingress node's host ports) are not applied: the objects are as published", s.ID))
			}
			if _, ok := mod.(component.Finisher); ok && s.Kind == plan.KindComponent {
				ex.LeftOut = append(ex.LeftOut, fmt.Sprintf("step %s: what kindred does once it is ready on a local cluster (a CoreDNS rewrite of the stack's domain, say) is not part of the output", s.ID))
			}
		}
		for _, o := range objs {
			if o.GetKind() == "Secret" && o.GetAPIVersion() == "v1" {
				sec := SecretToCreate{Namespace: o.GetNamespace(), Name: o.GetName(), Step: s.ID}
				if sec.Namespace == "" {
					sec.Namespace = es.Namespace
				}
				for _, field := range []string{"data", "stringData"} {
					m, _, _ := unstructured.NestedMap(o.Object, field)
					for k := range m {
						sec.Keys = append(sec.Keys, k)
					}
				}
				sort.Strings(sec.Keys)
				ex.Secrets = append(ex.Secrets, sec)
				continue
			}
			es.Objects = append(es.Objects, o)
		}
		sort.SliceStable(es.Objects, func(i, j int) bool { return crdFirst(es.Objects[i]) && !crdFirst(es.Objects[j]) })
		ex.Steps = append(ex.Steps, es)
	}
	if st.Ingress != nil {
		ex.LeftOut = append(ex.LeftOut, fmt.Sprintf("routes: hosts are under the stack's local domain %s; change them for the target cluster", st.Ingress.Domain))
	}
	// A ${VAR} may hold a secret: what it expanded to is written as the
	// reference, for the target's own tooling to fill in.
	redacted := false
	for i := range ex.Steps {
		s := &ex.Steps[i]
		if s.Chart != nil {
			s.Chart.Values, _ = redactAll(st, s.Chart.Values, &redacted).(map[string]any)
		}
		for _, objs := range [][]*unstructured.Unstructured{s.Objects, s.After} {
			for _, o := range objs {
				o.Object, _ = redactAll(st, o.Object, &redacted).(map[string]any)
			}
		}
	}
	if redacted {
		ex.LeftOut = append(ex.LeftOut, "values that came from the stack's ${VAR}s are written as the ${VAR} reference, never their value: fill them in on the target (helmfile: requiredEnv; Flux: valuesFrom a Secret; Argo CD: a plugin or a Secret)")
	}
	return ex, nil
}

// redactAll replaces, in every string of v, the values the stack's
// variables expanded to by their references.
func redactAll(st *stack.Stack, v any, changed *bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			t[k] = redactAll(st, c, changed)
		}
	case []any:
		for i, c := range t {
			t[i] = redactAll(st, c, changed)
		}
	case string:
		if r := st.Redact(t); r != t {
			*changed = true
			return r
		}
	}
	return v
}

func crdFirst(u *unstructured.Unstructured) bool {
	return u.GetKind() == "CustomResourceDefinition" || u.GetKind() == "Namespace"
}

// clusterScoped are the built-in kinds with no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"PriorityClass": true, "StorageClass": true, "ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "APIService": true, "PersistentVolume": true,
	"IngressClass": true, "RuntimeClass": true, "CSIDriver": true, "Node": true, "VolumeAttachment": true,
}

// namespaced reports whether objects of u's kind live in a namespace,
// from the built-in kinds and the CRDs the export itself holds.
func (e *Export) namespaced(u *unstructured.Unstructured) bool {
	if clusterScoped[u.GetKind()] {
		return false
	}
	if e.scopes == nil {
		e.scopes = map[string]bool{}
		for _, s := range e.Steps {
			for _, o := range s.Objects {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
				e.scopes[group+"/"+kind] = scope != "Cluster"
			}
		}
	}
	if namespaced, ok := e.scopes[u.GroupVersionKind().Group+"/"+u.GetKind()]; ok {
		return namespaced
	}
	return true
}
