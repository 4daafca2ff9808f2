// Package v1alpha1 holds the kindred stack schema: the Go types behind a stack
// file with apiVersion kindred.dev/v1alpha1 and kind Stack.
//
// The types carry no behaviour and pull in no Kubernetes libraries, so users
// can import them to build or inspect stacks in their own programs. Loading,
// defaulting and validation live in package stack.
package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"
)

// APIVersion and Kind identify a stack file.
const (
	APIVersion = "kindred.dev/v1alpha1"
	Kind       = "Stack"
)

// Stack is one declarative environment: a cluster and everything installed
// into it.
type Stack struct {
	APIVersion string   `json:"apiVersion"` // Always kindred.dev/v1alpha1.
	Kind       string   `json:"kind"`       // Always Stack.
	Metadata   Metadata `json:"metadata"`

	// Include lists other stack files merged before this one, in order; this
	// file wins over what it includes. Paths are relative to this file.
	Include []string `json:"include,omitempty"`

	// ChartMirror redirects every chart reference, from the catalogue or the
	// stack, to a mirror: a local folder, an oci:// registry or an https
	// repository. KINDRED_CHART_MIRROR overrides it.
	ChartMirror string `json:"chartMirror,omitempty"`

	Cluster    Cluster     `json:"cluster,omitzero"`
	Ingress    *Ingress    `json:"ingress,omitempty"`
	TLS        *TLS        `json:"tls,omitempty"`
	Databases  []Database  `json:"databases,omitempty"`
	Components []Component `json:"components,omitempty"`
	Routes     []Route     `json:"routes,omitempty"`
	Tenants    []Tenant    `json:"tenants,omitempty"`
	Jobs       []Job       `json:"jobs,omitempty"`
}

// Metadata names a stack.
type Metadata struct {
	// Name is a DNS label. It names the cluster unless cluster.name is set,
	// and the default ingress domain is <name>.localhost.
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"` // Labels kindred puts on what it creates for the stack.
}

// Provider names where a stack's cluster comes from.
const (
	ProviderKind     = "kind"     // a kind cluster in containers (the default)
	ProviderSim      = "sim"      // the simulated cluster: a real API server with kwok nodes
	ProviderExisting = "existing" // any cluster reachable through a kubeconfig
)

// Cluster describes the cluster, shaped like production.
type Cluster struct {
	// Name of the cluster; defaults to metadata.name.
	Name string `json:"name,omitempty"`
	// Provider is kind (default), sim or existing.
	Provider string `json:"provider,omitempty"`
	// KubernetesVersion is the version to mirror, like v1.35.4.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Nodes are groups of nodes; defaults to a single control-plane node.
	Nodes      []NodeGroup `json:"nodes,omitempty"`
	Networking Networking  `json:"networking,omitzero"`
	// PortMappings are extra host ports forwarded to the ingress node.
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	// Registry is a local image registry and pull-through mirrors.
	Registry *Registry `json:"registry,omitempty"`
	// DataDir is a host folder mounted into every node for persistent
	// volumes, so database data survives a cluster re-create.
	DataDir string `json:"dataDir,omitempty"`
	// KindConfigPatch is a JSON merge patch (RFC 7386) applied last to the
	// generated kind configuration: the escape hatch.
	KindConfigPatch map[string]any `json:"kindConfigPatch,omitempty"`
	// Context is the kubeconfig context for the existing provider.
	Context string `json:"context,omitempty"`
}

// Node roles.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// NodeGroup is Count identical nodes.
type NodeGroup struct {
	// Role is control-plane or worker.
	Role string `json:"role"`
	// Count of nodes in the group; defaults to 1.
	Count int `json:"count,omitempty"`
	// Labels for every node, such as topology.kubernetes.io/zone.
	Labels map[string]string `json:"labels,omitempty"`
	Taints []Taint           `json:"taints,omitempty"`
	// Ingress marks the group whose first node takes the ingress host ports
	// and the ingress-ready=true label. Defaults to the first group.
	Ingress bool `json:"ingress,omitempty"`
}

// Taint is a node taint.
type Taint struct {
	Key    string `json:"key"`             // The taint's key, as on a node.
	Value  string `json:"value,omitempty"` // The taint's value; may be empty.
	Effect string `json:"effect"`          // NoSchedule, PreferNoSchedule or NoExecute
}

