// Package architecture holds the test that keeps kindred's layers in place:
// which package may import which, and where a built-in component may be
// named. ARCHITECTURE.md explains the rules; this test is what enforces
// them.
package architecture

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "kindred.dev/kindred"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// load lists every package of the module with its direct and transitive
// imports (tests excluded: they may reach for anything).
func load(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", dir)
	}
	return dir
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// rule is one import rule: packages matching from must not import (directly,
// or at all with transitive) packages matching to.
type rule struct {
	why        string
	from, to   *regexp.Regexp
	except     *regexp.Regexp // imports to allow although to matches them
	transitive bool
}

var rules = []rule{
	{why: "the library never reaches the command or its terminal UI",
		from: regexp.MustCompile(`^pkg/`), to: regexp.MustCompile(`^(ui|internal/cli)(/|$)`), transitive: true},
	{why: "the cluster facade sits below the engine",
		from: regexp.MustCompile(`^pkg/cluster$`), to: regexp.MustCompile(`^pkg/engine$`), transitive: true},
	{why: "no provider implementation, adapter or the engine sits above the facade",
		from: regexp.MustCompile(`^pkg/internal/(clusterapi|provider|kind|registry)$`), to: regexp.MustCompile(`^pkg/(engine|cluster)$`), transitive: true},
	{why: "the engine reaches clusters through pkg/cluster only",
		from: regexp.MustCompile(`^pkg/engine$`), to: regexp.MustCompile(`^pkg/(internal/(provider|kind|registry)|sim)$`)},
	{why: "the plan and the stack know nothing of clusters or the engine",
		from: regexp.MustCompile(`^pkg/(plan|stack|api/v1alpha1|catalog)$`), to: regexp.MustCompile(`^pkg/(engine|cluster|sim|internal/(provider|kind|helm|registry))$`), transitive: true},
	{why: "the command and kindredtest reach clusters through pkg/cluster, never past it",
		from: regexp.MustCompile(`^(internal/cli|pkg/kindredtest|examples/.*)$`), to: regexp.MustCompile(`^pkg/internal/(provider|kind|registry)$`)},
	{why: "a component plugs into the engine; it never reaches into it",
		from: regexp.MustCompile(`^pkg/component(/.*)?$`), to: regexp.MustCompile(`^pkg/(engine|kindredtest)$`), transitive: true},
	{why: "the engine knows components through the registry; it imports only the package that registers them all",
		from: regexp.MustCompile(`^pkg/engine$`), to: regexp.MustCompile(`^pkg/component/[a-z]+$`), except: regexp.MustCompile(`^pkg/component/builtin$`)},
	{why: "test infrastructure stays out of the library and the binary",
		from: regexp.MustCompile(`^(pkg/.*|internal/cli|ui)$`), to: regexp.MustCompile(`^internal/(testbed|golden)$`), transitive: true},
}

// adapters: a third-party library imported by one package of ours only.
var adapters = map[string]string{
	"helm.sh/helm/v4/":  "pkg/internal/helm",
	"sigs.k8s.io/kind/": "pkg/internal/kind",
}

// publicPackages are the packages a user imports. Adding one is a decision,
// so it shows in this list.
// The built-ins under pkg/component are public too: a program may import
// one alone.
var publicPackages = []string{
	"pkg/api/v1alpha1", "pkg/catalog", "pkg/cluster", "pkg/component", "pkg/engine", "pkg/event",
	"pkg/kindredtest", "pkg/mirror", "pkg/plan", "pkg/render", "pkg/sim", "pkg/stack",
}

func TestImportRules(t *testing.T) {
	pkgs := load(t)
	for _, r := range rules {
		matched := false
		for _, p := range pkgs {
			from := rel(p.ImportPath)
			if !r.from.MatchString(from) {
				continue
			}
			matched = true
			list := p.Imports
			if r.transitive {
				list = p.Deps
			}
			for _, imp := range list {
				if !strings.HasPrefix(imp, module+"/") {
					continue
				}
				if to := rel(imp); r.to.MatchString(to) && (r.except == nil || !r.except.MatchString(to)) {
					t.Errorf("%s imports %s: %s", from, to, r.why)
				}
			}
		}
		if !matched {
			t.Errorf("rule %q matches no package: fix the rule", r.why)
		}
	}
}

