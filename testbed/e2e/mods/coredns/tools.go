//go:build tools

// Package coredns pins github.com/coredns/coredns for the e2e kind node image.
package coredns

import _ "github.com/coredns/coredns"
