package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/catalog"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsName      = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	kubeVersion  = regexp.MustCompile(`^v1\.(\d+)\.(\d+)$`)
	labelKey     = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	quantity     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)
	chartVersion = regexp.MustCompile(`^[~^<>=! ]*v?\d+(\.[\dx*]+){0,2}([-+][0-9A-Za-z.-]+)?([ ,|<>=~^!]+v?\d+(\.[\dx*]+){0,2}([-+][0-9A-Za-z.-]+)?)*$`)
	subject      = regexp.MustCompile(`^(user|group):[^\s]+$|^serviceaccount:[a-z0-9-]+/[a-z0-9-]+$`)
)

// MinKubernetesMinor is the oldest Kubernetes minor kindred supports.
const MinKubernetesMinor = 31

// validator collects problems with a loaded stack.
type validator struct {
	st *Stack
	o  *options
	ps Problems
}

func (v *validator) addf(path, format string, args ...any) {
	v.ps = append(v.ps, v.st.Problemf(path, format, args...))
}

func validate(st *Stack, o *options) Problems {
	v := &validator{st: st, o: o}
	s := &st.Stack
	if s.APIVersion != api.APIVersion {
		v.addf("apiVersion", "want apiVersion %q, got %q", api.APIVersion, s.APIVersion)
	}
	if s.Kind != api.Kind {
		v.addf("kind", "want kind %q, got %q", api.Kind, s.Kind)
	}
	v.name("metadata.name", s.Metadata.Name)
	v.labels("metadata.labels", s.Metadata.Labels)
	v.cluster(&s.Cluster)
	if s.Ingress != nil {
		v.ingress(s.Ingress)
	}
	if s.TLS != nil {
		v.oneOf("tls.issuer", s.TLS.Issuer, api.Enums["TLS.issuer"]...)
		if s.TLS.Issuer == api.IssuerLocalCA && s.Ingress != nil && !api.IsLocalName(s.Ingress.Domain) {
			v.addf("ingress.domain", "%q is not under .%s: the local CA, which this machine trusts, signs only those names, so that it cannot vouch for a real site; choose a domain under them (like %s.localhost), or set tls.issuer: self-signed",
				s.Ingress.Domain, strings.Join(api.LocalDomains, ", ."), s.Metadata.Name)
		}
	}
	if m := s.ChartMirror; m != "" && !strings.Contains(m, "://") {
		if info, err := v.o.stat(m); err != nil || !info.IsDir() {
			v.addf("chartMirror", "chart mirror %s is not a folder here: name a folder that holds the charts, or an oci:// or https:// mirror", Quote(m))
		}
	}
	v.databases(s.Databases)
	v.components(s.Components)
	v.routes(s)
	v.hostPorts(s)
	v.tenants(s.Tenants)
	v.jobs(s.Jobs)
	v.uniqueSteps(s)
	v.needs(s)
	return v.ps
}

// needs checks that every need names a step of the stack, so a typo shows
// with the other problems rather than after they are fixed (the plan
// checks the rest: disabled steps and cycles).
func (v *validator) needs(s *api.Stack) {
	ids := ReservedStepNames(s, v.st.Catalog)
	for _, d := range s.Databases {
		ids = append(ids, d.Name)
	}
	for _, c := range s.Components {
		ids = append(ids, c.Name)
	}
	for _, j := range s.Jobs {
		ids = append(ids, j.Name)
	}
	for _, t := range s.Tenants {
		ids = append(ids, "tenant/"+t.Name)
	}
	for _, r := range s.Routes {
		ids = append(ids, "route/"+r.Host)
	}
	check := func(path, owner string, needs []string) {
		for i, n := range needs {
			if slices.Contains(ids, n) {
				continue
			}
			msg := fmt.Sprintf("%q needs %q, which is no step of this stack", owner, n)
			if c := Closest(n, ids); c != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", c)
			}
			v.addf(fmt.Sprintf("%s.needs[%d]", path, i), "%s", msg)
		}
	}
	for i, d := range s.Databases {
		check(fmt.Sprintf("databases[%d]", i), d.Name, d.Needs)
	}
	for i, c := range s.Components {
		check(fmt.Sprintf("components[%d]", i), c.Name, c.Needs)
	}
	for i, j := range s.Jobs {
		check(fmt.Sprintf("jobs[%d]", i), j.Name, j.Needs)
	}
}