// CNIs kindred installs.
const (
	CNICalico  = "calico"
	CNIKindnet = "kindnet"
)

// Networking shapes the cluster network.
type Networking struct {
	// CNI is calico or kindnet (the default).
	CNI           string `json:"cni,omitempty"`
	PodSubnet     string `json:"podSubnet,omitempty"`     // The pods' CIDR; kind's default, or Calico's 192.168.0.0/16 with cni: calico.
	ServiceSubnet string `json:"serviceSubnet,omitempty"` // The Services' CIDR; defaults to 10.96.0.0/16.
	// APIServerAddress is the host address the API server binds to;
	// defaults to 127.0.0.1.
	APIServerAddress string `json:"apiServerAddress,omitempty"`
	// APIServerPort is the host port of the API server; 0 picks a free one.
	APIServerPort int `json:"apiServerPort,omitempty"`
}

// PortMapping forwards a host port to a node port.
type PortMapping struct {
	ContainerPort int    `json:"containerPort"`      // The port on the node (a NodePort, or a hostPort).
	HostPort      int    `json:"hostPort"`           // The port on this machine, bound to 127.0.0.1.
	Protocol      string `json:"protocol,omitempty"` // TCP (default), UDP or SCTP
}

// Registry is a local registry bound to 127.0.0.1 and pull-through caches.
type Registry struct {
	// HostPort of the local registry; defaults to 5001 (5000 clashes with
	// AirPlay on macOS).
	HostPort int `json:"hostPort,omitempty"`
	// Mirrors are upstream registries, like docker.io, that get a shared
	// pull-through cache.
	Mirrors []string `json:"mirrors,omitempty"`
}

// Ingress is the ingress controller and its domain.
type Ingress struct {
	// Controller is contour, the only one for now.
	Controller string `json:"controller,omitempty"`
	// Domain for routes; defaults to <stack>.localhost, which resolves to
	// loopback without DNS.
	Domain    string    `json:"domain,omitempty"`
	HostPorts HostPorts `json:"hostPorts,omitzero"`
	// PublicDomain allows a domain outside the reserved local names
	// (.localhost, .test, .internal, .example). Inside the cluster such a
	// domain's names then lead to the ingress, not to the real site.
	PublicDomain bool `json:"publicDomain,omitempty"`
	// ClusterDNS points *.domain at the ingress proxy for every pod of the
	// cluster, by a rewrite in CoreDNS. Defaults to true on clusters
	// kindred creates, false on existing ones (a shared cluster's DNS is
	// not kindred's to change).
	ClusterDNS *bool `json:"clusterDNS,omitempty"`
}

// HostPorts are the host ports of the ingress, bound to 127.0.0.1.
type HostPorts struct {
	HTTP  int `json:"http,omitempty"`  // defaults to 80
	HTTPS int `json:"https,omitempty"` // defaults to 443
}

// Issuers the TLS section offers.
const (
	IssuerLocalCA    = "local-ca"
	IssuerSelfSigned = "self-signed"
)

// TLS installs cert-manager and an issuer, and a wildcard certificate for the
// ingress domain.
type TLS struct {
	// Issuer is local-ca (default; one CA per machine that the host can
	// trust) or self-signed.
	Issuer string `json:"issuer,omitempty"`
	// LocalCAOnExisting lets local-ca run on a cluster kindred did not
	// create. The cluster then holds an intermediate CA signed by the root
	// this machine may trust (limited to the stack's local names, 90 days),
	// and anyone who may read Secrets in cert-manager's namespace there can
	// issue certificates this machine trusts for those names.
	LocalCAOnExisting bool `json:"localCAOnExisting,omitempty"`
}

// Database engines.
const (
	EnginePostgres = "postgres"
	EngineMySQL    = "mysql"
	EngineRedis    = "redis"
)

