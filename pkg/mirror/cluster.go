package mirror

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

var semver = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// version maps the server's version to one the provider runs.
func (m *mirrorer) version(server string) {
	sm := semver.FindStringSubmatch(server)
	if sm == nil {
		m.r.note("#", fmt.Sprintf("the server's version %q is not a Kubernetes release: kubernetesVersion left to the default", server))
		return
	}
	v := fmt.Sprintf("v%s.%s.%s", sm[1], sm[2], sm[3])
	minor, _ := strconv.Atoi(sm[2])
	from := "the server's version, " + server
	if len(m.o.Versions) > 0 {
		best, bestDist := "", 1<<30
		for _, cand := range m.o.Versions {
			cm := semver.FindStringSubmatch(cand)
			if cm == nil || cm[1] != sm[1] {
				continue
			}
			cmin, _ := strconv.Atoi(cm[2])
			d := cmin - minor
			if d < 0 {
				d = -d*2 + 1 // an equal distance prefers the newer
			} else {
				d *= 2
			}
			if d < bestDist {
				best, bestDist = cand, d
			}
		}
		switch {
		case best == "":
		case bestDist == 0 && best != v:
			from += fmt.Sprintf(" (the provider runs %s for v%s.%s)", best, sm[1], sm[2])
		case bestDist != 0:
			from += fmt.Sprintf("; the provider runs no v%s.%s, %s is the nearest", sm[1], sm[2], best)
			v = best
		}
	}
	m.r.Stack.Cluster.KubernetesVersion = v
	m.r.note("cluster.kubernetesVersion", from)
}

// Labels kept on mirrored nodes even when no workload selects them.
var keptNodeLabels = []string{"topology.kubernetes.io/zone", "topology.kubernetes.io/region"}

// systemLabel reports node labels that the local cluster sets itself, or
// that say nothing about the shape workloads depend on.
func systemLabel(k string) bool {
	if k == "topology.kubernetes.io/zone" || k == "topology.kubernetes.io/region" {
		return false
	}
	for _, p := range []string{"kubernetes.io/", "k8s.io/", "kwok.x-k8s.io/", "kindred.dev/"} {
		if strings.HasPrefix(k, p) || strings.Contains(k, "."+p) {
			return true
		}
	}
	switch k {
	case "ingress-ready", "type":
		return true
	}
	return false
}

// systemTaint reports taints the local cluster manages itself.
func systemTaint(key string) bool {
	return strings.HasPrefix(key, "node.kubernetes.io/") || strings.HasPrefix(key, "node.cloudprovider.kubernetes.io/") ||
		strings.HasPrefix(key, "node-role.kubernetes.io/") || strings.HasPrefix(key, "kwok.x-k8s.io/") || strings.HasPrefix(key, "ToBeDeletedBy")
}

// selectedLabels are the node label keys workloads select on: node
// selectors, node affinity and topology spread keys.
func (m *mirrorer) selectedLabels(ctx context.Context) map[string]bool {
	keys := map[string]bool{}
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		for _, w := range m.l.List(ctx, "apps/v1", kind, "") {
			podSpecKeys(w.Object, keys, "spec", "template", "spec")
		}
	}
	for _, cj := range m.l.List(ctx, "batch/v1", "CronJob", "") {
		podSpecKeys(cj.Object, keys, "spec", "jobTemplate", "spec", "template", "spec")
	}
	return keys
}

