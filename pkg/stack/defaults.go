package stack

import (
	"time"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// Defaults that apply when a stack leaves a field empty.
const (
	DefaultKubernetesVersion = "v1.35.4"
	DefaultPodSubnet         = "10.244.0.0/16"
	DefaultServiceSubnet     = "10.96.0.0/16"
	DefaultAPIServerAddress  = "127.0.0.1"
	DefaultRegistryPort      = 5001
	DefaultHTTPPort          = 80
	DefaultHTTPSPort         = 443
	DefaultTimeout           = 5 * time.Minute
	DefaultNamespace         = "default"
)

// Default fills every empty field that has a default. It is the one place
// defaults live, and it is idempotent.
func Default(s *api.Stack) {
	c := &s.Cluster
	if c.Name == "" {
		c.Name = s.Metadata.Name
	}
	if c.Provider == "" {
		c.Provider = api.ProviderKind
	}
	if c.KubernetesVersion == "" {
		c.KubernetesVersion = DefaultKubernetesVersion
	}
	if len(c.Nodes) == 0 {
		c.Nodes = []api.NodeGroup{{Role: api.RoleControlPlane}}
	}
	ingress := false
	for i := range c.Nodes {
		if c.Nodes[i].Count == 0 {
			c.Nodes[i].Count = 1
		}
		ingress = ingress || c.Nodes[i].Ingress
	}
	if !ingress {
		c.Nodes[0].Ingress = true
	}
	n := &c.Networking
	if n.CNI == "" {
		n.CNI = api.CNIKindnet
	}
	if n.PodSubnet == "" {
		n.PodSubnet = DefaultPodSubnet
		if sub, ok := api.DefaultPodSubnets[n.CNI]; ok {
			n.PodSubnet = sub
		}
	}
	if n.ServiceSubnet == "" {
		n.ServiceSubnet = DefaultServiceSubnet
	}
	if n.APIServerAddress == "" {
		n.APIServerAddress = DefaultAPIServerAddress
	}
	for i := range c.PortMappings {
		if c.PortMappings[i].Protocol == "" {
			c.PortMappings[i].Protocol = "TCP"
		}
	}
	if c.Registry != nil && c.Registry.HostPort == 0 {
		c.Registry.HostPort = DefaultRegistryPort
	}

	if in := s.Ingress; in != nil {
		if in.Controller == "" {
			in.Controller = api.DefaultIngressController
		}
		if in.Domain == "" {
			in.Domain = s.Metadata.Name + ".localhost"
		}
		if in.HostPorts.HTTP == 0 {
			in.HostPorts.HTTP = DefaultHTTPPort
		}
		if in.HostPorts.HTTPS == 0 {
			in.HostPorts.HTTPS = DefaultHTTPSPort
		}
	}
	if s.TLS != nil && s.TLS.Issuer == "" {
		s.TLS.Issuer = api.IssuerLocalCA
	}

	for i := range s.Databases {
		db := &s.Databases[i]
		if db.Namespace == "" {
			db.Namespace = DefaultNamespace
		}
	}
	for i := range s.Components {
		co := &s.Components[i]
		if co.Timeout.Duration == 0 {
			co.Timeout.Duration = DefaultTimeout
		}
		for j := range co.Checks {
			if co.Checks[j].Type == api.CheckCondition && co.Checks[j].Status == "" {
				co.Checks[j].Status = "True"
			}
		}
	}
	for i := range s.Routes {
		r := &s.Routes[i]
		if r.Protocol == "" {
			r.Protocol = api.ProtocolHTTP
		}
		if r.PathPrefix == "" {
			r.PathPrefix = "/"
		}
		if r.TLS == nil {
			tls := s.TLS != nil
			r.TLS = &tls
		}
		if r.Service.Namespace == "" {
			r.Service.Namespace = DefaultNamespace
		}
	}
	for i := range s.Tenants {
		t := &s.Tenants[i]
		if t.Namespace == "" {
			t.Namespace = t.Name
		}
		if t.NetworkPolicy == "" {
			t.NetworkPolicy = api.NetworkPolicyDefaultDeny
		}
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		if j.Namespace == "" {
			j.Namespace = DefaultNamespace
		}
		if j.Timeout.Duration == 0 {
			j.Timeout.Duration = DefaultTimeout
		}
	}
}
