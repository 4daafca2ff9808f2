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
	"github.com/spf13/cobra"
	yamlv3 "go.yaml.in/yaml/v3"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
	"kindred.dev/kindred/ui"
)

// schemaModeline points editors (yaml-language-server) at the schema.
const schemaModeline = "# yaml-language-server: $schema=https://kindred.dev/schema/v1alpha1/stack.json\n"

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
			if !yes {
				if !a.useTUI() {
					return usageError{errors.New("kindred init asks its questions on a terminal; use --yes for the defaults")}
				}
				_, noColor := a.lookupEnv("NO_COLOR")
				w := ui.NewWizard(&answers, wizardChoices(), renderAnswers, !noColor)
				if _, err := tea.NewProgram(w, tea.WithInput(a.stdin), tea.WithOutput(a.stdout)).Run(); err != nil {
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
			if _, err := os.Stat(file); err == nil {
				switch {
				case force:
				case yes:
					return usageError{fmt.Errorf("%s exists; nothing written (use --force to replace it)", file)}
				case !a.confirm(fmt.Sprintf("%s exists. Replace it?", file)):
					return fmt.Errorf("%s exists; nothing written", file)
				}
			}
			if err := os.WriteFile(file, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s; next: kindred up %s\n", file, file)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "take the defaults, ask nothing")
	cmd.Flags().BoolVar(&force, "force", false, "with --yes, replace an existing file")
	return cmd
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

func defaultAnswers(file string) ui.WizardAnswers {
	name := "dev"
	if wd, err := os.Getwd(); err == nil {
		if n := strings.Trim(notName.ReplaceAllString(strings.ToLower(filepath.Base(wd)), "-"), "-"); n != "" {
			name = n
		}
	}
	versions := cluster.KubernetesVersions()
	return ui.WizardAnswers{Name: name, KubernetesVersion: versions[0], CNI: api.CNIKindnet, Ingress: true,
		Domain: name + ".localhost", TLS: api.IssuerLocalCA}
}

func wizardChoices() ui.WizardChoices {
	c := ui.WizardChoices{KubernetesVersions: cluster.KubernetesVersions(), Databases: api.Enums["Database.engine"],
		CNIs: []ui.Choice{{Label: "kindnet (kind's own)", Value: api.CNIKindnet}}}
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
		st.Ingress = &api.Ingress{Domain: a.Domain}
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
