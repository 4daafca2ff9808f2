package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"kindred.dev/kindred/internal/golden"
	"kindred.dev/kindred/internal/testbed"
)

// The secret-looking value production's shop release was installed with.
const mirrorSecret = "sk_live_9fQ2xV7mB4nR8tW1zY6pK3aL"

// TestIntegrationMirror seeds a "production" simulated cluster (three
// zones, one tainted; Calico; Contour with a route; cert-manager with the
// platform's own ClusterIssuer; five helm releases of the test charts, one
// with a secret value; two tenants; a CronJob; a cloud controller and a
// hand-made Deployment), mirrors it, and checks the stack line by line
// (golden), that the secret is nowhere, that it validates, that a reader
// bound to view still gets a stack and is told what it could not read,
// that the stack brought up on a second cluster mirrors back to itself,
// and that --diff reports a changed chart version, a missing release and
// an extra zone, and nothing on an identical cluster.
func TestIntegrationMirror(t *testing.T) {
	testbed.Integration(t)
	testbed.RequireBlackholes(t)
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("KINDRED_DIAGNOSTICS", filepath.Join(home, "diagnostics"))
	t.Setenv("KINDRED_CHART_MIRROR", mirrorCharts(t))
	t.Setenv("PAYMENTS_TOKEN", mirrorSecret)
	t.Setenv("SHOP_PAYMENTS_APITOKEN", "")
	os.Unsetenv("SHOP_PAYMENTS_APITOKEN") // restored after the test
	work := t.TempDir()
	prodDir := t.TempDir()
	for _, f := range []string{"prod.yaml", "issuers.yaml"} {
		copyFile(t, filepath.Join("testdata", "mirror", f), filepath.Join(prodDir, f))
	}
	prod := filepath.Join(prodDir, "prod.yaml")
	var all bytes.Buffer
	run := func(args ...string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		code := Run(args, strings.NewReader(""), &out, &out, os.LookupEnv)
		all.Write(out.Bytes())
		t.Logf("kindred %s: exit %d", strings.Join(args, " "), code)
		return out.String(), code
	}
	must := func(want int, args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != want {
			t.Fatalf("kindred %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
	t.Cleanup(func() {
		for _, name := range []string{"prod", "shop"} {
			_, _ = run("down", name)
		}
	})

	must(ExitOK, "up", "-o", "text", "--provider", "sim", prod)
	prodKC := strings.TrimSpace(must(ExitOK, "kubeconfig", "prod"))
	cs := clientFor(t, prodKC)
	ctx := context.Background()
	deployment := func(ns, name string, spec corev1.PodSpec) {
		t.Helper()
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		}}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A cloud controller, which must be left out, and a Deployment made by
	// hand that selects the batch nodes, so their label is kept.
	deployment("kube-system", "aws-cloud-controller-manager", corev1.PodSpec{Containers: []corev1.Container{{
		Name: "ccm", Image: "registry.k8s.io/provider-aws/cloud-controller-manager:v1.33.0", Args: []string{"--cloud-provider=aws"},
	}}})
	deployment("team-a", "legacy-batch", corev1.PodSpec{
		NodeSelector: map[string]string{"workload": "batch"},
		Tolerations:  []corev1.Toleration{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}},
		Containers:   []corev1.Container{{Name: "batch", Image: "example.test/batch:1"}},
	})

	// Mirror production into a stack.
	stackFile := filepath.Join(work, "shop.yaml")
	out := must(ExitOK, "mirror", "--kubeconfig", prodKC, "--context", "prod", "--name", "shop", "--provider", "sim", "-o", stackFile)
	if !strings.Contains(out, "set SHOP_PAYMENTS_APITOKEN before kindred validate") {
		t.Errorf("mirror's summary does not name the variable to set:\n%s", out)
	}
	written, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "mirror/shop.yaml", written)
	for _, want := range []string{
		"kubernetesVersion: v1.35.4 # the server's version, v1.35.4",
		"topology.kubernetes.io/zone: eu-west-1a", "topology.kubernetes.io/zone: eu-west-1b", "topology.kubernetes.io/zone: eu-west-1c",
		"workload: batch", "key: dedicated", "scaled to 1 (at most 4 nodes)",
		"cni: calico # Calico: Installation default", "podSubnet: 192.168.0.0/16",
		"ingress: # Contour: Deployment projectcontour/contour", "ClusterIssuer platform-internal (selfSigned)",
		"# helm release shop/shop (chart storefront 2.1.0)", `apiToken: "${SHOP_PAYMENTS_APITOKEN}"`,
		"# helm release monitoring/agent", "# helm release platform/greeter", "# helm release platform/operator", "# helm release shop/backoffice",
		"host: shop.shop.localhost", "# HTTPProxy shop/shop-prod-localhost (host shop.prod.localhost)",
		"networkPolicy: default-deny", "group:auditors", "user:lead@example.test",
		"schedule: 0 3 * * *", "# CronJob team-a/nightly-report",
		"Deployment kube-system/aws-cloud-controller-manager: a cloud controller",
		"Deployment team-a/legacy-batch: not from a helm release",
	} {
		if !strings.Contains(string(written), want) {
			t.Errorf("the mirrored stack lacks %q", want)
		}
	}
	if n := strings.Count(string(written), "repo: https://charts.example.test/"); n != 5 {
		t.Errorf("%d chart repositories taken from kindred's record, want 5", n)
	}

	// It validates once its variable is set, and says which one when not.
	if out := must(ExitBadInput, "validate", stackFile); !strings.Contains(out, "variable SHOP_PAYMENTS_APITOKEN is not set") {
		t.Errorf("validate without the variable:\n%s", out)
	}
	t.Setenv("SHOP_PAYMENTS_APITOKEN", mirrorSecret)
	must(ExitOK, "validate", stackFile)

	// The JSON report: every inference and omission.
	var rep struct {
		Inferences []struct{ Path, From string }
		Omissions  []struct{ What, Why string }
		Variables  []struct{ Name, For string }
	}
	if err := json.Unmarshal([]byte(must(ExitOK, "mirror", "--kubeconfig", prodKC, "--name", "shop", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Inferences) < 15 || len(rep.Omissions) < 2 || len(rep.Variables) != 1 {
		t.Errorf("the JSON report has %d inferences, %d omissions and %d variables", len(rep.Inferences), len(rep.Omissions), len(rep.Variables))
	}

	out = must(ExitOK, "mirror", "--kubeconfig", prodKC, "--name", "shop", "--exclude", "platform", "-o", "json")
	if !strings.Contains(out, `"what": "helm release platform/operator (chart operator 0.3.1)",
      "why": "excluded by --include/--exclude"`) || strings.Contains(out, `"name": "operator"`) {
		t.Errorf("--exclude platform kept the operator release:\n%s", out)
	}

	// A reader bound to view: no Secrets, no Nodes, no cluster-wide kinds.
	roKC := viewerKubeconfig(t, prodKC, filepath.Join(home, "viewer.kubeconfig"))
	out = must(ExitOK, "mirror", "--kubeconfig", roKC, "--name", "shop")
	for _, want := range []string{"# Could not read", "helm release Secrets (all): forbidden", "Node (all): forbidden", "components:", "tenants:",
		`repo: "${SHOP_CHART_REPO:-https://charts.invalid/storefront}"`} {
		if !strings.Contains(out, want) {
			t.Errorf("mirror as a viewer lacks %q:\n%s", want, out)
		}
	}
	// With no record of the repositories and no values read, the file
	// validates as written.
	viewed := filepath.Join(work, "viewed.yaml")
	must(ExitOK, "mirror", "--kubeconfig", roKC, "--name", "shop", "-o", viewed)
	must(ExitOK, "validate", viewed)

	// Round trip: up the mirrored stack, mirror that cluster, get the
	// same stack but for the comments.
	must(ExitOK, "up", "-o", "text", stackFile)
	shopKC := strings.TrimSpace(must(ExitOK, "kubeconfig", "shop"))
	again := filepath.Join(work, "again.yaml")
	must(ExitOK, "mirror", "--kubeconfig", shopKC, "--name", "shop", "--provider", "sim", "-o", again)
	back, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := uncommented(written), uncommented(back); a != b {
		t.Errorf("the round trip changed the stack:\n--- mirrored from production\n%s\n--- mirrored from its own up\n%s", a, b)
	}
	if out := must(ExitOK, "mirror", "--diff", "--kubeconfig", shopKC, stackFile); !strings.Contains(out, "the stack mirrors context shop") {
		t.Errorf("--diff on an identical cluster:\n%s", out)
	}
	must(ExitOK, "mirror", "--diff", "--kubeconfig", prodKC, stackFile)

	// Production moves on: the operator's chart is upgraded, the agent
	// uninstalled, and a zone added.
	body, _ := os.ReadFile(prod)
	changed := strings.Replace(string(body), "name: operator, version: 0.3.1", "name: operator, version: 0.4.0", 1)
	changed = regexp.MustCompile(`(?s)  - name: agent\n.*?version: 2\.0\.0\}\n`).ReplaceAllString(changed, "")
	if changed == string(body) || strings.Contains(changed, "name: agent") {
		t.Fatal("the production stack was not changed as meant")
	}
	if err := os.WriteFile(prod, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	must(ExitOK, "up", "-o", "text", "--prune", prod)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "prod-worker4-0", Labels: map[string]string{"topology.kubernetes.io/zone": "eu-west-1d"}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = must(ExitFailure, "mirror", "--diff", "--kubeconfig", prodKC, stackFile)
	golden.Check(t, "mirror/diff.txt", []byte(out))
	for _, want := range []string{
		"components.operator: the stack has chart operator 0.3.1, the cluster chart operator 0.4.0",
		"components.agent: not in the cluster: chart agent 2.0.0",
		"cluster.nodes: missing from the stack: worker nodes with topology.kubernetes.io/zone=eu-west-1d",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--diff after production changed lacks %q", want)
		}
	}

	// A remembered cluster comes down without its stack's variables.
	os.Unsetenv("SHOP_PAYMENTS_APITOKEN")
	must(ExitOK, "down", "shop")

	if strings.Contains(all.String(), mirrorSecret) {
		t.Errorf("the secret value appears in kindred's output")
	}
	_ = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(mirrorSecret)) {
				t.Errorf("%s holds the secret value", p)
			}
		}
		return nil
	})
}