func podSpecKeys(obj map[string]any, keys map[string]bool, at ...string) {
	spec, ok, _ := unstructured.NestedMap(obj, at...)
	if !ok {
		return
	}
	sel, _, _ := unstructured.NestedStringMap(spec, "nodeSelector")
	for k := range sel {
		keys[k] = true
	}
	terms, _, _ := unstructured.NestedSlice(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	pref, _, _ := unstructured.NestedSlice(spec, "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
	for _, p := range pref {
		if pm, ok := p.(map[string]any); ok {
			terms = append(terms, pm["preference"])
		}
	}
	for _, t := range terms {
		tm, _ := t.(map[string]any)
		exprs, _, _ := unstructured.NestedSlice(tm, "matchExpressions")
		for _, e := range exprs {
			if em, ok := e.(map[string]any); ok {
				if k, _ := em["key"].(string); k != "" {
					keys[k] = true
				}
			}
		}
	}
	tsc, _, _ := unstructured.NestedSlice(spec, "topologySpreadConstraints")
	for _, c := range tsc {
		if cm, ok := c.(map[string]any); ok {
			if k, _ := cm["topologyKey"].(string); k != "" {
				keys[k] = true
			}
		}
	}
}

// nodeGroup is nodes of one shape.
type nodeGroup struct {
	group api.NodeGroup
	names []string
}

// nodes groups the nodes by role, kept labels and taints, and scales the
// groups down to MaxNodes.
func (m *mirrorer) nodes(ctx context.Context) {
	nodes := m.l.List(ctx, "v1", "Node", "")
	if len(nodes) == 0 {
		m.r.note("#", "no nodes could be read: cluster.nodes left to the default")
		return
	}
	selected := m.selectedLabels(ctx)
	for _, k := range keptNodeLabels {
		selected[k] = true
	}
	groups := map[string]*nodeGroup{}
	var order []string
	controlPlanes := 0
	for _, n := range nodes {
		labels := n.GetLabels()
		_, cp := labels["node-role.kubernetes.io/control-plane"]
		if _, master := labels["node-role.kubernetes.io/master"]; master {
			cp = true
		}
		if cp {
			controlPlanes++
			continue
		}
		g := api.NodeGroup{Role: api.RoleWorker}
		for k, v := range labels {
			// A key with no domain (pool, workload) is one people set
			// to schedule by; a prefixed one (a cloud's) only when a
			// workload selects it.
			if (selected[k] || !strings.Contains(k, "/")) && !systemLabel(k) {
				if g.Labels == nil {
					g.Labels = map[string]string{}
				}
				g.Labels[k] = v
			}
		}
		taints, _, _ := unstructured.NestedSlice(n.Object, "spec", "taints")
		for _, t := range taints {
			tm, _ := t.(map[string]any)
			key, _ := tm["key"].(string)
			if key == "" || systemTaint(key) {
				continue
			}
			val, _ := tm["value"].(string)
			eff, _ := tm["effect"].(string)
			g.Taints = append(g.Taints, api.Taint{Key: key, Value: val, Effect: eff})
		}
		sort.Slice(g.Taints, func(i, j int) bool { return g.Taints[i].Key+g.Taints[i].Effect < g.Taints[j].Key+g.Taints[j].Effect })
		key := shapeKey(g)
		if groups[key] == nil {
			groups[key] = &nodeGroup{group: g}
			order = append(order, key)
		}
		groups[key].names = append(groups[key].names, n.GetName())
	}
	sort.Strings(order)
	st := m.r.Stack
	cpFrom := fmt.Sprintf("%d control-plane node(s)", controlPlanes)
	if controlPlanes == 0 {
		cpFrom = "no control-plane nodes visible (a managed control plane)"
	}
	st.Cluster.Nodes = append(st.Cluster.Nodes, api.NodeGroup{Role: api.RoleControlPlane, Count: 1})
	m.r.note("cluster.nodes[0]", cpFrom+"; one runs the local control plane")
	workers := 0
	for _, k := range order {
		workers += len(groups[k].names)
	}
	budget := m.o.MaxNodes - 1
	for i, k := range order {
		g := groups[k]
		n := len(g.names)
		count := n
		if workers > budget {
			count = max(1, n*budget/workers)
		}
		g.group.Count = count
		st.Cluster.Nodes = append(st.Cluster.Nodes, g.group)
		from := fmt.Sprintf("%d node(s) with this shape", n)
		if count != n {
			from += fmt.Sprintf(", scaled to %d (at most %d nodes)", count, m.o.MaxNodes)
		}
		if len(g.names) <= 3 {
			from += ": " + strings.Join(g.names, ", ")
		}
		m.r.note(fmt.Sprintf("cluster.nodes[%d]", i+1), from)
	}
}

func shapeKey(g api.NodeGroup) string {
	var parts []string
	for k, v := range g.Labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	for _, t := range g.Taints {
		parts = append(parts, "taint:"+t.Key+"="+t.Value+":"+t.Effect)
	}
	return strings.Join(parts, ",")
}

// network reads the service subnet and, where no CNI says, the pod subnet
// and the CNI's name.
func (m *mirrorer) network(ctx context.Context) {
	n := &m.r.Stack.Cluster.Networking
	for _, sc := range m.l.List(ctx, "networking.k8s.io/v1", "ServiceCIDR", "") {
		cidrs, _, _ := unstructured.NestedStringSlice(sc.Object, "spec", "cidrs")
		if sc.GetName() == "kubernetes" && len(cidrs) > 0 {
			n.ServiceSubnet = cidrs[0]
			m.r.note("cluster.networking.serviceSubnet", "ServiceCIDR kubernetes")
		}
	}
	var pods []netip.Prefix
	for _, node := range m.l.List(ctx, "v1", "Node", "") {
		if c, ok, _ := unstructured.NestedString(node.Object, "spec", "podCIDR"); ok {
			if p, err := netip.ParsePrefix(c); err == nil {
				pods = append(pods, p)
			}
		}
	}
	if len(pods) > 0 {
		p := pods[0]
		for bits := p.Bits(); bits >= 8; bits-- {
			wide := netip.PrefixFrom(p.Addr(), bits).Masked()
			all := true
			for _, q := range pods {
				all = all && wide.Contains(q.Addr())
			}
			if all && bits <= 16 {
				n.PodSubnet = wide.String()
				m.r.note("cluster.networking.podSubnet", fmt.Sprintf("the smallest /16 or wider holding the nodes' podCIDRs (%d nodes)", len(pods)))
				break
			}
		}
	}
	others := map[string]string{"cilium": "Cilium", "kube-flannel-ds": "Flannel", "aws-node": "the AWS VPC CNI", "weave-net": "Weave Net", "antrea-agent": "Antrea", "azure-cns": "Azure CNI", "kindnet": "kindnet"}
	for _, ds := range m.l.List(ctx, "apps/v1", "DaemonSet", "") {
		if name, ok := others[ds.GetName()]; ok {
			if name == "kindnet" {
				n.CNI = api.CNIKindnet
				m.r.note("cluster.networking.cni", "DaemonSet "+ds.GetNamespace()+"/kindnet")
				continue
			}
			m.r.note("#", fmt.Sprintf("production's CNI is %s (DaemonSet %s/%s); kindred runs kindnet or its catalogue's CNI, so the stack keeps kind's own", name, ds.GetNamespace(), ds.GetName()))
		}
	}
}
