package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/stack"
)

// Diagnose writes a diagnostics bundle: what explains a failure, as one
// tar.gz a CI job can keep.
//
//	summary.txt            the steps, their health, and what is not ready
//	timeline.md            when the run failed: its steps' times, the critical path, a Mermaid gantt
//	steps.json             the same, as JSON
//	events.txt             every event in the cluster, oldest first
//	objects/NS/KIND-NAME.yaml  each object a step owns that is not ready,
//	                       with its events (like kubectl describe)
//	pods/NS/POD/CONTAINER.log  container logs (the last 1000 lines, and the
//	                       previous run's when it restarted)
//	helm/RELEASE.json      each release's status
//	nodes.yaml             the nodes
//	provider/              the provider's own logs (kind: every node's)
//
// Secrets are never written: not their objects, nor the applied stack's
// values.
type Diagnose struct {
	cfg Config
	// LogLines bounds each container log; 0 means 1000.
	LogLines int64
	// Failure, when set, is the failed run the bundle explains.
	Failure error
	// Files are more files for the bundle, by name, such as the failed
	// run's timeline.
	Files map[string][]byte
}

// NewDiagnose returns a Diagnose action.
func NewDiagnose(cfg Config) *Diagnose {
	cfg.defaults()
	return &Diagnose{cfg: cfg}
}

// Run writes the bundle of st's cluster to w. What cannot be read is noted
// in the bundle, not an error: a bundle matters most when things are
// broken.
func (d *Diagnose) Run(ctx context.Context, st *stack.Stack, w io.Writer) error {
	acc, kc, hc, err := connect(ctx, &d.cfg, st)
	if err != nil {
		return err
	}
	b := &bundle{files: map[string][]byte{}}
	lines := d.LogLines
	if lines == 0 {
		lines = 1000
	}

	var summary strings.Builder
	fmt.Fprintf(&summary, "kindred diagnostics for stack %q\nwritten %s\nkubeconfig %s\n\n", st.Metadata.Name, d.cfg.Now().UTC().Format(time.RFC3339), acc.Kubeconfig)
	if d.Failure != nil {
		fmt.Fprintf(&summary, "the run failed:\n%s\n\n", d.Failure)
	}
	rep, err := NewStatus(d.cfg).Run(ctx, st)
	if err != nil {
		fmt.Fprintf(&summary, "no step records: %v\n", err)
		rep = &Report{}
	}
	b.json("steps.json", rep.Steps)

	events, err := kc.Typed.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.note("events.txt", err)
		events = &corev1.EventList{}
	}
	sort.Slice(events.Items, func(i, j int) bool { return eventTime(events.Items[i]).Before(eventTime(events.Items[j])) })
	var ev strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&ev, "%s  %-7s %-24s %s/%s %s: %s\n", eventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason,
			e.InvolvedObject.Namespace, strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, strings.TrimSpace(e.Message))
	}
	b.files["events.txt"] = []byte(ev.String())

	fmt.Fprintln(&summary, "STEP                      HEALTH     DETAIL")
	var notReady []string
	for _, s := range rep.Steps {
		h := "healthy"
		if !s.Healthy {
			h = "UNHEALTHY"
		}
		fmt.Fprintf(&summary, "%-25s %-10s %s\n", s.ID, h, s.Message)
		for _, ref := range s.Objects {
			if ref.Kind == "Secret" {
				continue
			}
			gv, _ := schema.ParseGroupVersion(ref.APIVersion)
			o, err := kc.Get(ctx, gv.WithKind(ref.Kind), ref.Namespace, ref.Name)
			if err != nil {
				notReady = append(notReady, fmt.Sprintf("%s %s/%s: %v", ref.Kind, ref.Namespace, ref.Name, err))
				continue
			}
			if r := ready.Object(o); !r.Ready {
				notReady = append(notReady, fmt.Sprintf("%s: %s", r.Object, r.Message))
				b.describe(o, events.Items)
			}
		}
		if s.Release != "" {
			if rel, err := hc.Get(ctx, s.Release, s.Namespace); err != nil {
				b.note("helm/"+s.Release+".json", err)
			} else {
				b.json("helm/"+s.Release+".json", rel)
			}
		}
	}
	// Workloads of charts, which keep no inventory of their own.
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"}, {Group: "apps", Version: "v1", Kind: "StatefulSet"},
		{Group: "apps", Version: "v1", Kind: "DaemonSet"}, {Group: "batch", Version: "v1", Kind: "Job"},
	} {
		list, err := kc.List(ctx, gvk, "")
		if err != nil {
			b.note(strings.ToLower(gvk.Kind)+"s", err)
			continue
		}
		for i := range list {
			o := list[i]
			name := fmt.Sprintf("objects/%s/%s-%s.yaml", o.GetNamespace(), strings.ToLower(o.GetKind()), o.GetName())
			if r := ready.Object(o); !r.Ready && b.files[name] == nil {
				notReady = append(notReady, fmt.Sprintf("%s: %s", r.Object, r.Message))
				b.describe(o, events.Items)
			}
		}
	}
	fmt.Fprintf(&summary, "\nnot ready (%d):\n", len(notReady))
	for _, n := range notReady {
		fmt.Fprintln(&summary, "  "+n)
	}

	pods, err := kc.Typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.note("pods", err)
		pods = &corev1.PodList{}
	}
	var podLines []string
	for i := range pods.Items {
		p := &pods.Items[i]
		podLines = append(podLines, fmt.Sprintf("%s/%s %s node=%s %s", p.Namespace, p.Name, p.Status.Phase, p.Spec.NodeName, podReadiness(p)))
		if !podReady(p) {
			u, err := toUnstructured(p)
			if err == nil {
				b.describe(u, events.Items)
			}
		}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			restarted := false
			for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				if cs.Name == c.Name && cs.RestartCount > 0 {
					restarted = true
				}
			}
			for _, previous := range []bool{false, true} {
				if previous && !restarted {
					continue
				}
				logs, err := kc.Typed.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, TailLines: &lines, Previous: previous}).DoRaw(ctx)
				name := fmt.Sprintf("pods/%s/%s/%s.log", p.Namespace, p.Name, c.Name)
				if previous {
					name = fmt.Sprintf("pods/%s/%s/%s.previous.log", p.Namespace, p.Name, c.Name)
				}
				if err != nil {
					b.note(name, err)
					continue
				}
				b.files[name] = logs
			}
		}
	}
	sort.Strings(podLines)
	b.files["pods.txt"] = []byte(strings.Join(podLines, "\n") + "\n")

	if nodes, err := kc.Typed.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		b.note("nodes.yaml", err)
	} else {
		b.yaml("nodes.yaml", nodes)
	}
	if lc, ok := d.cfg.Provider.(cluster.LogCollector); ok {
		dir, err := os.MkdirTemp("", "kindred-provider-logs-")
		if err == nil {
			defer os.RemoveAll(dir)
			if err := lc.CollectLogs(ctx, st, dir); err != nil {
				b.note("provider", err)
			}
			b.addDir(dir, "provider")
		}
	}
	b.files["summary.txt"] = []byte(summary.String())
	for name, data := range d.Files {
		b.files[name] = data
	}
	return b.write(w)
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReadiness(p *corev1.Pod) string {
	ready, total := 0, len(p.Status.ContainerStatuses)
	var waiting []string
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
		if c.State.Waiting != nil && c.State.Waiting.Reason != "" {
			waiting = append(waiting, c.Name+": "+c.State.Waiting.Reason)
		}
	}
	s := fmt.Sprintf("%d/%d ready", ready, total)
	if len(waiting) > 0 {
		s += " (" + strings.Join(waiting, ", ") + ")"
	}
	return s
}

