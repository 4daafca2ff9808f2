package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/helm"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// The lock file's name, beside its stack, and its format's version.
const (
	LockFile    = "kindred.lock"
	LockVersion = "kindred.dev/lock/v1"
)

// ErrLockStale is wrapped when a stack changed since its lock was written.
var ErrLockStale = errors.New("the stack changed since kindred.lock was written")

// ErrDigestMismatch is wrapped when a fetched chart or file is not the one
// its lock or pin names.
var ErrDigestMismatch = helm.ErrDigestMismatch

// Lock pins everything a stack fetches, so the same stack gives the same
// cluster next week: each chart's resolved version and digest, each
// manifest URL's sha256, the kind node image, and the container images.
// Marshal writes it deterministically.
type Lock struct {
	// Version is the format's version, LockVersion.
	Version string `json:"version"`
	// Inputs is the sha256 of what the stack asks for that the lock
	// resolves (chart references and constraints, manifest URLs, the
	// Kubernetes version): when it differs, the lock is stale.
	Inputs    string           `json:"inputs"`
	NodeImage string           `json:"nodeImage,omitempty"`
	Charts    []LockedChart    `json:"charts,omitempty"`
	Manifests []LockedManifest `json:"manifests,omitempty"`
	Images    []LockedImage    `json:"images,omitempty"`
}

// LockedChart is one chart step's resolved chart.
type LockedChart struct {
	Step    string `json:"step"`
	Chart   string `json:"chart"`
	Source  string `json:"source"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// LockedManifest is one fetched manifest file.
type LockedManifest struct {
	Step   string `json:"step"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// LockedImage is one container image; Digest is empty, and Unresolved
// says why, when no registry here could resolve it (it is never guessed).
type LockedImage struct {
	Image      string   `json:"image"`
	Digest     string   `json:"digest,omitempty"`
	Unresolved string   `json:"unresolved,omitempty"`
	Steps      []string `json:"steps"`
}

// Marshal writes the lock as YAML with a header, byte-identical for the
// same lock.
func (l *Lock) Marshal() ([]byte, error) {
	data, err := yaml.Marshal(l)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by kindred lock: what the stack beside it fetches, pinned.\n# Do not edit; run kindred lock again after changing the stack.\n"), data...), nil
}

// ReadLock reads a lock file.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l Lock
	if err := yaml.UnmarshalStrict(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock format %q, this kindred reads %s: run kindred lock again", path, l.Version, LockVersion)
	}
	return &l, nil
}

// lockInputs hashes what a stack asks for that a lock resolves, planned
// for no provider in particular (a lock serves every provider), with
// local paths relative to the stack's folder (however its path was
// written on the command line).
func lockInputs(st *stack.Stack) (string, error) {
	p, err := plan.Build(st)
	if err != nil {
		return "", err
	}
	return lockInputsOf(st, p), nil
}

