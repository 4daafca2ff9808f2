package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
)

// A user who may only edit one namespace of an existing cluster: up says
// what the stack needs that the user may not do, all of it at once, and
// changes nothing.
func TestIntegrationLimitedUserOnExistingCluster(t *testing.T) {
	f := newBareFixture(t)
	cs := f.kube.Typed
	kubeconfig := devUser(t, f)
	// Everything in the team's namespace, nothing elsewhere. (A Role of
	// its own: the aggregated ClusterRole edit fills in only once the
	// controller manager gets to it.)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}
	if _, err := cs.RbacV1().Roles("team").Create(f.ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "dev"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "dev", Namespace: "team"}}}
	if _, err := cs.RbacV1().RoleBindings("team").Create(f.ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rbac.yaml"), []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: team-reader}\nrules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := load(t, writeStack(t, map[string]string{
		"stack.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: limited}\ncomponents:\n" +
			"  - {name: web, namespace: team, manifests: [web.yaml]}\n" +
			"  - {name: cluster-wide, manifests: [" + filepath.Join(dir, "rbac.yaml") + "]}\n" +
			"databases:\n  - {name: cache, engine: redis, namespace: elsewhere}\n",
		"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
	}), nil)

	p, _ := cluster.New(cluster.Existing, cluster.Options{Kubeconfig: kubeconfig})
	_, err := engine.NewUp(engine.Config{Provider: p, CacheDir: f.cache}).Run(f.ctx, st)
	if !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("up as a user limited to one namespace: %v", err)
	}
	for _, want := range []string{
		"nothing was changed",
		"create namespaces (cluster-wide)",
		"create secrets in namespace kindred-system",
		"create leases.coordination.k8s.io in namespace kindred-system",
		"patch clusterroles.rbac.authorization.k8s.io (cluster-wide)",
		"get secrets in namespace elsewhere",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "in namespace team") {
		t.Errorf("the refusal names what the user may do:\n%v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(f.ctx, engine.SystemNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kindred-system after the refusal: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("team").Get(f.ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the team's ConfigMap after the refusal: %v", err)
	}
}

// devUser makes ServiceAccount dev in a new namespace team, with no
// permissions yet, and returns a kubeconfig for it.
func devUser(t *testing.T, f *fixture) string {
	t.Helper()
	cs := f.kube.Typed
	if _, err := cs.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("team").Create(f.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "dev"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts("team").CreateToken(f.ctx, "dev", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc := f.sim.RESTConfig()
	kcfg := clientcmdapi.NewConfig()
	kcfg.Clusters["sim"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
	kcfg.AuthInfos["dev"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kcfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "sim", AuthInfo: "dev", Namespace: "team"}
	kcfg.CurrentContext = "dev"
	kubeconfig := filepath.Join(t.TempDir(), "dev.kubeconfig")
	if err := clientcmd.WriteToFile(*kcfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// bindDev binds ClusterRole name, made with rules, to the dev user
// cluster-wide, in place of what it had.
func bindDev(t *testing.T, f *fixture, name string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	cs := f.kube.Typed
	if _, err := cs.RbacV1().ClusterRoles().Create(f.ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.RbacV1().ClusterRoleBindings().Delete(f.ctx, "dev", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dev"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "dev", Namespace: "team"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(f.ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// On someone else's cluster, a run checks the permissions of the steps
// that changed since they last succeeded there, not of the whole stack:
// a user who may no longer change an unchanged step can still change the
// others, and is refused, naming what is missing, once that step changes.
func TestIntegrationPermissionsOfChangedSteps(t *testing.T) {
	f := newBareFixture(t)
	kubeconfig := devUser(t, f)
	files := map[string]string{
		"stack.yaml": "apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: changes}\ncomponents:\n" +
			"  - {name: web, namespace: team, manifests: [web.yaml]}\n" +
			"  - {name: cluster-wide, manifests: [rbac.yaml]}\n",
		"web.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
		"rbac.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: team-reader}\nrules: []\n",
	}
	path := writeStack(t, files)
	up := func() error {
		t.Helper()
		p, err := cluster.New(cluster.Existing, cluster.Options{Kubeconfig: kubeconfig})
		if err != nil {
			t.Fatal(err)
		}
		_, err = engine.NewUp(engine.Config{Provider: p, CacheDir: f.cache}).Run(f.ctx, load(t, path, nil))
		return err
	}
	edit := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bindDev(t, f, "dev-all", rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}})
	if err := up(); err != nil {
		t.Fatalf("up with every permission: %v", err)
	}
	// Now the user may read ClusterRoles but no longer change them.
	bindDev(t, f, "dev-most",
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"*"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}},
		rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"get", "list", "watch"}})
	edit("web.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: c}\n")
	if err := up(); err != nil {
		t.Fatalf("up after changing only the step the user may still change: %v", err)
	}
	cm, err := f.kube.Typed.CoreV1().ConfigMaps("team").Get(f.ctx, "web", metav1.GetOptions{})
	if err != nil || cm.Data["a"] != "c" {
		t.Fatalf("the changed ConfigMap: %v %v", cm, err)
	}
	edit("rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: team-reader}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n")
	err = up()
	if !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("up after changing the step the user may no longer change: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "patch clusterroles.rbac.authorization.k8s.io (cluster-wide)") || strings.Contains(msg, "in namespace team") {
		t.Errorf("the refusal names the wrong things:\n%v", msg)
	}
	cr, err := f.kube.Typed.RbacV1().ClusterRoles().Get(f.ctx, "team-reader", metav1.GetOptions{})
	if err != nil || len(cr.Rules) != 0 {
		t.Errorf("the ClusterRole after the refusal: %v %v", cr, err)
	}
}
