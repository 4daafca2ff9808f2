package helm

import (
	"fmt"
	"sort"

	ri "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/release/common"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Deployed is one deployed release as helm's storage records it.
type Deployed struct {
	Name       string
	Namespace  string
	Revision   int
	Chart      string
	Version    string
	AppVersion string
	// Values are the user-supplied values only (helm get values), not
	// the chart's defaults.
	Values map[string]any
	// Labels are the release's own labels (helm install --labels).
	Labels map[string]string
}

// DeployedReleases reads the deployed releases helm stored as Secrets in
// secrets' namespace (every namespace for a client made with ""). It only
// lists: reading needs get and list on Secrets, nothing else.
func DeployedReleases(secrets corev1client.SecretInterface) ([]Deployed, error) {
	d := driver.NewSecrets(secrets)
	list, err := d.List(func(r ri.Releaser) bool {
		v, err := toV1(r)
		return err == nil && v.Info != nil && v.Info.Status == common.StatusDeployed
	})
	if err != nil {
		return nil, fmt.Errorf("reading helm releases: %w", err)
	}
	var out []Deployed
	for _, r := range list {
		v, err := toV1(r)
		if err != nil {
			return nil, err
		}
		dr := Deployed{Name: v.Name, Namespace: v.Namespace, Revision: v.Version, Values: v.Config, Labels: v.Labels}
		if v.Chart != nil && v.Chart.Metadata != nil {
			dr.Chart, dr.Version, dr.AppVersion = v.Chart.Metadata.Name, v.Chart.Metadata.Version, v.Chart.Metadata.AppVersion
		}
		out = append(out, dr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
