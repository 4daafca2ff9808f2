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
		{"json usage error", []string{"validate", "-o", "json", dir}, ExitBadInput, "", `{"error":"cannot read the stack file: ` + dir + ` is not a regular file (a folder)"}`},
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

// Every command, in every output face, on good and on bad input: exit 0,
// 1 or 2 as the README says, -o json prints JSON (one document, or one per
// line for a run's events) with the problems or the error when it fails,
// and -o github prints annotations for problems.
func TestEveryCommandEveryOutput(t *testing.T) {
	dir := t.TempDir()
	state := t.TempDir()
	files := map[string]string{
		"bad.yaml":  "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\nbogus: 1\n",
		"good.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: contract}\ncluster: {provider: sim}\ncomponents:\n  - {name: cm, manifests: [cm.yaml]}\n",
		"cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) (string, bool) {
		switch k {
		case "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME":
			return state, true
		case "KINDRED_DIAGNOSTICS":
			return filepath.Join(state, "diagnostics"), true
		}
		return "", false
	}
	bad, good := filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "good.yaml")
	for _, c := range []struct {
		args []string
		code int // on good input; bad input is always 2
	}{
		{[]string{"validate"}, ExitOK},
		{[]string{"plan"}, ExitOK},
		{[]string{"images"}, ExitOK},
		{[]string{"diff"}, ExitOK},        // no cluster yet: everything would be created
		{[]string{"down"}, ExitOK},        // nothing to remove
		{[]string{"status"}, ExitFailure}, // no cluster
		{[]string{"env"}, ExitFailure},
		{[]string{"diagnose"}, ExitFailure},
		{[]string{"up", "--provider", "kind", "--dry-run"}, -1}, // depends on the machine: only bad input is checked
		{[]string{"creds", "--stack"}, ExitFailure},
	} {
		for _, input := range []string{good, bad} {
			for _, out := range []string{"text", "json", "github"} {
				args := append(append([]string{}, c.args...), input)
				args = append(args[:1], append([]string{"-o", out}, args[1:]...)...)
				want := c.code
				if input == bad {
					want = ExitBadInput
				}
				var stdout, stderr bytes.Buffer
				code := Run(args, strings.NewReader(""), &stdout, &stderr, env)
				name := strings.Join(args, " ")
				if want >= 0 && code != want {
					t.Errorf("kindred %s: exit %d, want %d\nstdout: %s\nstderr: %s", name, code, want, &stdout, &stderr)
					continue
				}
				switch out {
				case "json":
					if !isJSON(stdout.Bytes()) {
						t.Errorf("kindred %s: stdout is not JSON:\n%s", name, &stdout)
					}
					if code != ExitOK && !strings.Contains(stdout.String(), `"error"`) && !strings.Contains(stdout.String(), `"problems"`) {
						t.Errorf("kindred %s failed without a JSON error:\n%s", name, &stdout)
					}
				case "github":
					if input == bad && !strings.Contains(stdout.String(), "::error file="+bad+",line=4,col=1::") {
						t.Errorf("kindred %s: no annotation for the problem:\n%s", name, &stdout)
					}
				case "text":
					if input == bad && !strings.Contains(stderr.String(), bad+":4:1: ") {
						t.Errorf("kindred %s: the problem without its position:\n%s", name, &stderr)
					}
				}
			}
		}
	}
	for _, args := range [][]string{{"schema"}, {"version", "-o", "json"}, {"ls", "-o", "json"}, {"ls", "-o", "github"}} {
		var stdout, stderr bytes.Buffer
		if code := Run(args, strings.NewReader(""), &stdout, &stderr, env); code != ExitOK {
			t.Errorf("kindred %s: exit %d\n%s", strings.Join(args, " "), code, &stderr)
		}
		if args[len(args)-1] == "json" && !isJSON(stdout.Bytes()) {
			t.Errorf("kindred %s: not JSON:\n%s", strings.Join(args, " "), &stdout)
		}
	}
}

// isJSON reports whether data is one JSON document, or one per line.
func isJSON(data []byte) bool {
	if json.Valid(bytes.TrimSpace(data)) {
		return true
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for _, l := range lines {
		if !json.Valid(l) {
			return false
		}
	}
	return len(lines) > 0
}

// open --url prints a route's URL, found by host, first label or
// component; a name that is no route says which there are.
func TestOpenURL(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"open", "--url", "echo", "-c", "builtin:default"}, ExitOK, "https://echo.kindred.localhost/\n"},
		{[]string{"open", "--url", "echo.kindred.localhost", "-c", "builtin:default"}, ExitOK, "https://echo.kindred.localhost/\n"},
		{[]string{"open", "--url", "demo", "-c", "builtin:default"}, ExitOK, "https://echo.kindred.localhost/\n"},
		{[]string{"open", "--url", "-c", "builtin:default"}, ExitOK, "https://echo.kindred.localhost/\n"},
		{[]string{"open", "--url", "nope", "-c", "builtin:default"}, ExitBadInput, "has echo.kindred.localhost"},
		{[]string{"open", "--url", "-c", "builtin:minimal"}, ExitBadInput, "has no routes"},
	} {
		var out bytes.Buffer
		code := Run(tc.args, strings.NewReader(""), &out, &out, os.LookupEnv)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("kindred %s: exit %d (want %d)\n%s", strings.Join(tc.args, " "), code, tc.code, &out)
		}
	}
}
