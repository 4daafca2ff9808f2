// Package stack loads stack files: strict YAML with every problem reported at
// its file, line and column, ${VAR} expansion, includes, defaults filled in
// one place, and validation of the whole stack at once.
package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/stacks"
)

// Stack is a loaded, defaulted and validated stack file, with the position of
// every field so later stages can point at the line that caused a problem.
type Stack struct {
	api.Stack

	// File is the path of the stack file.
	File string
	// FS holds the files the stack names; nil means the host's files.
	FS fs.FS
	// Catalog is the catalogue the stack was checked against.
	Catalog *catalog.Catalog

	pos  map[string]Pos
	vars map[string]string // variables' values, kept out of messages
}

// Pos returns the position of the field at path (like components[1].needs[0]),
// or of its nearest ancestor written in a file.
func (s *Stack) Pos(path string) Pos {
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return Pos{File: s.File, Line: 1, Column: 1}
		}
		path = path[:i]
	}
}

// Problemf returns a problem with the field at path.
func (s *Stack) Problemf(path, format string, args ...any) Problem {
	return Problem{Pos: s.Pos(path), Path: path, Msg: redact(fmt.Sprintf(format, args...), s.vars)}
}

// ReadFile reads a file the stack names, such as a values file.
func (s *Stack) ReadFile(name string) ([]byte, error) {
	if s.FS != nil {
		return fs.ReadFile(s.FS, name)
	}
	return os.ReadFile(name)
}

// Option changes how a stack is loaded.
type Option func(*options)

type options struct {
	lookupEnv func(string) (string, bool)
	fsys      fs.FS
	catalog   *catalog.Catalog
}

// WithEnv sets where ${VAR} values come from; the default is the process
// environment.
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *options) { o.lookupEnv = lookup }
}

// WithFS reads the stack and the files it names from fsys instead of the
// host.
func WithFS(fsys fs.FS) Option { return func(o *options) { o.fsys = fsys } }

// WithCatalog checks components against c instead of the built-in catalogue.
func WithCatalog(c *catalog.Catalog) Option { return func(o *options) { o.catalog = c } }

func (o *options) readFile(name string) ([]byte, error) {
	if o.fsys != nil {
		return fs.ReadFile(o.fsys, name)
	}
	return os.ReadFile(name)
}

func (o *options) stat(name string) (fs.FileInfo, error) {
	if o.fsys != nil {
		return fs.Stat(o.fsys, name)
	}
	return os.Stat(name)
}

// Load reads, defaults and validates the stack file at path. Bad input comes
// back as Problems, every one of them at once.
func Load(path string, opts ...Option) (*Stack, error) {
	o := newOptions(opts)
	data, err := o.readFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stack: %w", err)
	}
	return load(path, data, o)
}

// Parse is Load for a stack already in memory; name is used in messages and
// to resolve relative paths.
func Parse(name string, data []byte, opts ...Option) (*Stack, error) {
	return load(name, data, newOptions(opts))
}

// Builtin loads an example stack embedded in the binary, like "default.yaml".
func Builtin(name string, opts ...Option) (*Stack, error) {
	return Load(name, append([]Option{WithFS(stacks.FS)}, opts...)...)
}

func newOptions(opts []Option) *options {
	o := &options{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

func load(name string, data []byte, o *options) (*Stack, error) {
	if o.catalog == nil {
		c, err := catalog.Builtin()
		if err != nil {
			return nil, err
		}
		o.catalog = c
	}
	src := newSource(o)
	root := src.load(name, data, nil)
	if root == nil {
		return nil, src.problems.redacted(src.vars).err()
	}
	d := &decoder{src: src, pos: map[string]Pos{}}
	plain, ok := d.value(root, reflect.TypeFor[api.Stack](), "")
	if !ok || len(src.problems) > 0 {
		return nil, src.problems.redacted(src.vars).err()
	}
	st := &Stack{File: name, FS: o.fsys, Catalog: o.catalog, pos: d.pos, vars: src.vars}
	if err := fromPlain(plain, &st.Stack); err != nil {
		// The decoder has checked every field, so this is a bug in kindred.
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	resolvePaths(st, o)
	Default(&st.Stack)
	ps := validate(st, o)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return st, nil
}

func fromPlain(plain any, out *api.Stack) error {
	js, err := json.Marshal(plain)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// resolvePaths makes every path in the stack relative to the file it was
// written in, so that includes from other folders work.
func resolvePaths(st *Stack, o *options) {
	fix := func(path string, p *string) {
		if *p != "" {
			*p = o.resolve(st.Pos(path).File, *p)
		}
	}
	fix("chartMirror", &st.ChartMirror)
	fix("cluster.dataDir", &st.Cluster.DataDir)
	for i := range st.Databases {
		db := &st.Databases[i]
		for j := range db.Init {
			fix(fmt.Sprintf("databases[%d].init[%d]", i, j), &db.Init[j])
		}
		for j := range db.Seed {
			fix(fmt.Sprintf("databases[%d].seed[%d]", i, j), &db.Seed[j])
		}
	}
	for i := range st.Components {
		c := &st.Components[i]
		p := fmt.Sprintf("components[%d]", i)
		if c.Chart != nil {
			fix(p+".chart.path", &c.Chart.Path)
		}
		fix(p+".kustomize", &c.Kustomize)
		for j := range c.Manifests {
			fix(fmt.Sprintf("%s.manifests[%d]", p, j), &c.Manifests[j])
		}
		for j := range c.ValuesFiles {
			fix(fmt.Sprintf("%s.valuesFiles[%d]", p, j), &c.ValuesFiles[j])
		}
	}
}

// IsProblems reports whether err is bad input rather than a failure to read.
func IsProblems(err error) bool {
	var ps Problems
	return errors.As(err, &ps)
}

// RouteURL is the URL the host reaches route r at: through the ingress's
// host ports, https when the route has TLS, with the port left out when it
// is the scheme's own.
func (s *Stack) RouteURL(r api.Route) string {
	scheme, port := "http", 0
	if s.Ingress != nil {
		port = s.Ingress.HostPorts.HTTP
		if r.TLS != nil && *r.TLS {
			scheme, port = "https", s.Ingress.HostPorts.HTTPS
		}
	}
	url := scheme + "://" + r.Host
	if (scheme == "http" && port != 80 && port != 0) || (scheme == "https" && port != 443) {
		url = fmt.Sprintf("%s:%d", url, port)
	}
	return url + r.PathPrefix
}