// uncommented is a YAML file without its comments.
func uncommented(b []byte) string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if i := strings.Index(line, " # "); i >= 0 {
			line = line[:i]
		}
		out = append(out, strings.TrimRight(line, " "))
	}
	return strings.Join(out, "\n")
}

// mirrorCharts is a chart mirror folder: the real upstream artifacts, the
// test charts, and the operator chart at 0.4.0 (an upgrade production
// gets).
func mirrorCharts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	link := func(src string) {
		abs, err := filepath.Abs(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, filepath.Base(src))); err != nil {
			t.Fatal(err)
		}
	}
	up, _ := filepath.Glob(filepath.Join(testbed.Upstream(t), "*"))
	charts, _ := filepath.Glob("../../testdata/charts/*")
	for _, p := range append(up, charts...) {
		link(p)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	src := "../../testdata/charts/operator"
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "Chart.yaml" {
			data = bytes.Replace(data, []byte("version: 0.3.1"), []byte("version: 0.4.0"), 1)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "operator/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "operator-0.4.0.tgz"), buf.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// viewerKubeconfig writes a kubeconfig for a ServiceAccount bound to the
// view ClusterRole of the cluster admin reaches.
func viewerKubeconfig(t *testing.T, admin, dst string) string {
	t.Helper()
	cs := clientFor(t, admin)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "mirror-reader", Namespace: "default"}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "mirror-reader-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "mirror-reader", Namespace: "default"}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "mirror-reader", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range cfg.AuthInfos {
		u.ClientCertificateData, u.ClientKeyData, u.ClientCertificate, u.ClientKey = nil, nil, "", ""
		u.Token = tok.Status.Token
		cfg.AuthInfos[name] = u
	}
	if err := clientcmd.WriteToFile(*cfg, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}
