package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/engine"
)

func (a *app) renderCmd() *cobra.Command {
	var format string
	var force bool
	cmd := &cobra.Command{
		Use:   "render [STACK] --format manifests|helmfile|flux|argocd -o DIR",
		Short: "Write the stack out for kubectl, helmfile, Flux or Argo CD",
		Long: `Render the stack, with no cluster, from the same resolved plan up runs (and
its kindred.lock when there is one), into a folder another tool applies to a
shared cluster without kindred:

  manifests  plain YAML per step in dependency order (numbered folders), CRDs first
  helmfile   a helmfile.yaml whose needs: reproduce the graph, the other steps as folders
  flux       HelmRepositories, HelmReleases, and a Kustomization per step with dependsOn
  argocd     an Application per step, its sync wave the step's level

What only makes sense on a local cluster is left out or replaced by a
placeholder, and listed in the README.md written into DIR: the cluster, the
local CA's issuer, the ingress proxy's host ports, the CoreDNS rewrite. Secrets (database
credentials) are never written: the README lists them, with their keys, to
create first.`,
		Example: `  kindred render shop.yaml --format manifests -o deploy/
  kindred render --format flux -o gitops/shop`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.outPath == "" || a.outPath == OutputAuto {
				return usageError{errors.New("render needs -o DIR: the folder to write")}
			}
			valid := false
			for _, f := range engine.Formats {
				valid = valid || f == format
			}
			if !valid {
				return usageError{fmt.Errorf("invalid --format %q: want %s", format, strings.Join(engine.Formats, ", "))}
			}
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			if entries, err := os.ReadDir(a.outPath); err == nil && len(entries) > 0 && !force {
				return usageError{fmt.Errorf("%s is not empty: choose another -o folder, or --force to write over what is there (of what is there, only files an earlier render wrote and this one does not are removed)", a.outPath)}
			}
			ctx, stop := interruptible()
			defer stop()
			ex := engine.NewExporter(a.engineConfig(nil))
			if l, err := lockFor(st, nil, false); err != nil {
				return err
			} else {
				ex.Lock = l
			}
			out, err := ex.Run(ctx, st)
			if err != nil {
				if ctx.Err() != nil {
					return cancelledError{ctx.Err()}
				}
				return err
			}
			files, err := out.Files(format)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(files))
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			previous := renderedBefore(a.outPath)
			for _, n := range names {
				p := filepath.Join(a.outPath, filepath.FromSlash(n))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				if err := writeFile(p, files[n]); err != nil {
					return err
				}
			}
			if err := removeStale(a.outPath, previous, files); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(a.outPath, renderList), []byte(strings.Join(names, "\n")+"\n")); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %d files for %s into %s: %d steps, %d Secrets to create first, %d things left out (see %s)\n",
				len(files), format, a.outPath, len(out.Steps), len(out.Secrets), len(out.LeftOut), filepath.Join(a.outPath, "README.md"))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", engine.FormatManifests, "manifests, helmfile, flux or argocd")
	cmd.Flags().BoolVar(&force, "force", false, "write into a folder that is not empty (removing only what an earlier render wrote there and this one does not)")
	return cmd
}

// renderList names, in a rendered folder, the files kindred render wrote
// there, one per line, so that rendering again removes those the stack no
// longer makes, and nothing else.
const renderList = ".kindred-render"

// renderedBefore reads the files an earlier render wrote into dir.
func renderedBefore(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, renderList))
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		// Only paths below dir: the list is a file anyone could edit.
		if n := strings.TrimSpace(line); n != "" && filepath.IsLocal(filepath.FromSlash(n)) {
			out = append(out, n)
		}
	}
	return out
}

// removeStale removes the files of previous that the new render (files)
// did not write, and the folders that leaves empty, up to dir.
func removeStale(dir string, previous []string, files map[string][]byte) error {
	for _, n := range previous {
		if _, kept := files[n]; kept {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if info, err := os.Lstat(p); err != nil || !info.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		for d := filepath.Dir(p); d != filepath.Clean(dir); d = filepath.Dir(d) {
			if os.Remove(d) != nil { // not empty: someone's files are there
				break
			}
		}
	}
	return nil
}
