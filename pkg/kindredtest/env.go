package kindredtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Diagnostics writes what helps explain a failure to dir, as the bundle
// `kindred diagnose` writes (the same action): diagnostics.tar.gz, with the
// recorded steps and their health, nodes, pods, events, the logs of pods
// that are not ready, and the provider's own logs. Secrets are never in
// it. The file is 0600, in a 0700 folder.
func (e *Env) Diagnostics(dir string) error { return e.diagnostics(dir) }

func (e *Env) diagnostics(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := os.OpenFile(filepath.Join(dir, "diagnostics.tar.gz"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	d := engine.NewDiagnose(engine.Config{Provider: e.p})
	if err := d.Run(ctx, e.Stack, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
