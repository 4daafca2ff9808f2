package cli

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// positioned matches a problem line: file:line:column: message.
var positioned = regexp.MustCompile(`^\S+:\d+:\d+: `)

// TestBadInputCorpus runs validate on every broken stack under testdata/bad.
// Each file names what it expects in "# want: [FILE:]LINE:COL MESSAGE"
// comments; FILE defaults to the case's own file. Every case must exit 2,
// print every wanted problem at its position, and print no problem without
// a position.
func TestBadInputCorpus(t *testing.T) {
	t.Chdir("../..")
	cases, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("the corpus has %d cases, want at least 100", len(cases))
	}
	noEnv := func(string) (string, bool) { return "", false }
	for _, file := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			wants := readWants(t, file)
			if len(wants) == 0 {
				t.Fatalf("%s has no # want: line", file)
			}
			var stdout, stderr bytes.Buffer
			code := Run([]string{"validate", file}, strings.NewReader(""), &stdout, &stderr, noEnv)
			if code != ExitBadInput {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, ExitBadInput, &stdout, &stderr)
			}
			got := stderr.String()
			for _, w := range wants {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			lines := strings.Split(strings.TrimSpace(got), "\n")
			for _, l := range lines[:len(lines)-1] {
				if !positioned.MatchString(l) {
					t.Errorf("problem without file:line:column: %q", l)
				}
			}
		})
	}
}

func readWants(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wants []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			continue
		}
		pos, msg, _ := strings.Cut(rest, " ")
		if strings.Count(pos, ":") == 1 {
			pos = file + ":" + pos
		} else {
			pos = "testdata/bad/" + pos
		}
		wants = append(wants, pos+": ")
		wants = append(wants, msg)
	}
	return wants
}
