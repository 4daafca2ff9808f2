package mirror

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// helmOwned reports an object a helm release installed.
func helmOwned(u *unstructured.Unstructured) bool {
	_, _, ok := releaseOf(u)
	return ok
}

// defaultDeny reports a policy that selects every pod and lets no traffic
// in: the policy a namespace starts from when it denies by default.
func defaultDeny(u *unstructured.Unstructured) bool {
	sel, _, _ := unstructured.NestedMap(u.Object, "spec", "podSelector")
	if len(sel) > 0 {
		if ml, _, _ := unstructured.NestedMap(sel, "matchLabels"); len(ml) > 0 {
			return false
		}
		if me, _, _ := unstructured.NestedSlice(sel, "matchExpressions"); len(me) > 0 {
			return false
		}
	}
	types, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "policyTypes")
	ingress, _, _ := unstructured.NestedSlice(u.Object, "spec", "ingress")
	hasIngress := len(types) == 0 // no policyTypes means Ingress
	for _, t := range types {
		hasIngress = hasIngress || t == "Ingress"
	}
	return hasIngress && len(ingress) == 0
}

// subject writes an RBAC subject as a tenant's admins and viewers do.
func subject(s map[string]any) string {
	kind, _ := s["kind"].(string)
	name, _ := s["name"].(string)
	ns, _ := s["namespace"].(string)
	switch kind {
	case "Group":
		return "group:" + name
	case "User":
		return "user:" + name
	case "ServiceAccount":
		return "serviceaccount:" + ns + "/" + name
	}
	return ""
}

// tenants turns namespaces with their own policies, quotas or role
// bindings into tenants.
func (m *mirrorer) tenants(ctx context.Context) {
	type found struct {
		tenant   api.Tenant
		policies []string
		deny     bool
		from     []string
	}
	byNS := map[string]*found{}
	get := func(ns string) *found {
		if byNS[ns] == nil {
			byNS[ns] = &found{tenant: api.Tenant{Name: ns}}
		}
		return byNS[ns]
	}
	eligible := func(ns string) bool {
		_, claimed := m.claimed[ns]
		return !systemNamespace(ns) && !claimed && m.selected(ns)
	}
	for _, p := range m.l.List(ctx, "networking.k8s.io/v1", "NetworkPolicy", "") {
		if helmOwned(p) || !eligible(p.GetNamespace()) {
			continue
		}
		f := get(p.GetNamespace())
		f.policies = append(f.policies, p.GetName())
		if defaultDeny(p) {
			f.deny = true
		}
	}
	for _, q := range m.l.List(ctx, "v1", "ResourceQuota", "") {
		if helmOwned(q) || !eligible(q.GetNamespace()) {
			continue
		}
		f := get(q.GetNamespace())
		if f.tenant.Quota != nil {
			continue
		}
		hard, _, _ := unstructured.NestedStringMap(q.Object, "spec", "hard")
		quota := &api.Quota{}
		for _, k := range []string{"requests.cpu", "limits.cpu", "cpu"} {
			if v := hard[k]; v != "" && quota.CPU == "" {
				quota.CPU = v
			}
		}
		for _, k := range []string{"requests.memory", "limits.memory", "memory"} {
			if v := hard[k]; v != "" && quota.Memory == "" {
				quota.Memory = v
			}
		}
		if v := hard["pods"]; v != "" {
			fmt.Sscan(v, &quota.Pods)
		}
		if *quota != (api.Quota{}) {
			f.tenant.Quota = quota
			f.from = append(f.from, "ResourceQuota "+q.GetName())
		}
	}
	for _, rb := range m.l.List(ctx, "rbac.authorization.k8s.io/v1", "RoleBinding", "") {
		if helmOwned(rb) || !eligible(rb.GetNamespace()) {
			continue
		}
		kind, _, _ := unstructured.NestedString(rb.Object, "roleRef", "kind")
		role, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name")
		if kind != "ClusterRole" || role != "admin" && role != "edit" && role != "view" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
		var subs []string
		for _, s := range subjects {
			if sm, ok := s.(map[string]any); ok {
				if sub := subject(sm); sub != "" && !strings.HasPrefix(sub, "serviceaccount:kube-system/") {
					subs = append(subs, sub)
				}
			}
		}
		if len(subs) == 0 {
			continue
		}
		f := get(rb.GetNamespace())
		if role == "view" {
			f.tenant.Viewers = append(f.tenant.Viewers, subs...)
		} else {
			f.tenant.Admins = append(f.tenant.Admins, subs...)
		}
		f.from = append(f.from, fmt.Sprintf("RoleBinding %s (ClusterRole %s)", rb.GetName(), role))
	}
	names := make([]string, 0, len(byNS))
	for ns := range byNS {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		f := byNS[ns]
		t := f.tenant
		sort.Strings(t.Admins)
		sort.Strings(t.Viewers)
		t.Admins, t.Viewers = compact(t.Admins), compact(t.Viewers)
		switch {
		case f.deny:
			t.NetworkPolicy = api.NetworkPolicyDefaultDeny
			f.from = append(f.from, "default-deny NetworkPolicy ("+strings.Join(f.policies, ", ")+")")
		default:
			t.NetworkPolicy = api.NetworkPolicyNone
			if len(f.policies) > 0 {
				f.from = append(f.from, "NetworkPolicies "+strings.Join(f.policies, ", ")+" (none denies by default; not mirrored)")
			}
		}
		if f.tenant.Quota == nil && len(t.Admins) == 0 && len(t.Viewers) == 0 && !f.deny {
			m.r.omit("namespace "+ns, "its NetworkPolicies select some pods only: add them as manifests")
			continue
		}
		m.r.note(fmt.Sprintf("tenants[%d]", len(m.r.Stack.Tenants)), "namespace "+ns+": "+strings.Join(f.from, "; "))
		m.r.Stack.Tenants = append(m.r.Stack.Tenants, t)
	}
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
