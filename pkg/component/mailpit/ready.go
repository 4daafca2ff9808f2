package mailpit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/ready"
)

// Finish is Mailpit's real readiness, beyond a Ready pod: through a
// port-forward to its pod, the SMTP server greets (220) and the web
// server's /readyz answers 200. On simulated nodes no server runs; the
// check is skipped, and progress says so. The step's endpoint is the SMTP
// address apps send to.
func (Mailpit) Finish(ctx context.Context, env *component.Env, _ []*unstructured.Unstructured) (component.Result, error) {
	name, ns := env.Step.Component.Name, env.Namespace
	res := component.Result{Endpoint: fmt.Sprintf("%s.%s.svc.cluster.local:%d", name, ns, SMTPPort)}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	var last error
	for {
		pod, simulated, err := readyPod(ctx, env, name, ns)
		if err == nil && simulated {
			env.Skip("SMTP and /readyz checks", "simulated nodes run no Mailpit")
			return res, nil
		}
		if err == nil {
			err = check(ctx, env, ns, pod)
			if err == nil {
				return res, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%w: mailpit %s does not answer (SMTP greeting on %d, GET /readyz on %d): %v", ready.ErrNotReady, name, SMTPPort, HTTPPort, last)
		case <-time.After(time.Second):
		}
	}
}

// readyPod finds a Ready pod of the Deployment, and whether its node is
// simulated.
func readyPod(ctx context.Context, env *component.Env, name, ns string) (string, bool, error) {
	pods, err := env.Kube.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + name})
	if err != nil {
		return "", false, err
	}
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type != "Ready" || c.Status != "True" {
				continue
			}
			if env.Access.Simulated {
				return p.Name, true, nil
			}
			node, err := env.Kube.Typed.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			return p.Name, err == nil && node.Annotations[cluster.SimulatedNodeAnnotation] == "fake", nil
		}
	}
	return "", false, fmt.Errorf("no Ready pod of %s/%s", ns, name)
}

func check(ctx context.Context, env *component.Env, ns, pod string) error {
	smtp, stop, err := env.Kube.PortForward(ctx, ns, pod, SMTPPort)
	if err != nil {
		return err
	}
	defer stop()
	web, stopWeb, err := env.Kube.PortForward(ctx, ns, pod, HTTPPort)
	if err != nil {
		return err
	}
	defer stopWeb()
	env.Say(fmt.Sprintf("connecting: SMTP greeting and GET /readyz on pod %s/%s", ns, pod))
	if err := smtpGreets(ctx, smtp); err != nil {
		return err
	}
	return readyz(ctx, web)
}

// smtpGreets connects to an SMTP server and wants its 220 greeting, then
// says QUIT.
func smtpGreets(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("SMTP greeting %q, want 220", strings.TrimSpace(line))
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return nil
}

// readyz wants 200 from GET /readyz.
func readyz(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	return nil
}
