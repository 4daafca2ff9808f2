package mailpit

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/golden"
)

// TestObjectsGolden pins Mailpit's Deployment and Service.
func TestObjectsGolden(t *testing.T) {
	objs, err := objects("mail", "default", "docker.io/axllent/mailpit:v1.31.1")
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckYAML(t, "mailpit.yaml", objs)
}

// serve answers each connection on a loopback port with greet, as an SMTP
// server greets, and reads what the client says next.
func serve(t *testing.T, greet string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greet == "" {
				c.Close()
				continue
			}
			_, _ = c.Write([]byte(greet))
			buf := make([]byte, 64)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	return l.Addr().String()
}

// The readiness check speaks real SMTP and HTTP: a 220 greeting passes,
// any other greeting or none fails; /readyz must answer 200.
func TestChecks(t *testing.T) {
	ctx := context.Background()
	if err := smtpGreets(ctx, serve(t, "220 mailpit ESMTP Service ready\r\n")); err != nil {
		t.Errorf("a 220 greeting: %v", err)
	}
	if err := smtpGreets(ctx, serve(t, "554 no service\r\n")); err == nil || !strings.Contains(err.Error(), "554") {
		t.Errorf("a 554 greeting: %v", err)
	}
	if err := smtpGreets(ctx, serve(t, "")); err == nil {
		t.Error("a server that closes without a greeting passed")
	}
	status := http.StatusServiceUnavailable
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer web.Close()
	addr := strings.TrimPrefix(web.URL, "http://")
	if err := readyz(ctx, addr); err == nil {
		t.Error("a 503 /readyz passed")
	}
	status = http.StatusOK
	if err := readyz(ctx, addr); err != nil {
		t.Errorf("a 200 /readyz: %v", err)
	}
}
