package helm

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"kindred.dev/kindred/pkg/internal/kube"
)

// covers decides, without asking the server, that an object has not
// drifted: only when every field the chart sets is there with the chart's
// value. Anything else goes to the server's dry run.
func TestCovers(t *testing.T) {
	decode := func(y string) map[string]any {
		t.Helper()
		objs, err := kube.Decode([]byte(y))
		if err != nil || len(objs) != 1 {
			t.Fatalf("decoding %q: %v", y, err)
		}
		return objs[0].Object
	}
	want := decode(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: web:1
          ports: [{containerPort: 8080}]
          resources: {limits: {cpu: 500m}}
`)
	live := decode(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, resourceVersion: "7", labels: {app: web, team: shop}}
spec:
  replicas: 2.0
  progressDeadlineSeconds: 600
  template:
    spec:
      containers:
        - name: web
          image: web:1
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 8080, protocol: TCP}]
          resources: {limits: {cpu: 500m}}
status: {readyReplicas: 2}
`)
	if !covers(live, want) {
		t.Fatal("an object with every field of the chart's, and more the server or others added, was not covered")
	}
	for name, edit := range map[string]func(m map[string]any){
		"scaled":        func(m map[string]any) { spec(m)["replicas"] = int64(3) },
		"image changed": func(m map[string]any) { container(m)["image"] = "web:2" },
		"label removed": func(m map[string]any) { delete(m["metadata"].(map[string]any)["labels"].(map[string]any), "app") },
		"port added": func(m map[string]any) {
			container(m)["ports"] = append(container(m)["ports"].([]any), map[string]any{"containerPort": int64(9090)})
		},
		"cpu rewritten": func(m map[string]any) {
			container(m)["resources"] = map[string]any{"limits": map[string]any{"cpu": "0.5"}}
		},
		"list for a map": func(m map[string]any) { container(m)["resources"] = []any{} },
		"number as text": func(m map[string]any) { spec(m)["replicas"] = "2" },
		"field cleared":  func(m map[string]any) { delete(container(m), "resources") },
		"container added": func(m map[string]any) {
			pod(m)["containers"] = append(pod(m)["containers"].([]any), map[string]any{"name": "sidecar"})
		},
	} {
		changed := runtime.DeepCopyJSON(live)
		edit(changed)
		if covers(changed, want) {
			t.Errorf("%s: covered, so the drift would go unseen", name)
		}
	}
	// A null the chart sets is the server's to read.
	nullWant := runtime.DeepCopyJSON(want)
	spec(nullWant)["strategy"] = nil
	if covers(live, nullWant) {
		t.Error("a field the chart sets to null was covered")
	}
}

func spec(m map[string]any) map[string]any { return m["spec"].(map[string]any) }

func pod(m map[string]any) map[string]any {
	return spec(m)["template"].(map[string]any)["spec"].(map[string]any)
}

func container(m map[string]any) map[string]any {
	return pod(m)["containers"].([]any)[0].(map[string]any)
}
