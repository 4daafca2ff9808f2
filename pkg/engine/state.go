package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/proc"
)

// Where kindred keeps its records in a cluster.
const (
	SystemNamespace = "kindred-system"
	// Each stack's record is a Secret of its own, kindred-state-STACK, so
	// stacks share a cluster without touching each other's steps. A
	// Secret, not a ConfigMap: the applied stack holds chart values, and
	// values may hold credentials. kindred-state alone is the record of
	// versions that kept one per cluster; it is moved on first use.
	stateSecret = "kindred-state"
	lockLease   = "kindred-lock"
	// LabelStack names the stack a record belongs to.
	LabelStack = "kindred.dev/stack"
)

// stateName is the Secret holding stack's record.
func stateName(stack string) string { return stateSecret + "-" + stack }

// ErrLocked is wrapped when another run holds the cluster's lock too long.
var ErrLocked = errors.New("another kindred run holds the cluster")

// ObjectRef names one object kindred applied.
type ObjectRef = component.Ref

// StepRecord is what the cluster remembers of one applied step.
type StepRecord struct {
	Kind  string `json:"kind"`
	Level int    `json:"level"`
	// Hash of the step's desired state when it last succeeded.
	Hash string `json:"hash,omitempty"`
	// Fingerprint of what the step was asked to do when it last succeeded
	// (see fingerprint).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Release, for chart steps.
	Release   string `json:"release,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Inventory, for steps that apply objects themselves.
	Inventory []ObjectRef `json:"inventory,omitempty"`
	// Endpoint is a database's in-cluster address, and Secret the name of
	// the Secret holding its credentials (never the credentials).
	Endpoint string `json:"endpoint,omitempty"`
	Secret   string `json:"secret,omitempty"`
	// DNSRewrite is the domain an ingress step pointed CoreDNS at its proxy for.
	DNSRewrite string `json:"dnsRewrite,omitempty"`
	// Data is where a database keeps its data.
	Data    *component.Data `json:"data,omitempty"`
	Applied string          `json:"applied,omitempty"` // RFC 3339
	// Skipped lists the checks the step skipped, and why.
	Skipped []string `json:"skipped,omitempty"`
	// Failed is why the step's last run failed; empty once it succeeds.
	Failed string `json:"failed,omitempty"`
}

// State is the applied stack recorded in the cluster, so that status and
// down work without the original file.
type State struct {
	Stack string                 `json:"stack"`
	File  string                 `json:"file,omitempty"`
	Spec  json.RawMessage        `json:"spec,omitempty"`
	Steps map[string]*StepRecord `json:"steps"`
}

// stateStore reads and writes one stack's State Secret. Writes are
// serialised, and those that arrive while one is under way go out
// together in the next.
type stateStore struct {
	cs    kubernetes.Interface
	stack string

	mu      sync.Mutex
	writing bool
	pending []pendingUpdate
}

type pendingUpdate struct {
	fn   func(*State)
	done chan error
}

func ensureSystemNamespace(ctx context.Context, cs kubernetes.Interface) error {
	// Read first: a user who may not create namespaces may still use it.
	if _, err := cs.CoreV1().Namespaces().Get(ctx, SystemNamespace, metav1.GetOptions{}); err == nil {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kindred"}}}
	_, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// load returns the stack's recorded state, or an empty one.
func (s *stateStore) load(ctx context.Context) (*State, error) {
	sec, err := s.secret(ctx)
	if apierrors.IsNotFound(err) {
		return &State{Stack: s.stack, Steps: map[string]*StepRecord{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading kindred's state: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(sec.Data["state.json"], st); err != nil {
		return nil, fmt.Errorf("reading kindred's state: %w", err)
	}
	if st.Steps == nil {
		st.Steps = map[string]*StepRecord{}
	}
	return st, nil
}

// update applies fn to the recorded state and writes it back, retrying on
// conflicts. When another write is under way, fn waits for it and goes
// out with the others that waited, in one write: a run of hundreds of
// steps writes its record a few dozen times, not once per step.
//
// A write, once started, is finished even if ctx is cancelled (within
// stateWriteTimeout): the record then says what the run did.
func (s *stateStore) update(ctx context.Context, fn func(*State)) error {
	done := make(chan error, 1)
	s.mu.Lock()
	s.pending = append(s.pending, pendingUpdate{fn: fn, done: done})
	first := !s.writing
	s.writing = true
	s.mu.Unlock()
	if first {
		s.flush(ctx)
	}
	return <-done
}

// flush writes what is pending as one write. What arrived meanwhile goes
// out in another goroutine, so a caller waits for its own write only.
func (s *stateStore) flush(ctx context.Context) {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateWriteTimeout)
	err := s.write(wctx, func(st *State) {
		for _, u := range batch {
			u.fn(st)
		}
	})
	cancel()
	for _, u := range batch {
		u.done <- err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		go s.flush(ctx)
		return
	}
	s.writing = false
}

// stateWriteTimeout bounds one write of the record.
const stateWriteTimeout = 30 * time.Second

// write applies fn to the recorded state and writes it back, retrying on
// conflicts.
func (s *stateStore) write(ctx context.Context, fn func(*State)) error {
	for attempt := 0; ; attempt++ {
		sec, err := s.secret(ctx)
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		legacy := err == nil && sec.Name == stateSecret
		st := &State{Steps: map[string]*StepRecord{}}
		if !create {
			if err := json.Unmarshal(sec.Data["state.json"], st); err != nil || st.Steps == nil {
				st = &State{Steps: map[string]*StepRecord{}}
			}
		}
		if create || legacy {
			create = true
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: stateName(s.stack), Namespace: SystemNamespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kindred", LabelStack: s.stack}}, Type: corev1.SecretTypeOpaque}
		}
		st.Stack = s.stack
		fn(st)
		data, err := json.Marshal(st)
		if err != nil {
			return err
		}
		sec.Data = map[string][]byte{"state.json": data}
		if create {
			_, err = s.cs.CoreV1().Secrets(SystemNamespace).Create(ctx, sec, metav1.CreateOptions{})
		} else {
			_, err = s.cs.CoreV1().Secrets(SystemNamespace).Update(ctx, sec, metav1.UpdateOptions{})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing kindred's state: %w", err)
		}
		if legacy {
			// Moved to the stack's own record.
			_ = s.cs.CoreV1().Secrets(SystemNamespace).Delete(ctx, stateSecret, metav1.DeleteOptions{})
		}
		return nil
	}
}

// secret reads the stack's record: its own Secret, else the one record of
// an older kindred if it is this stack's.
func (s *stateStore) secret(ctx context.Context) (*corev1.Secret, error) {
	sec, err := s.cs.CoreV1().Secrets(SystemNamespace).Get(ctx, stateName(s.stack), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return sec, err
	}
	old, lerr := s.cs.CoreV1().Secrets(SystemNamespace).Get(ctx, stateSecret, metav1.GetOptions{})
	if lerr == nil {
		var st State
		if json.Unmarshal(old.Data["state.json"], &st) == nil && st.Stack == s.stack {
			return old, nil
		}
	}
	return nil, err
}

// otherStates reads the records of the cluster's other stacks.
func otherStates(ctx context.Context, cs kubernetes.Interface, stack string) ([]*State, error) {
	list, err := cs.CoreV1().Secrets(SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: LabelStack})
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, sec := range list.Items {
		if sec.Labels[LabelStack] == stack {
			continue
		}
		st := &State{}
		if json.Unmarshal(sec.Data["state.json"], st) == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// lock is a Lease held while a run changes the cluster.
type lock struct {
	cs       kubernetes.Interface
	identity string
	duration time.Duration
	stop     chan struct{}
	done     chan struct{}
}

func newIdentity() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano())
}

// acquire takes the lease, waiting up to timeout while another live run
// holds it; waiting is called once with the holder's identity.
func acquireLock(ctx context.Context, cs kubernetes.Interface, timeout time.Duration, waiting func(holder string)) (*lock, error) {
	l := &lock{cs: cs, identity: newIdentity(), duration: 15 * time.Second, stop: make(chan struct{}), done: make(chan struct{})}
	deadline := time.Now().Add(timeout)
	told := false
	leases := cs.CoordinationV1().Leases(SystemNamespace)
	for {
		now := metav1.NewMicroTime(time.Now())
		secs := int32(l.duration / time.Second)
		lease, err := leases.Get(ctx, lockLease, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: lockLease, Namespace: SystemNamespace},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &l.identity, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
			}, metav1.CreateOptions{})
			if err == nil {
				go l.renew()
				return l, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			holder := ""
			if lease.Spec.HolderIdentity != nil {
				holder = *lease.Spec.HolderIdentity
			}
			expired := lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil ||
				time.Since(lease.Spec.RenewTime.Time) > time.Duration(*lease.Spec.LeaseDurationSeconds)*time.Second
			if holder == "" || expired || deadLocalHolder(holder) {
				lease.Spec.HolderIdentity = &l.identity
				lease.Spec.LeaseDurationSeconds = &secs
				lease.Spec.AcquireTime = &now
				lease.Spec.RenewTime = &now
				if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
					go l.renew()
					return l, nil
				} else if !apierrors.IsConflict(err) {
					return nil, err
				}
				continue
			}
			if !told && waiting != nil {
				waiting(holder)
				told = true
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%w (%s) after waiting %s; if no other run is active, it expires within %s", ErrLocked, holder, timeout, l.duration)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// deadLocalHolder reports whether holder names a process of this machine
// that no longer runs, such as a run killed with SIGKILL; its lease need
// not run out before the next run goes ahead.
func deadLocalHolder(holder string) bool {
	host, _ := os.Hostname()
	rest, ok := strings.CutPrefix(holder, host+"-")
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	return !proc.Alive(pid)
}

func (l *lock) renew() {
	defer close(l.done)
	t := time.NewTicker(l.duration / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			lease, err := l.cs.CoordinationV1().Leases(SystemNamespace).Get(ctx, lockLease, metav1.GetOptions{})
			if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == l.identity {
				now := metav1.NewMicroTime(time.Now())
				lease.Spec.RenewTime = &now
				_, _ = l.cs.CoordinationV1().Leases(SystemNamespace).Update(ctx, lease, metav1.UpdateOptions{})
			}
			cancel()
		}
	}
}

// release gives the lease up for the next run.
func (l *lock) release() {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lease, err := l.cs.CoordinationV1().Leases(SystemNamespace).Get(ctx, lockLease, metav1.GetOptions{})
	if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == l.identity {
		_ = l.cs.CoordinationV1().Leases(SystemNamespace).Delete(ctx, lockLease, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{ResourceVersion: &lease.ResourceVersion},
		})
	}
}
