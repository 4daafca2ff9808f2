// Package stack loads stack files: strict YAML with every problem reported at
// its file, line and column, ${VAR} expansion, includes, defaults filled in
// one place, and validation of the whole stack at once.
package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
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

// Redact replaces in s every value a ${VAR} of the stack expanded to (six
// characters or longer) by the reference ${VAR}: what is written out of a
// stack (kindred render) keeps its secrets out the way messages do.
func (st *Stack) Redact(s string) string { return redact(s, st.vars) }

// ReadFile reads a file the stack names, such as a values file.
// Like the stack file, it must be a regular file of at most MaxFileSize.
func (s *Stack) ReadFile(name string) ([]byte, error) {
	return readBounded(s.FS, name)
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

// MaxFileSize bounds a stack file, an include and a values file: they are
// written by hand, and reading stops there instead of running on.
const MaxFileSize = 4 << 20

// readFile reads a file the stack names: a regular file only (not a
// device, a FIFO or a folder), at most MaxFileSize bytes.
func (o *options) readFile(name string) ([]byte, error) { return readBounded(o.fsys, name) }

// readBounded reads name from fsys (nil: the host's files) if it is a
// regular file of at most MaxFileSize bytes.
func readBounded(fsys fs.FS, name string) ([]byte, error) {
	var info fs.FileInfo
	var err error
	if fsys != nil {
		info, err = fs.Stat(fsys, name)
	} else {
		info, err = os.Stat(name)
	}
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", name, fileKind(info.Mode()))
	}
	var f io.ReadCloser
	if fsys != nil {
		f, err = fsys.Open(name)
	} else {
		f, err = os.Open(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB; a stack file is written by hand", name, MaxFileSize>>20)
	}
	return data, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}

func (o *options) stat(name string) (fs.FileInfo, error) {
	if o.fsys != nil {
		return fs.Stat(o.fsys, name)
	}
	return os.Stat(name)
}

// ErrUnreadable is wrapped when the stack file cannot be read: missing, not
// a regular file, or too large. It is bad input, as a Problem is.
var ErrUnreadable = errors.New("cannot read the stack file")

// Load reads, defaults and validates the stack file at path. Bad input comes
// back as Problems, every one of them at once.
func Load(path string, opts ...Option) (*Stack, error) {
	o := newOptions(opts)
	data, err := o.readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
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
	if p, foreign := foreignDocument(src, root); foreign {
		return nil, Problems{p}.redacted(src.vars).err()
	}
	d := &decoder{src: src, pos: map[string]Pos{}}
	plain, ok := d.value(root, reflect.TypeFor[api.Stack](), "")
	st := &Stack{File: name, FS: o.fsys, Catalog: o.catalog, pos: d.pos, vars: src.vars}
	if !ok || len(src.problems) > 0 {
		// What decoded is still checked, so one pass reports the value and
		// graph problems too; those at or around a field that did not
		// decode are its consequences, and left out.
		decoded := src.problems
		if plain == nil || fromPlain(withoutNulls(plain), &st.Stack) != nil {
			return nil, decoded.redacted(src.vars).err()
		}
		all := append(Problems{}, decoded...)
		for _, p := range st.check(o) {
			if !related(p.Path, decoded) {
				all = append(all, p)
			}
		}
		return nil, all.redacted(src.vars).err()
	}
	if err := fromPlain(plain, &st.Stack); err != nil {
		// The decoder has checked every field, so this is a bug in kindred.
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if err := st.check(o).err(); err != nil {
		return nil, err
	}
	return st, nil
}

// withoutNulls drops the fields that did not decode (nil) from a plain
// value, so what did decode still makes a stack.
func withoutNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			if x != nil {
				out[k] = withoutNulls(x)
			}
		}
		return out
	case []any:
		// Items keep their places (a null item decodes as a zero value,
		// whose problems are left out as related), so paths still match.
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = withoutNulls(x)
		}
		return out
	}
	return v
}

// check resolves, defaults and validates a decoded stack.
func (st *Stack) check(o *options) Problems {
	resolvePaths(st, o)
	// What defaults would hide: a count of 0 written out becomes 1.
	var early Problems
	for i, n := range st.Cluster.Nodes {
		if p := fmt.Sprintf("cluster.nodes[%d].count", i); n.Count == 0 && st.written(p) {
			early = append(early, st.Problemf(p, "count 0: a node group has at least one node; remove the group instead"))
		}
	}
	if st.Ingress == nil && st.written("ingress") {
		early = append(early, st.Problemf("ingress", "ingress: is empty; write ingress: {} for the defaults (the built-in controller, the domain %s.localhost)", st.Metadata.Name))
	}
	Default(&st.Stack)
	return append(early, validate(st, o)...)
}

// related reports whether path is at, above or below the path of one of
// ps (the root counts as above everything only when a problem is there).
func related(path string, ps Problems) bool {
	for _, p := range ps {
		a, b := path, p.Path
		if a == b || b == "" || strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[") ||
			strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") || a == "" {
			return true
		}
	}
	return false
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

// written reports whether the field at path is written in the stack's
// files (not only an ancestor of it).
func (s *Stack) written(path string) bool {
	_, ok := s.pos[path]
	return ok
}

// foreignDocument recognises a file that is not a kindred stack at all (a
// Kubernetes object, a kind config) and says what it is, instead of a
// list of unknown fields.
func foreignDocument(src *source, root *yaml.Node) (Problem, bool) {
	var apiVersion, kind *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "apiVersion":
			apiVersion = root.Content[i+1]
		case "kind":
			kind = root.Content[i+1]
		}
	}
	if apiVersion == nil || kind == nil || kind.Kind != yaml.ScalarNode || kind.Value == api.Kind || strings.HasPrefix(apiVersion.Value, "kindred.dev/") {
		return Problem{}, false
	}
	what := fmt.Sprintf("a Kubernetes %s (%s)", kind.Value, apiVersion.Value)
	how := "to install it, list its file under a component's manifests:"
	if strings.HasPrefix(apiVersion.Value, "kind.x-k8s.io/") {
		what = "a kind " + kind.Value + " config"
		how = "kindred writes kind's config from the stack's cluster: section (nodes, networking, portMappings)"
	}
	return Problem{Pos: src.pos(apiVersion), Path: "apiVersion",
		Msg: fmt.Sprintf("this is %s, not a kindred stack (apiVersion %s, kind Stack); %s", what, api.APIVersion, how)}, true
}
