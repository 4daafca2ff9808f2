// Package tenant is the tenants built-in: a namespace per tenant with role
// bindings for its admins and viewers, a default-deny network policy that
// still lets DNS out and the ingress proxy in, and a quota with default
// requests.
package tenant

import (
	"context"
	"strings"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
)

// tenantObjects renders a tenant: its namespace, role bindings, a
// default-deny network policy that still allows DNS, and a quota.
func tenantObjects(t *api.Tenant, ingressNamespace string) ([]*unstructured.Unstructured, error) {
	labels := map[string]string{"app.kubernetes.io/managed-by": "kindred", "kindred.dev/tenant": t.Name}
	objs := []runtime.Object{&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: t.Namespace, Labels: labels},
	}}
	for _, role := range []struct {
		name     string
		subjects []string
	}{{"admin", t.Admins}, {"view", t.Viewers}} {
		if len(role.subjects) == 0 {
			continue
		}
		rb := &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: "kindred-" + role.name, Namespace: t.Namespace, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.name},
		}
		for _, s := range role.subjects {
			rb.Subjects = append(rb.Subjects, subjectOf(s))
		}
		objs = append(objs, rb)
	}
	if t.NetworkPolicy == api.NetworkPolicyDefaultDeny {
		udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
		dns := intstr.FromInt32(53)
		policy := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
			return &networkingv1.NetworkPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.Namespace, Labels: labels},
				Spec:       spec,
			}
		}
		objs = append(objs,
			// Nothing in or out...
			policy("default-deny", networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			}),
			// ...but DNS,
			policy("allow-dns", networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}},
				}},
			}),
		)
		if ingressNamespace != "" {
			// ...and the ingress proxy, so routes to the tenant work.
			objs = append(objs, policy("allow-from-ingress", networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"kubernetes.io/metadata.name": ingressNamespace},
					}}},
				}},
			}))
		}
	}
	if q := t.Quota; q != nil {
		hard := corev1.ResourceList{}
		if q.CPU != "" {
			hard[corev1.ResourceRequestsCPU] = resource.MustParse(q.CPU)
		}
		if q.Memory != "" {
			hard[corev1.ResourceRequestsMemory] = resource.MustParse(q.Memory)
		}
		if q.Pods > 0 {
			hard[corev1.ResourcePods] = *resource.NewQuantity(int64(q.Pods), resource.DecimalSI)
		}
		objs = append(objs, &corev1.ResourceQuota{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
			ObjectMeta: metav1.ObjectMeta{Name: "kindred-quota", Namespace: t.Namespace, Labels: labels},
			Spec:       corev1.ResourceQuotaSpec{Hard: hard},
		})
		// A quota on requests makes pods without requests fail admission;
		// defaults keep plain manifests working.
		objs = append(objs, &corev1.LimitRange{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
			ObjectMeta: metav1.ObjectMeta{Name: "kindred-defaults", Namespace: t.Namespace, Labels: labels},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type:           corev1.LimitTypeContainer,
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			}}},
		})
	}
	return kube.ToUnstructured(objs...)
}

func subjectOf(s string) rbacv1.Subject {
	kind, name, _ := strings.Cut(s, ":")
	switch kind {
	case "user":
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
	case "group":
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	ns, n, _ := strings.Cut(name, "/")
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: n}
}

// ID names the tenants built-in; it handles every tenant step.
const ID = "tenant"

func init() { component.Register(Tenants{}) }

// Tenants is the built-in.
type Tenants struct{}

// ID is "tenant".
func (Tenants) ID() string { return ID }

// StepKinds: every tenant step.
func (Tenants) StepKinds() []string { return []string{plan.KindTenant} }

// Render renders the tenant's namespace and policies; the network policy
// lets in the stack's ingress proxy, if it has one.
func (Tenants) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	ingressNS := ""
	if in := env.Stack.Ingress; in != nil {
		if c, ok := component.IngressFor(in.Controller); ok {
			ingressNS = c.ProxyNamespace()
		}
	}
	return tenantObjects(env.Step.Tenant, ingressNS)
}
