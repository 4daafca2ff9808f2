// Package mirror reads a live cluster, read-only, and writes the stack that
// mirrors it: its Kubernetes version, node shape, network, ingress and
// routes, certificates, helm releases, tenants and scheduled jobs, with
// where each line came from and what was left out on purpose. Diff
// compares a stack with a live cluster the same way, to tell how far a
// dev environment has drifted from production.
//
// It only gets and lists. What a reader may not read (Secrets, for a user
// bound to view) is reported, never needed: helm releases are then found
// by the labels helm puts on their objects, without their values.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/client-go/rest"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/component"
	_ "kindred.dev/kindred/pkg/component/builtin" // the built-ins that recognise themselves
	"kindred.dev/kindred/pkg/internal/kube"
)

// Options shape a mirror.
type Options struct {
	// Name is the stack's name; defaults to "mirror".
	Name string
	// Provider the stack is for (kind unless set): the Kubernetes version
	// is mapped to one it runs, and a set provider is written.
	Provider string
	// Versions are the Kubernetes versions the provider runs, newest
	// first (cluster.KubernetesVersions for kind); empty takes the
	// server's version as it is.
	Versions []string
	// MaxNodes bounds the nodes of the stack, control plane included
	// (default 4); groups keep at least one node each, so every zone and
	// taint survives.
	MaxNodes int
	// Include and Exclude select namespaces and releases by name (shell
	// patterns). With Include set, only what it matches is mirrored.
	Include, Exclude []string
	// Catalog maps releases of catalogue charts to use: entries.
	Catalog *catalog.Catalog
}

// Inference says where one line of the stack came from.
type Inference = component.MirrorNote

// Omission is something in the cluster the stack leaves out, and why.
type Omission struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// Unread is something the reader could not read.
type Unread struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// Variable is a ${NAME} the stack uses instead of a value it must not
// copy (a secret) or could not find (a chart repository).
type Variable struct {
	Name string `json:"name"`
	For  string `json:"for"`
}

// Result is a mirrored stack and how it was inferred.
type Result struct {
	Stack      *api.Stack  `json:"stack"`
	Server     string      `json:"serverVersion"`
	Inferences []Inference `json:"inferences"`
	Omissions  []Omission  `json:"omissions"`
	Unread     []Unread    `json:"unread,omitempty"`
	Variables  []Variable  `json:"variables,omitempty"`
	// placeholders are the exact scalars that are ${VAR} references.
	placeholders map[string]bool
}

func (r *Result) note(path, from string) {
	r.Inferences = append(r.Inferences, Inference{Path: path, From: from})
}

func (r *Result) omit(what, why string) {
	r.Omissions = append(r.Omissions, Omission{What: what, Why: why})
}

// variable adds a ${NAME} placeholder and returns the reference.
func (r *Result) variable(name, what string) string {
	base := name
	for i := 2; ; i++ {
		taken := false
		for _, v := range r.Variables {
			if v.Name == name && v.For == what {
				return "${" + name + "}"
			}
			taken = taken || v.Name == name
		}
		if !taken {
			break
		}
		name = fmt.Sprintf("%s_%d", base, i) // another value with the same name
	}
	r.Variables = append(r.Variables, Variable{Name: name, For: what})
	ref := "${" + name + "}"
	if r.placeholders == nil {
		r.placeholders = map[string]bool{}
	}
	r.placeholders[ref] = true
	return ref
}

// Read mirrors the cluster cfg reaches.
func Read(ctx context.Context, cfg *rest.Config, o Options) (*Result, error) {
	if cfg == nil {
		return nil, errors.New("mirror: no cluster to read")
	}
	kc, err := kube.New(cfg)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "mirror"
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = 4
	}
	info, err := kc.Typed.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reading the server's version: %w", err)
	}
	l := newLive(kc)
	r := &Result{Server: info.GitVersion, Stack: &api.Stack{APIVersion: api.APIVersion, Kind: api.Kind, Metadata: api.Metadata{Name: o.Name}}}
	m := &mirrorer{o: o, l: l, r: r, claimed: map[string]string{}}
	r.Stack.Cluster.Provider = o.Provider
	m.version(info.GitVersion)
	m.nodes(ctx)
	m.network(ctx)
	if err := m.components(ctx); err != nil {
		return nil, err
	}
	m.mirrorReleases(ctx)
	m.tenants(ctx)
	m.jobs(ctx)
	for _, c := range component.All() {
		mc, ok := c.(component.Mirrorer)
		if !ok {
			continue
		}
		got, err := mc.Mirror(ctx, l, r.Stack)
		if err != nil {
			return nil, err
		}
		r.Inferences = append(r.Inferences, got.Notes...)
	}
	m.leftOut(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err // what was read is partial: no stack from it
	}
	r.Unread = l.Unread()
	sort.SliceStable(r.Omissions, func(i, j int) bool { return r.Omissions[i].What < r.Omissions[j].What })
	return r, nil
}

// mirrorer carries one Read.
type mirrorer struct {
	o Options
	l *live
	r *Result
	// claimed maps namespaces that something mirrored accounts for to
	// what does (a component, a release, a tenant).
	claimed map[string]string
	// releases are the helm releases found, by namespace/name.
	releases map[string]*release
	// creds are the workloads and releases that use cloud credentials,
	// found once (cloudCredentials).
	creds map[string]string
}

// selected applies Include and Exclude to a namespace or release name.
func (m *mirrorer) selected(names ...string) bool {
	match := func(pats []string) bool {
		for _, p := range pats {
			for _, n := range names {
				if ok, _ := path.Match(p, n); ok {
					return true
				}
			}
		}
		return false
	}
	if match(m.o.Exclude) {
		return false
	}
	return len(m.o.Include) == 0 || match(m.o.Include)
}

// components lets built-ins that recognise themselves claim their
// namespaces before releases and tenants are read: their first pass only
// claims (their notes come from the second, once the stack is whole).
func (m *mirrorer) components(ctx context.Context) error {
	scratch := *m.r.Stack
	for _, c := range component.All() {
		mc, ok := c.(component.Mirrorer)
		if !ok {
			continue
		}
		got, err := mc.Mirror(ctx, m.l, &scratch)
		if err != nil {
			return err
		}
		for _, ns := range got.Namespaces {
			m.claimed[ns] = c.ID()
		}
	}
	return nil
}

// systemNamespace reports a namespace every cluster has, or kindred's own.
func systemNamespace(ns string) bool {
	switch ns {
	case "kube-system", "kube-public", "kube-node-lease", "default", "local-path-storage", "kindred-system":
		return true
	}
	return false
}

// envName makes an environment variable name of parts.
func envName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, c := range strings.ToUpper(p) {
			switch {
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
				b.WriteRune(c)
			default:
				b.WriteByte('_')
			}
		}
	}
	s := strings.Trim(b.String(), "_")
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "V_" + s
	}
	return s
}