func (v *validator) name(path, n string) {
	switch {
	case n == "":
		v.addf(path, "a name is required")
	case !dnsLabel.MatchString(n):
		v.addf(path, "invalid name %q: use lowercase letters, digits and '-', at most 63 characters", n)
	}
}

func (v *validator) oneOf(path, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.addf(path, "invalid value %q: want one of %s", got, strings.Join(allowed, ", "))
}

func (v *validator) port(path string, p int) {
	if p < 1 || p > 65535 {
		v.addf(path, "port %d out of range 1-65535", p)
	}
}

func (v *validator) labels(path string, m map[string]string) {
	for k, val := range m {
		if !labelKey.MatchString(k) {
			v.addf(path+"."+k, "invalid label key %q", k)
		}
		if !labelValue.MatchString(val) {
			v.addf(path+"."+k, "invalid label value %q", val)
		}
	}
}

func (v *validator) cluster(c *api.Cluster) {
	if c.Name != v.st.Metadata.Name { // else metadata.name is checked
		v.name("cluster.name", c.Name)
	}
	v.oneOf("cluster.provider", c.Provider, api.Enums["Cluster.provider"]...)
	if m := kubeVersion.FindStringSubmatch(c.KubernetesVersion); m == nil {
		v.addf("cluster.kubernetesVersion", "invalid Kubernetes version %q: want the form v1.35.4", c.KubernetesVersion)
	} else if minor, _ := strconv.Atoi(m[1]); minor < MinKubernetesMinor {
		v.addf("cluster.kubernetesVersion", "Kubernetes %s is too old: kindred supports v1.%d and later", c.KubernetesVersion, MinKubernetesMinor)
	}
	controlPlanes, ingress := 0, 0
	for i, n := range c.Nodes {
		p := fmt.Sprintf("cluster.nodes[%d]", i)
		v.oneOf(p+".role", n.Role, api.Enums["NodeGroup.role"]...)
		if n.Count < 1 || n.Count > 50 {
			v.addf(p+".count", "count %d out of range 1-50", n.Count)
		}
		if n.Role == api.RoleControlPlane {
			controlPlanes += n.Count
		}
		if n.Ingress {
			ingress++
		}
		v.labels(p+".labels", n.Labels)
		for j, t := range n.Taints {
			tp := fmt.Sprintf("%s.taints[%d]", p, j)
			if !labelKey.MatchString(t.Key) {
				v.addf(tp+".key", "invalid taint key %q", t.Key)
			}
			v.oneOf(tp+".effect", t.Effect, api.Enums["Taint.effect"]...)
		}
	}
	if controlPlanes == 0 {
		v.addf("cluster.nodes", "a cluster needs a control-plane node")
	}
	if ingress > 1 {
		v.addf("cluster.nodes", "only one node group can be the ingress group, %d are", ingress)
	}

	n := &c.Networking
	v.oneOf("cluster.networking.cni", n.CNI, api.Enums["Networking.cni"]...)
	pod := v.cidr("cluster.networking.podSubnet", n.PodSubnet)
	svc := v.cidr("cluster.networking.serviceSubnet", n.ServiceSubnet)
	if pod.IsValid() && svc.IsValid() && pod.Addr().Is4() != svc.Addr().Is4() {
		v.addf("cluster.networking.serviceSubnet", "service subnet %s and pod subnet %s are of different IP families; kind needs both IPv4 or both IPv6", svc, pod)
	} else if pod.IsValid() && svc.IsValid() && pod.Overlaps(svc) {
		v.addf("cluster.networking.serviceSubnet", "service subnet %s overlaps pod subnet %s", svc, pod)
	}
	if _, err := netip.ParseAddr(n.APIServerAddress); err != nil {
		v.addf("cluster.networking.apiServerAddress", "invalid IP address %q", n.APIServerAddress)
	}
	if n.APIServerPort != 0 {
		v.port("cluster.networking.apiServerPort", n.APIServerPort)
	}
	for i, m := range c.PortMappings {
		p := fmt.Sprintf("cluster.portMappings[%d]", i)
		v.port(p+".containerPort", m.ContainerPort)
		v.port(p+".hostPort", m.HostPort)
		v.oneOf(p+".protocol", m.Protocol, api.Enums["PortMapping.protocol"]...)
	}
	if r := c.Registry; r != nil {
		v.port("cluster.registry.hostPort", r.HostPort)
		for i, m := range r.Mirrors {
			host, port, hasPort := strings.Cut(m, ":")
			if strings.Contains(m, "://") {
				v.addf(fmt.Sprintf("cluster.registry.mirrors[%d]", i), "a registry mirror is a host like docker.io, without a scheme: got %s", Quote(m))
			} else if !dnsName.MatchString(host) {
				v.addf(fmt.Sprintf("cluster.registry.mirrors[%d]", i), "invalid registry host %q: want a host like docker.io", m)
			} else if hasPort {
				if p, err := strconv.Atoi(port); err != nil {
					v.addf(fmt.Sprintf("cluster.registry.mirrors[%d]", i), "invalid registry port in %q", m)
				} else {
					v.port(fmt.Sprintf("cluster.registry.mirrors[%d]", i), p)
				}
			}
		}
	}
}

