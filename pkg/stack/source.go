package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"go.yaml.in/yaml/v3"
)

// source reads stack files, expands ${VAR} references, follows includes and
// merges the files into one YAML tree. It remembers which file every node
// came from, so later problems name the right file.
type source struct {
	opts     *options
	origin   map[*yaml.Node]string
	problems Problems
	// vars are the values variables expanded to, and their names: a
	// message never shows them (see redact).
	vars map[string]string
}

func newSource(o *options) *source {
	return &source{opts: o, origin: map[*yaml.Node]string{}, vars: map[string]string{}}
}

// redact replaces in msg every value a variable expanded to, and the
// prefix of it that Quote shows, by the variable's name: a variable may
// hold a token, and messages reach CI logs.
func redact(msg string, vars map[string]string) string {
	for v, name := range vars {
		msg = strings.ReplaceAll(msg, v, "${"+name+"}")
		if r := []rune(v); len(r) > quoteMax {
			msg = strings.ReplaceAll(msg, string(r[:quoteMax]), "${"+name+"}")
		}
	}
	return msg
}

func (s *source) addf(n *yaml.Node, format string, args ...any) {
	s.problems = append(s.problems, Problem{Pos: s.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (s *source) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{File: s.origin[n], Line: n.Line, Column: n.Column}
}

// load parses the file at name with data, expands it and merges in what it
// includes. chain holds the files that include this one, for loop detection.
// It returns nil when the file cannot be parsed at all.
func (s *source) load(name string, data []byte, chain []string) *yaml.Node {
	root, ok := s.parse(name, data)
	if !ok {
		return nil
	}
	s.expand(root)

	incs := takeKey(root, "include")
	var merged *yaml.Node
	if incs != nil {
		if incs.Kind != yaml.SequenceNode {
			s.addf(incs, "include: want a list of stack files, got %s", describe(incs))
			incs = nil
		}
	}
	if incs != nil {
		for _, item := range incs.Content {
			if item.Kind != yaml.ScalarNode || item.Value == "" {
				s.addf(item, "include: want a file path, got %s", describe(item))
				continue
			}
			path := s.opts.resolve(name, item.Value)
			if i := indexOf(chain, path); i >= 0 || path == name {
				loop := append(append([]string(nil), chain[max(i, 0):]...), name, path)
				if i < 0 {
					loop = []string{name, path}
				}
				s.addf(item, "include loop: %s", strings.Join(loop, " → "))
				continue
			}
			sub, err := s.opts.readFile(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					s.addf(item, "include %q: no such file", item.Value)
				} else {
					s.addf(item, "include %q: %v", item.Value, err)
				}
				continue
			}
			if n := s.load(path, sub, append(chain, name)); n != nil {
				merged = merge(merged, n)
			}
		}
	}
	return merge(merged, root)
}

// parse reads one YAML document into a mapping node.
func (s *source) parse(name string, data []byte) (*yaml.Node, bool) {
	if line, deep := tooDeep(data); deep {
		s.problems = append(s.problems, Problem{Pos: Pos{File: name, Line: line, Column: 1},
			Msg: fmt.Sprintf("nested more than %d levels deep; a stack is not", maxDepth)})
		return nil, false
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		s.problems = append(s.problems, yamlProblem(name, data, err))
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil && len(next.Content) > 0 {
		s.problems = append(s.problems, Problem{Pos: Pos{File: name, Line: next.Content[0].Line, Column: next.Content[0].Column},
			Msg: "a second YAML document: a stack file holds one stack; put another in a file of its own (and include: it, to share parts)"})
		return nil, false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		s.problems = append(s.problems, Problem{Pos: Pos{File: name, Line: 1, Column: 1}, Msg: "empty stack file"})
		return nil, false
	}
	root := doc.Content[0]
	s.mark(root, name)
	if root.Kind != yaml.MappingNode {
		s.addf(root, "a stack file is a mapping with apiVersion, kind and metadata, got %s", describe(root))
		return nil, false
	}
	return root, true
}

// mark records name as the origin of n and everything under it.
func (s *source) mark(n *yaml.Node, name string) {
	s.origin[n] = name
	for _, c := range n.Content {
		s.mark(c, name)
	}
}

// expand replaces ${VAR} and ${VAR:-default} in every scalar value; $$ is a
// literal dollar sign.
func (s *source) expand(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			s.expand(n.Content[i])
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			s.expand(c)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, err := expandString(n.Value, func(name string) (string, bool) {
			v, ok := s.opts.lookupEnv(name)
			if ok && len(v) >= minRedacted {
				s.vars[v] = name
			}
			return v, ok
		})
		if err != nil {
			s.addf(n, "%v", err)
			return
		}
		if v != n.Value && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			// An unquoted ${PORT} stands for what it expands to, so that
			// a number field can take its value from a variable.
			n.Tag = plainTag(v)
		}
		n.Value = v
	}
}

// minRedacted is the length from which a variable's value is kept out of
// messages: shorter ones (a port, "true") are no secret, and replacing
// them everywhere would garble messages.
const minRedacted = 6

