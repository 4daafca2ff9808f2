package ready

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"kindred.dev/kindred/pkg/internal/kube"
)

// errWatchRefused says the cluster will not let kindred watch something it
// may read (RBAC that grants get but not watch): Wait polls instead.
var errWatchRefused = errors.New("watch refused")

// update is what a watcher saw: a new state of object i (obj, nil when it
// is gone), or, with pods set, the trouble of its pods.
type update struct {
	i       int
	obj     *unstructured.Unstructured
	pods    bool
	trouble string
	err     error // errWatchRefused, or the error that ended a watcher
}

// watchUntilReady is Wait after the first look: it watches each object
// still pending (and the pods of each pending workload) and judges it again
// on every change, until all are ready, one fails, or ctx ends. A watch
// is one request however long it runs, so the requests of a wait do not grow
// with its length, and a change is seen when it happens, not at the next
// poll.
func watchUntilReady(ctx context.Context, c *kube.Client, objs []*unstructured.Unstructured, found []*unstructured.Unstructured, sts []Status, progress func(all, pending []Status)) error {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	updates := make(chan update)
	send := func(u update) {
		select {
		case updates <- u:
		case <-wctx.Done():
		}
	}
	for i, s := range sts {
		if s.Ready {
			continue
		}
		go watchObject(wctx, c, objs[i], found[i], func(obj *unstructured.Unstructured, err error) {
			send(update{i: i, obj: obj, err: err})
		})
		if found[i] != nil && workloads[found[i].GroupVersionKind().GroupKind()] {
			go watchPods(wctx, c, found[i], func(trouble string, err error) {
				send(update{i: i, pods: true, trouble: trouble, err: err})
			})
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-updates:
			switch {
			case u.err != nil:
				return u.err
			case u.pods:
				if !sts[u.i].Ready {
					sts[u.i].Trouble = u.trouble
				}
			case u.obj == nil:
				sts[u.i] = Status{Object: objs[u.i].GetKind() + " " + kube.Name(objs[u.i]), Message: "not found"}
			default:
				trouble := sts[u.i].Trouble
				sts[u.i] = judge(ctx, c, u.obj)
				if !sts[u.i].Ready && !sts[u.i].Failed {
					if u.obj.GetKind() == "Pod" && u.obj.GetAPIVersion() == "v1" {
						trouble = workloadTrouble(ctx, c, u.obj) // reads nothing for a pod
					}
					sts[u.i].Trouble = trouble
				}
			}
			done, err := report(sts, progress)
			if done || err != nil {
				return err
			}
		}
	}
}

// report hands sts to progress and says whether the wait is over: every
// object ready (done), or one failed (the error).
func report(sts []Status, progress func(all, pending []Status)) (done bool, err error) {
	var pending []Status
	for _, s := range sts {
		if s.Failed {
			return true, fmt.Errorf("%s failed: %s", s.Object, s.Message)
		}
		if !s.Ready {
			pending = append(pending, s)
		}
	}
	if progress != nil {
		progress(sts, pending)
	}
	return len(pending) == 0, nil
}

// watchObject watches one object by name and calls seen with each state it
// takes (nil once it is gone). It starts from cur, the state the first look
// read (nil when there was none), so the watch begins where that read
// ended. It returns when ctx ends, or after calling seen with
// errWatchRefused when the cluster forbids the watch.
func watchObject(ctx context.Context, c *kube.Client, o, cur *unstructured.Unstructured, seen func(*unstructured.Unstructured, error)) {
	ri, _, err := c.Resource(o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		seen(nil, fmt.Errorf("%w: %w", errWatchRefused, err))
		return
	}
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", o.GetName()).String()}
	rv := ""
	if cur != nil {
		rv = cur.GetResourceVersion()
	}
	follow(ctx, &rv, func(ctx context.Context) (watch.Interface, error) {
		if rv == "" {
			list, err := ri.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			rv = list.GetResourceVersion()
			if len(list.Items) == 0 {
				seen(nil, nil)
			} else {
				seen(&list.Items[0], nil)
			}
		}
		w := opts
		w.ResourceVersion, w.AllowWatchBookmarks = rv, true
		return ri.Watch(ctx, w)
	}, func(ev watch.Event) {
		obj, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			return
		}
		if ev.Type == watch.Deleted {
			seen(nil, nil)
			return
		}
		seen(obj, nil)
	}, func(err error) { seen(nil, err) })
}

// watchPods watches the pods of workload w and calls trouble with what
// keeps them from running whenever that changes ("" when nothing does).
// Pods are a hint for people: when they cannot be listed or watched, it
// stops quietly and readiness goes on by the workload's own status.
func watchPods(ctx context.Context, c *kube.Client, w *unstructured.Unstructured, trouble func(string, error)) {
	sel := podSelector(w)
	if sel == "" {
		return
	}
	pods := c.Typed.CoreV1().Pods(w.GetNamespace())
	byName := map[string]*corev1.Pod{}
	last := ""
	tell := func() {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		t := ""
		for _, n := range names {
			if t = PodTrouble(byName[n]); t != "" {
				break
			}
		}
		if t != last {
			last = t
			trouble(t, nil)
		}
	}
	rv := ""
	follow(ctx, &rv, func(ctx context.Context) (watch.Interface, error) {
		if rv == "" {
			list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return nil, err
			}
			rv = list.ResourceVersion
			clear(byName)
			for i := range list.Items {
				byName[list.Items[i].Name] = &list.Items[i]
			}
			tell()
		}
		return pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
	}, func(ev watch.Event) {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return
		}
		if ev.Type == watch.Deleted {
			delete(byName, pod.Name)
		} else {
			byName[pod.Name] = pod
		}
		tell()
	}, func(error) {})
}

// follow runs a watch that start opens (listing first when *rv is empty),
// hands each event to on and keeps *rv at the last version seen, and opens
// it again from there when the server ends it. A version the server no
// longer has makes it list again. It returns when ctx ends, or after
// calling refused when the cluster forbids the list or the watch.
func follow(ctx context.Context, rv *string, start func(context.Context) (watch.Interface, error), on func(watch.Event), refused func(error)) {
	backoff := 100 * time.Millisecond
	pause := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		return true
	}
	for ctx.Err() == nil {
		w, err := start(ctx)
		if err != nil {
			if apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsUnauthorized(err) {
				refused(fmt.Errorf("%w: %w", errWatchRefused, err))
				return
			}
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				*rv = ""
			}
			// A server restarting or a connection lost: try again soon.
			if !pause() {
				return
			}
			continue
		}
		failed := false
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Error:
				failed = true
				if st := apierrors.FromObject(ev.Object); apierrors.IsGone(st) || apierrors.IsResourceExpired(st) {
					*rv = ""
				}
			default:
				if m, err := meta.Accessor(ev.Object); err == nil {
					*rv = m.GetResourceVersion()
				}
				if ev.Type != watch.Bookmark {
					on(ev)
				}
			}
		}
		w.Stop()
		if !failed {
			backoff = 100 * time.Millisecond
		} else if !pause() {
			return
		}
	}
}
