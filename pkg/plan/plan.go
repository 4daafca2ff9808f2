// Package plan turns a stack into a graph of steps: what to install, and what
// must be ready before each step may start.
//
// Edges come from a stack's explicit needs and from rules that hold for every
// stack: the cluster comes first, the CNI before anything that runs pods,
// the certificates component before the issuer, the ingress controller
// before routes, and a database before whatever names it.
package plan

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/stack"
	"sigs.k8s.io/yaml"
)

// Kinds of step.
const (
	KindCluster   = "cluster"
	KindComponent = "component"
	KindDatabase  = "database"
	KindIssuer    = "issuer"
	KindRoute     = "route"
	KindTenant    = "tenant"
	KindJob       = "job"
)

// Step is one node of the plan.
type Step struct {
	ID    string   `json:"id"`
	Kind  string   `json:"kind"`
	Needs []string `json:"needs"`
	Level int      `json:"level"`

	// What the step installs; one is set, depending on Kind.
	Component *api.Component `json:"-"`
	Entry     *catalog.Entry `json:"-"` // the catalogue entry a component uses
	Database  *api.Database  `json:"-"`
	Route     *api.Route     `json:"-"`
	Tenant    *api.Tenant    `json:"-"`
	Job       *api.Job       `json:"-"`

	// Inputs are what the step reads from the catalogue and the stack's
	// folder, resolved once here, so that a run never goes back to them.
	Inputs Inputs `json:"-"`
}

// Inputs are a step's resolved inputs.
type Inputs struct {
	// Chart is the chart a component installs: its own, else its
	// catalogue entry's.
	Chart *api.Chart
	// ChartDigest, set from a lock, is the digest (sha256:HEX) the chart
	// must have.
	ChartDigest string
	// ValuesFiles are a chart component's values files, parsed, in the
	// stack's order.
	ValuesFiles []map[string]any
	// Manifests are a manifests component's files from the stack's folder
	// (by path as the stack writes it), and its catalogue entry's URLs with
	// their pins, in order.
	Manifests []Manifest
	// Engine is a database's catalogue entry; Init and Seed its scripts,
	// named so that they run in the stack's order.
	Engine     *catalog.Entry
	Init, Seed []Script
}

// Manifest is a file of manifests: its content (read from the stack's
// folder), or the URL to fetch, with the sha256 that pins it.
type Manifest struct {
	Path, URL, SHA256 string
	Data              []byte
}

// Script is an init or seed script.
type Script struct {
	Name    string
	Content string
}

// Plan is the steps of a stack in a stable order: by level, then by ID.
type Plan struct {
	Stack  string     `json:"stack"`
	Steps  []*Step    `json:"steps"`
	Levels [][]string `json:"levels"`

	byID map[string]*Step
}

// Step returns the step with id.
func (p *Plan) Step(id string) (*Step, bool) {
	s, ok := p.byID[id]
	return s, ok
}

// Dependants returns the steps that need id, directly or not.
func (p *Plan) Dependants(id string) []string {
	var out []string
	seen := map[string]bool{id: true}
	for changed := true; changed; {
		changed = false
		for _, s := range p.Steps {
			if seen[s.ID] {
				continue
			}
			for _, n := range s.Needs {
				if seen[n] {
					seen[s.ID] = true
					out = append(out, s.ID)
					changed = true
					break
				}
			}
		}
	}
	return out
}

// builder assembles a plan and the problems found on the way.
type builder struct {
	st    *stack.Stack
	steps map[string]*Step
	order []string
	// needPath is where an explicit need was written, for messages.
	needPath map[[2]string]string
	ps       stack.Problems
	// provider is where the cluster really comes from, if known.
	onProvider string
}

// Option changes how Build plans.
type Option func(*builder)

// ForProvider plans for the provider the cluster really comes from (kind,
// sim or existing), which may not be the one the stack names.
func ForProvider(name string) Option { return func(b *builder) { b.onProvider = name } }