// expandString expands ${NAME} and ${NAME:-default} with lookup.
func expandString(in string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '$' || i+1 >= len(in) {
			b.WriteByte(c)
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(in[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %s", Quote(in))
		}
		expr := in[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable name %s in %s", Quote(name), Quote(in))
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("variable %s is not set (set it, or write ${%s:-default})", name, name)
		}
		i += end
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// takeKey removes key from mapping n and returns its value.
func takeKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// merge lays overlay over base: mappings merge key by key, lists of named
// items merge item by item (by name, or host for routes), and anything else
// is replaced by the overlay. It reuses the nodes it is given.
func merge(base, overlay *yaml.Node) *yaml.Node {
	switch {
	case base == nil:
		return overlay
	case overlay == nil:
		return base
	case base.Kind == yaml.MappingNode && overlay.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(overlay.Content); i += 2 {
			k, v := overlay.Content[i], overlay.Content[i+1]
			if j := keyIndex(base, k.Value); j >= 0 {
				base.Content[j+1] = merge(base.Content[j+1], v)
			} else {
				base.Content = append(base.Content, k, v)
			}
		}
		return base
	case base.Kind == yaml.SequenceNode && overlay.Kind == yaml.SequenceNode && keyed(base) && keyed(overlay):
		for _, item := range overlay.Content {
			id := identity(item)
			found := false
			for j, b := range base.Content {
				if identity(b) == id {
					base.Content[j] = merge(b, item)
					found = true
					break
				}
			}
			if !found {
				base.Content = append(base.Content, item)
			}
		}
		return base
	}
	return overlay
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// identity is what makes a list item the same item in an overlay.
func identity(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for _, key := range []string{"name", "host"} {
		if i := keyIndex(n, key); i >= 0 && n.Content[i+1].Kind == yaml.ScalarNode {
			return key + "=" + n.Content[i+1].Value
		}
	}
	return ""
}

func keyed(seq *yaml.Node) bool {
	for _, item := range seq.Content {
		if identity(item) == "" {
			return false
		}
	}
	return len(seq.Content) > 0
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!int", "!!float":
		return "the number " + Quote(n.Value)
	case "!!bool":
		return "the boolean " + n.Value
	}
	return "the string " + Quote(n.Value)
}

// quoteMax is how much of a value a message may quote.
const quoteMax = 12

// Quote quotes a value for a message: whole when it is short, else a short
// prefix and its length. A stack's values, and the files it names, may
// hold secrets, and messages end up in CI logs.
func Quote(v string) string {
	r := []rune(v)
	if len(r) <= quoteMax {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d characters)", string(r[:quoteMax]), len(r))
}

// resolve makes path relative to the folder of the file it was written in.
func (o *options) resolve(file, path string) string {
	if filepath.IsAbs(path) || isURL(path) {
		return path
	}
	return filepath.Join(filepath.Dir(file), path)
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "oci://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// plainTag is the YAML tag of an unquoted scalar.
func plainTag(v string) string {
	var x any
	if err := yaml.Unmarshal([]byte(v), &x); err != nil {
		return "!!str"
	}
	switch x.(type) {
	case int, int64, uint64:
		return "!!int"
	case float64:
		return "!!float"
	case bool:
		return "!!bool"
	case nil:
		return "!!null"
	}
	return "!!str"
}

// yamlProblem turns a YAML syntax error into a problem. The YAML library
// that builds the tree reports only the line where the broken construct
// began, so the error is located again with a parser that knows the exact
// token; when that parser sees no error, the first report stands.
// maxDepth bounds how deeply a stack file nests flow collections.
const maxDepth = 64

// tooDeep reports whether data nests flow collections ([ and {) more than
// maxDepth deep, and the line where it does. It is a cheap scan that runs
// before the parser, so a hostile file fails fast instead of costing the
// parser (and the error-locating second parse) its memory.
func tooDeep(data []byte) (int, bool) {
	depth, line := 0, 1
	var quote byte
	comment := false
	for _, c := range data {
		switch {
		case c == '\n':
			line++
			comment = false
			if quote == '\'' || quote == '"' {
				continue
			}
		case comment:
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '#':
			comment = true
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '{':
			depth++
			if depth > maxDepth {
				return line, true
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, false
}

func yamlProblem(file string, data []byte, err error) Problem {
	name := file
	var located interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if _, perr := goccy.ParseBytes(data, 0); perr != nil && errors.As(perr, &located) && located.GetToken() != nil {
		tk := located.GetToken()
		return Problem{Pos: Pos{File: name, Line: tk.Position.Line, Column: tk.Position.Column}, Msg: "invalid YAML: " + strings.ReplaceAll(located.GetMessage(), "\t", `\t`)}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		// The parser gives no position; the alias's first use is it.
		name, _, _ = strings.Cut(name, "'")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			line := 1 + bytes.Count(data[:i], []byte("\n"))
			col := i - bytes.LastIndexByte(data[:i], '\n')
			return Problem{Pos: Pos{File: file, Line: line, Column: col}, Msg: "invalid YAML: " + msg + " (no &" + name + " is defined before it)"}
		}
	}
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	return Problem{Pos: Pos{File: name, Line: line, Column: 1}, Msg: "invalid YAML: " + msg}
}
