package database

// Checking that a database really answers: a Postgres `SELECT 1`, a MySQL
// ping, a Redis PING, each logged in with the database's credentials.
// Readiness of a database step means this succeeds, not that its pod is
// Ready.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq" // the postgres driver for database/sql
)

// Target is a database server and how to log in.
type Target struct {
	Engine   string // postgres, mysql or redis
	Addr     string // host:port
	User     string // unused by redis
	Password string
	Database string // unused by redis
}

// What names the check, with the password masked, for messages.
func (t Target) What() string {
	if e, ok := engines[t.Engine]; ok {
		return e.what(t)
	}
	return t.Engine + " on " + t.Addr
}

// Ping connects to t, logs in and runs the engine's query once.
func Ping(ctx context.Context, t Target) error {
	e, err := engineOf(t.Engine)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return e.ping(ctx, t)
}

func sqlPing(ctx context.Context, driver, dsn, query string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(ctx, query).Scan(&one); err != nil {
		return scrub(err, dsn)
	}
	if one != 1 {
		return fmt.Errorf("%s returned %d", query, one)
	}
	return nil
}

// scrub keeps a driver's error from quoting the password.
func scrub(err error, dsn string) error {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "****")
		}
	}
	if cfg, perr := mysql.ParseDSN(dsn); perr == nil && cfg.Passwd != "" {
		msg = strings.ReplaceAll(msg, cfg.Passwd, "****")
	}
	return fmt.Errorf("%s", msg)
}

// redisPing speaks just enough RESP: AUTH (when there is a password), then
// PING, which must answer PONG.
func redisPing(ctx context.Context, addr, password string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	send := func(args ...string) (string, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			return "", err
		}
		line, err := r.ReadString('\n')
		return strings.TrimRight(line, "\r\n"), err
	}
	if password != "" {
		reply, err := send("AUTH", password)
		if err != nil {
			return err
		}
		if reply != "+OK" {
			return fmt.Errorf("AUTH: %s", strings.ReplaceAll(reply, password, "****"))
		}
	}
	reply, err := send("PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}
