package contour

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	contourv1 "github.com/projectcontour/contour/apis/projectcontour/v1"
	"k8s.io/apimachinery/pkg/runtime"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/component"
)

// Mirror recognises Contour by its Deployment and turns HTTPProxies whose
// services the stack mirrors into routes. Production host names become
// names under a local domain (the same first label), since a real domain
// would need ingress.publicDomain and would shadow the real site inside
// the cluster.
func (Contour) Mirror(ctx context.Context, live component.Live, into *api.Stack) (component.Mirrored, error) {
	var m component.Mirrored
	if !live.Served(contourv1.GroupVersion.String(), "HTTPProxy") {
		return m, nil
	}
	for _, d := range live.List(ctx, "apps/v1", "Deployment", "") {
		if d.GetName() == "contour" {
			m.Namespaces = append(m.Namespaces, d.GetNamespace())
			m.Notes = append(m.Notes, component.MirrorNote{Path: "ingress", From: "Contour: Deployment " + d.GetNamespace() + "/contour"})
			break
		}
	}
	if len(m.Namespaces) == 0 {
		m.Notes = append(m.Notes, component.MirrorNote{Path: "#", From: "HTTPProxy is served but no contour Deployment was found: ingress left out"})
		return m, nil
	}
	domain := api.LocalDomains[0]
	if into.Metadata.Name != "" {
		domain = into.Metadata.Name + "." + api.LocalDomains[0]
	}
	into.Ingress = &api.Ingress{Controller: ID, Domain: domain}
	proxies := live.List(ctx, contourv1.GroupVersion.String(), "HTTPProxy", "")
	sort.Slice(proxies, func(i, j int) bool {
		return proxies[i].GetNamespace()+"/"+proxies[i].GetName() < proxies[j].GetNamespace()+"/"+proxies[j].GetName()
	})
	for _, u := range proxies {
		var p contourv1.HTTPProxy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			return m, fmt.Errorf("reading HTTPProxy %s/%s: %w", u.GetNamespace(), u.GetName(), err)
		}
		name := "HTTPProxy " + p.Namespace + "/" + p.Name
		if p.Spec.VirtualHost == nil || len(p.Spec.Routes) == 0 || len(p.Spec.Routes[0].Services) == 0 {
			m.Notes = append(m.Notes, component.MirrorNote{Path: "#", From: name + ": no virtual host or service (an include or a TCP proxy): left out"})
			continue
		}
		r0 := p.Spec.Routes[0]
		svc := r0.Services[0]
		step, ok := live.Mirrored(p.Namespace, svc.Name)
		if !ok {
			m.Notes = append(m.Notes, component.MirrorNote{Path: "#", From: fmt.Sprintf("%s: its Service %s/%s is not from anything mirrored: left out", name, p.Namespace, svc.Name)})
			continue
		}
		fqdn := p.Spec.VirtualHost.Fqdn
		host := localHost(fqdn, domain)
		rt := api.Route{Host: host, Service: api.ServiceRef{Name: svc.Name, Namespace: p.Namespace, Port: svc.Port}, Component: step}
		if svc.Protocol != nil && (*svc.Protocol == "h2c" || *svc.Protocol == "h2") {
			rt.Protocol = api.ProtocolH2C
		}
		for _, c := range r0.Conditions {
			if c.Prefix != "" && c.Prefix != "/" {
				rt.PathPrefix = c.Prefix
			}
		}
		tls := p.Spec.VirtualHost.TLS != nil
		if tls != (into.TLS != nil) {
			rt.TLS = &tls
		}
		if hc := r0.HealthCheckPolicy; hc != nil {
			rt.HealthCheck = &api.HealthCheck{Path: hc.Path}
			if hc.IntervalSeconds > 0 && hc.IntervalSeconds != healthInterval {
				rt.HealthCheck.Interval.Duration = time.Duration(hc.IntervalSeconds) * time.Second
			}
			if hc.TimeoutSeconds > 0 && hc.TimeoutSeconds != healthTimeout {
				rt.HealthCheck.Timeout.Duration = time.Duration(hc.TimeoutSeconds) * time.Second
			}
		}
		if tp := r0.TimeoutPolicy; tp != nil && tp.Response != "" && tp.Response != "infinity" {
			if d, err := time.ParseDuration(tp.Response); err == nil {
				rt.Timeout.Duration = d
			}
		}
		if rp := r0.RetryPolicy; rp != nil {
			rt.Retries = int(rp.NumRetries)
		}
		from := name
		if host != fqdn {
			from += " (host " + fqdn + ")"
		}
		m.Notes = append(m.Notes, component.MirrorNote{Path: fmt.Sprintf("routes[%d]", len(into.Routes)), From: from})
		into.Routes = append(into.Routes, rt)
	}
	return m, nil
}

// localHost is fqdn under domain: itself when it already is, else its
// first label under domain.
func localHost(fqdn, domain string) string {
	if strings.HasSuffix(fqdn, "."+domain) {
		return fqdn
	}
	first, _, _ := strings.Cut(fqdn, ".")
	return first + "." + domain
}