func (v *validator) cidr(path, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		v.addf(path, "invalid CIDR %q: want a subnet like 10.244.0.0/16", s)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		v.addf(path, "invalid CIDR %q: host bits are set; did you mean %s?", s, p.Masked())
		return netip.Prefix{}
	}
	return p
}

func (v *validator) ingress(in *api.Ingress) {
	v.oneOf("ingress.controller", in.Controller, api.Enums["Ingress.controller"]...)
	switch {
	case !dnsName.MatchString(in.Domain):
		v.addf("ingress.domain", "invalid domain %q", in.Domain)
	case !strings.Contains(in.Domain, ".") && !api.IsLocalName(in.Domain):
		v.addf("ingress.domain", "%q is a top-level domain: routes would be NAME.%s; choose a domain like %s.localhost", in.Domain, in.Domain, v.st.Metadata.Name)
	case !api.IsLocalName(in.Domain) && !in.PublicDomain:
		v.addf("ingress.domain", "%q is not under .%s: inside the cluster its names would lead to the ingress instead of the real site; choose a domain under them (like %s.localhost), or set ingress.publicDomain: true if you mean it",
			in.Domain, strings.Join(api.LocalDomains, ", ."), v.st.Metadata.Name)
	}
	v.port("ingress.hostPorts.http", in.HostPorts.HTTP)
	v.port("ingress.hostPorts.https", in.HostPorts.HTTPS)
	if in.HostPorts.HTTP == in.HostPorts.HTTPS {
		v.addf("ingress.hostPorts.https", "http and https use the same host port %d", in.HostPorts.HTTP)
	}
}

func (v *validator) databases(dbs []api.Database) {
	hostPorts := map[int]string{}
	for i, db := range dbs {
		p := fmt.Sprintf("databases[%d]", i)
		if db.HostPort != 0 {
			v.port(p+".hostPort", db.HostPort)
			if other, ok := hostPorts[db.HostPort]; ok {
				v.addf(p+".hostPort", "host port %d is %s's too; each database needs its own", db.HostPort, other)
			}
			hostPorts[db.HostPort] = db.Name
		}
		v.name(p+".name", db.Name)
		v.name(p+".namespace", db.Namespace)
		e, ok := v.st.Catalog.Engine(db.Engine)
		if !ok {
			v.oneOf(p+".engine", db.Engine, api.Enums["Database.engine"]...)
			continue
		}
		if db.Version != "" && !e.SupportsVersion(db.Version) {
			v.addf(p+".version", "%s version %q is not offered: want one of %s", db.Engine, db.Version, strings.Join(e.Versions, ", "))
		}
		for j, f := range db.Init {
			v.file(fmt.Sprintf("%s.init[%d]", p, j), f, "init script")
		}
		for j, f := range db.Seed {
			v.file(fmt.Sprintf("%s.seed[%d]", p, j), f, "seed script")
		}
		if db.Persistence != nil && db.Persistence.Size != "" && !quantity.MatchString(db.Persistence.Size) {
			v.addf(p+".persistence.size", "invalid size %q: want a quantity like 1Gi", db.Persistence.Size)
		}
	}
}