func toUnstructured(p *corev1.Pod) (*unstructured.Unstructured, error) {
	p = p.DeepCopy()
	p.APIVersion, p.Kind = "v1", "Pod"
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, u.UnmarshalJSON(data)
}

// bundle gathers the files of a diagnostics bundle.
type bundle struct {
	files map[string][]byte
}

func (b *bundle) json(name string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b.note(name, err)
		return
	}
	b.files[name] = append(data, '\n')
}

func (b *bundle) yaml(name string, v any) {
	data, err := yaml.Marshal(v)
	if err != nil {
		b.note(name, err)
		return
	}
	b.files[name] = data
}

// note records why a part of the bundle is missing.
func (b *bundle) note(name string, err error) {
	b.files[name+".error"] = []byte(err.Error() + "\n")
}

// describe writes an object with the events about it, as kubectl describe
// shows them.
func (b *bundle) describe(o *unstructured.Unstructured, events []corev1.Event) {
	if o.GetKind() == "Secret" {
		return
	}
	o = o.DeepCopy()
	unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
	data, err := yaml.Marshal(o.Object)
	if err != nil {
		return
	}
	var buf bytes.Buffer
	buf.Write(data)
	buf.WriteString("\n# events\n")
	for _, e := range events {
		if e.InvolvedObject.Kind == o.GetKind() && e.InvolvedObject.Name == o.GetName() && e.InvolvedObject.Namespace == o.GetNamespace() {
			fmt.Fprintf(&buf, "# %s %s %s: %s\n", eventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason, strings.TrimSpace(e.Message))
		}
	}
	ns := o.GetNamespace()
	if ns == "" {
		ns = "_cluster"
	}
	b.files[fmt.Sprintf("objects/%s/%s-%s.yaml", ns, strings.ToLower(o.GetKind()), o.GetName())] = buf.Bytes()
}

func (b *bundle) addDir(dir, prefix string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.note(prefix+"/"+rel, err)
			return nil
		}
		b.files[prefix+"/"+filepath.ToSlash(rel)] = data
		return nil
	})
}

// write packs the files, sorted, as tar.gz under one top folder.
func (b *bundle) write(w io.Writer) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(b.files))
	for n := range b.files {
		names = append(names, n)
	}
	sort.Strings(names)
	now := time.Now()
	for _, n := range names {
		data := b.files[n]
		if err := tw.WriteHeader(&tar.Header{Name: "kindred-diagnostics/" + n, Mode: 0o600, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
