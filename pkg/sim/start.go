package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// Start starts a simulated cluster and returns when it is ready for pods:
// the API server answers /readyz, the default ServiceAccount exists, and
// every node is Ready. It runs the start actions in order, as kind runs its
// create actions; on error, everything they started is stopped.
func Start(ctx context.Context, opts ...Option) (c *Cluster, err error) {
	if goruntime.GOOS == "windows" {
		return nil, ErrUnsupportedOS
	}
	o := &options{name: "sim", root: DefaultRoot(), startGrace: 90 * time.Second}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if len(o.nodes) == 0 {
		o.nodes = []Node{{Name: o.name + "-control-plane", Count: 1, ControlPlane: true, Labels: map[string]string{api.IngressReadyLabel: "true"}}}
	}
	bins, err := ensureBinaries(ctx, o.binDir, logSay(o.log))
	if err != nil {
		return nil, err
	}
	if n, err := Reap(o.root); err != nil {
		o.log.Warn("reaping leftover simulated clusters", "err", err)
	} else if n > 0 {
		o.log.Info("reaped leftover simulated clusters", "count", n)
	}
	if err := os.MkdirAll(o.root, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.root, o.name+"-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Name: o.name, Dir: dir, group: &group{dir: dir, keep: o.keep}, log: o.log}
	defer func() {
		if err != nil {
			if serr := c.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
			c = nil
		}
	}()
	s := &starting{c: c, o: o, bins: bins, started: time.Now()}
	for _, a := range startActions {
		o.log.Debug("sim: " + a.name)
		if err := a.run(ctx, s); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startAction is one named step of starting a cluster.
type startAction struct {
	name string
	run  func(ctx context.Context, s *starting) error
}

// starting is what the start actions share.
type starting struct {
	c       *Cluster
	o       *options
	bins    binaries
	pki     *pki
	started time.Time
	// The ports of etcd (client, peer, metrics), the API server, the
	// controller manager, the scheduler and kwok.
	etcdClient, etcdPeer, etcdMetrics, api, kcm, sched, kwok int
	// The controller manager's and the scheduler's kubeconfigs.
	kcmConfig, schedConfig string
	cs                     kubernetes.Interface
}

// startActions start a cluster, in order.
var startActions = []startAction{
	{"prepare the cluster's folder", prepareFolder},
	{"write certificates and kubeconfigs", writeCredentials},
	{"start etcd", startEtcd},
	{"start the API server", startAPIServer},
	{"start the controller manager", startControllerManager},
	{"start the scheduler", startScheduler},
	{"start kwok", startKwok},
	{"register the nodes", registerTheNodes},
	{"create the default StorageClass", createStorageClass},
	{"wait until the cluster is ready for pods", waitReadyForPods},
}

func prepareFolder(_ context.Context, s *starting) error {
	for _, sub := range []string{"logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(s.c.Dir, sub), 0o700); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.c.Dir, "bindir"), []byte(s.bins.dir), 0o600)
}

// writeCredentials makes the cluster's PKI and kubeconfigs: admin for
// users and kwok, and one per component.
func writeCredentials(_ context.Context, s *starting) error {
	c, dir := s.c, s.c.Dir
	p, err := newPKI(dir)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	s.pki = p
	ports, err := freePorts(7)
	if err != nil {
		return err
	}
	s.etcdClient, s.etcdPeer, s.etcdMetrics, s.api, s.kcm, s.sched, s.kwok = ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", s.api)
	kubeconfig := func(file, user string, groups ...string) (string, error) {
		cert, err := p.client(user, groups...)
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, file)
		return path, writeKubeconfig(path, s.o.name, c.Server, p.CACert, cert)
	}
	if c.Kubeconfig, err = kubeconfig("kubeconfig", "kindred-admin", "system:masters"); err != nil {
		return err
	}
	if s.kcmConfig, err = kubeconfig("controller-manager.kubeconfig", "system:kube-controller-manager"); err != nil {
		return err
	}
	if s.schedConfig, err = kubeconfig("scheduler.kubeconfig", "system:kube-scheduler"); err != nil {
		return err
	}
	if c.rest, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	c.rest.QPS, c.rest.Burst = 200, 400
	return nil
}

func (s *starting) etcdURL() string { return fmt.Sprintf("https://127.0.0.1:%d", s.etcdClient) }

// startEtcd runs etcd on loopback over TLS, asking every client (and
// peer) for a certificate of the cluster's CA: another local user cannot
// read the cluster's Secrets from it.
func startEtcd(_ context.Context, s *starting) error {
	s.started = time.Now()
	p := s.pki
	peerURL := fmt.Sprintf("https://127.0.0.1:%d", s.etcdPeer)
	return s.c.group.start("etcd", s.bins.path("etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(s.c.Dir, "etcd"),
		"--listen-client-urls="+s.etcdURL(), "--advertise-client-urls="+s.etcdURL(),
		"--cert-file="+p.EtcdCert, "--key-file="+p.EtcdKey, "--client-cert-auth=true", "--trusted-ca-file="+p.CACert,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--peer-cert-file="+p.EtcdCert, "--peer-key-file="+p.EtcdKey, "--peer-client-cert-auth=true", "--peer-trusted-ca-file="+p.CACert,
		"--initial-cluster=default="+peerURL,
		fmt.Sprintf("--listen-metrics-urls=http://127.0.0.1:%d", s.etcdMetrics),
		"--unsafe-no-fsync=true", "--log-level=warn",
	)
}

// auditPolicy logs who made each request and how, once it is answered,
// leaving out the simulated cluster's own controllers and nodes.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
  - level: None
    userGroups: ["system:serviceaccounts", "system:nodes"]
  - level: Metadata
`

func startAPIServer(ctx context.Context, s *starting) error {
	p := s.pki
	egressFile := filepath.Join(s.c.Dir, "egress-selector.yaml")
	if err := os.WriteFile(egressFile, []byte(egressConfig(egressSocket(s.c.Dir))), 0o600); err != nil {
		return err
	}
	var audit []string
	if s.o.audit {
		policy := filepath.Join(s.c.Dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return err
		}
		s.c.AuditLog = filepath.Join(s.c.Dir, "audit.log")
		audit = []string{"--audit-policy-file=" + policy, "--audit-log-path=" + s.c.AuditLog,
			"--audit-log-format=json", "--audit-log-mode=blocking", "--audit-log-maxbackup=0", "--audit-log-maxsize=0"}
	}
	if err := s.c.group.start("kube-apiserver", s.bins.path("kube-apiserver"), append([]string{
		"--etcd-servers=" + s.etcdURL(),
		"--etcd-cafile=" + p.CACert, "--etcd-certfile=" + p.EtcdClient, "--etcd-keyfile=" + p.EtcdCKey,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(s.api),
		"--tls-cert-file=" + p.ServerCert, "--tls-private-key-file=" + p.ServerKey,
		"--client-ca-file=" + p.CACert,
		"--service-account-key-file=" + p.SAPub, "--service-account-signing-key-file=" + p.SAKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + ServiceSubnet,
		"--authorization-mode=Node,RBAC", "--allow-privileged=true",
		"--enable-aggregator-routing=true",
		"--egress-selector-config-file=" + egressFile,
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + filepath.Join(s.c.Dir, "apiserver-certs"),
		"--profiling=false",
	}, audit...)...); err != nil {
		return err
	}
	if err := s.c.waitReadyz(ctx, s.o.startGrace); err != nil {
		return err
	}
	s.c.ReadyzAfter = time.Since(s.started)
	s.o.log.Info("simulated API server ready", "after", s.c.ReadyzAfter)
	return nil
}

func startControllerManager(_ context.Context, s *starting) error {
	p := s.pki
	return s.c.group.start("kube-controller-manager", s.bins.path("kube-controller-manager"),
		"--kubeconfig="+s.kcmConfig,
		"--authentication-kubeconfig="+s.kcmConfig, "--authorization-kubeconfig="+s.kcmConfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(s.kcm),
		"--leader-elect=false",
		"--service-account-private-key-file="+p.SAKey,
		"--root-ca-file="+p.CACert,
		"--cluster-signing-cert-file="+p.CACert, "--cluster-signing-key-file="+p.CAKey,
		"--use-service-account-credentials=true",
		"--controllers=*",
		"--cert-dir="+filepath.Join(s.c.Dir, "kcm-certs"),
	)
}

func startScheduler(_ context.Context, s *starting) error {
	return s.c.group.start("kube-scheduler", s.bins.path("kube-scheduler"),
		"--kubeconfig="+s.schedConfig,
		"--authentication-kubeconfig="+s.schedConfig, "--authorization-kubeconfig="+s.schedConfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(s.sched),
		"--leader-elect=false",
	)
}

func startKwok(_ context.Context, s *starting) error {
	stagesFile := filepath.Join(s.c.Dir, "stages.yaml")
	if err := os.WriteFile(stagesFile, []byte(stages(s.bins.Kubernetes, s.o.delay, s.o.rules)), 0o600); err != nil {
		return err
	}
	return s.c.group.start("kwok", s.bins.path("kwok"),
		"--kubeconfig="+s.c.Kubeconfig,
		"--config="+stagesFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		"--node-lease-duration-seconds=40",
		fmt.Sprintf("--server-address=127.0.0.1:%d", s.kwok),
		"--cidr=10.0.0.0/24",
		"--node-ip=127.0.0.1",
	)
}

func registerTheNodes(ctx context.Context, s *starting) error {
	cs, err := kubernetes.NewForConfig(s.c.rest)
	if err != nil {
		return err
	}
	s.cs = cs
	if v, err := cs.Discovery().ServerVersion(); err == nil {
		s.c.Version = v.GitVersion
	}
	return registerNodes(ctx, cs, s.o.nodes)
}

func waitReadyForPods(ctx context.Context, s *starting) error {
	if err := waitFor(ctx, s.o.startGrace, "the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := s.cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return s.c.withLogs(err)
	}
	if err := waitFor(ctx, s.o.startGrace, "nodes Ready", func(ctx context.Context) (bool, error) {
		return nodesReady(ctx, s.cs)
	}); err != nil {
		return s.c.withLogs(err)
	}
	s.c.ReadyAfter = time.Since(s.started)
	s.o.log.Info("simulated cluster ready for pods", "after", s.c.ReadyAfter, "dir", s.c.Dir)
	return nil
}
