package mirror

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/internal/helm"
)

// release is one helm release found in the cluster.
type release struct {
	name, namespace string
	chart, version  string
	values          map[string]any
	// valuesRead is false when the release was found by its objects'
	// labels: its values are in a Secret the reader may not read.
	valuesRead bool
	// mirrored: the release became a component.
	mirrored bool
}

func (r *release) key() string { return r.namespace + "/" + r.name }

// Annotations and labels helm puts on what it installs.
const (
	annRelease          = "meta.helm.sh/release-name"
	annReleaseNamespace = "meta.helm.sh/release-namespace"
	labelChart          = "helm.sh/chart"
)

// chartLabel splits helm.sh/chart's NAME-VERSION at the dash before the
// version.
var chartLabel = regexp.MustCompile(`^(.+)-(v?\d+\.\d+\.\d+.*)$`)

// workloadKinds are the kinds read for helm labels, node selectors and
// what is left out.
var workloadKinds = []struct{ apiVersion, kind string }{
	{"apps/v1", "Deployment"}, {"apps/v1", "StatefulSet"}, {"apps/v1", "DaemonSet"}, {"batch/v1", "CronJob"},
}

// releaseOf names the release an object belongs to, if helm installed it.
func releaseOf(u *unstructured.Unstructured) (name, namespace string, ok bool) {
	a := u.GetAnnotations()
	name, namespace = a[annRelease], a[annReleaseNamespace]
	return name, namespace, name != ""
}

// findReleases reads helm's release Secrets, or failing that the labels
// helm puts on the objects it installs.
func (m *mirrorer) findReleases(ctx context.Context) {
	m.releases = map[string]*release{}
	deployed, err := helm.DeployedReleases(m.l.kc.Typed.CoreV1().Secrets(""))
	if err != nil {
		m.l.refused("helm release Secrets", "", err)
	}
	for _, d := range deployed {
		m.releases[d.Namespace+"/"+d.Name] = &release{name: d.Name, namespace: d.Namespace, chart: d.Chart, version: d.Version, values: d.Values, valuesRead: true}
	}
	var objs []*unstructured.Unstructured
	for _, k := range workloadKinds {
		objs = append(objs, m.l.List(ctx, k.apiVersion, k.kind, "")...)
	}
	objs = append(objs, m.l.List(ctx, "v1", "Service", "")...)
	objs = append(objs, m.l.List(ctx, "v1", "ConfigMap", "")...)
	for _, u := range objs {
		name, ns, ok := releaseOf(u)
		if !ok {
			continue
		}
		if ns == "" {
			ns = u.GetNamespace()
		}
		key := ns + "/" + name
		if m.releases[key] == nil {
			rel := &release{name: name, namespace: ns}
			if sm := chartLabel.FindStringSubmatch(u.GetLabels()[labelChart]); sm != nil {
				rel.chart, rel.version = sm[1], sm[2]
			}
			m.releases[key] = rel
		} else if r := m.releases[key]; r.chart == "" {
			if sm := chartLabel.FindStringSubmatch(u.GetLabels()[labelChart]); sm != nil {
				r.chart, r.version = sm[1], sm[2]
			}
		}
	}
}

// kindredRepos are the chart repositories of stacks kindred recorded in
// the cluster (its state Secrets), by release: the one place a chart's
// repository is written down.
func (m *mirrorer) kindredRepos(ctx context.Context) map[string]string {
	repos := map[string]string{}
	secrets, err := m.l.kc.Typed.CoreV1().Secrets("kindred-system").List(ctx, metav1.ListOptions{LabelSelector: "kindred.dev/stack"})
	if err != nil {
		return repos
	}
	for _, s := range secrets.Items {
		var st struct {
			Spec json.RawMessage `json:"spec"`
		}
		if json.Unmarshal(s.Data["state.json"], &st) != nil {
			continue
		}
		var spec api.Stack
		if json.Unmarshal(st.Spec, &spec) != nil {
			continue
		}
		for _, c := range spec.Components {
			if c.Chart != nil && c.Chart.Repo != "" {
				ns := c.Namespace
				if ns == "" {
					ns = "default"
				}
				repos[ns+"/"+c.Name] = c.Chart.Repo
			}
		}
	}
	return repos
}

