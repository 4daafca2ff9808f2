package mailpit_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/testbed"
)

const stackYAML = `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: mailpit-test}
cluster:
  name: mailpit-test
components:
  - {name: mail, use: mailpit}
  - name: app
    manifests: [app.yaml]
    needs: [mail]
`

const appYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: app-mail, namespace: default}
data: {SMTP_ADDR: "mail.default.svc.cluster.local:1025"}
`

// `kindred up` of a stack that uses Mailpit, on the simulated cluster:
// the catalogue knows it (use: mailpit validates), kindred renders its
// Deployment and Service, waits for them, says the SMTP check was skipped
// on simulated nodes, records its SMTP endpoint, lists its image, re-runs
// as a no-op and removes it with down.
func TestIntegrationMailpitOnSim(t *testing.T) {
	testbed.Integration(t)
	bins := os.Getenv("KINDRED_TESTBED_DIR")
	if bins == "" {
		testbed.Missing(t, "KINDRED_TESTBED_DIR is not set (make testbed)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kindred")
	if out, err := exec.Command("go", "build", "-o", bin, "kindred.dev/kindred").CombinedOutput(); err != nil {
		t.Fatalf("building kindred: %v\n%s", err, out)
	}
	for name, data := range map[string]string{"kindred.yaml": stackYAML, "app.yaml": appYAML} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stackFile := filepath.Join(dir, "kindred.yaml")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "KINDRED_TESTBED_DIR="+bins)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kindred %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		cmd := exec.Command(bin, "down", "--provider", "sim", "--delete-cluster", stackFile)
		cmd.Env = env
		_ = cmd.Run()
	})

	imgs := run("images", "-o", "json", stackFile)
	if !strings.Contains(imgs, `"docker.io/axllent/mailpit:v1.31.1"`) {
		t.Errorf("kindred images does not list Mailpit's image:\n%s", imgs)
	}
	out := run("up", "--provider", "sim", "-v", "-o", "text", stackFile)
	if !strings.Contains(out, "0 failed, 0 skipped") || !strings.Contains(out, "skipped the SMTP and /readyz checks: simulated nodes run no Mailpit") {
		t.Fatalf("up:\n%s", out)
	}
	if again := run("up", "--provider", "sim", "-o", "json", stackFile); strings.Contains(again, `"changed":true`) {
		t.Errorf("the re-run changed something:\n%s", again)
	}

	var rep struct {
		Kubeconfig string
		Steps      []struct {
			ID       string
			Healthy  bool
			Endpoint string
		}
	}
	if err := json.Unmarshal([]byte(run("status", "--provider", "sim", "-o", "json", stackFile)), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range rep.Steps {
		if s.ID == "mail" {
			found = true
			if !s.Healthy || s.Endpoint != "mail.default.svc.cluster.local:1025" {
				t.Errorf("status of mail: %+v", s)
			}
		}
	}
	if !found {
		t.Fatalf("status has no mail step: %+v", rep)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", rep.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	dep, err := cs.AppsV1().Deployments("default").Get(ctx, "mail", metav1.GetOptions{})
	if err != nil || dep.Status.ReadyReplicas != 1 {
		t.Fatalf("Mailpit's Deployment: %v %+v", err, dep.Status)
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "mail", metav1.GetOptions{})
	if err != nil || len(svc.Spec.Ports) != 2 {
		t.Fatalf("Mailpit's Service: %v", err)
	}

	run("down", "--provider", "sim", stackFile)
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "mail", metav1.GetOptions{}); err == nil {
		t.Error("down left Mailpit's Deployment")
	}
}
