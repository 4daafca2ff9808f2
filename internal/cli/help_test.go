package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
)

// words splits a shell command line into words, with single and double
// quotes, stopping at a redirection, a pipe or the end of a $(…).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out, in = append(out, cur.String()), false
				cur.Reset()
			}
		case r == '>' || r == '|' || r == ';' || r == ')':
			if in {
				out = append(out, cur.String())
			}
			return out
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// Every command has examples, and every kindred command line in them
// reaches a command, with flags and arguments it accepts.
func TestEveryCommandHasExamples(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, lookupEnv: os.LookupEnv}
	root := a.root()
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == root || c.Hidden || !c.IsAvailableCommand() && c.Name() != "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples", c.CommandPath())
			return
		}
		for _, line := range strings.Split(c.Example, "\n") {
			i := strings.Index(line, "kindred ")
			if i < 0 {
				continue
			}
			args := words(line[i+len("kindred "):])
			found, rest, err := root.Find(args)
			if err != nil {
				t.Errorf("%s: example %q reaches %s (%v)", c.CommandPath(), line, found.CommandPath(), err)
				continue
			}
			if err := found.ParseFlags(rest); err != nil && !errors.Is(err, pflag.ErrHelp) {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
				continue
			}
			if err := found.ValidateArgs(found.Flags().Args()); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
			}
			checked++
		}
	}
	walk(root)
	if checked < 40 {
		t.Errorf("only %d example lines checked", checked)
	}
	help := &bytes.Buffer{}
	root.SetOut(help)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, g := range commandGroups {
		if !strings.Contains(help.String(), g.Title) {
			t.Errorf("kindred --help lacks the group %q:\n%s", g.Title, help)
		}
	}
}

// --version prints the version, as version does.
func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	if code := Run([]string{"--version"}, strings.NewReader(""), &out, &out, os.LookupEnv); code != ExitOK || !strings.HasPrefix(out.String(), "kindred ") {
		t.Errorf("--version: exit %d\n%s", code, &out)
	}
}

// In a GitHub Actions job, output that is not a terminal is the GitHub
// face without -o github.
func TestGitHubActionsSelectsTheGitHubFace(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: x}\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "GITHUB_ACTIONS" {
			return "true", true
		}
		return "", false
	}
	var out bytes.Buffer
	if code := Run([]string{"validate", bad}, strings.NewReader(""), &out, &out, env); code != ExitBadInput || !strings.Contains(out.String(), "::error file="+bad+",line=4,col=1::") {
		t.Errorf("validate under GITHUB_ACTIONS: exit %d\n%s", code, &out)
	}
}

// Completion offers, for each kind of argument, what there is: stack
// files here, built-in stacks and remembered clusters; the stack's
// databases, steps and routes; the providers and outputs.
func TestCompletion(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_STATE_HOME", state)
	if err := os.WriteFile("kindred.yaml", []byte(`apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: shop}
cluster: {name: shop}
ingress: {controller: contour}
databases: [{name: orders, engine: postgres}]
components: [{name: web, manifests: [web.yaml]}]
routes: [{host: web.shop.localhost, service: {name: web, namespace: default, port: 80}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("web.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other, err := stack.Builtin("minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := (cluster.Registry{Dir: filepath.Join(state, "kindred", "clusters")}).Remember(cluster.Record{Provider: "sim", Source: "builtin:minimal"}, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"status", ""}, []string{"builtin:default", "builtin:minimal", "kindred.yaml", "minimal", "web.yaml"}},
		{[]string{"down", "b"}, []string{"builtin:default", "builtin:minimal"}},
		{[]string{"creds", ""}, []string{"orders"}},
		{[]string{"connect", "o"}, []string{"orders"}},
		{[]string{"logs", ""}, []string{"orders", "web"}},
		{[]string{"open", ""}, []string{"web.shop.localhost"}},
		{[]string{"up", "--provider", ""}, []string{"kind", "sim", "existing"}},
		{[]string{"status", "-o", "j"}, []string{"json"}},
		{[]string{"logs", "-c", "m"}, []string{"minimal"}},
	} {
		var out bytes.Buffer
		Run(append([]string{"__complete"}, tc.args...), strings.NewReader(""), &out, &bytes.Buffer{}, os.LookupEnv)
		var got []string
		for _, l := range strings.Split(out.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("completing %q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// While a page is live, -v's log and client-go's klog go to a file, not
// over the page; after it, to stderr again.
func TestLogToFileWhileThePageIsLive(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, lookupEnv: os.LookupEnv}
	root := a.root()
	a.verbose = 1 // -v
	if err := root.PersistentPreRunE(root, nil); err != nil {
		t.Fatal(err)
	}
	path, restore, err := a.logToFile("kindred up shop")
	if err != nil {
		t.Fatal(err)
	}
	a.log.Info("from kindred")
	klog.InfoS("from client-go")
	klog.Flush()
	restore()
	a.log.Info("after the page")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("the log file is %v, want 0600", info.Mode().Perm())
	}
	if !strings.Contains(string(b), "from kindred") || !strings.Contains(string(b), "from client-go") || strings.Contains(string(b), "after the page") {
		t.Errorf("the log file:\n%s", b)
	}
	if strings.Contains(stderr.String(), "from kindred") || !strings.Contains(stderr.String(), "after the page") {
		t.Errorf("stderr:\n%s", &stderr)
	}
}
