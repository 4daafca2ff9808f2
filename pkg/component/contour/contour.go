package contour

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/sim"
)

// ID is Contour's catalogue entry.
const ID = "contour"

func init() {
	component.Register(Contour{})
	// Contour writes no status on delegations, though their CRD has a
	// status subresource.
	ready.ReadyWhenApplied(schema.GroupKind{Group: "projectcontour.io", Kind: "TLSCertificateDelegation"}, "Contour writes no status on certificate delegations")
}

// Contour is the built-in: its own catalogue step, and every route step of
// a stack whose ingress controller it is.
type Contour struct{}

// ID is "contour".
func (Contour) ID() string { return ID }

// CertificateSecret is where Envoy finds the wildcard certificate: one
// Secret, delegated to every route's namespace.
func (Contour) CertificateSecret() (namespace, name string) { return CertNamespace, CertSecret }

// ProxyService is Envoy's Service.
func (Contour) ProxyService() (namespace, name string) { return Namespace, "envoy" }

// ProxyNamespace is where Envoy runs.
func (Contour) ProxyNamespace() string { return Namespace }

// Patch pins Envoy to the ingress-ready node (see placeIngress), on the
// clusters kindred creates. An existing cluster has no such node, and its
// nodes' ports 80 and 443 are not kindred's to take: there Envoy loses its
// host ports and is reached through its Service.
func (Contour) Patch(env *component.Env, objs []*unstructured.Unstructured) error {
	if env.Step.Kind != plan.KindComponent {
		return nil
	}
	if env.Access.Existing {
		return withoutHostPorts(objs)
	}
	return placeIngress(objs)
}

// Render renders a route step's HTTPProxy, and the delegation that lets it
// use the wildcard certificate.
func (Contour) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	if env.Step.Kind != plan.KindRoute {
		return nil, fmt.Errorf("contour renders routes, not %s steps", env.Step.Kind)
	}
	return routeObjects(env.Step.Route)
}

// Finish, for Contour's own step, points CoreDNS's *.<domain> at Envoy;
// for a route, it waits for Contour's verdict on its HTTPProxy.
func (Contour) Finish(ctx context.Context, env *component.Env, objs []*unstructured.Unstructured) (component.Result, error) {
	if env.Step.Kind == plan.KindRoute {
		for _, o := range objs {
			if o.GetKind() == "HTTPProxy" {
				return component.Result{}, waitProxy(ctx, env.Kube, o, env.Timeout, env.Say)
			}
		}
		return component.Result{}, fmt.Errorf("route %s rendered no HTTPProxy", env.Step.Route.Host)
	}
	if env.Stack.Ingress == nil {
		return component.Result{}, nil
	}
	domain := env.Stack.Ingress.Domain
	if want := env.Stack.Ingress.ClusterDNS; want != nil && !*want || want == nil && env.Access.Existing {
		env.Say("CoreDNS left alone: *." + domain + " resolves inside the cluster only with ingress.clusterDNS: true (off by default on an existing cluster, whose DNS serves every pod)")
		// A rewrite an earlier run made goes; one that was never made
		// leaves nothing to do (and a user who may not read kube-system
		// is not asked to).
		if err := removeDNSRewrite(ctx, env.Kube); err != nil && !apierrors.IsForbidden(err) {
			return component.Result{}, err
		}
		return component.Result{}, nil
	}
	if env.Stack.Ingress.PublicDomain {
		env.Say("ingress.publicDomain: inside the cluster, names under " + domain + " now lead to Envoy, not to the real site")
	}
	ok, err := ensureDNSRewrite(ctx, env.Kube, domain)
	if err != nil || !ok {
		return component.Result{}, err
	}
	env.Say("CoreDNS: *." + domain + " answers with " + envoyService())
	return component.Result{DNSRewrite: domain}, nil
}

// Remove takes the CoreDNS rewrite out again.
func (Contour) Remove(ctx context.Context, kc *kube.Client, res component.Result) error {
	if res.DNSRewrite == "" {
		return nil
	}
	return removeDNSRewrite(ctx, kc)
}

// DetailKind: HTTPProxies.
func (Contour) DetailKind() string { return "HTTPProxy" }

// Detail shows Contour's verdict on an HTTPProxy.
func (Contour) Detail(u *unstructured.Unstructured) (string, bool) {
	cs, ok, _ := unstructured.NestedString(u.Object, "status", "currentStatus")
	if !ok {
		return "", false
	}
	return "HTTPProxy " + cs, true
}

// Simulated: on the simulated cluster the real Contour controller judges
// HTTPProxies while Contour's pod runs (see sim.go).
func (Contour) Simulated() []sim.Controller {
	return []sim.Controller{{Name: ID, Kinds: []string{"projectcontour.io/v1/HTTPProxy"}, Run: playContour, Binaries: []sim.GoBinary{controllerBinary},
		How: "real: the Contour controller judges HTTPProxies; Envoy cannot run here, so no traffic is proxied"}}
}
