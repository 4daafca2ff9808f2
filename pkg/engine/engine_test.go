package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/event"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/sim"
	"kindred.dev/kindred/pkg/stack"
)

const refStack = "../../testdata/stacks/engine/stack.yaml"

type fixture struct {
	t     *testing.T
	ctx   context.Context
	sim   *sim.Cluster
	kube  *kube.Client
	cache string
}

// newFixture is a simulated cluster that plays the test charts' Widget
// controller.
func newFixture(t *testing.T, opts ...sim.Option) *fixture {
	t.Helper()
	f := newBareFixture(t, opts...)
	testbed.PlayWidgets(t, f.sim, 0)
	return f
}

// newBareFixture is a simulated cluster that plays no custom controller.
func newBareFixture(t *testing.T, opts ...sim.Option) *fixture {
	t.Helper()
	c := testbed.Sim(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	kc, err := kube.New(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, sim: c, kube: kc, cache: t.TempDir()}
}

func (f *fixture) config(rec event.Sink) engine.Config {
	p, _ := cluster.New(cluster.Existing, cluster.Options{Kubeconfig: f.sim.Kubeconfig})
	return engine.Config{Provider: p, Sink: rec, CacheDir: f.cache}
}

// up runs Up on the stack file and returns the final state of each step.
func (f *fixture) up(st *stack.Stack) (map[string]string, error) {
	f.t.Helper()
	return f.upWith(st, nil)
}

// upWith is up with the Up action's options set by opt.
func (f *fixture) upWith(st *stack.Stack, opt func(*engine.Up)) (map[string]string, error) {
	f.t.Helper()
	rec := &event.Recorder{}
	up := engine.NewUp(f.config(rec))
	if opt != nil {
		opt(up)
	}
	_, err := up.Run(f.ctx, st)
	return rec.Final(), err
}

func load(t *testing.T, path string, edit func(*stack.Stack)) *stack.Stack {
	t.Helper()
	st, err := stack.Load(path, stack.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(st)
	}
	return st
}

func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got[id] != w {
			t.Errorf("step %s: %q, want %q (all: %v)", id, got[id], w, got)
		}
	}
}

func allSteps(st string, ids ...string) map[string]string {
	m := map[string]string{}
	for _, id := range ids {
		m[id] = st
	}
	return m
}

var refSteps = []string{"agent", "extra", "kz", "orders", "tenant/team-a", "widgets", "op", "user", "fixtures"}

