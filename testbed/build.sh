#!/usr/bin/env bash
# Builds the test bed's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, contour) from the Go module proxy into a cache folder keyed by
# their versions, and does nothing when that folder is already complete.
#
# The cold build takes 15-30 minutes on 2 cores. Prints the folder on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# modver DIR MODULE prints the version DIR/go.mod requires of MODULE.
modver() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }
K8S_VERSION=$(modver kube k8s.io/kubernetes)
ETCD_VERSION=$(modver etcd go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(modver kwok sigs.k8s.io/kwok)

cache=${KINDRED_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred/testbed}
dir="$cache/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
# contour came later than the folder's key: a complete folder without it
# builds just that.
if [ -f "$dir/.complete" ] && [ -x "$dir/contour" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"

. "$here/kube-ldflags.sh"
kube_ldflags=$(kube_ldflags "$K8S_VERSION")

build() { # module-dir output package ldflags
  local mod=$1 out=$2 pkg=$3 ldflags=$4
  [ -x "$dir/$out" ] && return 0
  echo "building $out ($pkg)" >&2
  (cd "$here/$mod" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$dir/$out.tmp" "$pkg")
  mv "$dir/$out.tmp" "$dir/$out"
}

start=$(date +%s)
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}"
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
build kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
# The real Contour controller, which judges HTTPProxies on the simulated
# cluster (Envoy cannot be built here).
build contour contour github.com/projectcontour/contour/cmd/contour "-s -w"
cat > "$dir/versions.env" <<VERS
KUBERNETES=${K8S_VERSION}
ETCD=${ETCD_VERSION}
KWOK=${KWOK_VERSION}
VERS
touch "$dir/.complete"
echo "test bed built in $(( $(date +%s) - start ))s" >&2
echo "$dir"