// Database is a database server with its credentials generated by kindred.
type Database struct {
	Name string `json:"name"` // Names the database, its Service and its StatefulSet (a DNS label).
	// Engine is postgres, mysql or redis.
	Engine string `json:"engine"`
	// Version is the engine's major (or major.minor) version.
	Version   string `json:"version,omitempty"`
	Namespace string `json:"namespace,omitempty"` // Where it runs; defaults to default.
	// Init scripts run once when the database is created. Seed scripts run
	// once per content: each is recorded in the database when it has run,
	// so a changed script runs again and kept data is not seeded twice.
	// Both are SQL for Postgres and MySQL, and redis-cli commands for Redis;
	// paths are relative to the stack file.
	Init        []string     `json:"init,omitempty"`
	Seed        []string     `json:"seed,omitempty"` // Seed scripts; see init.
	Persistence *Persistence `json:"persistence,omitempty"`
	Needs       []string     `json:"needs,omitempty"` // Steps that must be ready before this one.
	// HostPort fixes the port on 127.0.0.1 the database is reached on
	// from this machine: kindred forward listens there, and env and creds
	// put it in their URLs. Without it, one is chosen once (the engine's
	// usual port when free) and kept with the cluster.
	HostPort int `json:"hostPort,omitempty"`
}

// Persistence keeps a database's data on a volume.
type Persistence struct {
	Enabled bool   `json:"enabled"`        // Keeps the data in a volume (on kind, in cluster.dataDir when set), not only in the pod.
	Size    string `json:"size,omitempty"` // a quantity, like 1Gi
}

// Component is something to install: a catalogue entry, a helm chart, a
// kustomize folder or manifest files. Exactly one source is set.
type Component struct {
	Name string `json:"name"` // Names the step and, for a chart, its release (a DNS label).
	// Use names a catalogue entry, like prometheus.
	Use       string   `json:"use,omitempty"`
	Chart     *Chart   `json:"chart,omitempty"`
	Kustomize string   `json:"kustomize,omitempty"` // A kustomize folder, relative to the stack file.
	Manifests []string `json:"manifests,omitempty"` // Manifest files (relative to the stack file) or https URLs, optionally pinned as URL#sha256:HEX.

	Namespace   string         `json:"namespace,omitempty"`   // Where its objects go; defaults to the catalogue entry's or default.
	Values      map[string]any `json:"values,omitempty"`      // Chart values, over the catalogue entry's and the values files (as helm -f then --set).
	ValuesFiles []string       `json:"valuesFiles,omitempty"` // Values files, relative to the stack file, applied before values.
	Needs       []string       `json:"needs,omitempty"`       // Steps that must be ready before this one.
	// Enabled defaults to true.
	Enabled *bool    `json:"enabled,omitempty"`
	Timeout Duration `json:"timeout,omitzero"`
	// Checks are extra readiness checks, run after the component's own.
	Checks []Check `json:"checks,omitempty"`
	// Provides names services the component creates, for routes.
	Provides []string `json:"provides,omitempty"`
}

// IsEnabled reports whether the component is to be installed.
func (c Component) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Chart is a helm chart: Repo plus Name, an OCI reference, or a local Path.
type Chart struct {
	// Repo is an https repository URL (with index.yaml).
	Repo string `json:"repo,omitempty"`
	// Name of the chart in Repo.
	Name string `json:"name,omitempty"`
	// OCI is a reference like oci://ghcr.io/org/charts/app.
	OCI string `json:"oci,omitempty"`
	// Path is a local chart folder or .tgz, relative to the stack file.
	Path string `json:"path,omitempty"`
	// Version is a version or constraint; required for Repo and OCI.
	Version string `json:"version,omitempty"`
}

// Check kinds.
const (
	CheckCondition  = "condition"  // an object's status condition
	CheckCRD        = "crd"        // a CRD is Established
	CheckAPIService = "apiService" // an APIService is Available
	CheckWebhook    = "webhook"    // a server-side dry-run create passes a webhook
	CheckRollout    = "rollout"    // a workload is fully rolled out
)

// Check is a readiness check.
type Check struct {
	// Type is condition, crd, apiService, webhook or rollout.
	Type       string `json:"type"`
	APIVersion string `json:"apiVersion,omitempty"` // The object's API version.
	Kind       string `json:"kind,omitempty"`       // The object's kind.
	Name       string `json:"name,omitempty"`       // The object's name.
	Namespace  string `json:"namespace,omitempty"`  // The object's namespace; empty for cluster-scoped objects.
	// Condition and Status for type condition; Status defaults to True.
	Condition string `json:"condition,omitempty"`
	Status    string `json:"status,omitempty"` // The condition's status to wait for (True, False or Unknown); defaults to True.
	// Object is created with a server-side dry run for type webhook.
	Object map[string]any `json:"object,omitempty"`
}

