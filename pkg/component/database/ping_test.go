package database_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"kindred.dev/kindred/internal/testbed"
	"kindred.dev/kindred/pkg/component/database"
)

// The checks run against real servers from Debian's packages (postgresql,
// mariadb-server, redis-server), started by each test on loopback.

const password = "s3cret-Pa55word"

func TestIntegrationPostgres(t *testing.T) {
	addr := testbed.StartPostgres(t, password)
	ok := database.Target{Engine: "postgres", Addr: addr, User: "kindred", Password: password, Database: "orders"}
	checkBoth(t, ok)
}

func TestIntegrationMySQL(t *testing.T) {
	addr := testbed.StartMariaDB(t, password)
	ok := database.Target{Engine: "mysql", Addr: addr, User: "kindred", Password: password, Database: "orders"}
	checkBoth(t, ok)
}

func TestIntegrationRedis(t *testing.T) {
	addr := testbed.StartRedis(t, password)
	ok := database.Target{Engine: "redis", Addr: addr, Password: password}
	checkBoth(t, ok)
}

// checkBoth: the right password passes; a wrong one fails, and the error
// quotes neither password.
func checkBoth(t *testing.T, ok database.Target) {
	t.Helper()
	ctx := context.Background()
	var err error
	for range 50 { // the server may still be starting
		if err = database.Ping(ctx, ok); err == nil {
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
	err = database.Ping(ctx, bad)
	if err == nil {
		t.Fatalf("%s with a wrong password succeeded", bad.What())
	}
	if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), bad.Password) {
		t.Errorf("the error shows a password: %v", err)
	}
	closed := ok
	closed.Addr = testbed.FreeAddr(t)
	if err := database.Ping(ctx, closed); err == nil {
		t.Errorf("a closed port answered")
	}
}
