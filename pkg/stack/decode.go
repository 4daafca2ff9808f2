package stack

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML tree against the schema's Go types. It reports every
// unknown field and wrong type at its position, records the position of every
// field it sees, and builds plain values that encoding/json turns into the
// typed stack.
type decoder struct {
	src *source
	pos map[string]Pos
	// visited counts nodes, so that aliases cannot expand a small file into
	// an enormous tree (a "billion laughs").
	visited  int
	exceeded bool
}

// maxNodes bounds the nodes one stack may expand to.
const maxNodes = 200_000

// spend counts a node and reports whether the budget allows it.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	d.visited++
	if d.visited <= maxNodes {
		return true
	}
	if !d.exceeded {
		d.exceeded = true
		d.addf(n, path, "the stack holds more than %d values (counting what its aliases repeat); a stack file is written by hand, and this is not one", maxNodes)
	}
	return false
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.src.problems = append(d.src.problems, Problem{Pos: d.src.pos(n), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// value converts n to a plain value for a field of type t at path. ok is
// false when n did not fit t; the problem is already recorded.
func (d *decoder) value(n *yaml.Node, t reflect.Type, path string) (v any, ok bool) {
	if !d.spend(n, path) {
		return nil, false
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.pos[path] = d.src.pos(n)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) && t.Kind() == reflect.Struct {
		if n.Kind != yaml.ScalarNode {
			d.addf(n, path, "want a string, got %s", describe(n))
			return nil, false
		}
		raw, _ := json.Marshal(n.Value)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			d.addf(n, path, "%v", err)
			return nil, false
		}
		return n.Value, true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.value(n, t.Elem(), path)
	case reflect.Struct:
		return d.object(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(n, path, "want a list, got %s", describe(n))
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		good := true
		for i, c := range n.Content {
			v, ok := d.value(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			good = good && ok
			out = append(out, v)
		}
		return out, good
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.addf(n, path, "want a mapping, got %s", describe(n))
			return nil, false
		}
		out := map[string]any{}
		good := true
		d.eachKey(n, path, func(k string, kn, vn *yaml.Node) {
			v, ok := d.value(vn, t.Elem(), path+"."+k)
			good = good && ok
			out[k] = v
		})
		return out, good
	case reflect.Interface:
		return d.any(n, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addf(n, path, "want a string, got %s", describe(n))
			return nil, false
		}
		return n.Value, true
	case reflect.Int:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && len(n.Value) > 1 && n.Value[0] == '0' && strings.Trim(n.Value, "0123456789") == "" {
			d.addf(n, path, "%s has a leading zero, which YAML reads as an octal number; write %s", n.Value, strings.TrimLeft(n.Value, "0"))
			return nil, false
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			if i, err := strconv.ParseInt(n.Value, 0, 32); err == nil {
				return i, true
			}
		}
		d.addf(n, path, "want an integer, got %s", describe(n))
		return nil, false
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			b, _ := strconv.ParseBool(n.Value)
			return b, true
		}
		d.addf(n, path, "want true or false, got %s", describe(n))
		return nil, false
	}
	panic(fmt.Sprintf("stack: schema field %s has unsupported type %s", path, t))
}

// object converts a mapping into the fields of struct type t.
func (d *decoder) object(n *yaml.Node, t reflect.Type, path string) (any, bool) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "want a mapping, got %s", describe(n))
		return nil, false
	}
	fields := jsonFields(t)
	out := map[string]any{}
	good := true
	d.eachKey(n, path, func(k string, kn, vn *yaml.Node) {
		f, known := fields[k]
		if !known && path == "" && strings.HasPrefix(k, "x-") {
			return // a place for anchors (x-base: &base …), as in Compose files
		}
		if !known {
			msg := fmt.Sprintf("unknown field %q", k)
			if s := suggest(k, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.addf(kn, join(path, k), "%s", msg)
			good = false
			return
		}
		v, ok := d.value(vn, f.Type, join(path, k))
		good = good && ok
		out[k] = v
	})
	return out, good
}

// eachKey calls fn for every key of mapping n, reporting non-string and
// duplicate keys.
func (d *decoder) eachKey(n *yaml.Node, path string, fn func(k string, kn, vn *yaml.Node)) {
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.addf(kn, path, "want a string key, got %s", describe(kn))
			continue
		}
		if kn.Tag == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if first, dup := seen[kn.Value]; dup {
			d.addf(kn, join(path, kn.Value), "duplicate key %q (first at line %d)", kn.Value, first.Line)
			continue
		}
		seen[kn.Value] = kn
		fn(kn.Value, kn, vn)
	}
	// YAML merge keys (<<: *base, or a list of them): their keys count
	// where the mapping does not set them itself; the first merged wins.
	for _, m := range merges {
		for m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			for src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				d.addf(src, path, "<< merges a mapping, got %s", describe(src))
				continue
			}
			if !d.spend(src, path) {
				return
			}
			d.eachKey(src, path, func(k string, kn, vn *yaml.Node) {
				if _, set := seen[k]; !set {
					seen[k] = kn
					fn(k, kn, vn)
				}
			})
		}
	}
}

// any converts free-form YAML, such as chart values.
func (d *decoder) any(n *yaml.Node, path string) (any, bool) {
	if !d.spend(n, path) {
		return nil, false
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		good := true
		d.eachKey(n, path, func(k string, kn, vn *yaml.Node) {
			v, ok := d.any(vn, path+"."+k)
			good = good && ok
			out[k] = v
		})
		return out, good
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		good := true
		for i, c := range n.Content {
			v, ok := d.any(c, fmt.Sprintf("%s[%d]", path, i))
			good = good && ok
			out = append(out, v)
		}
		return out, good
	}
	var v any
	if err := n.Decode(&v); err != nil {
		d.addf(n, path, "%v", err)
		return nil, false
	}
	if f, ok := v.(float64); ok && (f != f || f > 1e308 || f < -1e308) {
		d.addf(n, path, "number %s cannot be represented in JSON", Quote(n.Value))
		return nil, false
	}
	return v, true
}

type jsonField struct {
	Type reflect.Type
}

// jsonFields maps the JSON names of struct t's fields to their types.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = jsonField{Type: f.Type}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns the known field closest to k, if it is close enough to be
// a likely typo.
func suggest(k string, fields map[string]jsonField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return Closest(k, names)
}

// maxSuggestLen bounds the names Closest compares, so that hostile input
// cannot make suggestions quadratic in its size.
const maxSuggestLen = 128

// Closest returns the name in names nearest to s, ignoring case, when it is
// close enough to be a likely typo; otherwise "".
func Closest(s string, names []string) string {
	best, bestDist := "", 3
	if len(s) > maxSuggestLen {
		return ""
	}
	for _, n := range names {
		if len(n) > maxSuggestLen || len(n)-len(s) >= bestDist || len(s)-len(n) >= bestDist {
			continue // too long to be a typo, or too far apart in length
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