// releases turns the releases found into components.
func (m *mirrorer) mirrorReleases(ctx context.Context) {
	m.findReleases(ctx)
	keys := make([]string, 0, len(m.releases))
	for k := range m.releases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	creds := m.cloudCredentials(ctx)
	var repos map[string]string
	for _, k := range keys {
		rel := m.releases[k]
		what := "helm release " + k
		if rel.chart != "" {
			what += fmt.Sprintf(" (chart %s %s)", rel.chart, rel.version)
		}
		if owner, ok := m.claimed[rel.namespace]; ok {
			m.r.note("#", fmt.Sprintf("%s is %s's, mirrored as kindred's own", what, owner))
			if e := m.catalogChart(rel.chart); e != nil && e.Chart.Version != rel.version {
				m.r.note("#", fmt.Sprintf("production runs %s %s; kindred's catalogue installs %s", rel.chart, rel.version, e.Chart.Version))
			}
			continue
		}
		if !m.selected(rel.namespace, rel.name) {
			m.r.omit(what, "excluded by --include/--exclude")
			continue
		}
		if why, ok := creds[k]; ok {
			m.r.omit(what, "it uses cloud credentials ("+why+")")
			continue
		}
		if rel.chart == "" {
			m.r.omit(what, "its release Secret could not be read and its objects carry no helm.sh/chart label, so its chart is unknown")
			continue
		}
		if repos == nil {
			repos = m.kindredRepos(ctx)
		}
		c := api.Component{Name: rel.name}
		if rel.namespace != "default" {
			c.Namespace = rel.namespace
		}
		path := fmt.Sprintf("components[%d]", len(m.r.Stack.Components))
		from := what
		values := rel.values
		if e := m.catalogChart(rel.chart); e != nil && e.Role == "" {
			c.Use = e.Name
			if rel.namespace == e.Namespace {
				c.Namespace = ""
			}
			values = subtract(values, e.Values)
			if e.Chart.Version != rel.version {
				from += fmt.Sprintf("; the catalogue's %s installs %s", e.Name, e.Chart.Version)
			}
		} else {
			repo := repos[k]
			if repo == "" {
				// A default under .invalid (which never resolves) keeps
				// the file valid, and a chart mirror needs no repository.
				name := envName(rel.name, "chart", "repo")
				ref := m.r.variable(name, fmt.Sprintf("the repository of chart %s: a helm release does not record it; set it, or use a chart mirror (KINDRED_CHART_MIRROR)", rel.chart))
				repo = strings.TrimSuffix(ref, "}") + ":-https://charts.invalid/" + rel.chart + "}"
				m.r.placeholders[repo] = true
			}
			c.Chart = &api.Chart{Repo: repo, Name: rel.chart, Version: rel.version}
		}
		if !rel.valuesRead {
			from += "; values not read (its release Secret could not be read)"
		}
		c.Values = m.scrub(values, rel.name, path+".values")
		m.r.Stack.Components = append(m.r.Stack.Components, c)
		m.r.note(path, from)
		rel.mirrored = true
		for _, svc := range m.l.List(ctx, "v1", "Service", rel.namespace) {
			if n, ns, ok := releaseOf(svc); ok && n == rel.name && (ns == "" || ns == rel.namespace) {
				m.l.own(svc.GetNamespace(), svc.GetName(), rel.name)
			}
		}
	}
}

// catalogChart is the catalogue entry that installs chart, if any.
func (m *mirrorer) catalogChart(chart string) *catalog.Entry {
	if m.o.Catalog == nil {
		return nil
	}
	for _, n := range m.o.Catalog.Names() {
		if e, ok := m.o.Catalog.Get(n); ok && e.Chart != nil && e.Chart.Name == chart {
			return e
		}
	}
	return nil
}

// subtract drops from values what base sets to the same value.
func subtract(values, base map[string]any) map[string]any {
	if len(values) == 0 || len(base) == 0 {
		return values
	}
	out := map[string]any{}
	for k, v := range values {
		b, ok := base[k]
		if !ok {
			out[k] = v
			continue
		}
		vm, vok := v.(map[string]any)
		bm, bok := b.(map[string]any)
		switch {
		case vok && bok:
			if rest := subtract(vm, bm); len(rest) > 0 {
				out[k] = rest
			}
		case !reflect.DeepEqual(v, b):
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// secretKey matches value keys that hold credentials.
var secretKey = regexp.MustCompile(`(?i)(pass(word|wd)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth|dsn|connection[-_]?string|webhook[-_]?url|^key$|salt|cookie)`)

// secretName matches keys that name a Secret rather than hold one.
var secretName = regexp.MustCompile(`(?i)(^existing|secret_?name$|secretref$|keyref$|name$|enabled$)`)

// looksSecret reports a value that is a secret whatever its key: a PEM
// block, a JWT, or a long random-looking string.
func looksSecret(s string) bool {
	if strings.Contains(s, "-----BEGIN ") || strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2 {
		return true
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		return true // a URL with credentials in it
	}
	if len(s) < 24 || strings.ContainsAny(s, " /.:") {
		return false
	}
	var lower, upper, digit int
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			lower++
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= '0' && c <= '9':
			digit++
		}
	}
	if _, err := base64.StdEncoding.DecodeString(s); err == nil && len(s) >= 32 {
		return true
	}
	return lower > 0 && upper > 0 && digit > 0
}

// scrub copies values, replacing every secret-looking string with a
// ${VAR} placeholder.
func (m *mirrorer) scrub(values map[string]any, owner, at string) map[string]any {
	if len(values) == 0 {
		return nil
	}
	var walk func(v any, keys []string, secretish bool) any
	walk = func(v any, keys []string, secretish bool) any {
		switch t := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(t))
			// An entry like {name: DB_PASSWORD, value: …} is a secret by
			// its name.
			named, _ := t["name"].(string)
			pair := named != "" && secretKey.MatchString(named)
			for _, k := range slices.Sorted(maps.Keys(t)) { // variables in a stable order
				s := (secretish || secretKey.MatchString(k) || pair && k == "value") && !secretName.MatchString(k)
				out[k] = walk(t[k], append(keys, k), s)
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, c := range t {
				out[i] = walk(c, append(keys, fmt.Sprint(i)), secretish)
			}
			return out
		case string:
			if t != "" && (secretish || looksSecret(t)) {
				name := envName(append([]string{owner}, keys...)...)
				return m.r.variable(name, fmt.Sprintf("%s.%s (a secret: not copied)", at, strings.Join(keys, ".")))
			}
		case bool, nil:
		default: // a number under a secret key is a secret too
			if secretish {
				name := envName(append([]string{owner}, keys...)...)
				return m.r.variable(name, fmt.Sprintf("%s.%s (a secret: not copied)", at, strings.Join(keys, ".")))
			}
		}
		return v
	}
	out, _ := walk(values, nil, false).(map[string]any)
	return out
}