// A built-in reaches another only through the registry's interfaces
// (component.Ingress), so each can be read, changed and removed alone.
func TestComponentsStandAlone(t *testing.T) {
	for _, p := range load(t) {
		from := rel(p.ImportPath)
		own, ok := strings.CutPrefix(from, "pkg/component/")
		if !ok || own == "builtin" {
			continue
		}
		own, _, _ = strings.Cut(own, "/")
		for _, imp := range p.Imports {
			other, ok := strings.CutPrefix(rel(imp), "pkg/component/")
			if ok && !strings.HasPrefix(other, own) {
				t.Errorf("%s imports %s: components reach each other through pkg/component's interfaces", from, rel(imp))
			}
		}
	}
}

func TestAdapters(t *testing.T) {
	pkgs := load(t)
	for lib, home := range adapters {
		for _, p := range pkgs {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, lib) && rel(p.ImportPath) != home {
					t.Errorf("%s imports %s; only %s may (it is the adapter)", rel(p.ImportPath), imp, home)
				}
			}
		}
	}
}

func TestPublicPackages(t *testing.T) {
	var got []string
	for path := range load(t) {
		r := rel(path)
		if strings.HasPrefix(r, "pkg/") && !strings.Contains(r, "internal") && !strings.HasPrefix(r, "pkg/component/") {
			got = append(got, r)
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, publicPackages) {
		t.Errorf("public packages changed:\n got  %v\n want %v\nupdate publicPackages (and ARCHITECTURE.md) if that is intended", got, publicPackages)
	}
}

// components are the built-ins and the words that name them in code.
var components = map[string]*regexp.Regexp{
	"calico":       regexp.MustCompile(`(?i)calico|tigera`),
	"contour":      regexp.MustCompile(`(?i)contour|httpproxy|envoy`),
	"cert-manager": regexp.MustCompile(`(?i)cert-?manager`),
	"postgres":     regexp.MustCompile(`(?i)postgres`),
	"mysql":        regexp.MustCompile(`(?i)mysql|mariadb`),
	"redis":        regexp.MustCompile(`(?i)redis`),
	"prometheus":   regexp.MustCompile(`(?i)prometheus`),
}

// componentHome is where a component may be named: its own package under
// pkg/component, and the API's types and enum table.
func componentHome(file string) bool {
	return strings.HasPrefix(file, "pkg/component/") || strings.HasPrefix(file, "pkg/api/v1alpha1/")
}

// generic are built-ins named by plain words (a job, a tenant, a database)
// that other packages use for other things too; the databases' engines are
// policed instead.
var generic = map[string]bool{"builtin": true, "database": true, "job": true, "tenant": true, "certmanager": true}

func TestComponentsNamedAtHome(t *testing.T) {
	dir := root(t)
	pkgs := load(t)
	// A built-in added later is policed by its name, with no list to edit.
	for path := range pkgs {
		name, ok := strings.CutPrefix(rel(path), "pkg/component/")
		if !ok || strings.Contains(name, "/") || generic[name] {
			continue
		}
		if _, known := components[name]; !known {
			components[name] = regexp.MustCompile(`(?i)` + regexp.QuoteMeta(name))
		}
	}
	named := map[string][]string{}
	var files []string
	for _, p := range pkgs {
		for _, f := range p.GoFiles {
			file := rel(p.ImportPath) + "/" + f
			if componentHome(file) || strings.HasPrefix(file, "internal/testbed/") || strings.HasPrefix(file, "examples/") {
				continue
			}
			files = append(files, file)
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
			if err != nil {
				t.Fatal(err)
			}
			for c, re := range components {
				if re.Match(data) {
					named[c] = append(named[c], file)
				}
			}
		}
	}
	for c := range components {
		for _, f := range named[c] {
			t.Errorf("%s names the built-in component %s; only its own package (and the API's enum table) may: see ARCHITECTURE.md", f, c)
		}
	}
	if len(files) == 0 {
		t.Fatal("no file was read")
	}
}
