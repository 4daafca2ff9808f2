package sim_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/sim"
)

// BenchmarkStart measures a simulated cluster: start until /readyz, until
// ready for pods, until a first pod is Ready, and each process's memory.
func BenchmarkStart(b *testing.B) {
	var readyz, readyAll, firstPod time.Duration
	rss := map[string]int64{}
	n := 0
	for b.Loop() {
		b.StopTimer()
		c := testbed.Sim(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		kc, err := kube.New(c.RESTConfig())
		if err != nil {
			b.Fatal(err)
		}
		pod := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "first", "namespace": "default"},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "example.test/c:1"}}},
		}}
		began := time.Now()
		if _, err := kc.Apply(ctx, pod); err != nil {
			b.Fatal(err)
		}
		if err := ready.Wait(ctx, kc, []*unstructured.Unstructured{pod}, time.Minute, nil); err != nil {
			b.Fatal(err)
		}
		firstPod += c.ReadyAfter + time.Since(began)
		readyz += c.ReadyzAfter
		readyAll += c.ReadyAfter
		for name, v := range c.RSS() {
			rss[name] += v
		}
		n++
		cancel()
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(readyz.Seconds()/float64(n), "readyz-s")
	b.ReportMetric(readyAll.Seconds()/float64(n), "ready-for-pods-s")
	b.ReportMetric(firstPod.Seconds()/float64(n), "first-pod-ready-s")
	var total int64
	for name, v := range rss {
		b.ReportMetric(float64(v)/float64(n)/(1<<20), name+"-MiB")
		total += v
	}
	b.ReportMetric(float64(total)/float64(n)/(1<<20), "total-MiB")
	_ = sim.KubernetesVersion
}