// Build makes the plan for a loaded stack. A need that names no step and a
// cycle are problems, reported with their positions.
func Build(st *stack.Stack, opts ...Option) (*Plan, error) {
	b := &builder{st: st, steps: map[string]*Step{}, needPath: map[[2]string]string{}}
	for _, o := range opts {
		o(b)
	}
	s := &st.Stack

	b.add(&Step{ID: stack.StepCluster, Kind: KindCluster})
	pods := []string{stack.StepCluster}
	// An existing cluster has its network already: a CNI goes in only when
	// the stack itself is written for an existing cluster and names one,
	// not when a stack for kind is pointed at one.
	existingOnly := b.onProvider == api.ProviderExisting && s.Cluster.Provider != api.ProviderExisting
	if cni := s.Cluster.Networking.CNI; cni != "" && cni != api.CNIKindnet && !existingOnly {
		// kind's own CNI comes with the cluster; another is a step of its
		// own, its catalogue entry named like the stack's cni.
		b.builtin(catalog.RoleCNI, cni, pods)
		pods = append(pods, cni)
	}
	if s.Ingress != nil {
		b.builtin(catalog.RoleIngress, s.Ingress.Controller, pods)
	}
	if s.TLS != nil {
		if e, ok := st.Catalog.ByRole(catalog.RoleCertificates); ok {
			b.builtin(catalog.RoleCertificates, e.Name, pods)
			b.add(&Step{ID: stack.StepIssuer, Kind: KindIssuer, Needs: []string{e.Name}})
		} else {
			b.ps = append(b.ps, stack.Problem{Pos: stack.Pos{File: st.File}, Msg: "tls needs a certificates entry in the catalogue, and it has none"})
		}
	}

	explicit := map[string][]string{}
	for i := range s.Databases {
		db := &s.Databases[i]
		step := &Step{ID: db.Name, Kind: KindDatabase, Database: db, Needs: slices.Clone(pods)}
		b.resolveDatabase(step, fmt.Sprintf("databases[%d]", i))
		b.add(step)
		b.explicit(db.Name, fmt.Sprintf("databases[%d].needs", i), db.Needs, explicit)
	}
	disabled := map[string]bool{}
	for i := range s.Components {
		c := &s.Components[i]
		if !c.IsEnabled() {
			disabled[c.Name] = true
			continue
		}
		step := &Step{ID: c.Name, Kind: KindComponent, Component: c, Needs: slices.Clone(pods)}
		if c.Use != "" {
			step.Entry, _ = st.Catalog.Get(c.Use)
		}
		b.resolveComponent(step, fmt.Sprintf("components[%d]", i))
		b.add(step)
		b.explicit(c.Name, fmt.Sprintf("components[%d].needs", i), c.Needs, explicit)
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		b.add(&Step{ID: j.Name, Kind: KindJob, Job: j, Needs: slices.Clone(pods)})
		b.explicit(j.Name, fmt.Sprintf("jobs[%d].needs", i), j.Needs, explicit)
	}
	for i := range s.Tenants {
		t := &s.Tenants[i]
		b.add(&Step{ID: "tenant/" + t.Name, Kind: KindTenant, Tenant: t, Needs: []string{stack.StepCluster}})
	}
	for i := range s.Routes {
		r := &s.Routes[i]
		needs := []string{s.Ingress.Controller}
		if r.TLS != nil && *r.TLS {
			needs = append(needs, stack.StepIssuer)
		}
		if provider, ok := b.provider(r, disabled); ok {
			needs = append(needs, provider)
		} else {
			path := fmt.Sprintf("routes[%d].service.name", i)
			if r.Component != "" {
				path = fmt.Sprintf("routes[%d].component", i)
			}
			b.ps = append(b.ps, st.Problemf(path, "route %q points at service %q, which no step provides: name the component that creates it with component:, or list the service in that component's provides", r.Host, r.Service.Name))
		}
		b.add(&Step{ID: "route/" + r.Host, Kind: KindRoute, Route: r, Needs: needs})
	}

	// Explicit needs: resolve them now that every step exists.
	for _, id := range b.order {
		for _, n := range explicit[id] {
			path := b.needPath[[2]string{id, n}]
			switch {
			case disabled[n]:
				b.ps = append(b.ps, st.Problemf(path, "%q needs %q, which is disabled", id, n))
			case b.steps[n] == nil:
				msg := fmt.Sprintf("%q needs %q, which is no step of this stack", id, n)
				if s := stack.Closest(n, b.order); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				b.ps = append(b.ps, st.Problemf(path, "%s", msg))
			case !slices.Contains(b.steps[id].Needs, n):
				b.steps[id].Needs = append(b.steps[id].Needs, n)
			}
		}
	}
	if len(b.ps) > 0 {
		return nil, b.ps
	}
	return b.finish()
}

