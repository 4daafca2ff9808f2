package kindredtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/kindredtest"
)

// TestKindUpAndLoadImage: kindredtest on a real kind cluster, on the node
// image built here. An image built locally is loaded into the node with
// LoadImage, and a pod runs it without pulling. A second Up in the same
// process reuses the cluster. The cluster is removed by the reaper once the
// test process exits (make test checks that Docker is left clean).
func TestKindUpAndLoadImage(t *testing.T) {
	imgs := testbed.RequireE2E(t)
	testbed.RequireBlackholes(t)
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackFile, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: kindredtest-kind}\ncluster:\n  kubernetesVersion: v1.35.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	env := kindredtest.Up(t, stackFile, kindredtest.WithProvider(kindredtest.Kind), kindredtest.WithNodeImage(imgs.Node))
	t.Logf("first Up on kind: %.1fs", time.Since(start).Seconds())
	start = time.Now()
	again := kindredtest.Up(t, stackFile, kindredtest.WithProvider(kindredtest.Kind), kindredtest.WithNodeImage(imgs.Node))
	t.Logf("reused Up on kind: %.1fs", time.Since(start).Seconds())
	if again.Kubeconfig != env.Kubeconfig {
		t.Errorf("the second Up made another cluster: %s vs %s", again.Kubeconfig, env.Kubeconfig)
	}

	ref := fmt.Sprintf("kindredtest.local/app:%d", time.Now().UnixNano())
	buildAppImage(t, ref)
	if err := env.LoadImage(ref); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: ref, ImagePullPolicy: corev1.PullNever, Args: []string{"serve"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodRunning, nil
	})
	if err != nil {
		t.Fatalf("the pod with the loaded image did not run (phase %s): %v", phase, err)
	}
}

// buildAppImage builds testdata/e2e/app into a local Docker image.
func buildAppImage(t *testing.T, ref string) {
	t.Helper()
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(ctxDir, "app"), "../../testdata/e2e/app")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the app: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", ref, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
}
