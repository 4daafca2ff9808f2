package cli

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/stack"
)

// Dynamic completion: what a shell offers for each argument and flag.

// completeStacks offers the stack files here (or in the folder being
// typed), the built-in stacks and the clusters kindred knows.
func (a *app) completeStacks(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	dir := filepath.Dir(toComplete)
	if !strings.Contains(toComplete, string(filepath.Separator)) {
		dir = "."
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if dir != "." {
			name = filepath.Join(dir, name)
		}
		switch {
		case e.IsDir() && !strings.HasPrefix(e.Name(), "."):
			out = append(out, name+string(filepath.Separator))
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			out = append(out, name)
		}
	}
	out = append(out, builtinStacks()...)
	if records, err := a.registry().Records(); err == nil {
		for _, r := range records {
			out = append(out, a.shortName(r))
		}
	}
	out = prefixed(out, toComplete)
	directive := cobra.ShellCompDirectiveNoFileComp
	for _, c := range out {
		if strings.HasSuffix(c, string(filepath.Separator)) {
			directive |= cobra.ShellCompDirectiveNoSpace // a folder: go on typing in it
		}
	}
	return out, directive
}

// completeFromStack offers names from the stack the command's -c flag
// (or the default) names: its databases, steps or routes.
func (a *app) completeFromStack(f *clusterFlags, names func(st *stack.Stack) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		st, err := a.resolve(f, f.stackArg())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return prefixed(names(st), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func databaseNames(st *stack.Stack) []string {
	var out []string
	for _, db := range st.Databases {
		out = append(out, db.Name)
	}
	return out
}

func stepNames(st *stack.Stack) []string {
	out := databaseNames(st)
	for _, c := range st.Components {
		out = append(out, c.Name)
	}
	return out
}

func routeNames(st *stack.Stack) []string {
	var out []string
	for _, r := range st.Routes {
		out = append(out, r.Host)
	}
	return out
}

// prefixed keeps the candidates that start with what is typed, sorted.
func prefixed(all []string, toComplete string) []string {
	var out []string
	for _, c := range all {
		if strings.HasPrefix(c, toComplete) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// fixedValues completes a flag from a fixed list.
func fixedValues(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, v := range values {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completions wires dynamic completion into the command tree.
func (a *app) completions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("output", fixedValues(OutputAuto, OutputTUI, OutputText, OutputJSON, OutputGitHub))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("provider") != nil {
			_ = c.RegisterFlagCompletionFunc("provider", fixedValues("kind", "sim", "existing"))
		}
		if c.Flags().Lookup("runtime") != nil {
			_ = c.RegisterFlagCompletionFunc("runtime", fixedValues("docker", "podman", "nerdctl"))
		}
		if c.Flags().Lookup("cluster") != nil {
			_ = c.RegisterFlagCompletionFunc("cluster", a.completeStacks)
		}
		if c.ValidArgsFunction == nil && (strings.Contains(c.Use, "[STACK") || strings.Contains(c.Use, "[CLUSTER")) {
			c.ValidArgsFunction = a.completeStacks
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