func lockInputsOf(st *stack.Stack, p *plan.Plan) string {
	type step struct {
		ID        string     `json:"id"`
		Chart     *api.Chart `json:"chart,omitempty"`
		Manifests []string   `json:"manifests,omitempty"`
	}
	in := struct {
		Kubernetes string `json:"kubernetes"`
		Steps      []step `json:"steps"`
	}{Kubernetes: st.Cluster.KubernetesVersion}
	dir := filepath.Dir(st.File)
	for _, s := range p.Steps {
		st := step{ID: s.ID, Chart: s.Inputs.Chart}
		if c := st.Chart; c != nil && c.Path != "" {
			rel := *c
			if r, err := filepath.Rel(dir, c.Path); err == nil {
				rel.Path = filepath.ToSlash(r)
			}
			st.Chart = &rel
		}
		for _, m := range s.Inputs.Manifests {
			if m.URL != "" {
				st.Manifests = append(st.Manifests, m.URL+"#"+m.SHA256)
			}
		}
		if st.Chart != nil || len(st.Manifests) > 0 {
			in.Steps = append(in.Steps, st)
		}
	}
	data, _ := json.Marshal(in)
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Locker resolves a stack's charts, files and images into a Lock.
type Locker struct {
	cfg Config
	// Resolve finds an image's digest; nil resolves only images written
	// by digest. It reports why when it cannot.
	Resolve func(ctx context.Context, image string) (digest, why string)
}

// NewLocker returns a Locker action.
func NewLocker(cfg Config) *Locker {
	cfg.defaults()
	return &Locker{cfg: cfg}
}

// Run resolves st. It fetches every chart and file (through the chart
// mirror and cache) and renders the stack as kindred images does.
func (a *Locker) Run(ctx context.Context, st *stack.Stack) (*Lock, error) {
	p, err := plan.Build(st, a.cfg.forProvider()...)
	if err != nil {
		return nil, err
	}
	r := offlineRunner(&a.cfg, st, p)
	inputs, err := lockInputs(st)
	if err != nil {
		return nil, err
	}
	l := &Lock{Version: LockVersion, Inputs: inputs}
	if st.Cluster.Provider == api.ProviderKind || st.Cluster.Provider == "" {
		if img, err := cluster.NodeImage(st.Cluster.KubernetesVersion); err == nil {
			l.NodeImage = img
		}
	}
	for _, s := range p.Steps {
		if ch := s.Inputs.Chart; ch != nil {
			ref := helm.ChartRef{Repo: ch.Repo, Name: ch.Name, OCI: ch.OCI, Path: ch.Path, Version: ch.Version}
			f, err := r.helm.Fetcher.Fetch(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.ID, err)
			}
			source := ch.Repo
			switch {
			case ch.OCI != "":
				source = ch.OCI
			case ch.Path != "":
				source = ch.Path
			}
			l.Charts = append(l.Charts, LockedChart{Step: s.ID, Chart: f.Chart.Metadata.Name, Source: source, Version: f.Chart.Metadata.Version, Digest: "sha256:" + f.Digest})
		}
		for _, m := range s.Inputs.Manifests {
			if m.URL == "" {
				continue
			}
			data, err := r.helm.Fetcher.FetchFile(ctx, m.URL, m.SHA256)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", s.ID, m.URL, err)
			}
			sum := sha256.Sum256(data)
			l.Manifests = append(l.Manifests, LockedManifest{Step: s.ID, URL: m.URL, SHA256: hex.EncodeToString(sum[:])})
		}
	}
	images, err := (&Images{cfg: a.cfg}).Run(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, img := range images {
		li := LockedImage{Image: img.Image, Steps: img.Steps}
		if _, d, ok := strings.Cut(img.Image, "@"); ok {
			li.Digest = d
		} else if a.Resolve != nil {
			li.Digest, li.Unresolved = a.Resolve(ctx, img.Image)
		} else {
			li.Unresolved = "no registry was asked"
		}
		l.Images = append(l.Images, li)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // images asked while cancelling are not unresolved
	}
	sort.Slice(l.Charts, func(i, j int) bool { return l.Charts[i].Step < l.Charts[j].Step })
	sort.Slice(l.Manifests, func(i, j int) bool {
		return l.Manifests[i].Step+l.Manifests[i].URL < l.Manifests[j].Step+l.Manifests[j].URL
	})
	return l, nil
}

// Check reports whether the lock still matches st: ErrLockStale, with
// what changed, when not.
func (l *Lock) Check(st *stack.Stack, opts ...plan.Option) error {
	p, err := plan.Build(st, opts...)
	if err != nil {
		return err
	}
	return l.check(st, p)
}

func (l *Lock) check(st *stack.Stack, p *plan.Plan) error {
	got, err := lockInputs(st)
	if err != nil {
		return err
	}
	if got != l.Inputs {
		return fmt.Errorf("%w: its charts, manifest URLs or Kubernetes version differ from what the lock resolved; run kindred lock again", ErrLockStale)
	}
	return nil
}

// apply pins a plan to the lock: each chart step to its locked version
// and digest, each manifest URL to its locked sha256.
func (l *Lock) apply(st *stack.Stack, p *plan.Plan) error {
	if err := l.check(st, p); err != nil {
		return err
	}
	if l.NodeImage != "" && (st.Cluster.Provider == api.ProviderKind || st.Cluster.Provider == "") {
		if img, err := cluster.NodeImage(st.Cluster.KubernetesVersion); err == nil && img != l.NodeImage {
			return fmt.Errorf("%w: the lock's node image is %s, this kindred runs %s; run kindred lock again", ErrLockStale, l.NodeImage, img)
		}
	}
	charts := map[string]LockedChart{}
	for _, c := range l.Charts {
		charts[c.Step] = c
	}
	files := map[string]string{}
	for _, m := range l.Manifests {
		files[m.Step+"\x00"+m.URL] = m.SHA256
	}
	for _, s := range p.Steps {
		if ch := s.Inputs.Chart; ch != nil {
			c, ok := charts[s.ID]
			if !ok {
				return fmt.Errorf("%w: step %s has no locked chart; run kindred lock again", ErrLockStale, s.ID)
			}
			pinned := *ch // the catalogue's entry is shared: pin a copy
			if pinned.Path == "" {
				pinned.Version = c.Version
			}
			s.Inputs.Chart, s.Inputs.ChartDigest = &pinned, c.Digest
		}
		for i, m := range s.Inputs.Manifests {
			if m.URL == "" {
				continue
			}
			sum, ok := files[s.ID+"\x00"+m.URL]
			if !ok {
				return fmt.Errorf("%w: %s of step %s is not locked; run kindred lock again", ErrLockStale, m.URL, s.ID)
			}
			s.Inputs.Manifests[i].SHA256 = sum
		}
	}
	return nil
}

// Equal reports whether two locks would write the same file.
func (l *Lock) Equal(o *Lock) bool {
	a, err1 := l.Marshal()
	b, err2 := o.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
