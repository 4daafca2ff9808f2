//go:build unix

package sim_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/sim"
)

// TestIntegrationWorkloads installs a CRD and a custom resource, a
// Deployment with a Service, a DaemonSet, a StatefulSet and a Job, and sees
// each become Available, Ready or Complete through the real API.
func TestIntegrationWorkloads(t *testing.T) {
	c := testbed.Sim(t, sim.WithNodes(
		sim.Node{Name: "cp", Count: 1, ControlPlane: true, Labels: map[string]string{"ingress-ready": "true"}},
		sim.Node{Name: "worker", Count: 2, Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}},
	))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", info.Mode().Perm())
	}

	nodes, err := kc.Typed.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "topology.kubernetes.io/zone=zone-a"})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("zone-a nodes: %v, %v", nodes, err)
	}

	data, err := os.ReadFile("../../testdata/sim/workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Apply(ctx, unstructuredNamespace("simtest")); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := kc.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := ready.Wait(ctx, kc, objs[:1], time.Minute, nil); err != nil {
		t.Fatalf("CRD: %v", err)
	}
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.kindred.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "simtest"},
		"spec":     map[string]any{"size": int64(3)},
	}}
	if _, err := kc.Apply(ctx, widget); err != nil {
		t.Fatalf("creating a custom resource: %v", err)
	}
	bad := widget.DeepCopy()
	bad.SetName("bad")
	_ = unstructured.SetNestedField(bad.Object, int64(0), "spec", "size")
	if _, err := kc.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), "spec.size") {
		t.Errorf("the CRD's schema did not reject size 0: %v", err)
	}

	if err := ready.Wait(ctx, kc, objs, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	// Spell out what "ready" meant for each kind.
	get := func(gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
		u, err := kc.Get(ctx, gvk, "simtest", name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if !hasCondition(get(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "web"), "Available") {
		t.Error("Deployment web is not Available")
	}
	ds := get(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "agent")
	desired, _, _ := unstructured.NestedInt64(ds.Object, "status", "desiredNumberScheduled")
	readyN, _, _ := unstructured.NestedInt64(ds.Object, "status", "numberReady")
	if desired != 3 || readyN != 3 {
		t.Errorf("DaemonSet agent: %d of %d ready, want 3 of 3", readyN, desired)
	}
	sts := get(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, "db")
	if n, _, _ := unstructured.NestedInt64(sts.Object, "status", "readyReplicas"); n != 2 {
		t.Errorf("StatefulSet db: %d ready replicas, want 2", n)
	}
	if !hasCondition(get(schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, "migrate"), "Complete") {
		t.Error("Job migrate is not Complete")
	}
	// The Service has ready endpoints: the pods got addresses.
	slices, err := kc.Typed.DiscoveryV1().EndpointSlices("simtest").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
	if err != nil {
		t.Fatal(err)
	}
	readyEndpoints := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				readyEndpoints++
			}
		}
	}
	if readyEndpoints != 3 {
		t.Errorf("Service web has %d ready endpoints, want 3", readyEndpoints)
	}
}

// TestIntegrationReadyDelay checks that a rule delays readiness for the pods
// it matches and only for them.
func TestIntegrationReadyDelay(t *testing.T) {
	c := testbed.Sim(t, sim.WithReadyDelay(0, sim.ReadyDelay{Label: "speed=slow", Delay: 3 * time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name, speed string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": "default", "labels": map[string]any{"speed": speed}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "example.test/c:1"}}},
		}}
	}
	fast, slow := pod("fast", "fast"), pod("slow", "slow")
	for _, p := range []*unstructured.Unstructured{fast, slow} {
		if _, err := kc.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ready.Wait(ctx, kc, []*unstructured.Unstructured{fast}, 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	sts, err := ready.Poll(ctx, kc, []*unstructured.Unstructured{slow})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Ready {
		t.Error("the slow pod was Ready as soon as the fast one; its delay rule did not apply")
	}
	if err := ready.Wait(ctx, kc, []*unstructured.Unstructured{slow}, 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
}

// TestReapLeftovers plants the remains of a dead test run, a process group
// whose owner is gone, and checks that Reap ends it and removes its folder.
func TestReapLeftovers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "sim-dead")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A process in its own group stands in for an orphaned etcd.
	orphan := exec.Command("sleep", "300")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = orphan.Wait(); close(done) }()
	// Its owner: a process that has exited.
	owner := exec.Command("true")
	if err := owner.Run(); err != nil {
		t.Fatal(err)
	}
	line := strconv.Itoa(owner.Process.Pid) + " 12345 " + strconv.Itoa(orphan.Process.Pid) + " 0\n"
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := sim.Reap(root)
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1, nil", n, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the orphaned process survived Reap")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the leftover folder is still there: %v", err)
	}
}

// TestReapSparesLiveOwners checks that a cluster whose owner runs is kept.
func TestReapSparesLiveOwners(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "sim-live")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	line := strconv.Itoa(os.Getpid()) + " " + fields[19] + " 999999 0\n"
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := sim.Reap(root); err != nil || n != 0 {
		t.Fatalf("Reap = %d, %v; want 0, nil", n, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a live owner's folder was removed: %v", err)
	}
}

func hasCondition(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

func unstructuredNamespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
}

// TestIntegrationKwokRespawned: kwok, which plays every node's kubelet,
// is started again when it dies on its own (it has panicked under load),
// and the nodes stay Ready.
func TestIntegrationKwokRespawned(t *testing.T) {
	c := testbed.Sim(t)
	kwokPID := func() int {
		out, _ := exec.Command("pgrep", "-f", filepath.Join(c.Dir, "stages.yaml")).Output()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return pid
	}
	pid := kwokPID()
	if pid == 0 {
		t.Fatal("no kwok process found")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for now := kwokPID(); now == 0 || now == pid; now = kwokPID() {
		if time.Now().After(deadline) {
			t.Fatal("kwok was not started again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	node, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(node.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(c.Dir, "logs", "kwok.log"))
	if !strings.Contains(string(log), "starting it again") {
		t.Errorf("kwok's log does not say it was started again")
	}
}

// TestIntegrationEtcdNeedsACertificate: the simulated cluster's etcd
// serves only TLS on loopback and asks for a client certificate, so
// another local user cannot read the cluster's Secrets from it.
func TestIntegrationEtcdNeedsACertificate(t *testing.T) {
	c := testbed.Sim(t)
	out, err := exec.Command("pgrep", "-a", "-f", filepath.Join(c.Dir, "etcd")+" ").Output()
	if err != nil {
		out, _ = exec.Command("pgrep", "-a", "etcd").Output()
	}
	var url string
	for _, f := range strings.Fields(string(out)) {
		if u, ok := strings.CutPrefix(f, "--listen-client-urls="); ok {
			url = u
		}
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("etcd listens on %q, want https on loopback (pgrep: %s)", url, out)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get(strings.Replace(url, "https://", "http://", 1) + "/v3/kv/range"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("etcd answered plain http")
		}
	}
	ca := x509.NewCertPool()
	pemCA, err := os.ReadFile(filepath.Join(c.Dir, "ca.crt"))
	if err != nil || !ca.AppendCertsFromPEM(pemCA) {
		t.Fatalf("the cluster's CA: %v", err)
	}
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca}}}
	resp, err := noCert.Post(url+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"L3JlZ2lzdHJ5"}`))
	if err == nil {
		resp.Body.Close()
		t.Errorf("etcd answered a client without a certificate: %s", resp.Status)
	}
}
