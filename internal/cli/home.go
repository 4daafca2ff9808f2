package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"kindred.dev/kindred/stacks"
	"kindred.dev/kindred/ui"
)

// home shows the home page on a terminal and runs what the user picks; off
// a terminal, `kindred` alone prints its help.
func (a *app) home(cmd *cobra.Command) error {
	if !a.useTUI() {
		return cmd.Help()
	}
	_, noColor := a.lookupEnv("NO_COLOR")
	clusters, _ := a.listClusters(cmd.Context())
	page := ui.NewHome(homeItems(".", clusters), !noColor)
	if _, err := tea.NewProgram(page, tea.WithInput(a.stdin), tea.WithOutput(a.stdout)).Run(); err != nil {
		return err
	}
	c := page.Choice()
	if c == nil {
		return nil
	}
	args := []string{c.Verb}
	if c.Stack != "" {
		args = append(args, c.Stack)
	}
	root := a.root()
	root.SetArgs(args)
	return root.Execute()
}

// homeItems lists the clusters kindred made here, the stack files in dir
// and the built-in stacks.
func homeItems(dir string, clusters []clusterEntry) []ui.HomeItem {
	var items []ui.HomeItem
	stacksHere := map[string]string{} // stack name -> file
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	sort.Strings(files)
	var here []ui.HomeItem
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte("kind: Stack")) {
			continue
		}
		name := stackName(data)
		stacksHere[name] = f
		here = append(here, ui.HomeItem{Section: "Stacks here", Label: filepath.Base(f), Detail: "stack " + name, Stack: f})
	}
	for _, c := range clusters {
		// A remembered cluster is acted on by its name, with the
		// provider it runs on; an unremembered one through a stack file
		// of its name here, if there is one.
		act := c.Name
		if c.Stack == "" {
			act = stacksHere[c.Name]
		}
		items = append(items, ui.HomeItem{Section: "Clusters on this machine", Label: c.Name, Detail: c.Provider + ", " + c.State, Stack: act})
	}
	items = append(items, here...)
	builtins, _ := fs.Glob(stacks.FS, "*.yaml")
	for _, b := range builtins {
		data, _ := fs.ReadFile(stacks.FS, b)
		name := strings.TrimSuffix(b, ".yaml")
		items = append(items, ui.HomeItem{Section: "Built-in stacks", Label: builtinPrefix + name, Detail: firstComment(data), Stack: builtinPrefix + name})
	}
	return items
}

// stackName reads metadata.name without a full load: the home page lists
// files, it does not check them.
func stackName(data []byte) string {
	for _, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "name:") || strings.HasPrefix(t, "metadata: {name:") {
			t = strings.TrimPrefix(strings.TrimPrefix(t, "metadata: {"), "name:")
			return strings.Trim(strings.TrimSpace(t), `"'}`)
		}
	}
	return "?"
}

// firstComment is a stack file's first comment line, its description.
func firstComment(data []byte) string {
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "# ") && !strings.Contains(l, "yaml-language-server") {
			return strings.TrimPrefix(l, "# ")
		}
	}
	return ""
}