// Route protocols.
const (
	ProtocolHTTP = "http"
	ProtocolH2C  = "h2c"
	ProtocolGRPC = "grpc"
)

// Route exposes a service on a host name through the ingress.
type Route struct {
	// Host is a full host name, usually under the ingress domain.
	Host    string     `json:"host"`
	Service ServiceRef `json:"service"`
	// Component (or database) that provides the service; defaults to the
	// one named like the service.
	Component string `json:"component,omitempty"`
	// Protocol to the upstream: http (default), h2c or grpc.
	Protocol string `json:"protocol,omitempty"`
	// PathPrefix defaults to /.
	PathPrefix string `json:"pathPrefix,omitempty"`
	// TLS serves the route over https; defaults to true when tls is set.
	TLS         *bool        `json:"tls,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	Timeout     Duration     `json:"timeout,omitzero"`
	Retries     int          `json:"retries,omitempty"` // How many times Envoy retries a failed request.
}

// ServiceRef names a Service and port.
type ServiceRef struct {
	Name      string `json:"name"`                // The Service's name.
	Namespace string `json:"namespace,omitempty"` // The Service's namespace; defaults to the component's.
	Port      int    `json:"port"`                // The Service's port.
}

// HealthCheck is an active health check run by the ingress proxy.
type HealthCheck struct {
	Path     string   `json:"path"` // The HTTP path Envoy checks the upstream on.
	Interval Duration `json:"interval,omitzero"`
	Timeout  Duration `json:"timeout,omitzero"`
}

// Network policies for tenants.
const (
	NetworkPolicyDefaultDeny = "default-deny"
	NetworkPolicyNone        = "none"
)

// Tenant is a namespace for a team with RBAC, a network policy and a quota.
type Tenant struct {
	Name string `json:"name"` // Names the tenant and, by default, its namespace.
	// Namespace defaults to Name.
	Namespace string `json:"namespace,omitempty"`
	// Admins and Viewers are subjects: user:NAME, group:NAME or
	// serviceaccount:NAMESPACE/NAME.
	Admins  []string `json:"admins,omitempty"`
	Viewers []string `json:"viewers,omitempty"` // Subjects given view in the namespace; see admins.
	// NetworkPolicy is default-deny (the default) or none.
	NetworkPolicy string `json:"networkPolicy,omitempty"`
	Quota         *Quota `json:"quota,omitempty"`
}

// Quota bounds a tenant's resources. Values are Kubernetes quantities.
type Quota struct {
	CPU    string `json:"cpu,omitempty"`    // CPU limit of the namespace, a quantity like 4.
	Memory string `json:"memory,omitempty"` // Memory limit of the namespace, a quantity like 8Gi.
	Pods   int    `json:"pods,omitempty"`   // How many pods the namespace may run.
}

// Job runs a container once after its needs are ready, or on a Schedule.
type Job struct {
	Name      string            `json:"name"`                // Names the Job (a DNS label).
	Namespace string            `json:"namespace,omitempty"` // Where it runs; defaults to default.
	Image     string            `json:"image"`               // The container image to run.
	Command   []string          `json:"command,omitempty"`   // Replaces the image's entrypoint.
	Args      []string          `json:"args,omitempty"`      // Arguments to the command (or the image's entrypoint).
	Env       map[string]string `json:"env,omitempty"`       // Environment variables of the container.
	Needs     []string          `json:"needs,omitempty"`     // Steps that must be ready before the job runs.
	// Schedule, in cron syntax, makes the job a CronJob.
	Schedule     string   `json:"schedule,omitempty"`
	BackoffLimit int      `json:"backoffLimit,omitempty"` // Retries before the job counts as failed; defaults to 0.
	Timeout      Duration `json:"timeout,omitzero"`
}

// Duration is a time.Duration written as a string such as "90s" or "5m".
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"90s\" or \"5m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a string like \"90s\" or \"5m\"", s)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	d.Duration = v
	return nil
}

// IsZero reports whether the duration is unset, for omitempty.
func (d Duration) IsZero() bool { return d.Duration == 0 }
