package stack

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a stack file. Line and Column start at 1; zero means
// unknown.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Problem is one thing wrong with a stack, at a position.
type Problem struct {
	Pos Pos
	// Path is the field in the stack, like components[2].needs[0]; empty for
	// problems that precede decoding, such as broken YAML.
	Path string
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	if s := p.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a stack. It is the error that Load and
// Validate return for bad input; errors.As finds it, and a caller can tell
// the user's mistakes from failures of the machine.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by file and position, keeping the order of
// problems at the same place.
func (ps Problems) sorted() Problems {
	out := append(Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out
}

// err returns ps as an error, or nil when there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps.sorted()
}

// redacted is ps with every variable's value kept out of the messages.
func (ps Problems) redacted(vars map[string]string) Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		p.Msg = redact(p.Msg, vars)
		out[i] = p
	}
	return out
}
