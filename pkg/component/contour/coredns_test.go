package contour

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
)

// The rewrite goes into the root server block of kubeadm's Corefile, is
// replaced (not repeated) on the next run, and comes out cleanly.
func TestCorefileRewrite(t *testing.T) {
	orig, err := os.ReadFile("testdata/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	got, err := withRewrite(string(orig), "shop.localhost", envoyService())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "Corefile.rewrite.golden", []byte(got))
	again, err := withRewrite(got, "shop.localhost", envoyService())
	if err != nil || again != got {
		t.Errorf("a second run changed the Corefile again (%v):\n%s", err, again)
	}
	moved, _ := withRewrite(got, "other.localhost", envoyService())
	if strings.Contains(moved, `shop\.localhost`) || strings.Count(moved, rewriteBegin) != 1 {
		t.Errorf("a new domain should replace the old rewrite:\n%s", moved)
	}
	if back := withoutRewrite(got); back != string(orig) {
		t.Errorf("removing the rewrite did not restore the Corefile:\n%s", back)
	}
	if _, err := withRewrite("example.org:53 {\n    whoami\n}\n", "shop.localhost", envoyService()); err == nil {
		t.Error("a Corefile with no root block should be an error")
	}
}

// The ingress step's rewrite goes into the cluster's CoreDNS ConfigMap, and
// removing the step takes it out again; a cluster without CoreDNS is left
// alone.
func TestDNSRewriteInTheCluster(t *testing.T) {
	orig, err := os.ReadFile("testdata/Corefile")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: corednsConfigMap, Namespace: corednsNamespace}, Data: map[string]string{"Corefile": string(orig)}}
	kc := &kube.Client{Typed: fake.NewSimpleClientset(cm)}
	ctx := context.Background()
	if ok, err := ensureDNSRewrite(ctx, kc, "shop.localhost"); !ok || err != nil {
		t.Fatalf("ensure: %v %v", ok, err)
	}
	got, _ := kc.Typed.CoreV1().ConfigMaps(corednsNamespace).Get(ctx, corednsConfigMap, metav1.GetOptions{})
	if !strings.Contains(got.Data["Corefile"], `shop\.localhost`) {
		t.Fatalf("no rewrite:\n%s", got.Data["Corefile"])
	}
	if err := (Contour{}).Remove(ctx, kc, component.Result{DNSRewrite: "shop.localhost"}); err != nil {
		t.Fatal(err)
	}
	got, _ = kc.Typed.CoreV1().ConfigMaps(corednsNamespace).Get(ctx, corednsConfigMap, metav1.GetOptions{})
	if got.Data["Corefile"] != string(orig) {
		t.Errorf("removing the step left:\n%s", got.Data["Corefile"])
	}
	if ok, err := ensureDNSRewrite(ctx, &kube.Client{Typed: fake.NewSimpleClientset()}, "shop.localhost"); ok || err != nil {
		t.Errorf("a cluster without CoreDNS: %v %v", ok, err)
	}
}

// The rewrite as the real CoreDNS (the version the e2e node image runs)
// reads it: every name under the domain, and the domain itself, answers
// with the Envoy Service's address under the name that was asked for.
func TestIntegrationCoreDNSRewrite(t *testing.T) {
	testbed.Integration(t)
	bin := os.Getenv("KINDRED_E2E_BIN")
	if bin == "" {
		testbed.Missing(t, "KINDRED_E2E_BIN is not set (the folder testbed/e2e/binaries.sh prints)")
	}
	coredns, _ := filepath.Glob(filepath.Join(bin, "coredns-*"))
	if len(coredns) == 0 {
		testbed.Missing(t, "no coredns binary in %s", bin)
	}
	// CoreDNS binds the port for UDP and TCP; a port free for UDP may be
	// taken for TCP by the time it starts (packages run side by side), so
	// a start that finds its port taken is tried again on another.
	var port int
	var log *testbed.Output
	for attempt := 0; ; attempt++ {
		l, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		base := fmt.Sprintf(".:%d {\n    bind 127.0.0.1\n    hosts {\n        10.96.7.7 %s\n    }\n}\n", port, envoyService())
		corefile, err := withRewrite(base, "shop.localhost", envoyService())
		if err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(t.TempDir(), "Corefile")
		if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(coredns[0], "-conf", conf)
		log = &testbed.Output{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
		}
		if !strings.Contains(log.String(), "address already in use") || attempt == 4 {
			break
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, tc := range []struct {
		name string
		want string
	}{
		{"api.shop.localhost.", "10.96.7.7"},
		{"a.b.shop.localhost.", "10.96.7.7"},
		{"shop.localhost.", "10.96.7.7"},
		{"shop.localhost.example.", ""},
		{"notshop.localhost.", ""},
	} {
		var gotName, gotIP string
		var err error
		// CoreDNS may still be starting; on a loaded machine (CI runs
		// packages side by side) that took over 5 s once.
		for deadline := time.Now().Add(time.Minute); ; {
			if gotName, gotIP, err = queryA(addr, tc.name); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("query %s: %v\ncoredns log:\n%s", tc.name, err, log.String())
		}
		if gotIP != tc.want || (tc.want != "" && gotName != tc.name) {
			t.Errorf("%s: answer %q %q, want %q under the name asked for", tc.name, gotName, gotIP, tc.want)
		}
	}
}

// queryA asks addr for name's A record and returns the first answer.
func queryA(addr, name string) (string, string, error) {
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	if err != nil {
		return "", "", err
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(b); err != nil {
		return "", "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", "", err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		return "", "", err
	}
	for _, a := range m.Answers {
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			return a.Header.Name.String(), net.IP(r.A[:]).String(), nil
		}
	}
	return "", "", nil
}
