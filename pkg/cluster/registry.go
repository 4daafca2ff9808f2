package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"kindred.dev/kindred/pkg/stack"
)

// Record is what kindred remembers, on this machine, of a cluster a stack
// was brought up on, so that later commands find it by name alone: which
// provider holds it, which stack it runs and where that stack came from.
type Record struct {
	// Cluster is the cluster's name (the stack's cluster.name).
	Cluster string `json:"cluster"`
	// Stack is the stack's metadata.name.
	Stack string `json:"stack"`
	// Provider made or holds the cluster: kind, sim or existing.
	Provider string `json:"provider"`
	// Source is where the stack came from: an absolute file path or
	// builtin:NAME.
	Source string `json:"source"`
	// Spec is the stack file as it was written (before ${VAR} expansion,
	// so no variable's value is stored), for when Source is gone.
	Spec []byte `json:"spec,omitempty"`
	// Kubeconfig and Context reach the cluster; for kind and sim the
	// kubeconfig is kindred's private one.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	// NodeImage is the kind node image the cluster was made with when
	// it is not the pinned one (up --node-image), so start and later
	// runs use it too.
	NodeImage string `json:"nodeImage,omitempty"`
	// Ports are the host ports (on 127.0.0.1) the stack's databases are
	// reached on, by database name: kindred forward listens there, and
	// kindred env prints URLs with them. Chosen once, then kept.
	Ports map[string]int `json:"ports,omitempty"`
	// Updated is when a run last brought the stack up.
	Updated time.Time `json:"updated"`
}

// Name is how commands name the record: the cluster's name, or
// CLUSTER/STACK when other stacks share the cluster.
func (r Record) Name() string { return r.Cluster + "/" + r.Stack }

// Registry is the folder of records on this machine, one file per stack
// and cluster; `kindred ls` reads it.
type Registry struct{ Dir string }

// DefaultRegistry is the registry under StateDir.
func DefaultRegistry() Registry { return Registry{Dir: filepath.Join(StateDir(), "clusters")} }

func (g Registry) file(cluster, stack string) string {
	return filepath.Join(g.Dir, cluster+"."+stack+".json")
}

// Remember records that the stack runs on the cluster r describes: its
// Provider, Source, Kubeconfig, Context and NodeImage; the names, the
// stack as written and the time come from st. The record is private
// (0600): it holds a kubeconfig's path and the stack as written.
func (g Registry) Remember(r Record, st *stack.Stack) error {
	r.Cluster, r.Stack, r.Updated = st.Cluster.Name, st.Metadata.Name, time.Now().UTC().Truncate(time.Second)
	if old, err := g.get(r.Cluster, r.Stack); err == nil && r.Ports == nil {
		r.Ports = old.Ports // the databases keep their host ports
	}
	if st.FS == nil && st.File != "" {
		if abs, err := filepath.Abs(st.File); err == nil {
			r.Source = abs
		}
		if b, err := st.ReadFile(st.File); err == nil {
			r.Spec = b
		}
	}
	return g.save(r)
}

// save writes r as it is.
func (g Registry) save(r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(g.Dir, 0o700); err != nil {
		return err
	}
	tmp := g.file(r.Cluster, r.Stack) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, g.file(r.Cluster, r.Stack))
}