// TestIntegrationUpConverges runs the reference stack cold, again with
// nothing changed, with one value changed, and with a component removed.
func TestIntegrationUpConverges(t *testing.T) {
	f := newFixture(t)
	st := load(t, refStack, nil)

	got, err := f.up(st)
	if err != nil {
		t.Fatalf("cold up: %v", err)
	}
	expect(t, got, allSteps("changed", refSteps...))

	got, err = f.up(st)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	expect(t, got, allSteps("unchanged", append(refSteps, "cluster", "prune")...))

	// One value: exactly that release upgrades.
	st = load(t, refStack, func(s *stack.Stack) { s.Components[1].Values["logLevel"] = "debug" })
	got, err = f.up(st)
	if err != nil {
		t.Fatal(err)
	}
	want := allSteps("unchanged", "agent", "extra", "kz", "orders", "tenant/team-a", "widgets", "user", "fixtures")
	want["op"] = "changed"
	expect(t, got, want)
	dep, err := f.kube.Typed.AppsV1().Deployments("ops").Get(f.ctx, "op", metav1.GetOptions{})
	if err != nil || !strings.Contains(strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "), "--log-level=debug") {
		t.Errorf("the upgrade did not reach the Deployment: %v", err)
	}

	// Remove a component: without --prune (and no one to ask), up
	// refuses before it changes anything, the value changed in the same
	// edit included; with it, the component is uninstalled.
	st = load(t, refStack, func(s *stack.Stack) {
		s.Components[1].Values["logLevel"] = "info"
		s.Components = append(s.Components[:3], s.Components[4:]...) // agent
	})
	got, err = f.up(st)
	if !errors.Is(err, engine.ErrRemovalNotConfirmed) || !strings.Contains(err.Error(), "agent: helm release agent in agents") {
		t.Errorf("up dropping a component without --prune: %v", err)
	}
	expect(t, got, map[string]string{"cluster": "failed", "op": "skipped", "prune": "skipped"})
	if _, err := f.kube.Typed.AppsV1().DaemonSets("agents").Get(f.ctx, "agent", metav1.GetOptions{}); err != nil {
		t.Errorf("a refused up removed the dropped component: %v", err)
	}
	if dep, err := f.kube.Typed.AppsV1().Deployments("ops").Get(f.ctx, "op", metav1.GetOptions{}); err != nil || !strings.Contains(strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "), "--log-level=debug") {
		t.Errorf("a refused up changed another step: %v", err)
	}
	st = load(t, refStack, func(s *stack.Stack) {
		s.Components[1].Values["logLevel"] = "debug"
		s.Components = append(s.Components[:3], s.Components[4:]...) // agent
	})
	got, err = f.upWith(st, func(u *engine.Up) { u.Prune = true })
	if err != nil {
		t.Fatal(err)
	}
	expect(t, got, map[string]string{"prune": "removed", "op": "unchanged"})
	if _, err := f.kube.Typed.AppsV1().DaemonSets("agents").Get(f.ctx, "agent", metav1.GetOptions{}); err == nil {
		t.Error("the removed component's DaemonSet is still there")
	}
	if cm, err := f.kube.Typed.CoreV1().ConfigMaps("extras").Get(f.ctx, "kz-settings", metav1.GetOptions{}); err != nil || cm.Labels["app.kubernetes.io/part-of"] != "engine-test" {
		t.Errorf("the kustomize component's ConfigMap: %v", err)
	}

	// Status reads the record, and down removes everything.
	rep, err := engine.NewStatus(f.config(nil)).Run(f.ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != len(refSteps)-1 {
		t.Errorf("status has %d steps, want %d", len(rep.Steps), len(refSteps)-1)
	}
	for _, s := range rep.Steps {
		if !s.Healthy {
			t.Errorf("step %s unhealthy: %s", s.ID, s.Message)
		}
	}
	rec := &event.Recorder{}
	if _, err := engine.NewDown(f.config(rec)).Run(f.ctx, st); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Final()); n != len(refSteps)-1 || rec.Final()["orders"] != "removed" {
		t.Errorf("down removed %d steps, want %d: %v", n, len(refSteps)-1, rec.Final())
	}
	// Down again: nothing to remove, and no error.
	rec = &event.Recorder{}
	if sum, err := engine.NewDown(f.config(rec)).Run(f.ctx, st); err != nil || sum != (event.Summary{}) {
		t.Errorf("a second down: %v %+v", err, sum)
	}
	if ev := rec.Events(); len(ev) != 1 || !strings.HasPrefix(ev[0].Message, "nothing to remove") {
		t.Errorf("a second down says: %+v", ev)
	}
	if _, err := f.kube.Typed.AppsV1().StatefulSets("default").Get(f.ctx, "orders", metav1.GetOptions{}); err == nil {
		t.Error("down left the database")
	}
}

