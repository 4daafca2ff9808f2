package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"kindred.dev/kindred/pkg/stack"
)

// Forward is one database reachable on the host's loopback while a
// Forwarder runs.
type Forward struct {
	Database  string
	Namespace string
	Service   string
	// Port is the port on 127.0.0.1; Remote the service's port.
	Port, Remote int
}

// Forwarder keeps port-forwards to the stack's databases alive: each
// listens on 127.0.0.1 and reaches a ready pod behind the database's
// Service, and when the pod goes (a restart, a rollout) it forwards to the
// next one on the same local port.
type Forwarder struct {
	cfg Config
	// Event receives what happens (connected to a pod, lost it), for the
	// caller to show; nil drops it.
	Event func(f Forward, msg string)
}

// NewForwarder returns a Forwarder for the stack's cluster.
func NewForwarder(cfg Config) *Forwarder {
	cfg.defaults()
	return &Forwarder{cfg: cfg}
}

// ErrPortTaken means a forward's local port is in use by something else.
var ErrPortTaken = errors.New("the local port is taken")

// Run forwards each of fs until ctx ends. A forward whose local port is
// taken fails at once, so the caller can choose another.
func (fw *Forwarder) Run(ctx context.Context, st *stack.Stack, fs []Forward) error {
	acc, err := fw.cfg.Provider.Access(ctx, st)
	if err != nil {
		return err
	}
	rc, err := acc.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	for _, f := range fs {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.Port)))
		if err != nil {
			return fmt.Errorf("%w: 127.0.0.1:%d for %s: %v", ErrPortTaken, f.Port, f.Database, err)
		}
		_ = l.Close()
	}
	errs := make(chan error, len(fs))
	for _, f := range fs {
		go func() { errs <- fw.keep(ctx, rc, cs, f) }()
	}
	var all []error
	for range fs {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (fw *Forwarder) say(f Forward, msg string) {
	if fw.Event != nil {
		fw.Event(f, msg)
	}
}

// keep forwards f until ctx ends, to one ready pod after another.
func (fw *Forwarder) keep(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, f Forward) error {
	backoff := 200 * time.Millisecond
	waiting := "" // said once while it stays the same
	for ctx.Err() == nil {
		pod, target, err := readyPod(ctx, cs, f)
		if err == nil {
			began := time.Now()
			err = forwardOnce(ctx, rc, cs, f, pod, target, func() {
				fw.say(f, fmt.Sprintf("127.0.0.1:%d → pod %s/%s:%d", f.Port, f.Namespace, pod, target))
			})
			if ctx.Err() != nil {
				return nil
			}
			if time.Since(began) > 5*time.Second {
				backoff = 200 * time.Millisecond
			}
			fw.say(f, fmt.Sprintf("lost pod %s (%v); forwarding to the next ready one", pod, err))
			waiting = ""
		} else if msg := "waiting for a ready pod: " + err.Error(); msg != waiting {
			fw.say(f, msg)
			waiting = msg
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

// readyPod is a ready, running pod behind f's Service, and the port the
// Service's port reaches in it.
func readyPod(ctx context.Context, cs kubernetes.Interface, f Forward) (string, int, error) {
	svc, err := cs.CoreV1().Services(f.Namespace).Get(ctx, f.Service, metav1.GetOptions{})
	if err != nil {
		return "", 0, err
	}
	pods, err := cs.CoreV1().Pods(f.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", 0, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podReady(&p) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) != f.Remote {
				continue
			}
			if port, ok := containerPort(&p, sp); ok {
				return p.Name, port, nil
			}
		}
	}
	return "", 0, fmt.Errorf("no ready pod behind service %s/%s", f.Namespace, f.Service)
}

// containerPort resolves a Service port's target in a pod, by number or
// by the container port's name.
func containerPort(p *corev1.Pod, sp corev1.ServicePort) (int, bool) {
	if sp.TargetPort.IntValue() > 0 {
		return sp.TargetPort.IntValue(), true
	}
	name := sp.TargetPort.String()
	if name == "" || name == "0" {
		return int(sp.Port), true
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name {
				return int(cp.ContainerPort), true
			}
		}
	}
	return 0, false
}

// forwardOnce forwards f's local port to one pod, until the connection to
// it is lost or ctx ends.
func forwardOnce(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, f Forward, pod string, target int, ready func()) error {
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return err
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, readyCh := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("%d:%d", f.Port, target)}, stop, readyCh, io.Discard, io.Discard)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	// The forward has no way to notice its pod is gone but a failed
	// stream; watching the pod ends it at once, so the next one is used.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			p, err := cs.CoreV1().Pods(f.Namespace).Get(ctx, pod, metav1.GetOptions{})
			if err != nil || p.DeletionTimestamp != nil || !podReady(p) {
				return
			}
		}
	}()
	select {
	case <-readyCh:
		ready()
	case err := <-done:
		return err
	}
	select {
	case err := <-done:
		close(stop)
		if err == nil {
			err = errors.New("the connection ended")
		}
		return err
	case <-gone:
		close(stop)
		<-done
		return errors.New("the pod is gone or not ready")
	case <-ctx.Done():
		close(stop)
		<-done
		return nil
	}
}
