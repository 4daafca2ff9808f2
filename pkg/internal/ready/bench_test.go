package ready_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/sim"
)

// BenchmarkWait compares waiting by watches with waiting by polling, on 20
// Deployments whose pods the simulated cluster makes Ready after 3 s, three
// rounds of each, alternating: the requests per object the wait makes, and
// how long after the last Deployment turned ready (as an independent watch
// saw it) the wait returned; medians go to bench/out/results.json. It
// asserts nothing about time.
func BenchmarkWait(b *testing.B) {
	const n, delay = 20, 3 * time.Second
	c := testbed.Sim(b, sim.WithReadyDelay(0, sim.ReadyDelay{Label: "speed=slow", Delay: delay}))
	ctx := context.Background()
	admin, err := kube.New(c.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	rc := &requestCounter{n: map[string]int{}}
	kc, err := kube.New(rc.wrap(c.RESTConfig()))
	if err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name string
		wait func(context.Context, *kube.Client, []*unstructured.Unstructured, time.Duration, func(all, pending []ready.Status)) error
	}{{"watch", ready.Wait}, {"poll", ready.PollWait}}
	round := 0
	samples := map[string][]float64{}
	for b.Loop() {
		for i := range 3 * len(modes) { // three rounds of each, alternating
			m := modes[i%len(modes)]
			round++
			objs := make([]*unstructured.Unstructured, n)
			for i := range objs {
				objs[i] = deployment(fmt.Sprintf("b%d-%d", round, i), "slow", 1)
			}
			seen := readyTimes(b, admin, fmt.Sprintf("b%d-", round), n)
			for _, o := range objs {
				if _, err := admin.Apply(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
			rc.take()
			if err := m.wait(ctx, kc, objs, time.Minute, nil); err != nil {
				b.Fatal(err)
			}
			returned := time.Now()
			reqs := rc.take()
			last := <-seen
			samples["ready_"+m.name+"_requests_per_object"] = append(samples["ready_"+m.name+"_requests_per_object"], float64(total(reqs))/n)
			// Both watches see the same event; when the wait's own goroutine
			// gets it before the observer's, the difference is below what
			// this measures, and counts as none.
			lag := max(0, returned.Sub(last))
			samples["ready_"+m.name+"_detect_ms"] = append(samples["ready_"+m.name+"_detect_ms"], float64(lag.Microseconds())/1000)
			b.Logf("%s: %v requests for %d objects; returned %s after the last turned ready (as an independent watch saw it)", m.name, reqs, n, returned.Sub(last).Round(100*time.Microsecond))
		}
	}
	results := map[string]float64{}
	for k, v := range samples {
		slices.Sort(v)
		results[k] = v[len(v)/2]
		b.ReportMetric(results[k], k)
	}
	testbed.MergeResults(b, results)
}

// readyTimes watches the Deployments named prefix* and sends, once n of
// them are ready, when the last one turned ready.
func readyTimes(b *testing.B, c *kube.Client, prefix string, n int) <-chan time.Time {
	ri, _, err := c.Resource(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "default")
	if err != nil {
		b.Fatal(err)
	}
	w, err := ri.Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan time.Time, 1)
	var once sync.Once
	go func() {
		defer w.Stop()
		at := map[string]time.Time{}
		for ev := range w.ResultChan() {
			o, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type == watch.Deleted || len(o.GetName()) < len(prefix) || o.GetName()[:len(prefix)] != prefix {
				continue
			}
			if _, done := at[o.GetName()]; !done && ready.Object(o).Ready {
				at[o.GetName()] = time.Now()
			}
			if len(at) == n {
				var last time.Time
				for _, t := range at {
					if t.After(last) {
						last = t
					}
				}
				once.Do(func() { out <- last })
				return
			}
		}
	}()
	return out
}
