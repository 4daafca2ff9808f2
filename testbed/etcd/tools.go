//go:build tools

// Package etcd pins the etcd server the test bed builds. Its main package is
// the root of go.etcd.io/etcd/server/v3.
package etcd

import _ "go.etcd.io/etcd/server/v3"
