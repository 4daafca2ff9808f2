package stack

import (
	"strings"
	"testing"
)

// FuzzExpand fuzzes the ${VAR} expander: it never panics; text without a
// dollar sign comes back as it was; an error never quotes a variable's
// value; and with every variable set to a value free of dollars, what
// comes back holds no ${ of a reference it expanded.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "$${A}", "${A:-x}", "${A", "${-}", "a$b", "${A}${B:-${C}}", "$$", "${A:-}", "ünï${A}cödé"} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, in, value string) {
		lookup := func(string) (string, bool) { return value, true }
		out, err := expandString(in, lookup)
		if !strings.Contains(in, "$") && (err != nil || out != in) {
			t.Fatalf("%q without a dollar sign became %q, %v", in, out, err)
		}
		if err != nil && len(value) >= minRedacted && strings.Contains(err.Error(), value) && !strings.Contains(in, value) {
			t.Fatalf("the error quotes the value: %v", err)
		}
		if err == nil && !strings.Contains(value, "$") && !strings.Contains(in, "$$") && strings.Contains(out, "${") && !strings.Contains(in, ":-") {
			t.Fatalf("%q expanded to %q, which still holds a reference", in, out)
		}
	})
}
