package database

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// dbEngine is everything that differs between database servers; one type
// per engine, each next to the others, instead of a switch in every
// function that cares.
type dbEngine interface {
	// dataPath is where the server keeps its data in its container.
	dataPath() string
	// serve sets the server container's environment, command and
	// readiness probe; fromSecret reads a key of the credentials Secret.
	serve(c *corev1.Container, db *api.Database, fromSecret func(env, key string) corev1.EnvVar)
	// initScripts says whether the image runs /docker-entrypoint-initdb.d.
	initScripts() bool
	// seed is the shell a seed Job runs (see seedScripts' contract) and
	// the variable its client reads the password from.
	seed() (script, passwordEnv string)
	// url is the connection URL, the password as given.
	url(user, password, host, database string) string
	// what names the readiness check, without the password.
	what(t Target) string
	// ping logs in to a running server and runs the engine's query once.
	ping(ctx context.Context, t Target) error
	// client is the shell, run in the server's container, that starts
	// the engine's own client logged in as the stack's user, with the
	// password from the container's environment (never argv) and the
	// script's arguments passed on.
	client() string
}

// ClientCommand is the command that runs the database's own client (psql,
// mysql, redis-cli) in its server's container, logged in, with args given
// to the client: what kindred connect runs.
func ClientCommand(db api.Database, args ...string) ([]string, error) {
	e, err := engineOf(db.Engine)
	if err != nil {
		return nil, err
	}
	return append([]string{"sh", "-c", e.client(), "kindred-connect"}, args...), nil
}

// engines are the database engines, by the name stacks use.
var engines = map[string]dbEngine{
	api.EnginePostgres: postgres{},
	api.EngineMySQL:    mysqlEngine{},
	api.EngineRedis:    redis{},
}

func engineOf(name string) (dbEngine, error) {
	e, ok := engines[name]
	if !ok {
		return nil, fmt.Errorf("no database engine %q", name)
	}
	return e, nil
}

type postgres struct{}

func (postgres) dataPath() string { return "/var/lib/postgresql/data" }

func (p postgres) serve(c *corev1.Container, db *api.Database, fromSecret func(string, string) corev1.EnvVar) {
	c.Env = []corev1.EnvVar{fromSecret("POSTGRES_PASSWORD", "password"), {Name: "POSTGRES_USER", Value: User}, {Name: "POSTGRES_DB", Value: db.Name}, {Name: "PGDATA", Value: p.dataPath() + "/pgdata"}}
	c.ReadinessProbe = execProbe("pg_isready", "-U", User, "-d", db.Name)
}

func (postgres) initScripts() bool { return true }

func (postgres) seed() (string, string) {
	return `set -eu
q() { psql -h "$HOST" -p "${PORT:-5432}" -U kindred -d "$DB" -v ON_ERROR_STOP=1 -tA "$@"; }
until pg_isready -h "$HOST" -p "${PORT:-5432}" -U kindred -d "$DB" >/dev/null; do sleep 1; done
q -c 'CREATE TABLE IF NOT EXISTS kindred_seeds (hash text PRIMARY KEY, file text, at timestamptz DEFAULT now())'
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -n "$(q -c "SELECT 1 FROM kindred_seeds WHERE hash = '$h'")" ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  q -1 -f "$f" -c "INSERT INTO kindred_seeds (hash, file) VALUES ('$h', '$(basename "$f")')"
done`, "PGPASSWORD"
}

func (postgres) url(user, password, host, database string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, password, host, database)
}

func (postgres) what(t Target) string {
	return fmt.Sprintf("SELECT 1 as %s on postgres://%s/%s", t.User, t.Addr, t.Database)
}

func (postgres) ping(ctx context.Context, t Target) error {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(t.User, t.Password), Host: t.Addr, Path: "/" + t.Database, RawQuery: "sslmode=disable&connect_timeout=5"}
	return sqlPing(ctx, "postgres", u.String(), "SELECT 1")
}

func (postgres) client() string {
	// The server's local socket trusts its own users.
	return `exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"`
}

type mysqlEngine struct{}