func (v *validator) components(cs []api.Component) {
	for i, c := range cs {
		p := fmt.Sprintf("components[%d]", i)
		v.name(p+".name", c.Name)
		if c.Namespace != "" {
			v.name(p+".namespace", c.Namespace)
		}
		sources := 0
		if c.Use != "" {
			sources++
			if e, ok := v.st.Catalog.Get(c.Use); !ok {
				v.addf(p+".use", "unknown catalogue entry %q: want one of %s", c.Use, strings.Join(v.st.Catalog.Names(), ", "))
			} else if where := roleSection(e.Role); where != "" {
				v.addf(p+".use", "%s is not a plain component: %s", c.Use, where)
			}
		}
		if c.Chart != nil {
			sources++
			v.chart(p+".chart", c.Chart)
		}
		if c.Kustomize != "" {
			sources++
			if info, err := v.o.stat(c.Kustomize); err == nil && !info.IsDir() {
				v.addf(p+".kustomize", "kustomize %q is a file: name the folder that holds its kustomization.yaml (a plain file of manifests goes under manifests:)", c.Kustomize)
			} else {
				v.file(p+".kustomize", c.Kustomize, "kustomize folder")
			}
		}
		if len(c.Manifests) > 0 {
			sources++
			for j, m := range c.Manifests {
				switch {
				case !isURL(m):
					v.file(fmt.Sprintf("%s.manifests[%d]", p, j), m, "manifest file")
				case strings.HasPrefix(m, "http://") && !api.SecureURL(m):
					v.addf(fmt.Sprintf("%s.manifests[%d]", p, j), "%q is plain http: manifests are fetched over https only (http only from this machine)", m)
				case strings.Contains(m, "#"):
					if _, pin := api.SplitPin(m); !api.ValidPin(pin) {
						v.addf(fmt.Sprintf("%s.manifests[%d]", p, j), "invalid pin in %s: want URL#sha256: and the file's 64 hexadecimal digits (sha256sum prints them)", Quote(m))
					}
				}
			}
		}
		switch {
		case sources == 0:
			v.addf(p, "component %q has no source: set one of use, chart, kustomize or manifests", c.Name)
		case sources > 1:
			v.addf(p, "component %q has %d sources: set only one of use, chart, kustomize or manifests", c.Name, sources)
		}
		if len(c.ValuesFiles) > 0 && c.Chart == nil && c.Use == "" {
			v.addf(p+".valuesFiles", "values files apply only to charts")
		}
		for j, f := range c.ValuesFiles {
			v.file(fmt.Sprintf("%s.valuesFiles[%d]", p, j), f, "values file")
		}
		for j, ch := range c.Checks {
			v.check(fmt.Sprintf("%s.checks[%d]", p, j), ch)
		}
	}
}

func (v *validator) chart(p string, c *api.Chart) {
	kinds := 0
	if c.Repo != "" {
		kinds++
		switch {
		case !strings.HasPrefix(c.Repo, "https://") && !strings.HasPrefix(c.Repo, "http://"):
			v.addf(p+".repo", "invalid repository %q: want an https:// URL", c.Repo)
		case !api.SecureURL(c.Repo):
			v.addf(p+".repo", "%q is plain http: charts are fetched over https only (http only from this machine)", c.Repo)
		}
		if c.Name == "" {
			v.addf(p+".name", "a chart from a repository needs a name")
		}
	}
	if c.OCI != "" {
		kinds++
		if !strings.HasPrefix(c.OCI, "oci://") {
			v.addf(p+".oci", "invalid OCI reference %q: want oci://registry/path/chart", c.OCI)
		}
	}
	if c.Path != "" {
		kinds++
		v.file(p+".path", c.Path, "chart")
	}
	switch {
	case kinds == 0:
		v.addf(p, "a chart needs one of repo, oci or path")
	case kinds > 1:
		v.addf(p, "a chart takes only one of repo, oci or path")
	}
	if (c.Repo != "" || c.OCI != "") && c.Version == "" {
		v.addf(p+".version", "a chart from a repository or registry needs a pinned version")
	}
	if c.Version != "" && !chartVersion.MatchString(c.Version) {
		v.addf(p+".version", "invalid chart version %q: want a version like 1.2.3 or a constraint like ~1.2", c.Version)
	}
}

