//go:build tools

// Package localpath pins github.com/rancher/local-path-provisioner for the e2e kind node image.
package localpath

import _ "github.com/rancher/local-path-provisioner"