func (b *builder) add(s *Step) {
	if s.Needs == nil {
		s.Needs = []string{}
	}
	b.steps[s.ID] = s
	b.order = append(b.order, s.ID)
}

// builtin adds the catalogue component that plays role, named id.
func (b *builder) builtin(role, id string, needs []string) {
	e, ok := b.st.Catalog.Get(id)
	if !ok || e.Role != role {
		b.ps = append(b.ps, stack.Problem{Pos: stack.Pos{File: b.st.File}, Msg: fmt.Sprintf("the catalogue has no %s entry %q", role, id)})
		return
	}
	c := &api.Component{Name: id, Use: id, Namespace: e.Namespace}
	c.Timeout.Duration = stack.DefaultTimeout
	step := &Step{ID: id, Kind: KindComponent, Component: c, Entry: e, Needs: slices.Clone(needs)}
	b.resolveComponent(step, "")
	b.add(step)
}

func (b *builder) explicit(id, path string, needs []string, into map[string][]string) {
	for i, n := range needs {
		b.needPath[[2]string{id, n}] = fmt.Sprintf("%s[%d]", path, i)
		into[id] = append(into[id], n)
	}
}

// provider finds the step that provides a route's service.
func (b *builder) provider(r *api.Route, disabled map[string]bool) (string, bool) {
	if r.Component != "" {
		s := b.steps[r.Component]
		return r.Component, s != nil && (s.Kind == KindComponent || s.Kind == KindDatabase)
	}
	if s := b.steps[r.Service.Name]; s != nil && (s.Kind == KindComponent || s.Kind == KindDatabase) {
		return s.ID, true
	}
	for _, id := range b.order {
		s := b.steps[id]
		if s.Kind != KindComponent {
			continue
		}
		provides := s.Component.Provides
		if s.Entry != nil {
			provides = append(slices.Clone(provides), s.Entry.Provides...)
		}
		if slices.Contains(provides, r.Service.Name) {
			return id, true
		}
	}
	return "", false
}

// finish orders the steps by level, or reports a cycle.
func (b *builder) finish() (*Plan, error) {
	level := map[string]int{}
	remaining := slices.Clone(b.order)
	for len(remaining) > 0 {
		var next []string
		progressed := false
		for _, id := range remaining {
			lv, ready := 0, true
			for _, n := range b.steps[id].Needs {
				l, done := level[n]
				if !done {
					ready = false
					break
				}
				lv = max(lv, l+1)
			}
			if ready {
				level[id] = lv
				progressed = true
			} else {
				next = append(next, id)
			}
		}
		if !progressed {
			return nil, stack.Problems{b.cycle(next)}
		}
		remaining = next
	}

	p := &Plan{Stack: b.st.Metadata.Name, byID: b.steps}
	for _, id := range b.order {
		s := b.steps[id]
		s.Level = level[id]
		sort.Strings(s.Needs)
		p.Steps = append(p.Steps, s)
	}
	sort.SliceStable(p.Steps, func(i, j int) bool {
		if p.Steps[i].Level != p.Steps[j].Level {
			return p.Steps[i].Level < p.Steps[j].Level
		}
		return p.Steps[i].ID < p.Steps[j].ID
	})
	for _, s := range p.Steps {
		if s.Level == len(p.Levels) {
			p.Levels = append(p.Levels, nil)
		}
		p.Levels[s.Level] = append(p.Levels[s.Level], s.ID)
	}
	return p, nil
}

