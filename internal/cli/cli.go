// Package cli is kindred's command line. It is the one place that decides how
// results and errors look, and which exit code they give:
//
//	0  success
//	1  failure while running (a cluster, a chart, a check)
//	2  bad input: a flag, or a problem in a stack file
package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
	"kindred.dev/kindred/stacks"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitBadInput = 2
	// ExitCancelled is a run stopped by Ctrl-C (or SIGTERM), as shells
	// report a command interrupted by SIGINT.
	ExitCancelled = 130
)

// Output modes for --output.
const (
	OutputAuto = "auto"
	OutputTUI  = "tui"
	OutputText = "text"
	OutputJSON = "json"
	// OutputGitHub is text with GitHub Actions annotations.
	OutputGitHub = "github"
)

// DefaultStackFile is read when a command is given no stack and it exists.
const DefaultStackFile = "kindred.yaml"

// builtinPrefix names an embedded stack on the command line: builtin:minimal.
const builtinPrefix = "builtin:"

// Version is set at build time with -ldflags "-X kindred.dev/kindred/internal/cli.Version=...".
var Version = "dev"

// usageError is bad input on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// shownError is a failure whose report the command already wrote to
// stdout (as JSON): it gives exit code 1 and a line on stderr, nothing more.
type shownError struct{ err error }

func (e shownError) Error() string { return e.err.Error() }

// cancelledError is a run the user stopped: what finished is kept and the
// next run resumes, so it is neither a failure to diagnose nor bad input.
type cancelledError struct{ err error }

func (e cancelledError) Error() string { return "cancelled: " + e.err.Error() }
func (e cancelledError) Unwrap() error { return e.err }
func (e shownError) Unwrap() error     { return e.err }

// app holds what every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	// outPath is mirror's -o FILE and render's -o DIR.
	outPath string
	output  string
	// githubAuto: the GitHub face was chosen by GITHUB_ACTIONS, not -o.
	githubAuto bool
	verbose    int
	log        *slog.Logger
	// logTo is where log's lines go: stderr, or a file while a page is
	// live (see logToFile).
	logTo *switchWriter
}

// switchWriter is a writer whose destination can change while loggers
// made earlier (a provider's) keep writing to it.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// Run executes the command line args and returns the exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: lookupEnv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	return a.report(err)
}

// report prints err the way its kind deserves and returns its exit code.
func (a *app) report(err error) int {
	var ps stack.Problems
	var ue usageError
	var runErr *engine.RunError
	var shown shownError
	var cancelled cancelledError
	switch {
	case errors.As(err, &cancelled):
		fmt.Fprintln(a.stderr, "kindred: cancelled; what finished is kept, and running the same command again resumes where this run stopped")
		if a.json() {
			_ = a.writeJSONLine(map[string]string{"error": "cancelled"})
		}
		return ExitCancelled
	case errors.As(err, &shown):
		fmt.Fprintf(a.stderr, "kindred: %v\n", err)
		return ExitFailure
	case errors.As(err, &ps):
		for _, p := range ps {
			fmt.Fprintln(a.stderr, p.Error())
			if a.output == OutputGitHub {
				// An annotation on the file, line and column.
				fmt.Fprintf(a.stdout, "::error file=%s,line=%d,col=%d::%s\n", p.Pos.File, p.Pos.Line, p.Pos.Column, githubEscape(p.Msg))
			}
		}
		fmt.Fprintf(a.stderr, "%d problem%s found\n", len(ps), plural(len(ps)))
		if a.json() {
			type problem struct {
				File   string `json:"file"`
				Line   int    `json:"line"`
				Column int    `json:"column"`
				Path   string `json:"path,omitempty"`
				Msg    string `json:"message"`
			}
			out := struct {
				Error    string    `json:"error"`
				Problems []problem `json:"problems"`
			}{Error: fmt.Sprintf("%d problem%s found", len(ps), plural(len(ps)))}
			for _, p := range ps {
				out.Problems = append(out.Problems, problem{p.Pos.File, p.Pos.Line, p.Pos.Column, p.Path, p.Msg})
			}
			_ = a.writeJSONLine(out)
		}
		return ExitBadInput
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "kindred: %v\n", err)
		if a.output == OutputGitHub {
			fmt.Fprintf(a.stdout, "::error::%s\n", githubEscape(err.Error()))
		}
		if a.json() {
			_ = a.writeJSONLine(map[string]string{"error": err.Error()})
		}
		return ExitBadInput
	case errors.As(err, &runErr):
		// The steps were reported as they failed; name them once more.
		var names []string
		for _, f := range runErr.Failed {
			names = append(names, f.Step)
		}
		fmt.Fprintf(a.stderr, "kindred: failed: %s", strings.Join(names, ", "))
		if n := len(runErr.Skipped); n > 0 {
			fmt.Fprintf(a.stderr, " (%d step%s skipped)", n, plural(n))
		}
		fmt.Fprintln(a.stderr)
		return ExitFailure
	}
	fmt.Fprintf(a.stderr, "kindred: %v\n", err)
	if a.output == OutputGitHub {
		fmt.Fprintf(a.stdout, "::error::%s\n", githubEscape(err.Error()))
	}
	if a.json() {
		_ = a.writeJSONLine(map[string]string{"error": err.Error()})
	}
	return ExitFailure
}

