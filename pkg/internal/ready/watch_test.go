package ready_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/sim"
)

// requestCounter counts the requests a client makes, by verb (a GET with
// watch=true is a WATCH, one with a list path a LIST).
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (rc *requestCounter) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling in the way
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			rc.mu.Lock()
			rc.n[verb(r)]++
			rc.mu.Unlock()
			return rt.RoundTrip(r)
		})
	}
	return cfg
}

func (rc *requestCounter) take() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := rc.n
	rc.n = map[string]int{}
	return n
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func verb(r *http.Request) string {
	if r.Method != http.MethodGet {
		return r.Method
	}
	if r.URL.Query().Get("watch") == "true" {
		return "WATCH"
	}
	// A list path ends in a resource; a get adds the object's name:
	// /api/v1/namespaces/NS/pods (list), /apis/apps/v1/namespaces/NS/deployments/NAME (get).
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	core := parts[0] == "api"
	n := len(parts)
	if core {
		n++ // /api/v1 has no group
	}
	switch {
	case n == 4, n == 6 && parts[len(parts)-3] == "namespaces":
		return "LIST"
	}
	return "GET"
}

func total(n map[string]int) int {
	t := 0
	for _, v := range n {
		t += v
	}
	return t
}

// deployment is a Deployment of replicas pods labelled speed (the
// simulated cluster's ready delay rules select on it).
func deployment(name, speed string, replicas int) *unstructured.Unstructured {
	labels := map[string]any{"app": name, "speed": speed}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{
			"replicas": int64(replicas),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "example.test/c:1"}}},
			},
		},
	}}
}

// Waiting watches: the requests a wait makes do not grow with its length
// (a Deployment ready after 2 s and one after 6 s cost the same), while
// polling costs more the longer it waits. A pod no node can take is named
// as the trouble, from the pods' watch. Where the cluster refuses to let
// kindred watch, Wait polls and still succeeds.
func TestIntegrationWaitWatches(t *testing.T) {
	c := testbed.Sim(t, sim.WithReadyDelay(0,
		sim.ReadyDelay{Label: "speed=2s", Delay: 2 * time.Second},
		sim.ReadyDelay{Label: "speed=6s", Delay: 6 * time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	rc := &requestCounter{n: map[string]int{}}
	kc, err := kube.New(rc.wrap(c.RESTConfig()))
	if err != nil {
		t.Fatal(err)
	}
	// Discovery and the CRD check are cached per client: warm them, so
	// every wait below counts only its own requests.
	warm := deployment("warm", "0s", 1)
	if _, err := admin.Apply(ctx, warm); err != nil {
		t.Fatal(err)
	}
	if err := ready.Wait(ctx, kc, []*unstructured.Unstructured{warm}, time.Minute, nil); err != nil {
		t.Fatal(err)
	}

	wait := func(name, speed string, w func(context.Context, *kube.Client, []*unstructured.Unstructured, time.Duration, func(all, pending []ready.Status)) error) map[string]int {
		t.Helper()
		d := deployment(name, speed, 2)
		if _, err := admin.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
		rc.take()
		waited := false
		if err := w(ctx, kc, []*unstructured.Unstructured{d}, time.Minute, func(_, pending []ready.Status) {
			waited = waited || len(pending) > 0
		}); err != nil {
			t.Fatal(err)
		}
		if !waited {
			t.Fatalf("%s was ready at once: the delay rule did not apply", name)
		}
		return rc.take()
	}
	short, long := wait("w2", "2s", ready.Wait), wait("w6", "6s", ready.Wait)
	t.Logf("watching: 2 s wait %v, 6 s wait %v", short, long)
	if total(short) != total(long) || long["WATCH"] == 0 {
		t.Errorf("watching made %v requests for a 2 s wait and %v for a 6 s one; want the same, with watches", short, long)
	}
	pshort, plong := wait("p2", "2s", ready.PollWait), wait("p6", "6s", ready.PollWait)
	t.Logf("polling: 2 s wait %v, 6 s wait %v", pshort, plong)
	if total(plong) <= total(pshort) || total(pshort) <= total(short) {
		t.Errorf("polling made %v requests for a 2 s wait and %v for a 6 s one (watching: %v)", pshort, plong, short)
	}

	// A pod no node can take: the pods' watch names it.
	stuck := deployment("stuck", "0s", 1)
	_ = unstructured.SetNestedStringMap(stuck.Object, map[string]string{"no-such": "node"}, "spec", "template", "spec", "nodeSelector")
	if _, err := admin.Apply(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	var trouble string
	err = ready.Wait(ctx, kc, []*unstructured.Unstructured{stuck}, 5*time.Second, func(_, pending []ready.Status) {
		if len(pending) > 0 && pending[0].Trouble != "" {
			trouble = pending[0].Trouble
		}
	})
	if err == nil || !strings.Contains(err.Error(), "Unschedulable (pod stuck-") || !strings.HasPrefix(trouble, "Unschedulable") {
		t.Errorf("a pod no node can take: error %v, trouble %q", err, trouble)
	}

	// A user who may get and list Deployments but not watch them.
	for _, o := range []string{
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"no-watch"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","list"]},{"apiGroups":["apiextensions.k8s.io"],"resources":["customresourcedefinitions"],"verbs":["get","list"]}]}`,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"no-watch"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"no-watch"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"no-watch"}]}`,
	} {
		objs, err := kube.Decode([]byte(o))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Apply(ctx, objs[0]); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(c.RESTConfig())
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "no-watch"}
	nw, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := deployment("unwatched", "2s", 1)
	if _, err := admin.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := ready.Wait(ctx, nw, []*unstructured.Unstructured{d}, time.Minute, nil); err != nil {
		t.Errorf("without the right to watch: %v", err)
	}
}