// TestIntegrationFailingStep checks that a broken chart fails its step with
// a clear error, its dependants are skipped, and the rest still converges.
func TestIntegrationFailingStep(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "stack.yaml")
	charts, _ := filepath.Abs("../../testdata/charts")
	data := `apiVersion: kindred.dev/v1alpha1
kind: Stack
metadata: {name: failing}
components:
  - {name: broken, chart: {path: ` + charts + `/broken}}
  - {name: after, chart: {path: ` + charts + `/hooked}, needs: [broken]}
  - {name: later, manifests: [cm.yaml], needs: [after]}
  - {name: fine, chart: {path: ` + charts + `/agent}}
`
	if err := os.WriteFile(stackFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := f.up(load(t, stackFile, nil))
	var runErr *engine.RunError
	if !errors.As(err, &runErr) {
		t.Fatalf("err = %v, want a *RunError", err)
	}
	if len(runErr.Failed) != 1 || runErr.Failed[0].Step != "broken" || !strings.Contains(runErr.Failed[0].Error(), "value is required") {
		t.Errorf("failed steps %v", runErr.Failed)
	}
	expect(t, got, map[string]string{"broken": "failed", "after": "skipped", "later": "skipped", "fine": "changed"})
}

// TestIntegrationConcurrentUp runs two ups at once: the second waits for the
// first and then finds nothing to do; one that cannot wait fails clearly.
func TestIntegrationConcurrentUp(t *testing.T) {
	f := newFixture(t, sim.WithReadyDelay(0, sim.ReadyDelay{Image: "example.test/operator:0.3.1", Delay: 4 * time.Second}))
	st := load(t, refStack, nil)
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, firstErr = f.up(st)
	}()
	// Wait until the first run holds the lock.
	for i := 0; i < 200; i++ {
		if _, err := f.kube.Typed.CoordinationV1().Leases(engine.SystemNamespace).Get(f.ctx, "kindred-lock", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	impatient := engine.NewUp(f.config(nil))
	impatient.LockTimeout = 500 * time.Millisecond
	_, err := impatient.Run(f.ctx, st)
	if !errors.Is(err, engine.ErrLocked) {
		t.Errorf("an up that cannot wait: err = %v, want ErrLocked", err)
	}
	rec := &event.Recorder{}
	_, err = engine.NewUp(f.config(rec)).Run(f.ctx, st)
	wg.Wait()
	if firstErr != nil || err != nil {
		t.Fatalf("first: %v; second: %v", firstErr, err)
	}
	waited := false
	for _, e := range rec.Events() {
		if e.Type == event.StepProgress && strings.Contains(e.Message, "waiting for another kindred run") {
			waited = true
		}
	}
	if !waited {
		t.Error("the second run did not say it was waiting")
	}
	expect(t, rec.Final(), allSteps("unchanged", refSteps...))
}

// TestIntegrationAPIServerRestart restarts the API server while up runs;
// the run rides out the outage and converges.
func TestIntegrationAPIServerRestart(t *testing.T) {
	f := newFixture(t, sim.WithReadyDelay(500*time.Millisecond, sim.ReadyDelay{Image: "example.test/operator:0.3.1", Delay: 3 * time.Second}))
	st := load(t, refStack, nil)
	restarted := make(chan error, 1)
	var restartedAt time.Time
	var once sync.Once
	sink := event.SinkFunc(func(e event.Event) {
		// Restart while level-1 steps are in flight.
		if e.Type == event.StepStarted && e.Step == "op" {
			once.Do(func() {
				go func() {
					err := f.sim.RestartAPIServer(f.ctx)
					restartedAt = time.Now()
					restarted <- err
				}()
			})
		}
	})
	rec := &event.Recorder{}
	both := event.SinkFunc(func(e event.Event) { sink.Emit(e); rec.Emit(e) })
	_, err := engine.NewUp(f.config(both)).Run(f.ctx, st)
	if rerr := <-restarted; rerr != nil {
		t.Fatalf("restarting the API server: %v", rerr)
	}
	if err != nil {
		t.Fatalf("up did not converge across the restart: %v", err)
	}
	// The outage fell inside the run: the server came back before it ended.
	for _, e := range rec.Events() {
		if e.Type == event.Finished && !restartedAt.Before(e.Time) {
			t.Fatalf("the run finished at %v, before the API server was back at %v; the test did not test a restart", e.Time, restartedAt)
		}
	}
	got, err := f.up(st)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, got, allSteps("unchanged", refSteps...))
}
