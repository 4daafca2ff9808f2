package testbed

// Real database servers from Debian's packages (postgresql, mariadb-server,
// redis-server), started on loopback for a test and stopped when it ends.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func need(t testing.TB, bins ...string) {
	t.Helper()
	Integration(t)
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			if _, err := exec.LookPath(b); err != nil {
				Missing(t, "%s is not installed (apt-get install postgresql mariadb-server redis-server)", b)
			}
		}
	}
}

// FreePort is a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is a free TCP address on 127.0.0.1.
func FreeAddr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", FreePort(t)) }

// serverDir is a folder a server's own user can use: t.TempDir's parents
// are private to root.
func serverDir(t testing.TB, owner string) string {
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

func start(t testing.TB, cmd *exec.Cmd) {
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

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// StartPostgres runs PostgreSQL 15 from Debian's package on loopback, with
// a user kindred (password) and a database orders, until t ends; it returns
// host:port.
func StartPostgres(t testing.TB, password string) string {
	bin := "/usr/lib/postgresql/15/bin/"
	need(t, bin+"initdb", bin+"postgres", "runuser")
	dir := serverDir(t, "postgres")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "runuser", "-u", "postgres", "--", bin+"initdb", "-D", dir+"/data", "-U", "kindred", "--pwfile", pwfile, "--auth", "scram-sha-256")
	addr := FreeAddr(t)
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

// StartMariaDB runs MariaDB from Debian's package on loopback, with a user
// kindred (password) owning a database orders; it returns host:port.
func StartMariaDB(t testing.TB, password string) string {
	need(t, "mariadb-install-db", "mariadbd", "mariadb")
	dir := serverDir(t, "")
	run(t, "mariadb-install-db", "--datadir="+dir+"/data", "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db")
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	sock := dir + "/sock"
	start(t, exec.Command("mariadbd", "--no-defaults", "--datadir="+dir+"/data", "--user=root", "--port="+port,
		"--bind-address=127.0.0.1", "--socket="+sock, "--pid-file="+dir+"/pid", "--skip-log-bin"))
	waitPort(t, addr)
	sql := fmt.Sprintf("CREATE DATABASE orders; CREATE USER 'kindred'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON orders.* TO 'kindred'@'%%';", password)
	run(t, "mariadb", "--no-defaults", "--socket="+sock, "-uroot", "-e", sql)
	return addr
}

// StartRedis runs redis-server on loopback with password; it returns
// host:port.
func StartRedis(t testing.TB, password string) string {
	need(t, "redis-server")
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	start(t, exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", serverDir(t, "")))
	waitPort(t, addr)
	return addr
}

func waitPort(t testing.TB, addr string) {
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