func (mysqlEngine) client() string {
	return `MYSQL_PWD="$MYSQL_PASSWORD" exec mysql -u"$MYSQL_USER" "$MYSQL_DATABASE" "$@"`
}

func (mysqlEngine) dataPath() string { return "/var/lib/mysql" }

func (mysqlEngine) serve(c *corev1.Container, db *api.Database, fromSecret func(string, string) corev1.EnvVar) {
	c.Env = []corev1.EnvVar{fromSecret("MYSQL_ROOT_PASSWORD", "password"), fromSecret("MYSQL_PASSWORD", "password"), {Name: "MYSQL_USER", Value: User}, {Name: "MYSQL_DATABASE", Value: db.Name}}
	// The password goes through the environment, never argv, where every
	// process on a kind node's host could read it in ps.
	c.ReadinessProbe = execProbe("sh", "-c", `MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysqladmin ping -h 127.0.0.1 -uroot`)
}

func (mysqlEngine) initScripts() bool { return true }

func (mysqlEngine) seed() (string, string) {
	return `set -eu
q() { mysql -h "$HOST" -P "${PORT:-3306}" -ukindred "$DB" "$@"; }
until mysqladmin ping -h "$HOST" -P "${PORT:-3306}" -ukindred --silent >/dev/null; do sleep 1; done
q -e 'CREATE TABLE IF NOT EXISTS kindred_seeds (hash CHAR(64) PRIMARY KEY, file TEXT, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)'
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -n "$(q -N -e "SELECT 1 FROM kindred_seeds WHERE hash = '$h'")" ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  { echo 'START TRANSACTION;'; cat "$f"; echo; echo "INSERT INTO kindred_seeds (hash, file) VALUES ('$h', '$(basename "$f")'); COMMIT;"; } | q
done`, "MYSQL_PWD"
}

func (mysqlEngine) url(user, password, host, database string) string {
	return fmt.Sprintf("mysql://%s:%s@%s/%s", user, password, host, database)
}

func (mysqlEngine) what(t Target) string {
	return fmt.Sprintf("ping as %s on mysql://%s/%s", t.User, t.Addr, t.Database)
}

func (mysqlEngine) ping(ctx context.Context, t Target) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = t.User, t.Password, "tcp", t.Addr, t.Database
	cfg.Timeout = 5 * time.Second
	return sqlPing(ctx, "mysql", cfg.FormatDSN(), "SELECT 1")
}

type redis struct{}

func (redis) client() string { return `REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli "$@"` }

func (redis) dataPath() string { return "/data" }

func (r redis) serve(c *corev1.Container, db *api.Database, fromSecret func(string, string) corev1.EnvVar) {
	c.Env = []corev1.EnvVar{fromSecret("REDIS_PASSWORD", "password")}
	// The append-only file goes to the working folder: the volume, not
	// whatever folder an image happens to start in.
	c.WorkingDir = r.dataPath()
	// The password reaches the server as configuration on stdin and the
	// client through REDISCLI_AUTH, never argv, where every process on a
	// kind node's host could read it in ps.
	c.Command = []string{"sh", "-c", "exec redis-server - --appendonly yes <<EOF\nrequirepass $REDIS_PASSWORD\nEOF"}
	c.ReadinessProbe = execProbe("sh", "-c", `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG`)
}

func (redis) initScripts() bool { return false }

func (redis) seed() (string, string) {
	return `set -eu
r() { redis-cli -h "$HOST" -p "${PORT:-6379}" "$@"; }
until [ "$(r ping)" = PONG ]; do sleep 1; done
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ "$(r exists "kindred:seed:$h")" = 1 ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  r < "$f" >/dev/null
  r set "kindred:seed:$h" "$(basename "$f")" >/dev/null
done`, "REDISCLI_AUTH"
}

func (redis) url(_, password, host, _ string) string {
	return fmt.Sprintf("redis://:%s@%s/0", password, host)
}

func (redis) what(t Target) string { return fmt.Sprintf("AUTH and PING on redis://%s", t.Addr) }

func (redis) ping(ctx context.Context, t Target) error { return redisPing(ctx, t.Addr, t.Password) }
