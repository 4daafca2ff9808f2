#!/usr/bin/env bash
# Test infrastructure: builds every Go binary the e2e kind node image needs
# from the Go module proxy, each cached by name and version, so a binary is
# only built once per version. Prints the cache folder.
#
# The Kubernetes node binaries come from the same module (testbed/kube) and
# version as the simulated cluster's control plane, whose build cache they
# share. Cold: about 25 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tb=$(cd "$here/.." && pwd)

modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
K8S_VERSION=$(modver "$tb/kube" k8s.io/kubernetes)
cache=${KINDRED_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred/e2e}
dir="$cache/bin"
mkdir -p "$dir"

. "$tb/kube-ldflags.sh"
kube_ldflags=$(kube_ldflags "$K8S_VERSION")

build() { # module-dir name version package ldflags
  local mod=$1 name=$2 version=$3 pkg=$4 ldflags=$5
  local out="$dir/$name-$version"
  [ -x "$out" ] && return 0
  echo "building $name $version ($pkg)" >&2
  local t0; t0=$(date +%s)
  (cd "$mod" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  echo "  $name: $(( $(date +%s) - t0 ))s" >&2
}

for c in kubelet kubeadm kubectl kube-proxy; do
  build "$tb/kube" "$c" "$K8S_VERSION" "k8s.io/kubernetes/cmd/$c" "$kube_ldflags"
done
m=$here/mods
v=$(modver "$m/coredns" github.com/coredns/coredns)
build "$m/coredns" coredns "$v" github.com/coredns/coredns \
  "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$v"
v=$(modver "$m/crictl" sigs.k8s.io/cri-tools)
build "$m/crictl" crictl "$v" sigs.k8s.io/cri-tools/cmd/crictl \
  "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$v"
v=$(modver "$m/localpath" github.com/rancher/local-path-provisioner)
build "$m/localpath" local-path-provisioner "$v" github.com/rancher/local-path-provisioner "-s -w"
v=$(modver "$m/registry" github.com/distribution/distribution/v3)
build "$m/registry" registry "$v" github.com/distribution/distribution/v3/cmd/registry "-s -w"
echo "$dir"
