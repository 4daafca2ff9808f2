package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// The groups commands are listed in by kindred --help.
var commandGroups = []*cobra.Group{
	{ID: "change", Title: "Create and change:"},
	{ID: "inspect", Title: "Inspect:"},
	{ID: "reach", Title: "Reach what runs:"},
	{ID: "setup", Title: "Set up:"},
}

// groupOf puts each top-level command in its group.
var groupOf = map[string]string{
	"init": "change", "lock": "change", "up": "change", "diff": "change", "down": "change", "stop": "change", "start": "change",
	"validate": "inspect", "mirror": "inspect", "plan": "inspect", "images": "inspect", "render": "inspect", "status": "inspect", "ls": "inspect", "logs": "inspect", "diagnose": "inspect",
	"open": "reach", "forward": "reach", "connect": "reach", "creds": "reach", "env": "reach", "kubeconfig": "reach",
	"doctor": "setup", "trust": "setup", "schema": "setup", "version": "setup", "completion": "setup", "help": "setup",
}

// examples are each command's Examples: section, by command path; a
// command that sets its own keeps it. TestEveryCommandHasExamples runs
// every line through the command line's parser.
var examples = map[string]string{
	"kindred help":                  "  kindred help up\n  kindred up --help",
	"kindred init":                  "  kindred init\n  kindred init shop.yaml --yes",
	"kindred validate":              "  kindred validate\n  kindred validate shop.yaml -o github",
	"kindred plan":                  "  kindred plan builtin:default\n  kindred plan shop.yaml -o json",
	"kindred images":                "  kindred images\n  kindred images shop.yaml -o json",
	"kindred up":                    "  kindred up\n  kindred up shop.yaml --provider sim\n  kindred up shop.yaml --prune --delete-data -o json",
	"kindred diff":                  "  kindred diff shop.yaml\n  kindred diff shop.yaml --exit-code -o json",
	"kindred down":                  "  kindred down shop\n  kindred down shop --keep-cluster\n  kindred down shop --purge",
	"kindred stop":                  "  kindred stop\n  kindred stop shop",
	"kindred start":                 "  kindred start\n  kindred start shop",
	"kindred status":                "  kindred status\n  kindred status shop -o json",
	"kindred ls":                    "  kindred ls\n  kindred ls -o json",
	"kindred diagnose":              "  kindred diagnose shop\n  kindred diagnose shop -o json",
	"kindred kubeconfig":            "  kindred kubeconfig shop\n  kindred kubeconfig shop --merge",
	"kindred doctor":                "  kindred doctor\n  kindred doctor shop.yaml --runtime podman",
	"kindred trust":                 "  kindred trust install\n  kindred trust status",
	"kindred trust install":         "  kindred trust install",
	"kindred trust status":          "  kindred trust status -o json",
	"kindred trust uninstall":       "  kindred trust uninstall",
	"kindred schema":                "  kindred schema > stack.schema.json",
	"kindred version":               "  kindred version\n  kindred --version",
	"kindred completion":            "  kindred completion bash > /etc/bash_completion.d/kindred\n  kindred completion zsh",
	"kindred completion bash":       "  kindred completion bash",
	"kindred completion zsh":        "  kindred completion zsh",
	"kindred completion fish":       "  kindred completion fish",
	"kindred completion powershell": "  kindred completion powershell",
}

// teach adds the groups and examples to the command tree, and --version.
func teach(root *cobra.Command) {
	root.AddGroup(commandGroups...)
	root.SetHelpCommandGroupID("setup")
	root.SetCompletionCommandGroupID("setup")
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	root.Version = version()
	root.InitDefaultVersionFlag()
	root.SetVersionTemplate("kindred {{.Version}}\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = examples[c.CommandPath()]
		}
		if c.Parent() == root {
			c.GroupID = groupOf[c.Name()]
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range root.Commands() {
		walk(c)
	}
}

// version is kindred's version, with the Go version it was built with.
func version() string {
	v, goVersion := versions()
	return fmt.Sprintf("%s (%s)", v, goVersion)
}

// versions are kindred's version (what make release stamps, else the
// module's version when built with go install) and the Go version.
func versions() (v, goVersion string) {
	v = Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return v, goVersion
}
