package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
)

// TestIntegrationTerminal drives the real binary in a real terminal (tmux):
// `kindred up` on the reference stack, on a simulated cluster, shows its
// progress page and ends with the summary; `kindred status` shows the live
// dashboard. The captured panes, with times and paths made stable, are
// golden files under testdata/tui.
func TestIntegrationTerminal(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		testbed.Missing(t, "tmux is not installed (testbed/packages.sh installs it)")
	}
	bin := buildKindred(t)
	home := t.TempDir()
	charts := testbed.Upstream(t)
	stackFile, _ := filepath.Abs("../../stacks/default.yaml")
	socket := fmt.Sprintf("kindred-test-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	env := fmt.Sprintf("env -u CI -u NO_COLOR TERM=xterm-256color XDG_STATE_HOME=%s/state XDG_DATA_HOME=%s/data XDG_CACHE_HOME=%s/cache KINDRED_CHART_MIRROR=%s",
		home, home, home, charts)
	tmux("new-session", "-d", "-s", "k", "-x", "200", "-y", "50", "env PS1='ready> ' sh")
	t.Cleanup(func() {
		_ = exec.Command("sh", "-c", env+" "+bin+" down kindred").Run()
		_ = exec.Command("tmux", "-L", socket, "kill-server").Run()
	})
	capture := func() string { return tmux("capture-pane", "-p", "-J", "-t", "k") }
	// waitFor waits until the pane shows want, then until it stops
	// changing, so a capture never catches a frame half drawn.
	waitFor := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for {
			pane := capture()
			if strings.Contains(pane, want) {
				for {
					time.Sleep(400 * time.Millisecond)
					again := capture()
					if again == pane || time.Now().After(deadline) {
						return again
					}
					pane = again
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", want, pane)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	tmux("send-keys", "-t", "k", "clear; "+env+" "+bin+" up --provider sim "+stackFile+"; echo EXIT=$?", "Enter")
	pane := waitFor("EXIT=")
	if !strings.Contains(pane, "EXIT=0") || !strings.Contains(pane, "route     https://echo.kindred.localhost/") ||
		!strings.Contains(pane, "postgres://kindred:****@") {
		t.Fatalf("up in a terminal:\n%s", pane)
	}
	// Steps finish in whatever order the graph allows; each has its line.
	for _, step := range []string{"cluster", "calico", "orders", "sessions", "contour", "demo", "cert-manager", "issuer", "route/echo.kindred.localhost"} {
		if !regexp.MustCompile(`(?m)^✓ ` + regexp.QuoteMeta(step) + ` `).MatchString(pane) {
			t.Errorf("no finished line for %s:\n%s", step, pane)
		}
	}
	// The summary block, from its first line. (Under load on CI the live
	// area's title line was once left in the scrollback above the last
	// finished lines, a frame of bubbletea's inline renderer; the lines
	// above the summary are checked one by one above.)
	final := stable(pane, home)
	golden.Check(t, "tui/up-final.txt", []byte(final[strings.LastIndex(final, "kindred up "):]))

	// The cluster is found again with no --provider and no stack file.
	tmux("send-keys", "-t", "k", "clear; "+env+" "+bin+" status", "Enter")
	pane = waitFor("healthy")
	if !strings.Contains(pane, "all ") {
		t.Fatalf("status in a terminal:\n%s", pane)
	}
	golden.Check(t, "tui/status.txt", []byte(stable(pane, home)))
	tmux("send-keys", "-t", "k", "q")
	waitFor("ready>")

	// The wizard, as it first shows: the form, and the stack file beside it.
	project := filepath.Join(home, "shop") // the wizard names the stack after the folder
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	tmux("send-keys", "-t", "k", "clear; cd "+project+" && "+env+" "+bin+" init wizard.yaml; echo EXIT=$?", "Enter")
	pane = waitFor("valid stack")
	golden.Check(t, "tui/wizard.txt", []byte(stable(pane, home)))
	tmux("send-keys", "-t", "k", "C-c")
	pane = waitFor("EXIT=")
	if !strings.Contains(pane, "nothing written") {
		t.Errorf("leaving the wizard should write nothing:\n%s", pane)
	}
	if _, err := os.Stat(filepath.Join(project, "wizard.yaml")); err == nil {
		t.Error("the wizard wrote a file it was left before finishing")
	}
	// NO_COLOR takes the colours away, not the wizard.
	tmux("send-keys", "-t", "k", "clear; "+env+" NO_COLOR=1 "+bin+" init nocolor.yaml; echo EXIT=$?", "Enter")
	waitFor("valid stack")
	if colored := tmux("capture-pane", "-p", "-e", "-t", "k"); regexp.MustCompile(`\x1b\[[0-9;]*(38|48);`).MatchString(colored) {
		t.Errorf("the wizard under NO_COLOR=1 draws in colour:\n%q", colored)
	}
	tmux("send-keys", "-t", "k", "C-c")
	waitFor("EXIT=")
	// An existing file is asked about before any question.
	if err := os.WriteFile(filepath.Join(project, "taken.yaml"), []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmux("send-keys", "-t", "k", "clear; "+env+" "+bin+" init taken.yaml; echo EXIT=$?", "Enter")
	pane = waitFor("Replace it?")
	if strings.Contains(pane, "Stack name") {
		t.Errorf("the wizard asked its questions before asking about the existing file:\n%s", pane)
	}
	tmux("send-keys", "-t", "k", "n", "Enter")
	pane = waitFor("EXIT=")
	if b, _ := os.ReadFile(filepath.Join(project, "taken.yaml")); string(b) != "# mine\n" || !strings.Contains(pane, "nothing written") {
		t.Errorf("init replaced an existing file it was told not to:\n%s", pane)
	}

	// Home: the simulated cluster up made, the stack file here, and the
	// built-in stacks; s runs status on the selected stack.
	minimal, err := os.ReadFile("../../stacks/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "kindred.yaml"), minimal, 0o644); err != nil {
		t.Fatal(err)
	}
	tmux("send-keys", "-t", "k", "clear; "+env+" "+bin+"; echo EXIT=$?", "Enter")
	pane = waitFor("q quit")
	golden.Check(t, "tui/home.txt", []byte(stable(pane, home)))
	// s on the cluster's row (selected first, as the golden shows)
	// shows that cluster's status, on the provider it runs on.
	tmux("send-keys", "-t", "k", "s")
	pane = waitFor("healthy")
	if !strings.Contains(pane, "kindred status kindred") {
		t.Errorf("s on the cluster's row:\n%s", pane)
	}
	tmux("send-keys", "-t", "k", "q")
	waitFor("EXIT=0")
}

// stable makes a captured pane repeatable: durations, clock times and the
// test's folders vary from run to run.
func stable(pane, home string) string {
	pane = strings.ReplaceAll(pane, home, "$HOME")
	pane = regexp.MustCompile(`\d+(\.\d+)?(ms|s|m)\b`).ReplaceAllString(pane, "T")
	pane = regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`).ReplaceAllString(pane, "HH:MM:SS")
	pane = regexp.MustCompile(`\b\d{4}-\d\d-\d\d\b`).ReplaceAllString(pane, "YYYY-MM-DD")
	pane = regexp.MustCompile(`/kindred-\d+/`).ReplaceAllString(pane, "/kindred-N/")
	pane = regexp.MustCompile(`(?m)[ \t]+$`).ReplaceAllString(pane, "")
	return strings.TrimRight(pane, "\n") + "\n"
}
