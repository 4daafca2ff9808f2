package sim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The API server reaches pods (service webhooks, aggregated APIs) through an
// egress selector: an HTTP CONNECT proxy on a Unix socket in the cluster's
// folder. The proxy looks up the pod that owns the address dialled and hands
// the connection to whatever plays that pod in this process (a simulated
// webhook, say). Every other address is refused at once, so no cluster
// address is ever dialled on a real network, and a webhook nobody plays
// fails fast, as on a cluster whose webhook pod is down.

// egressConfig is the API server's EgressSelectorConfiguration.
func egressConfig(socket string) string {
	return fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, socket)
}

// egressSocket is the proxy's socket for the cluster in dir. Unix socket
// paths are short (104 bytes on macOS), so a long folder gets a socket in
// the temporary folder, named by a hash of the folder.
func egressSocket(dir string) string {
	p := filepath.Join(dir, "egress.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "kindred-egress-"+hex.EncodeToString(sum[:6])+".sock")
}

// PodServer plays what listens in pods: it says whether it answers port of
// pod, and serves the connections it accepted.
type PodServer struct {
	// Name says what it plays, for logs.
	Name string
	// Accepts reports whether it answers on port of pod.
	Accepts func(pod *corev1.Pod, port int) bool
	// Serve handles one connection; it owns conn.
	Serve func(pod *corev1.Pod, conn net.Conn)
}

// egress is the proxy.
type egress struct {
	kube *kubernetes.Clientset
	log  *slog.Logger

	mu      sync.Mutex
	servers []PodServer
}

func (e *egress) add(s PodServer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.servers = append(e.servers, s)
}

// serve listens on socket until ctx ends. A stale socket left by a process
// that died is replaced.
func (e *egress) serve(ctx context.Context, socket string) error {
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(e.connect), ReadHeaderTimeout: 10 * time.Second, ErrorLog: quiet}
	go func() {
		<-ctx.Done()
		srv.Close()
		os.Remove(socket)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// connect answers one CONNECT request from the API server.
func (e *egress) connect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	host, portText, err := net.SplitHostPort(r.Host)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		http.Error(w, "bad address "+r.Host, http.StatusBadRequest)
		return
	}
	pod, srv, ok := e.route(r.Context(), host, port)
	if !ok {
		// What a real network does for a pod nobody listens in.
		http.Error(w, fmt.Sprintf("dial tcp %s: connection refused (nothing on the simulated cluster plays it)", r.Host), http.StatusServiceUnavailable)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	e.log.Debug("egress", "to", r.Host, "pod", pod.Namespace+"/"+pod.Name, "played by", srv.Name)
	srv.Serve(pod, &bufferedConn{Conn: conn, r: buf.Reader})
}

// route finds the running pod with the address and what plays it.
func (e *egress) route(ctx context.Context, ip string, port int) (*corev1.Pod, PodServer, bool) {
	pods, err := e.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=" + ip})
	if err != nil {
		return nil, PodServer{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, s := range e.servers {
			if s.Accepts(pod, port) {
				return pod, s, true
			}
		}
	}
	return nil, PodServer{}, false
}

// quiet drops net/http's own log lines (TLS handshakes the API server gives
// up on while a CA is being injected): the library never prints.
var quiet = log.New(io.Discard, "", 0)

// bufferedConn reads first what the CONNECT request's reader buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ServeHTTP serves one connection with handler, over TLS when cfg is set,
// and returns when the connection ends.
func ServeHTTP(conn net.Conn, cfg *tls.Config, handler http.Handler) {
	l := newOneConn(conn)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ConnState: l.track, ErrorLog: quiet}
	var ln net.Listener = l
	if cfg != nil {
		ln = tls.NewListener(l, cfg)
	}
	_ = srv.Serve(ln)
}

// oneConn is a listener that accepts one connection and then closes once
// that connection is done.
type oneConn struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newOneConn(c net.Conn) *oneConn {
	l := &oneConn{ch: make(chan net.Conn, 1), done: make(chan struct{}), addr: c.LocalAddr()}
	l.ch <- c
	return l
}

func (l *oneConn) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return l.addr }

func (l *oneConn) track(_ net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		l.Close()
	}
}