func (v *validator) check(p string, c api.Check) {
	v.oneOf(p+".type", c.Type, api.Enums["Check.type"]...)
	switch c.Type {
	case api.CheckCondition:
		if c.APIVersion == "" || c.Kind == "" || c.Name == "" || c.Condition == "" {
			v.addf(p, "a condition check needs apiVersion, kind, name and condition")
		}
	case api.CheckCRD, api.CheckAPIService:
		if c.Name == "" {
			v.addf(p+".name", "a %s check needs a name", c.Type)
		}
	case api.CheckWebhook:
		if len(c.Object) == 0 {
			v.addf(p+".object", "a webhook check needs an object to create with a dry run")
		}
	case api.CheckRollout:
		if c.Kind == "" || c.Name == "" {
			v.addf(p, "a rollout check needs kind and name")
		}
	}
}

func (v *validator) routes(s *api.Stack) {
	hosts := map[string]int{}
	for i, r := range s.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if s.Ingress == nil && !v.st.written("ingress") { // an empty one is reported as such
			v.addf(p, "routes need an ingress section")
		}
		if !dnsName.MatchString(r.Host) {
			v.addf(p+".host", "invalid host %q", r.Host)
		} else if s.Ingress != nil && s.Ingress.Domain != "" && r.Host != s.Ingress.Domain && !strings.HasSuffix(r.Host, "."+s.Ingress.Domain) {
			v.addf(p+".host", "route host %q is not under the ingress domain %s: neither its DNS nor its certificate would cover it; use NAME.%s, or change ingress.domain", r.Host, s.Ingress.Domain, s.Ingress.Domain)
		}
		if j, dup := hosts[r.Host]; dup {
			v.addf(p+".host", "duplicate route host %q (also routes[%d])", r.Host, j)
		}
		hosts[r.Host] = i
		if r.Service.Name == "" {
			v.addf(p+".service.name", "a route needs a service name")
		}
		v.port(p+".service.port", r.Service.Port)
		v.oneOf(p+".protocol", r.Protocol, api.Enums["Route.protocol"]...)
		if !strings.HasPrefix(r.PathPrefix, "/") {
			v.addf(p+".pathPrefix", "a path prefix starts with /")
		}
		if r.TLS != nil && *r.TLS && s.TLS == nil {
			v.addf(p+".tls", "route %q asks for TLS but the stack has no tls section", r.Host)
		}
		if r.HealthCheck != nil && !strings.HasPrefix(r.HealthCheck.Path, "/") {
			v.addf(p+".healthCheck.path", "a health check path starts with /")
		}
		if r.Retries < 0 || r.Retries > 10 {
			v.addf(p+".retries", "retries %d out of range 0-10", r.Retries)
		}
	}
}

