package mirror

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/stack"
)

// Drift is one way a stack differs from the live cluster it mirrors.
type Drift struct {
	Path  string `json:"path"`
	Stack string `json:"stack"` // what the stack has; empty when it lacks it
	Live  string `json:"live"`  // what the cluster has; empty when it lacks it
}

func (d Drift) String() string {
	switch {
	case d.Stack == "":
		return fmt.Sprintf("%s: missing from the stack: %s", d.Path, d.Live)
	case d.Live == "":
		return fmt.Sprintf("%s: not in the cluster: %s", d.Path, d.Stack)
	}
	return fmt.Sprintf("%s: the stack has %s, the cluster %s", d.Path, d.Stack, d.Live)
}

// Diff compares a stack with what Read found: versions, the CNI, ingress
// and TLS, node shapes (zones and taints, not counts, which a mirror
// scales down), components, tenants and scheduled jobs. No drift is an
// empty list.
func Diff(st *api.Stack, live *Result) []Drift {
	want := copyDefaulted(st)
	got := copyDefaulted(live.Stack)
	var out []Drift
	add := func(path, s, l string) {
		if s != l {
			out = append(out, Drift{Path: path, Stack: s, Live: l})
		}
	}
	add("cluster.kubernetesVersion", minorOf(want.Cluster.KubernetesVersion), minorOf(got.Cluster.KubernetesVersion))
	add("cluster.networking.cni", want.Cluster.Networking.CNI, got.Cluster.Networking.CNI)
	add("ingress", presence(want.Ingress != nil, "an ingress controller"), presence(got.Ingress != nil, "an ingress controller"))
	add("tls", presence(want.TLS != nil, "a certificate issuer"), presence(got.TLS != nil, "a certificate issuer"))

	shapes := func(s *api.Stack) map[string]bool {
		m := map[string]bool{}
		for _, g := range s.Cluster.Nodes {
			if g.Role == api.RoleWorker {
				m[describeShape(g)] = true
			}
		}
		return m
	}
	ws, gs := shapes(want), shapes(got)
	for _, s := range slices.Sorted(maps.Keys(gs)) {
		if !ws[s] {
			add("cluster.nodes", "", "worker nodes with "+s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(ws)) {
		if !gs[s] {
			add("cluster.nodes", "worker nodes with "+s, "")
		}
	}

	comps := func(s *api.Stack) map[string]string {
		m := map[string]string{}
		for _, c := range s.Components {
			if !c.IsEnabled() {
				continue
			}
			switch {
			case c.Chart != nil:
				m[c.Name] = "chart " + c.Chart.Name + " " + c.Chart.Version
			case c.Use != "":
				m[c.Name] = "use " + c.Use
			}
		}
		return m
	}
	wc, gc := comps(want), comps(got)
	for _, n := range slices.Sorted(maps.Keys(union(wc, gc))) {
		add("components."+n, wc[n], gc[n])
	}

	tenants := func(s *api.Stack) map[string]string {
		m := map[string]string{}
		for _, t := range s.Tenants {
			d := "network policy " + t.NetworkPolicy
			if q := t.Quota; q != nil {
				d += fmt.Sprintf(", quota cpu %s memory %s pods %d", q.CPU, q.Memory, q.Pods)
			}
			if len(t.Admins) > 0 {
				d += ", admins " + strings.Join(sortedCopy(t.Admins), " ")
			}
			if len(t.Viewers) > 0 {
				d += ", viewers " + strings.Join(sortedCopy(t.Viewers), " ")
			}
			m[t.Name] = d
		}
		return m
	}
	wt, gt := tenants(want), tenants(got)
	for _, n := range slices.Sorted(maps.Keys(union(wt, gt))) {
		add("tenants."+n, wt[n], gt[n])
	}

	jobs := func(s *api.Stack) map[string]string {
		m := map[string]string{}
		for _, j := range s.Jobs {
			if j.Schedule != "" {
				m[j.Namespace+"/"+j.Name] = fmt.Sprintf("%q running %s", j.Schedule, j.Image)
			}
		}
		return m
	}
	wj, gj := jobs(want), jobs(got)
	for _, n := range slices.Sorted(maps.Keys(union(wj, gj))) {
		add("jobs."+n, wj[n], gj[n])
	}
	return out
}

func presence(ok bool, what string) string {
	if ok {
		return what
	}
	return ""
}

// minorOf is v1.35 of v1.35.4: patch releases do not change what a
// stack mirrors.
func minorOf(v string) string {
	if m := semver.FindStringSubmatch(v); m != nil {
		return "v" + m[1] + "." + m[2]
	}
	return v
}

func describeShape(g api.NodeGroup) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
		parts = append(parts, k+"="+g.Labels[k])
	}
	for _, t := range g.Taints {
		parts = append(parts, "taint "+t.Key+"="+t.Value+":"+t.Effect)
	}
	if len(parts) == 0 {
		return "no labels or taints"
	}
	return strings.Join(parts, ", ")
}

func copyDefaulted(s *api.Stack) *api.Stack {
	var c api.Stack
	data, _ := json.Marshal(s)
	_ = json.Unmarshal(data, &c)
	stack.Default(&c)
	return &c
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func union(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