// cycle finds a cycle among the stuck steps and reports it at the need that
// closes it.
func (b *builder) cycle(stuck []string) stack.Problem {
	inStuck := map[string]bool{}
	for _, id := range stuck {
		inStuck[id] = true
	}
	sort.Strings(stuck)
	// Follow stuck needs from the first stuck step until a step repeats.
	path := []string{stuck[0]}
	at := map[string]int{stuck[0]: 0}
	for {
		cur := path[len(path)-1]
		var next string
		needs := slices.Clone(b.steps[cur].Needs)
		sort.Strings(needs)
		for _, n := range needs {
			if inStuck[n] {
				next = n
				break
			}
		}
		if i, seen := at[next]; seen {
			loop := append(path[i:], next)
			where := b.needPath[[2]string{loop[len(loop)-2], next}]
			return b.st.Problemf(where, "dependency cycle: %s", strings.Join(loop, " → "))
		}
		at[next] = len(path)
		path = append(path, next)
	}
}

// resolveComponent reads what a component step needs from its entry and
// the stack's folder; path is where the stack writes the component.
func (b *builder) resolveComponent(s *Step, path string) {
	c, e := s.Component, s.Entry
	if e != nil && e.Chart != nil {
		s.Inputs.Chart = e.Chart
	}
	if c.Chart != nil {
		s.Inputs.Chart = c.Chart
	}
	for i, f := range c.ValuesFiles {
		data, err := b.st.ReadFile(f)
		if err != nil {
			b.ps = append(b.ps, b.st.Problemf(fmt.Sprintf("%s.valuesFiles[%d]", path, i), "reading values file %s: %v", f, err))
			continue
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			b.ps = append(b.ps, b.st.Problemf(fmt.Sprintf("%s.valuesFiles[%d]", path, i), "values file %s is not a YAML mapping: %v", f, shortError(err)))
			continue
		}
		s.Inputs.ValuesFiles = append(s.Inputs.ValuesFiles, v)
	}
	for i, f := range c.Manifests {
		if strings.HasPrefix(f, "https://") || strings.HasPrefix(f, "http://") {
			u, pin := api.SplitPin(f)
			s.Inputs.Manifests = append(s.Inputs.Manifests, Manifest{URL: u, SHA256: pin})
			continue
		}
		data, err := b.st.ReadFile(f)
		if err != nil {
			b.ps = append(b.ps, b.st.Problemf(fmt.Sprintf("%s.manifests[%d]", path, i), "reading manifests %s: %v", f, err))
			continue
		}
		s.Inputs.Manifests = append(s.Inputs.Manifests, Manifest{Path: f, Data: data})
	}
	if e != nil {
		for _, m := range e.Manifests {
			if !strings.Contains(m.URL, "://") {
				// A catalogue of one's own may name a local file.
				data, err := b.st.ReadFile(m.URL)
				if err != nil {
					b.ps = append(b.ps, stack.Problem{Pos: stack.Pos{File: b.st.File}, Msg: fmt.Sprintf("catalogue entry %s: reading manifests %s: %v", e.Name, m.URL, err)})
					continue
				}
				s.Inputs.Manifests = append(s.Inputs.Manifests, Manifest{Path: m.URL, Data: data, SHA256: m.SHA256})
				continue
			}
			s.Inputs.Manifests = append(s.Inputs.Manifests, Manifest{URL: m.URL, SHA256: m.SHA256})
		}
	}
}

// resolveDatabase finds a database's engine entry and reads its scripts.
func (b *builder) resolveDatabase(s *Step, path string) {
	db := s.Database
	s.Inputs.Engine, _ = b.st.Catalog.Engine(db.Engine)
	read := func(field string, files []string) []Script {
		var out []Script
		for i, f := range files {
			data, err := b.st.ReadFile(f)
			if err != nil {
				b.ps = append(b.ps, b.st.Problemf(fmt.Sprintf("%s.%s[%d]", path, field, i), "reading %s script %s: %v", field, f, err))
				continue
			}
			out = append(out, Script{Name: fmt.Sprintf("%02d-%s", i, filepath.Base(f)), Content: string(data)})
		}
		return out
	}
	s.Inputs.Init = read("init", db.Init)
	s.Inputs.Seed = read("seed", db.Seed)
}

// shortError is the first line of a parser's error, cut short: it may
// quote the file, and a file may hold secrets.
func shortError(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}
