package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/internal/testbed"
)

// countWrites counts the requests that create or replace an object.
type countWrites struct {
	next   http.RoundTripper
	writes *atomic.Int64
}

func (c countWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut || req.Method == http.MethodPost {
		c.writes.Add(1)
	}
	return c.next.RoundTrip(req)
}

// Steps that finish together have their records written together, every
// one of them kept; a record asked for by a cancelled run is still
// written.
func TestIntegrationStateUpdatesTogether(t *testing.T) {
	testbed.Integration(t)
	c := testbed.Sim(t)
	var writes atomic.Int64
	rc := c.RESTConfig()
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countWrites{rt, &writes} }
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ensureSystemNamespace(ctx, cs); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	store := &stateStore{cs: cs, stack: "s"}
	const n = 100
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = store.update(ctx, func(st *State) { st.Steps[fmt.Sprintf("s%03d", i)] = &StepRecord{Kind: "component", Level: i} })
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	st, err := store.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if rec := st.Steps[fmt.Sprintf("s%03d", i)]; rec == nil || rec.Level != i {
			t.Errorf("record s%03d after the updates: %+v", i, rec)
		}
	}
	if w := writes.Load(); w >= n/2 {
		t.Errorf("%d updates made %d writes; ones that arrive together should share one", n, w)
	} else {
		t.Logf("%d updates, %d writes", n, w)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := store.update(cancelled, func(st *State) { st.Steps["late"] = &StepRecord{Failed: "interrupted"} }); err != nil {
		t.Fatalf("recording after the run was cancelled: %v", err)
	}
	if st, err := store.load(ctx); err != nil || st.Steps["late"] == nil {
		t.Errorf("the record written after the cancel: %v", err)
	}
}
