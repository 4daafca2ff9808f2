package kindredtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component/database"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/stack"
)

// Env is a cluster with the stack installed.
type Env struct {
	// Kubeconfig is the path of an admin kubeconfig (mode 0600).
	Kubeconfig string
	// Config is the client configuration.
	Config *rest.Config
	// Client is a typed client-go clientset.
	Client kubernetes.Interface
	// Stack is the stack as loaded.
	Stack *stack.Stack

	provider ProviderKind
	p        cluster.Provider
	access   cluster.Access
	report   *engine.Report
}

// fail writes diagnostics and fails the test.
func (e *Env) fail(t testing.TB, msg string) {
	t.Helper()
	if dir := artifactDir(t); dir != "" && e.access.Kubeconfig != "" {
		if err := e.diagnostics(dir); err == nil {
			msg += "\ndiagnostics: " + dir
		}
	}
	t.Fatal(msg)
}

func (e *Env) cleanup(t testing.TB, shared *sharedCluster) {
	if t.Failed() && e.access.Kubeconfig != "" {
		if dir := artifactDir(t); dir != "" {
			if err := e.diagnostics(dir); err == nil {
				t.Logf("kindredtest: diagnostics written to %s", dir)
			}
		}
	}
	if shared == nil {
		return
	}
	// The cluster outlives the test, so later tests of this process (and
	// of parallel processes) reuse it; the reaper stops it once the last of
	// them has exited, unless it is to be kept.
	if os.Getenv("KINDRED_REUSE") == "1" {
		t.Logf("kindredtest: KINDRED_REUSE=1 keeps the cluster; kubeconfig %s", e.access.Kubeconfig)
		return
	}
	if t.Failed() && os.Getenv("KINDRED_KEEP_ON_FAILURE") == "1" {
		_ = os.WriteFile(filepath.Join(shared.dir, "keep"), nil, 0o600)
		t.Logf("kindredtest: KINDRED_KEEP_ON_FAILURE=1 keeps the cluster; kubeconfig %s", e.access.Kubeconfig)
	}
}

// Namespace creates a fresh namespace that is deleted when t ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "kt-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kindred.dev/test": sanitize(t.Name())}}}
	if _, err := e.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kindredtest: creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// URL returns the URL of the route for host, as the host machine reaches it.
func (e *Env) URL(host string) (string, error) {
	for _, r := range e.Stack.Routes {
		if r.Host == host {
			return e.Stack.RouteURL(r), nil
		}
	}
	return "", fmt.Errorf("the stack has no route for %s", host)
}

// DSN returns the connection URL of a database of the stack, with its
// generated credentials, for clients inside the cluster.
func (e *Env) DSN(name string) (string, error) {
	list, err := database.Credentials(context.Background(), e.p, e.Stack, true, name)
	if err != nil {
		return "", err
	}
	return list[0].URL, nil
}

// LoadImage makes an image from the local container runtime available to
// every node of a kind cluster, so pods can use it with imagePullPolicy
// Never or IfNotPresent. The simulated cluster runs no containers, so there
// it only checks the name; an existing cluster's nodes are out of reach.
func (e *Env) LoadImage(ref string) error {
	if ref == "" {
		return errors.New("an empty image reference")
	}
	if e.access.Simulated {
		return nil
	}
	if l, ok := e.p.(cluster.ImageLoader); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return l.LoadImage(ctx, e.Stack, ref)
	}
	return fmt.Errorf("LoadImage cannot reach the nodes of an existing cluster; push %s to a registry it pulls from", ref)
}

// Diagnostics writes what helps explain a failure to dir: the recorded
// stack and step health, nodes, pods and events in every namespace.
func (e *Env) Diagnostics(dir string) error { return e.diagnostics(dir) }

func (e *Env) diagnostics(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := e.access.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	write := func(name string, v any, err error) {
		if err != nil {
			v = map[string]string{"error": err.Error()}
		}
		data, _ := json.MarshalIndent(v, "", "  ")
		_ = os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	write("nodes.json", nodes, err)
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	write("pods.json", pods, err)
	events, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	write("events.json", events, err)
	// The step records, not the applied stack: its values may hold secrets.
	if rep, err := engine.NewStatus(engine.Config{Provider: e.p}).Run(ctx, e.Stack); err == nil {
		write("steps.json", rep.Steps, nil)
	}
	return nil
}

func artifactDir(t testing.TB) string {
	if d := os.Getenv("KINDRED_ARTIFACTS"); d != "" {
		return filepath.Join(d, sanitize(t.Name()))
	}
	if at, ok := t.(interface{ ArtifactDir() string }); ok {
		return at.ArtifactDir()
	}
	return ""
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}
