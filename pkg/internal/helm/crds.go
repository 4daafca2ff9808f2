package helm

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"kindred.dev/kindred/pkg/internal/kube"
)

// helm installs a chart's crds/ folder on first install only, never on
// upgrade (helm's documented CRD policy), so an upgrade whose templates use
// a kind the new version added fails with "no matches for kind". kindred
// applies the chart's CRDs itself before every install and upgrade:
// created, or replaced when they differ, never deleted (Flux's
// CreateReplace policy), and waits until they are established.

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// CRDFieldManager is the field manager of the CRDs kindred applies.
const CRDFieldManager = "kindred"

// chartCRDs decodes the CRDs of the chart's crds/ folders, its enabled
// subcharts' included.
func chartCRDs(ch *chart.Chart, values map[string]any) ([]*unstructured.Unstructured, error) {
	cp := detached(ch)
	if err := chartutil.ProcessDependencies(cp, values); err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, crd := range cp.CRDObjects() {
		objs, err := kube.Decode(crd.File.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", crd.Filename, err)
		}
		for _, u := range objs {
			if u.GetKind() == "CustomResourceDefinition" {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// detached copies what processing a chart's dependencies changes in place
// (its metadata's dependency list and their Enabled flags, its subcharts,
// its values), so that processing the copy leaves ch as loaded. Helm
// processes the chart again for the install; had the copy shared ch's
// metadata, helm would find a subchart that the condition removed from it
// and install it as one Chart.yaml does not list, whatever the condition.
func detached(ch *chart.Chart) *chart.Chart {
	cp := *ch
	if ch.Metadata != nil {
		md := *ch.Metadata
		md.Dependencies = make([]*chart.Dependency, len(ch.Metadata.Dependencies))
		for i, d := range ch.Metadata.Dependencies {
			if d != nil {
				dd := *d
				md.Dependencies[i] = &dd
			}
		}
		cp.Metadata = &md
	}
	cp.Values = maps.Clone(ch.Values)
	subs := make([]*chart.Chart, len(ch.Dependencies()))
	for i, d := range ch.Dependencies() {
		subs[i] = detached(d)
	}
	cp.SetDependencies(subs...)
	return &cp
}

// applyCRDs applies the chart's CRDs and waits until each is established.
func (c *Client) applyCRDs(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, values map[string]any, timeout time.Duration) (int, error) {
	crds, err := chartCRDs(ch, values)
	if err != nil || len(crds) == 0 {
		return 0, err
	}
	kc, err := c.cluster(cfg)
	if err != nil {
		return 0, err
	}
	dc := kc.Dynamic
	for _, u := range crds {
		if err := createOrReplace(ctx, dc, u); err != nil {
			return 0, fmt.Errorf("applying CRD %s: %w", u.GetName(), err)
		}
	}
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	for _, u := range crds {
		for {
			got, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("CRD %s not established after %s", u.GetName(), timeout)
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return len(crds), nil
}

// createOrReplace creates the CRD, or replaces the one there when it
// differs (a server-side apply of a large CRD costs seconds in managed
// fields; a replace does not).
func createOrReplace(ctx context.Context, dc dynamic.Interface, u *unstructured.Unstructured) error {
	u.SetResourceVersion("")
	_, err := dc.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{FieldManager: CRDFieldManager})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(cur.Object["spec"], u.Object["spec"]) {
			return nil
		}
		next := u.DeepCopy()
		next.SetResourceVersion(cur.GetResourceVersion())
		next.SetLabels(mergeMaps(cur.GetLabels(), u.GetLabels()))
		next.SetAnnotations(mergeMaps(cur.GetAnnotations(), u.GetAnnotations()))
		_, err = dc.Resource(crdGVR).Update(ctx, next, metav1.UpdateOptions{FieldManager: CRDFieldManager})
		if !apierrors.IsConflict(err) || attempt == 3 {
			return err
		}
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// cluster is the one client of the cluster that every operation of c
// shares (reading objects for drift, applying CRDs), made from the first
// configuration asked for: one connection pool and one discovery of the
// cluster's APIs per run, not one per release. Like every client of
// kindred's it is not rate limited on the client (see kube.Unthrottled;
// client-go's default 5 requests a second made a chart's 32 CRDs wait 13 s
// on the client alone).
func (c *Client) cluster(cfg *action.Configuration) (*kube.Client, error) {
	s := &c.shared
	s.once.Do(func() {
		rc, err := cfg.RESTClientGetter.ToRESTConfig()
		if err != nil {
			s.err = err
			return
		}
		s.kc, s.err = kube.New(kube.Unthrottled(rest.CopyConfig(rc)))
	})
	return s.kc, s.err
}

// shareStorage points cfg's release records at the shared client (one
// client for every release, instead of a client set made for each); with
// cached, their listings come from the API server's watch cache.
func (c *Client) shareStorage(cfg *action.Configuration, namespace string, cached bool) error {
	kc, err := c.cluster(cfg)
	if err != nil {
		return err
	}
	var secrets corev1client.SecretInterface = kc.Typed.CoreV1().Secrets(namespace)
	if cached {
		secrets = cachedSecrets{secrets}
	}
	d := driver.NewSecrets(secrets)
	d.SetLogger(c.log().Handler())
	cfg.Releases = storage.Init(d)
	return nil
}

// cachedSecrets lists from the API server's watch cache.
type cachedSecrets struct{ corev1client.SecretInterface }

func (s cachedSecrets) List(ctx context.Context, opts metav1.ListOptions) (*corev1.SecretList, error) {
	if opts.ResourceVersion == "" {
		opts.ResourceVersion = "0"
	}
	return s.SecretInterface.List(ctx, opts)
}

type sharedCluster struct {
	once sync.Once
	kc   *kube.Client
	err  error
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Kept is what uninstalling a release leaves in the cluster on purpose.
type Kept struct {
	// CRDs of the chart's crds/ folders, which helm never deletes, and
	// of its templates marked helm.sh/resource-policy: keep.
	CRDs []string
	// Objects (other than CRDs) marked helm.sh/resource-policy: keep, as
	// "Kind namespace/name".
	Objects []string
}

// Kept lists what uninstalling release name leaves behind.
func (c *Client) Kept(ctx context.Context, name, namespace string) (Kept, error) {
	var k Kept
	cfg, err := c.config(namespace)
	if err != nil {
		return k, err
	}
	last, err := lastRelease(cfg, name)
	if err != nil || last == nil {
		return k, err
	}
	if last.Chart != nil {
		crds, err := chartCRDs(last.Chart, last.Config)
		if err != nil {
			return k, err
		}
		for _, u := range crds {
			k.CRDs = append(k.CRDs, u.GetName())
		}
	}
	objs, err := kube.Decode([]byte(last.Manifest))
	if err != nil {
		return k, err
	}
	for _, u := range objs {
		if u.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			continue
		}
		if u.GetKind() == "CustomResourceDefinition" {
			k.CRDs = append(k.CRDs, u.GetName())
			continue
		}
		ns := u.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		k.Objects = append(k.Objects, u.GetKind()+" "+ns+"/"+u.GetName())
	}
	return k, nil
}
