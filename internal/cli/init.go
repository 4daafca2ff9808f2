package cli

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/spf13/cobra"
	yamlv3 "go.yaml.in/yaml/v3"

	"kindred.dev/kindred/internal/schema"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
	"kindred.dev/kindred/ui"
)

// schemaModeline points editors (yaml-language-server) at the schema that
// init writes beside the stack file (kindred schema writes the same).
const schemaModeline = "# yaml-language-server: $schema=./" + schemaFile + "\n"

// schemaFile is the stack files' JSON Schema, beside them.
const schemaFile = "stack.schema.json"

func (a *app) initCmd() *cobra.Command {
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a stack file, asking what the cluster should look like",
		Long: `Ask for the Kubernetes version, nodes and zones, the CNI, ingress and
domain, TLS, databases and more from the catalogue, show the stack file live
while you answer, check it with the real loader, and write it (default
kindred.yaml) with a schema modeline for editors. An existing file is never
replaced without asking; --yes takes the defaults without asking and then
needs --force to replace a file.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := "kindred.yaml"
			if len(args) == 1 {
				file = args[0]
			}
			answers := defaultAnswers(file)
			data, problem := renderAnswers(answers)
			// An existing file is asked about before any question, so no
			// answer is given for nothing.
			if _, err := os.Stat(file); err == nil {
				switch {
				case force:
				case yes:
					return usageError{fmt.Errorf("%s exists; nothing written (use --force to replace it)", file)}
				case !a.onTerminal():
					return usageError{fmt.Errorf("%s exists; nothing written (kindred init asks before replacing it, on a terminal)", file)}
				case !a.confirm(fmt.Sprintf("%s exists. Replace it?", file)):
					return fmt.Errorf("%s exists; nothing written", file)
				}
			}
			if !yes {
				// A terminal is all the wizard needs; NO_COLOR only takes
				// its colours away.
				if !a.onTerminal() {
					return usageError{errors.New("kindred init asks its questions on a terminal; use --yes for the defaults")}
				}
				_, noColor := a.lookupEnv("NO_COLOR")
				w := ui.NewWizard(&answers, wizardChoices(), renderAnswers, !noColor)
				opts := []tea.ProgramOption{tea.WithInput(a.stdin), tea.WithOutput(a.stdout)}
				if noColor {
					opts = append(opts, tea.WithColorProfile(colorprofile.Ascii)) // bold and the like stay
				}
				if _, err := tea.NewProgram(w, opts...).Run(); err != nil {
					return err
				}
				if !w.Completed() {
					return errors.New("nothing written: the wizard was left")
				}
				data, problem = w.Stack()
			}
			if problem != nil {
				return fmt.Errorf("nothing written: the stack is not valid: %w", problem)
			}
			if err := os.WriteFile(file, data, 0o644); err != nil {
				return err
			}
			wrote := file
			if schemaPath := filepath.Join(filepath.Dir(file), schemaFile); ownSchema(schemaPath) {
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetIndent("", "  ")
				if err := enc.Encode(schema.Stack()); err != nil {
					return err
				}
				if err := os.WriteFile(schemaPath, b.Bytes(), 0o644); err != nil {
					return err
				}
				wrote += " and " + schemaPath + " (for editors)"
			}
			fmt.Fprintf(a.stdout, "wrote %s; next: kindred up %s\n", wrote, file)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "take the defaults, ask nothing")
	cmd.Flags().BoolVar(&force, "force", false, "with --yes, replace an existing file")
	return cmd
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

// ownSchema reports whether path is free for kindred's schema: missing, or
// a schema kindred wrote (never somebody else's file).
func ownSchema(path string) bool {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return err == nil && bytes.Contains(b, []byte(`"$id": "`+schema.ID+`"`))
}

// fieldProblem checks one answer with the real loader, in a stack that
// has it at path, and returns the loader's message about that field.
func fieldProblem(doc, path string) error {
	_, err := stack.Parse("kindred.yaml", []byte(doc))
	var ps stack.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			if p.Path == path || strings.HasPrefix(p.Path, path+".") {
				return errors.New(p.Msg)
			}
		}
	}
	return nil
}

func defaultAnswers(file string) ui.WizardAnswers {
	name := "dev"
	if wd, err := os.Getwd(); err == nil {
		if n := strings.Trim(notName.ReplaceAllString(strings.ToLower(filepath.Base(wd)), "-"), "-"); n != "" {
			name = n
		}
	}
	versions := cluster.KubernetesVersions()
	// The domain is left empty: it follows the name (NAME.localhost)
	// until it is typed.
	return ui.WizardAnswers{Name: name, KubernetesVersion: versions[0], CNI: api.CNIKindnet, Ingress: true, TLS: api.IssuerLocalCA}
}

func wizardChoices() ui.WizardChoices {
	c := ui.WizardChoices{KubernetesVersions: cluster.KubernetesVersions(), Databases: api.Enums["Database.engine"],
		CNIs: []ui.Choice{{Label: "kindnet (kind's own)", Value: api.CNIKindnet}},
		ValidName: func(n string) error {
			q, _ := json.Marshal(n)
			return fieldProblem("apiVersion: "+api.APIVersion+"\nkind: Stack\nmetadata: {name: "+string(q)+"}\n", "metadata.name")
		},
		ValidDomain: func(d string) error {
			q, _ := json.Marshal(d)
			return fieldProblem("apiVersion: "+api.APIVersion+"\nkind: Stack\nmetadata: {name: x}\ningress: {domain: "+string(q)+"}\n", "ingress.domain")
		}}
	if cat, err := catalog.Builtin(); err == nil {
		for _, name := range cat.Names() {
			e, _ := cat.Get(name)
			switch e.Role {
			case "": // roles follow from the other answers
				c.Components = append(c.Components, name)
			case catalog.RoleCNI:
				c.CNIs = append(c.CNIs, ui.Choice{Label: cmp.Or(e.Label, name), Value: name})
			case catalog.RoleIngress:
				if name == api.DefaultIngressController {
					c.Ingress = cmp.Or(e.Label, name)
				}
			}
		}
	}
	return c
}

// orderedYAML writes v as YAML in its fields' order (apiVersion, kind,
// metadata, cluster, ...), as people write stack files: through JSON, which
// keeps the order, into a YAML node tree, which keeps it too.
func orderedYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	setBlockStyle(&n)
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// setBlockStyle undoes JSON's flow style and quoting.
func setBlockStyle(n *yamlv3.Node) {
	n.Style = 0
	for _, c := range n.Content {
		setBlockStyle(c)
	}
}

// renderAnswers makes the stack file the answers describe and checks it
// with the real loader.
func renderAnswers(a ui.WizardAnswers) ([]byte, error) {
	st := api.Stack{APIVersion: api.APIVersion, Kind: api.Kind, Metadata: api.Metadata{Name: a.Name}}
	st.Cluster.KubernetesVersion = a.KubernetesVersion
	if a.CNI != api.CNIKindnet {
		st.Cluster.Networking.CNI = a.CNI
	}
	cp := api.NodeGroup{Role: api.RoleControlPlane}
	if a.Zones {
		cp.Labels = map[string]string{"topology.kubernetes.io/zone": "zone-a"}
	}
	st.Cluster.Nodes = append(st.Cluster.Nodes, cp)
	for i := range a.Workers {
		w := api.NodeGroup{Role: api.RoleWorker}
		if a.Zones {
			w.Labels = map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("zone-%c", 'a'+rune((i+1)%3))}
		}
		st.Cluster.Nodes = append(st.Cluster.Nodes, w)
	}
	if a.Ingress {
		st.Ingress = &api.Ingress{Domain: cmp.Or(a.Domain, a.Name+".localhost")}
	}
	if a.TLS != "none" && a.Ingress {
		st.TLS = &api.TLS{Issuer: a.TLS}
	}
	for _, engine := range a.Databases {
		st.Databases = append(st.Databases, api.Database{Name: engine, Engine: engine})
	}
	for _, c := range a.Components {
		st.Components = append(st.Components, api.Component{Name: c, Use: c})
	}
	body, err := orderedYAML(st)
	if err != nil {
		return nil, err
	}
	data := append([]byte(schemaModeline+"# Written by kindred init; kindred up brings it up.\n"), body...)
	_, err = stack.Parse("kindred.yaml", data)
	return data, err
}