func (v *validator) tenants(ts []api.Tenant) {
	namespaces := map[string]int{}
	for i, t := range ts {
		p := fmt.Sprintf("tenants[%d]", i)
		v.name(p+".name", t.Name)
		v.name(p+".namespace", t.Namespace)
		if j, dup := namespaces[t.Namespace]; dup {
			v.addf(p+".namespace", "namespace %q is already tenants[%d]'s", t.Namespace, j)
		}
		if why := v.systemNamespace(t.Namespace); why != "" {
			field := ".namespace"
			if t.Namespace == t.Name {
				field = ".name"
			}
			v.addf(p+field, "namespace %q %s: a tenant's namespace is the tenant's alone; choose another name", t.Namespace, why)
		}
		namespaces[t.Namespace] = i
		for j, s := range t.Admins {
			if !subject.MatchString(s) {
				v.addf(fmt.Sprintf("%s.admins[%d]", p, j), "invalid subject %q: want user:NAME, group:NAME or serviceaccount:NAMESPACE/NAME", s)
			}
		}
		for j, s := range t.Viewers {
			if !subject.MatchString(s) {
				v.addf(fmt.Sprintf("%s.viewers[%d]", p, j), "invalid subject %q: want user:NAME, group:NAME or serviceaccount:NAMESPACE/NAME", s)
			}
		}
		v.oneOf(p+".networkPolicy", t.NetworkPolicy, api.Enums["Tenant.networkPolicy"]...)
		if q := t.Quota; q != nil {
			if q.CPU != "" && !quantity.MatchString(q.CPU) {
				v.addf(p+".quota.cpu", "invalid quantity %q", q.CPU)
			}
			if q.Memory != "" && !quantity.MatchString(q.Memory) {
				v.addf(p+".quota.memory", "invalid quantity %q", q.Memory)
			}
			if q.Pods < 0 {
				v.addf(p+".quota.pods", "pods must not be negative")
			}
		}
	}
}

func (v *validator) jobs(js []api.Job) {
	for i, j := range js {
		p := fmt.Sprintf("jobs[%d]", i)
		v.name(p+".name", j.Name)
		v.name(p+".namespace", j.Namespace)
		if j.Image == "" {
			v.addf(p+".image", "a job needs an image")
		}
		if j.Schedule != "" {
			if err := checkCron(j.Schedule); err != nil {
				v.addf(p+".schedule", "invalid schedule %q: %v", j.Schedule, err)
			}
		}
		if j.BackoffLimit < 0 {
			v.addf(p+".backoffLimit", "backoffLimit must not be negative")
		}
	}
}

// uniqueSteps checks that components, databases and jobs, which share one
// namespace of step names, do not clash with each other or with the built-in
// steps the stack turns on.
func (v *validator) uniqueSteps(s *api.Stack) {
	seen := map[string]string{}
	for _, n := range ReservedStepNames(s, v.st.Catalog) {
		seen[n] = "a built-in step"
	}
	claim := func(path, name string) {
		if name == "" {
			return
		}
		if other, dup := seen[name]; dup {
			v.addf(path, "duplicate name %q: already used by %s", name, other)
			return
		}
		seen[name] = path
	}
	for i, d := range s.Databases {
		claim(fmt.Sprintf("databases[%d].name", i), d.Name)
	}
	for i, c := range s.Components {
		claim(fmt.Sprintf("components[%d].name", i), c.Name)
	}
	for i, j := range s.Jobs {
		claim(fmt.Sprintf("jobs[%d].name", i), j.Name)
	}
	tenants := map[string]int{}
	for i, t := range s.Tenants {
		if j, dup := tenants[t.Name]; dup {
			v.addf(fmt.Sprintf("tenants[%d].name", i), "duplicate tenant %q (also tenants[%d])", t.Name, j)
		}
		tenants[t.Name] = i
	}
}

// Built-in step names.
const (
	StepCluster = "cluster"
	StepIssuer  = "issuer"
)

// ReservedStepNames are the names of the built-in steps a stack turns on:
// the cluster, its CNI unless kind's own, its ingress controller, and the
// catalogue's certificates entry with the issuer.
func ReservedStepNames(s *api.Stack, c *catalog.Catalog) []string {
	out := []string{StepCluster}
	if cni := s.Cluster.Networking.CNI; cni != "" && cni != api.CNIKindnet {
		out = append(out, cni)
	}
	if s.Ingress != nil {
		out = append(out, s.Ingress.Controller)
	}
	if s.TLS != nil {
		if e, ok := c.ByRole(catalog.RoleCertificates); ok {
			out = append(out, e.Name)
		}
		out = append(out, StepIssuer)
	}
	return out
}

