// Package kind is kindred's adapter to sigs.k8s.io/kind, and the one package
// that imports it: it renders a stack's cluster as a kind configuration and
// creates, reuses, starts and deletes kind clusters through kind's library.
package kind

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/stack"
)

// Version is the kind release whose library and node images kindred uses.
const Version = "v0.33.0"

// nodeImages are the node images published with kind v0.33.0, pinned by
// digest, by Kubernetes minor (from its release notes).
var nodeImages = map[string]string{
	"v1.37": "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
	"v1.36": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
	"v1.35": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
	"v1.34": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
}

// NodeImage returns the pinned node image for a Kubernetes version. kind
// publishes one patch per minor, so the minor decides; production's patch
// seldom matches kind's exactly.
func NodeImage(version string) (string, error) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) >= 2 {
		if img, ok := nodeImages[parts[0]+"."+parts[1]]; ok {
			return img, nil
		}
	}
	var have []string
	for minor, img := range nodeImages {
		tag, _, _ := strings.Cut(strings.TrimPrefix(img, "kindest/node:"), "@")
		have = append(have, fmt.Sprintf("%s (%s)", minor, tag))
	}
	sort.Strings(have)
	return "", fmt.Errorf("kind %s has no node image for Kubernetes %s; it has %s", Version, version, strings.Join(have, ", "))
}

// Options change how a stack renders.
type Options struct {
	// NodeImage overrides the pinned image, for images built locally.
	NodeImage string
}

// Containerd is told to read per-registry hosts.toml files from here; the
// local registry and mirrors are wired through it.
const CertsDir = "/etc/containerd/certs.d"

// dataMount is where a node's persistent volumes live: kind's
// local-path-provisioner keeps them under this folder.
const dataMount = "/var/local-path-provisioner"

// Render turns the stack's cluster into a kind configuration.
func Render(st *stack.Stack, o Options) (*v1alpha4.Cluster, error) {
	c := &st.Cluster
	image := o.NodeImage
	if image == "" {
		var err error
		if image, err = NodeImage(c.KubernetesVersion); err != nil {
			return nil, err
		}
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     c.Name,
		Networking: v1alpha4.Networking{
			APIServerAddress:  c.Networking.APIServerAddress,
			APIServerPort:     int32(c.Networking.APIServerPort),
			PodSubnet:         c.Networking.PodSubnet,
			ServiceSubnet:     c.Networking.ServiceSubnet,
			DisableDefaultCNI: c.Networking.CNI != "" && c.Networking.CNI != api.CNIKindnet, // another CNI is a step of the stack
		},
	}
	if c.Registry != nil {
		cfg.ContainerdConfigPatches = []string{fmt.Sprintf(
			"[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = %q\n", CertsDir)}
	}
	count := map[string]int{} // nodes of each role so far
	for _, g := range c.Nodes {
		for i := range g.Count {
			n := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: image, Labels: map[string]string{}}
			if g.Role == api.RoleWorker {
				n.Role = v1alpha4.WorkerRole
			}
			count[g.Role]++
			// The node's own folder of the data folder: each node, control
			// planes too, has one of its own.
			name := api.NodeName(c.Name, g.Role, count[g.Role])
			for k, v := range g.Labels {
				n.Labels[k] = v
			}
			if g.Ingress && i == 0 {
				n.Labels[api.IngressReadyLabel] = "true"
				if st.Ingress != nil {
					n.ExtraPortMappings = append(n.ExtraPortMappings,
						v1alpha4.PortMapping{ContainerPort: 80, HostPort: int32(st.Ingress.HostPorts.HTTP), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP},
						v1alpha4.PortMapping{ContainerPort: 443, HostPort: int32(st.Ingress.HostPorts.HTTPS), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP})
				}
				for _, m := range c.PortMappings {
					n.ExtraPortMappings = append(n.ExtraPortMappings, v1alpha4.PortMapping{
						ContainerPort: int32(m.ContainerPort), HostPort: int32(m.HostPort), ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocol(m.Protocol)})
				}
			}
			if len(n.Labels) == 0 {
				n.Labels = nil
			}
			if c.DataDir != "" {
				abs, err := filepath.Abs(c.DataDir)
				if err != nil {
					return nil, err
				}
				n.ExtraMounts = append(n.ExtraMounts, v1alpha4.Mount{HostPath: filepath.Join(abs, name), ContainerPath: dataMount})
			}
			if len(g.Taints) > 0 {
				n.KubeadmConfigPatches = append(n.KubeadmConfigPatches, taintPatch(n.Role, g.Taints))
			}
			cfg.Nodes = append(cfg.Nodes, n)
		}
	}
	if len(c.KindConfigPatch) > 0 {
		patched, err := mergePatch(cfg, c.KindConfigPatch)
		if err != nil {
			return nil, fmt.Errorf("applying cluster.kindConfigPatch: %w", err)
		}
		cfg = patched
	}
	return cfg, nil
}

// taintPatch registers a node with taints through kubeadm.
func taintPatch(role v1alpha4.NodeRole, taints []api.Taint) string {
	kind := "JoinConfiguration"
	if role == v1alpha4.ControlPlaneRole {
		kind = "InitConfiguration"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kind: %s\nnodeRegistration:\n  taints:\n", kind)
	for _, t := range taints {
		fmt.Fprintf(&b, "  - key: %q\n    value: %q\n    effect: %q\n", t.Key, t.Value, t.Effect)
	}
	return b.String()
}

// mergePatch applies an RFC 7386 JSON merge patch to cfg.
func mergePatch(cfg *v1alpha4.Cluster, patch map[string]any) (*v1alpha4.Cluster, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	merged := merge(doc, patch)
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	var res v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(out, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func merge(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = merge(t[k], v)
	}
	return t
}

// Marshal writes cfg as YAML, as `kind create cluster --config` reads it.
func Marshal(cfg *v1alpha4.Cluster) ([]byte, error) { return yaml.Marshal(cfg) }

// Versions are the Kubernetes versions with a pinned node image, newest
// first.
func Versions() []string {
	var out []string
	for _, img := range nodeImages {
		tag, _, _ := strings.Cut(strings.TrimPrefix(img, "kindest/node:"), "@")
		out = append(out, tag)
	}
	sort.Slice(out, func(i, j int) bool { return semverLess(out[j], out[i]) })
	return out
}

// semverLess compares vMAJOR.MINOR.PATCH versions numerically.
func semverLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// Config is a rendered kind cluster configuration.
type Config = v1alpha4.Cluster
