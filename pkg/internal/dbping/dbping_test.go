package dbping_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/pkg/internal/dbping"
	"kindred.dev/kindred/pkg/internal/testbed"
)

// The checks run against real servers from Debian's packages (postgresql,
// mariadb-server, redis-server), started by each test on loopback.

const password = "s3cret-Pa55word"

func TestIntegrationPostgres(t *testing.T) {
	addr := startPostgres(t)
	ok := dbping.Target{Engine: "postgres", Addr: addr, User: "kindred", Password: password, Database: "orders"}
	checkBoth(t, ok)
}

func TestIntegrationMySQL(t *testing.T) {
	addr := startMariaDB(t)
	ok := dbping.Target{Engine: "mysql", Addr: addr, User: "kindred", Password: password, Database: "orders"}
	checkBoth(t, ok)
}

func TestIntegrationRedis(t *testing.T) {
	addr := startRedis(t)
	ok := dbping.Target{Engine: "redis", Addr: addr, Password: password}
	checkBoth(t, ok)
}

// checkBoth: the right password passes; a wrong one fails, and the error
// quotes neither password.
func checkBoth(t *testing.T, ok dbping.Target) {
	t.Helper()
	ctx := context.Background()
	var err error
	for range 50 { // the server may still be starting
		if err = dbping.Ping(ctx, ok); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: %v", ok.What(), err)
	}
	if strings.Contains(ok.What(), password) {
		t.Errorf("What() shows the password: %s", ok.What())
	}
	bad := ok
	bad.Password = "wrong-Pa55word"
	err = dbping.Ping(ctx, bad)
	if err == nil {
		t.Fatalf("%s with a wrong password succeeded", bad.What())
	}
	if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), bad.Password) {
		t.Errorf("the error shows a password: %v", err)
	}
	closed := ok
	closed.Addr = freeAddr(t)
	if err := dbping.Ping(ctx, closed); err == nil {
		t.Errorf("a closed port answered")
	}
}

func need(t *testing.T, bins ...string) {
	t.Helper()
	testbed.Integration(t)
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			if _, err := exec.LookPath(b); err != nil {
				testbed.Missing(t, "%s is not installed (apt-get install postgresql mariadb-server redis-server)", b)
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serverDir is a folder a server's own user can use: t.TempDir's parents
// are private to root.
func serverDir(t *testing.T, owner string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kindred-db-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if owner != "" {
		if out, err := exec.Command("chown", owner, dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	return dir
}

func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	log, err := os.CreateTemp("", "kindred-db-log-")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", filepath.Base(cmd.Path), b)
		}
		os.Remove(log.Name())
	})
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func startPostgres(t *testing.T) string {
	bin := "/usr/lib/postgresql/15/bin/"
	need(t, bin+"initdb", bin+"postgres", "runuser")
	dir := serverDir(t, "postgres")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "runuser", "-u", "postgres", "--", bin+"initdb", "-D", dir+"/data", "-U", "kindred", "--pwfile", pwfile, "--auth", "scram-sha-256")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	start(t, exec.Command("runuser", "-u", "postgres", "--", bin+"postgres", "-D", dir+"/data", "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-p", port))
	waitPort(t, addr)
	// The database the check asks for.
	for range 50 {
		err := exec.Command("runuser", "-u", "postgres", "--", "env", "PGPASSWORD="+password,
			"/usr/bin/psql", "-h", "127.0.0.1", "-p", port, "-U", "kindred", "-d", "postgres", "-c", "CREATE DATABASE orders").Run()
		if err == nil {
			return addr
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("could not create the test database")
	return ""
}

func startMariaDB(t *testing.T) string {
	need(t, "mariadb-install-db", "mariadbd", "mariadb")
	dir := serverDir(t, "")
	run(t, "mariadb-install-db", "--datadir="+dir+"/data", "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	sock := dir + "/sock"
	start(t, exec.Command("mariadbd", "--no-defaults", "--datadir="+dir+"/data", "--user=root", "--port="+port,
		"--bind-address=127.0.0.1", "--socket="+sock, "--pid-file="+dir+"/pid", "--skip-log-bin"))
	waitPort(t, addr)
	sql := fmt.Sprintf("CREATE DATABASE orders; CREATE USER 'kindred'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON orders.* TO 'kindred'@'%%';", password)
	run(t, "mariadb", "--no-defaults", "--socket="+sock, "-uroot", "-e", sql)
	return addr
}

func startRedis(t *testing.T) string {
	need(t, "redis-server")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	start(t, exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", serverDir(t, "")))
	waitPort(t, addr)
	return addr
}

func waitPort(t *testing.T, addr string) {
	t.Helper()
	for range 150 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
