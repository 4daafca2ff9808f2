package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's contract: bad input on the command line exits 2 with a
// message that says what to do; -o json prints JSON and -o github prints
// annotations, also when a command fails.
func TestCommandLineContract(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(k string) (string, bool) {
		if k == "XDG_STATE_HOME" {
			return dir, true
		}
		return "", false
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"missing file", []string{"validate", filepath.Join(dir, "nope.yaml")}, ExitBadInput, "no such file", ""},
		{"a folder", []string{"validate", dir}, ExitBadInput, "is not a regular file", ""},
		{"unknown built-in", []string{"validate", "builtin:nope"}, ExitBadInput, `no built-in stack "nope"; there are: builtin:default`, ""},
		{"empty argument", []string{"validate", ""}, ExitBadInput, "the stack argument is empty", ""},
		{"unknown command", []string{"vaildate"}, ExitBadInput, `unknown command "vaildate" (did you mean "validate"?)`, ""},
		{"json problems", []string{"validate", "-o", "json", bad}, ExitBadInput, "unknown field", `"problems":[{"file":"` + bad + `","line":4,"column":1`},
		{"json usage error", []string{"validate", "-o", "json", dir}, ExitBadInput, "", `{"error":"reading stack: ` + dir + ` is not a regular file"}`},
		{"github annotations", []string{"validate", "-o", "github", bad}, ExitBadInput, "", "::error file=" + bad + ",line=4,col=1::unknown field"},
		{"built-in stack", []string{"validate", "builtin:minimal"}, ExitOK, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tc.args, strings.NewReader(""), &stdout, &stderr, noEnv)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("kindred %q: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, tc.code, &stdout, &stderr)
			}
		})
	}
}

// ls -o json is a list, [] when there is nothing.
func TestListIsAListInJSON(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"ls", "-o", "json"}, strings.NewReader(""), &stdout, &stderr, os.LookupEnv); code != ExitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var list []any
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil || list == nil {
		t.Errorf("ls -o json printed %q (%v), want []", stdout.String(), err)
	}
}
