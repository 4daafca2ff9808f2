// Package prometheus is the monitoring built-in: the catalogue's prometheus
// entry is prometheus-community's chart, and this package gives it a
// scrape job for each metrics endpoint the stack's other catalogue
// components declare (metrics: in their entries).
package prometheus

import (
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"
)

// scrapeConfigs are Prometheus scrape configs for the metrics endpoints of
// the plan's catalogue components, one job per endpoint: the pods with the
// endpoint's label in its namespace, on its port and path. It is empty when
// no component has metrics.
func scrapeConfigs(p *plan.Plan) (string, error) {
	var jobs []any
	for _, s := range p.Steps {
		if s.Kind != plan.KindComponent || s.Entry == nil {
			continue
		}
		for _, m := range s.Entry.Metrics {
			job, err := scrapeJob(m)
			if err != nil {
				return "", fmt.Errorf("%s: %w", s.ID, err)
			}
			jobs = append(jobs, job)
		}
	}
	if len(jobs) == 0 {
		return "", nil
	}
	out, err := yaml.Marshal(jobs)
	return string(out), err
}

var notLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func scrapeJob(m catalog.Metrics) (map[string]any, error) {
	name, value, ok := strings.Cut(m.PodLabel, "=")
	if !ok || m.Port == 0 || m.Namespace == "" {
		return nil, fmt.Errorf("metrics %q needs a namespace, a podLabel name=value and a port", m.Job)
	}
	path := m.Path
	if path == "" {
		path = "/metrics"
	}
	return map[string]any{
		"job_name":     m.Job,
		"metrics_path": path,
		"kubernetes_sd_configs": []any{map[string]any{
			"role":       "pod",
			"namespaces": map[string]any{"names": []any{m.Namespace}},
		}},
		"relabel_configs": []any{
			map[string]any{
				"source_labels": []any{"__meta_kubernetes_pod_label_" + notLabelChar.ReplaceAllString(name, "_")},
				"regex":         regexp.QuoteMeta(value),
				"action":        "keep",
			},
			map[string]any{
				"source_labels": []any{"__meta_kubernetes_pod_ip"},
				"target_label":  "__address__",
				"replacement":   fmt.Sprintf("$1:%d", m.Port),
			},
			map[string]any{"source_labels": []any{"__meta_kubernetes_pod_name"}, "target_label": "pod"},
		},
	}, nil
}

// ID is Prometheus's catalogue entry.
const ID = "prometheus"

func init() { component.Register(Prometheus{}) }

// Prometheus is the built-in.
type Prometheus struct{}

// ID is "prometheus".
func (Prometheus) ID() string { return ID }

// Values sets the entry's scrape-configs value (its monitoring:
// scrapeConfigsValue) to the stack's scrape jobs; the stack's own values
// may still override it.
func (Prometheus) Values(env *component.Env) (map[string]any, error) {
	e := env.Step.Entry
	if e == nil || e.Monitoring == nil {
		return nil, nil
	}
	scrapes, err := scrapeConfigs(env.Plan)
	if err != nil || scrapes == "" {
		return nil, err
	}
	return map[string]any{e.Monitoring.ScrapeConfigsValue: scrapes}, nil
}
