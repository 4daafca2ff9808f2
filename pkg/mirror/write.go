package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// YAML writes the stack with a comment on every inferred line saying
// where it came from, and a header listing the variables to set, what was
// left out on purpose and what could not be read. source names the
// cluster it was read from (a kubeconfig context).
func (r *Result) YAML(source string) ([]byte, error) {
	data, err := json.Marshal(r.Stack)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	r.plain(root, false)
	notes := map[*yaml.Node][]string{}
	var header []string
	for _, n := range r.Inferences {
		target := find(root, n.Path)
		if target == nil {
			header = append(header, n.From)
			continue
		}
		notes[target] = append(notes[target], n.From)
	}
	for target, from := range notes {
		text := "# " + strings.Join(from, "; ")
		if target.Kind == yaml.ScalarNode {
			target.LineComment = text
		} else {
			target.HeadComment = text
		}
	}
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, "# "+format+"\n", args...) }
	line("Mirrored by kindred mirror from %s (Kubernetes %s).", source, r.Server)
	line("Each inferred line says where it came from; check them, then: kindred validate && kindred up")
	if len(r.Variables) > 0 {
		b.WriteString("#\n")
		line("Set these variables first (nothing secret was copied):")
		for _, v := range r.Variables {
			line("  %s: %s", v.Name, v.For)
		}
	}
	if len(header) > 0 {
		b.WriteString("#\n")
		line("Found:")
		for _, h := range header {
			line("  %s", h)
		}
	}
	if len(r.Omissions) > 0 {
		b.WriteString("#\n")
		line("Left out on purpose:")
		for _, o := range r.Omissions {
			line("  %s: %s", o.What, o.Why)
		}
	}
	if len(r.Unread) > 0 {
		b.WriteString("#\n")
		line("Could not read (the stack may miss what they hold):")
		for _, u := range r.Unread {
			line("  %s: %s", u.What, u.Why)
		}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plain turns JSON's flow style into block style, and escapes $ in
// copied strings so the loader does not expand them (a placeholder is
// the one ${VAR} meant).
func (r *Result) plain(n *yaml.Node, isKey bool) {
	n.Style = 0
	switch {
	case n.Kind != yaml.ScalarNode || n.Tag != "!!str" || isKey:
	case r.placeholders[n.Value]:
		// Quoted, so the loader keeps the value a string whatever it is
		// (a password of digits, "true").
		n.Style = yaml.DoubleQuotedStyle
	default:
		n.Value = strings.ReplaceAll(n.Value, "$", "$$")
	}
	for i, c := range n.Content {
		r.plain(c, n.Kind == yaml.MappingNode && i%2 == 0)
	}
}

var pathPart = regexp.MustCompile(`^([^\[]+)((?:\[\d+\])*)$`)

// find is the node a path like cluster.nodes[1] or routes[0] names: the
// key node for a mapping's field, so its comment sits on the key's line.
func find(root *yaml.Node, path string) *yaml.Node {
	if path == "" || path == "#" {
		return nil
	}
	n := root
	var last *yaml.Node
	for _, part := range strings.Split(path, ".") {
		m := pathPart.FindStringSubmatch(part)
		if m == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var key, val *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == m[1] {
				key, val = n.Content[i], n.Content[i+1]
			}
		}
		if key == nil {
			return nil
		}
		n, last = val, key
		if val.Kind == yaml.ScalarNode {
			last = val
		}
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			i, _ := strconv.Atoi(idx)
			if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
			last = n
		}
	}
	return last
}