// githubEscape escapes a workflow command's message as GitHub reads it.
func githubEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "kindred",
		Short: "A production-shaped local Kubernetes environment from one stack file",
		Long: `kindred turns one declarative stack file into a local Kubernetes environment:
a kind cluster shaped like production, a CNI, ingress, certificates,
databases and any helm chart or kustomize folder, installed as a parallel
dependency graph with real readiness checks.

Commands that take a STACK (a file, or builtin:NAME for an embedded stack)
also take the name of a cluster kindred brought a stack up on (kindred ls).
With none they read ./kindred.yaml when it exists; else up and diff use
the embedded default stack, and the others the one cluster kindred knows.

Exit codes: 0 success, 1 failure while running, 2 bad input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usageError{errors.New(msg + "; see kindred --help")}
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return a.home(cmd) },
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch a.output {
			case OutputAuto, OutputTUI, OutputText, OutputJSON, OutputGitHub:
			default:
				if cmd.Name() == "mirror" || cmd.Name() == "render" { // -o FILE or DIR: where they write
					a.outPath, a.output = a.output, OutputText
					break
				}
				return usageError{fmt.Errorf("invalid --output %q: want auto, tui, text, json or github", a.output)}
			}
			// In a GitHub Actions job, auto means the GitHub face, unless
			// someone watches a terminal.
			if v, _ := a.lookupEnv("GITHUB_ACTIONS"); v == "true" && a.output == OutputAuto && !a.onTerminal() {
				a.output, a.githubAuto = OutputGitHub, true
			}
			level := slog.LevelWarn
			if a.verbose > 0 {
				level = slog.LevelInfo
			}
			if a.verbose > 1 {
				level = slog.LevelDebug
			}
			a.logTo = &switchWriter{w: a.stderr}
			a.log = slog.New(slog.NewTextHandler(a.logTo, &slog.HandlerOptions{Level: level}))
			// client-go logs through klog, straight to stderr; through
			// kindred's log its lines stay out of the live pages too.
			klog.SetSlogLogger(a.log)
			return nil
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&a.output, "output", "o", OutputAuto, "output: auto, tui, text, json or github (GitHub Actions annotations)")
	root.PersistentFlags().CountVarP(&a.verbose, "verbose", "v", "log more (repeat for debug)")
	root.AddCommand(a.initCmd(), a.validateCmd(), a.planCmd(), a.imagesCmd(), a.diagnoseCmd(), a.upCmd(), a.diffCmd(), a.downCmd(), a.stopCmd(), a.startCmd(), a.statusCmd(), a.openCmd(), a.logsCmd(), a.forwardCmd(), a.connectCmd(), a.lsCmd(), a.kubeconfigCmd(), a.credsCmd(), a.envCmd(), a.doctorCmd(), a.trustCmd(), a.schemaCmd(), a.versionCmd(), a.mirrorCmd(), a.lockCmd(), a.renderCmd())
	teach(root)
	a.completions(root)
	return root
}

// loadStack reads the stack a command was given, or the default one.
func (a *app) loadStack(args []string) (*stack.Stack, error) {
	opts := []stack.Option{stack.WithEnv(a.lookupEnv)}
	if len(args) == 0 {
		if _, err := os.Stat(DefaultStackFile); err == nil {
			st, err := stack.Load(DefaultStackFile, opts...)
			if errors.Is(err, stack.ErrUnreadable) {
				return nil, usageError{err}
			}
			return st, err
		}
		return stack.Builtin(stacks.Default, opts...)
	}
	name := args[0]
	if name == "" {
		return nil, usageError{errors.New("the stack argument is empty: name a stack file, builtin:NAME, or nothing for ./kindred.yaml or the embedded default")}
	}
	if b, ok := strings.CutPrefix(name, builtinPrefix); ok {
		st, err := stack.Builtin(b+".yaml", opts...)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageError{fmt.Errorf("no built-in stack %q; there are: %s", b, strings.Join(builtinStacks(), ", "))}
		}
		return st, err
	}
	st, err := stack.Load(name, opts...)
	if errors.Is(err, stack.ErrUnreadable) {
		return nil, usageError{err}
	}
	return st, err
}

// builtinStacks names the embedded stacks, as builtin:NAME.
func builtinStacks() []string {
	files, _ := fs.Glob(stacks.FS, "*.yaml")
	var out []string
	for _, f := range files {
		out = append(out, builtinPrefix+strings.TrimSuffix(f, ".yaml"))
	}
	return out
}

// json reports whether the command should print machine-readable output.
func (a *app) json() bool { return a.output == OutputJSON }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes at most %d argument%s, got %d", cmd.CommandPath(), n, plural(n), len(args))}
		}
		return nil
	}
}