// HostPorts returns the host ports of the databases named, choosing one
// for each that has none, and recording it when r is remembered: its engine's usual port (want)
// when no other record has it and it is free on 127.0.0.1 now, else a free
// port. free reports whether a port can be listened on.
// fixed are the ports the stack sets itself: used, and recorded, as they
// are.
func (g Registry) HostPorts(r Record, want, fixed map[string]int, free func(int) bool) (map[string]int, error) {
	all, err := g.Records()
	if err != nil {
		return nil, err
	}
	taken := map[int]bool{}
	found := false
	for _, o := range all {
		if o.Name() == r.Name() {
			r, found = o, true
			continue
		}
		for _, p := range o.Ports {
			taken[p] = true
		}
	}
	out := map[string]int{}
	changed := false
	for db, p := range fixed {
		if r.Ports[db] != p {
			if r.Ports == nil {
				r.Ports = map[string]int{}
			}
			r.Ports[db], changed = p, true
		}
		out[db] = p
	}
	for _, p := range r.Ports {
		taken[p] = true
	}
	names := make([]string, 0, len(want))
	for db := range want {
		names = append(names, db)
	}
	sort.Strings(names)
	for _, db := range names {
		if _, ok := fixed[db]; ok {
			continue
		}
		if p, ok := r.Ports[db]; ok {
			out[db] = p
			continue
		}
		p := want[db]
		if taken[p] || !free(p) {
			p = 0
			for q := 15432; q < 65535 && p == 0; q++ {
				if !taken[q] && free(q) {
					p = q
				}
			}
			if p == 0 {
				return nil, errors.New("no free port on 127.0.0.1")
			}
		}
		taken[p], out[db], changed = true, p, true
		if r.Ports == nil {
			r.Ports = map[string]int{}
		}
		r.Ports[db] = p
	}
	if changed && found {
		if err := g.save(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Forget removes the record of the stack on its cluster, if there is one.
func (g Registry) Forget(st *stack.Stack) error {
	err := os.Remove(g.file(st.Cluster.Name, st.Metadata.Name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// get reads the record of one stack on one cluster.
func (g Registry) get(cluster, stack string) (Record, error) {
	var r Record
	b, err := os.ReadFile(g.file(cluster, stack))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// Records returns every record on this machine, by cluster then stack.
// A record that cannot be read is skipped: it names no cluster to act on.
func (g Registry) Records() ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(g.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := []Record{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) != nil || r.Cluster == "" || r.Stack == "" {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ErrNotRecorded means no record matches a name.
var ErrNotRecorded = errors.New("no cluster of that name")

// ErrAmbiguous means a name matches more than one record.
var ErrAmbiguous = errors.New("the name matches more than one cluster")

// Find returns the record a name means: a cluster's name, a stack's name,
// or CLUSTER/STACK.
func (g Registry) Find(name string) (Record, error) {
	all, err := g.Records()
	if err != nil {
		return Record{}, err
	}
	var hits []Record
	for _, r := range all {
		if name == r.Name() {
			return r, nil
		}
		if name == r.Cluster || name == r.Stack {
			hits = append(hits, r)
		}
	}
	switch len(hits) {
	case 0:
		return Record{}, fmt.Errorf("%w: %q", ErrNotRecorded, name)
	case 1:
		return hits[0], nil
	}
	names := make([]string, len(hits))
	for i, r := range hits {
		names[i] = r.Name()
	}
	return Record{}, fmt.Errorf("%w: %q could be %s", ErrAmbiguous, name, strings.Join(names, " or "))
}

// Load reads the record's stack: from its source when that is still
// there, else as it was when the record was written.
func (r Record) Load(opts ...stack.Option) (*stack.Stack, error) {
	if b, ok := strings.CutPrefix(r.Source, "builtin:"); ok {
		return stack.Builtin(b+".yaml", opts...)
	}
	if _, err := os.Stat(r.Source); err == nil || len(r.Spec) == 0 {
		return stack.Load(r.Source, opts...)
	}
	return stack.Parse(r.Source, r.Spec, opts...)
}

// The states of a recorded cluster.
const (
	StateRunning = "running"
	StateStopped = "stopped"
	// StateGone is a cluster deleted behind kindred's back.
	StateGone = "gone"
	// StateUnknown is a cluster whose provider could not say.
	StateUnknown = "unknown"
)

// State says whether the recorded cluster runs, is stopped, or is gone,
// asking p, the provider of the record.
func State(ctx context.Context, p Provider, st *stack.Stack) (string, error) {
	if s, ok := p.(Stopper); ok {
		stopped, err := s.Stopped(ctx, st)
		switch {
		case errors.Is(err, ErrNoCluster):
			return StateGone, nil
		case err != nil:
			return StateUnknown, err
		case stopped:
			return StateStopped, nil
		}
		return StateRunning, nil
	}
	if _, err := p.Access(ctx, st); errors.Is(err, ErrNoCluster) {
		return StateGone, nil
	} else if err != nil {
		return StateUnknown, err
	}
	return StateRunning, nil
}
