// Package catalog reads the built-in component catalogue embedded from
// stacks/catalog, and the entries component packages carry themselves. An
// entry is data: where a component comes from, its pinned version, default
// values, the role it plays in the plan and the checks that say it is
// ready. The engine never knows a component by name.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/stacks"
)

// Roles an entry can play; the plan orders steps by them.
const (
	RoleCNI          = "cni"          // runs before anything that runs pods
	RoleIngress      = "ingress"      // runs before routes
	RoleCertificates = "certificates" // runs before issuers and certificates
	RoleDatabase     = "database"     // a database engine, rendered by kindred
)

// Entry is one catalogue component.
type Entry struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Role        string `json:"role,omitempty"`
	Namespace   string `json:"namespace,omitempty"`

	// One source: a chart, or manifests fetched by URL.
	Chart     *api.Chart `json:"chart,omitempty"`
	Manifests []Manifest `json:"manifests,omitempty"`
	// Version of a manifests source, for display and hashing.
	Version string `json:"version,omitempty"`

	// RuntimeImages are images an operator in the source starts at run
	// time, which rendering it cannot find; "{{ .Version }}" in one is the
	// version the step installs (its chart's, or the entry's).
	RuntimeImages []string `json:"runtimeImages,omitempty"`

	Values   map[string]any `json:"values,omitempty"`
	Checks   []api.Check    `json:"checks,omitempty"`
	Provides []string       `json:"provides,omitempty"`

	// Label is a short name for menus (the init wizard's).
	Label string `json:"label,omitempty"`

	// Metrics are the component's metrics endpoints; a monitoring
	// entry in the same stack scrapes them.
	Metrics []Metrics `json:"metrics,omitempty"`
	// Monitoring marks a monitoring entry: kindred adds scrape configs for
	// the stack's other components to its ScrapeConfigsValue.
	Monitoring *Monitoring `json:"monitoring,omitempty"`

	// Database engines: the image, its port and the versions offered.
	Engine         string   `json:"engine,omitempty"`
	Image          string   `json:"image,omitempty"`
	Port           int      `json:"port,omitempty"`
	Versions       []string `json:"versions,omitempty"`
	DefaultVersion string   `json:"defaultVersion,omitempty"`
}

// Metrics is one scrape target: the pods with a label, on a port and path.
type Metrics struct {
	Job       string `json:"job"`
	Namespace string `json:"namespace"`
	// PodLabel selects the pods, as name=value.
	PodLabel string `json:"podLabel"`
	Port     int    `json:"port"`
	Path     string `json:"path,omitempty"` // defaults to /metrics
}

// Monitoring says where a monitoring chart takes extra scrape configs.
type Monitoring struct {
	// ScrapeConfigsValue is the chart value, a YAML string of scrape
	// configs (extraScrapeConfigs in the catalogue's monitoring chart).
	ScrapeConfigsValue string `json:"scrapeConfigsValue"`
}

// Manifest is a file of manifests fetched by URL. SHA256, when set, pins its
// content.
type Manifest struct {
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Catalog is a set of entries by name.
type Catalog struct {
	entries map[string]*Entry
}

var (
	registered []registration
	built      bool
	builtin    = sync.OnceValues(func() (*Catalog, error) {
		built = true
		c, err := Read(stacks.FS, "catalog")
		if err != nil {
			return nil, err
		}
		for _, r := range registered {
			if err := c.add(r.data, r.where); err != nil {
				return nil, err
			}
		}
		return c, nil
	})
)

// registration is a catalogue entry a component package brings.
type registration struct {
	where string
	data  []byte
}

// Register adds an entry, as YAML, to the built-in catalogue; where names
// it in errors. A component package that carries its own entry registers
// it in its init, before the catalogue is first read; later it panics, as
// that is a programming error.
func Register(where string, data []byte) {
	if built {
		panic("catalog.Register(" + where + ") after the catalogue was read: register in init")
	}
	registered = append(registered, registration{where: where, data: data})
}

// Builtin returns the embedded catalogue, with the entries component
// packages registered.
func Builtin() (*Catalog, error) { return builtin() }

// Read loads every *.yaml entry in dir of fsys.
func Read(fsys fs.FS, dir string) (*Catalog, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	c := &Catalog{entries: map[string]*Entry{}}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		if err := c.add(data, f); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Catalog) add(data []byte, where string) error {
	e, err := decodeEntry(data)
	if err != nil {
		return fmt.Errorf("reading catalogue entry %s: %w", where, err)
	}
	if e.Name == "" {
		return fmt.Errorf("reading catalogue entry %s: no name", where)
	}
	if _, dup := c.entries[e.Name]; dup {
		return fmt.Errorf("reading catalogue entry %s: %q is defined twice", where, e.Name)
	}
	c.entries[e.Name] = e
	return nil
}

// Get returns the entry called name.
func (c *Catalog) Get(name string) (*Entry, bool) {
	e, ok := c.entries[name]
	return e, ok
}

// Names lists the entries, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.entries))
	for n := range c.entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Engine returns the database entry for engine.
func (c *Catalog) Engine(engine string) (*Entry, bool) {
	for _, e := range c.entries {
		if e.Role == RoleDatabase && e.Engine == engine {
			return e, true
		}
	}
	return nil, false
}

// ByRole returns the first entry, by name, that plays role.
func (c *Catalog) ByRole(role string) (*Entry, bool) {
	for _, n := range c.Names() {
		if e := c.entries[n]; e.Role == role && e.Role != RoleDatabase {
			return e, true
		}
	}
	return nil, false
}

// SupportsVersion reports whether a database entry offers version.
func (e *Entry) SupportsVersion(v string) bool { return slices.Contains(e.Versions, v) }

// decodeEntry reads strict YAML through JSON, so the schema's json tags apply.
func decodeEntry(data []byte) (*Entry, error) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	return &e, nil
}