func (v *validator) file(path, name, what string) {
	if _, err := v.o.stat(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			hint := ""
			if bareVar.MatchString(name) {
				hint = " (kindred expands ${NAME}, not $NAME)"
			}
			v.addf(path, "%s %q: no such file%s", what, name, hint)
		} else {
			v.addf(path, "%s %q: %v", what, name, err)
		}
	}
}

// checkCron checks a five-field cron schedule, or a @-macro.
func checkCron(s string) error {
	switch s {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return nil
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return fmt.Errorf("want 5 fields (minute hour day month weekday), got %d", len(fields))
	}
	limits := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	// Months and weekdays may be named, as Kubernetes' CronJob allows.
	names := map[int][]string{
		3: {"", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"},
		4: {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"},
	}
	for i, f := range fields {
		if list, ok := names[i]; ok {
			upper := strings.ToUpper(f)
			for n, name := range list {
				if name != "" {
					upper = strings.ReplaceAll(upper, name, strconv.Itoa(n))
				}
			}
			f = upper
		}
		for _, part := range strings.Split(f, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return fmt.Errorf("bad step %q", step)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			for _, x := range []string{lo, hi} {
				if x == "" && !isRange && x == hi {
					continue
				}
				n, err := strconv.Atoi(x)
				if err != nil || n < limits[i][0] || n > limits[i][1] {
					return fmt.Errorf("field %d: %q is not in %d-%d", i+1, x, limits[i][0], limits[i][1])
				}
			}
		}
	}
	return nil
}

// systemNamespace says why a namespace cannot be a tenant's: Kubernetes'
// own, kindred's records, or one a catalogue component installs into.
func (v *validator) systemNamespace(ns string) string {
	switch {
	case ns == "default" || strings.HasPrefix(ns, "kube-"):
		return "is Kubernetes' own"
	case ns == "kindred-system":
		return "holds kindred's records"
	}
	if v.st.Catalog != nil {
		for _, n := range v.st.Catalog.Names() {
			if e, _ := v.st.Catalog.Get(n); e.Namespace == ns {
				return "is where the catalogue's " + n + " installs"
			}
		}
	}
	return ""
}

// bareVar finds a $NAME, which kindred does not expand (it expands ${NAME}).
var bareVar = regexp.MustCompile(`\$[A-Za-z_]`)

// roleSection says where a catalogue entry of role goes in a stack, when
// it is not a plain component.
func roleSection(role string) string {
	switch role {
	case catalog.RoleDatabase:
		return "it is a database engine; list it under databases: (with engine: and a name)"
	case catalog.RoleCNI:
		return "it is a CNI; set cluster.networking.cni"
	case catalog.RoleIngress:
		return "it is the ingress controller; add an ingress: section"
	case catalog.RoleCertificates:
		return "it installs with the tls: section; add one"
	}
	return ""
}

// hostPorts checks that no two things bind the same host port: the
// ingress, the port mappings, the local registry and the API server.
func (v *validator) hostPorts(s *api.Stack) {
	if s.Cluster.Provider != api.ProviderKind {
		return
	}
	seen := map[int]string{}
	take := func(path string, port int) {
		if port == 0 {
			return
		}
		if other, ok := seen[port]; ok {
			v.addf(path, "host port %d is taken by %s too; each needs its own", port, other)
			return
		}
		seen[port] = path
	}
	if s.Ingress != nil {
		take("ingress.hostPorts.http", s.Ingress.HostPorts.HTTP)
		if s.Ingress.HostPorts.HTTPS != s.Ingress.HostPorts.HTTP { // reported by ingress
			take("ingress.hostPorts.https", s.Ingress.HostPorts.HTTPS)
		}
	}
	for i, m := range s.Cluster.PortMappings {
		take(fmt.Sprintf("cluster.portMappings[%d].hostPort", i), m.HostPort)
	}
	if r := s.Cluster.Registry; r != nil {
		take("cluster.registry.hostPort", r.HostPort)
	}
	take("cluster.networking.apiServerPort", s.Cluster.Networking.APIServerPort)
}
