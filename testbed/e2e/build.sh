#!/usr/bin/env bash
# Test infrastructure: builds the e2e kind node image kindred-e2e/node:<k8s>
# with no registry. Everything comes from Debian packages (rootfs.sh) and
# Go modules (binaries.sh, ../build.sh, ./images). The image is labelled with
# a hash of its inputs, and is rebuilt only when that hash changes; docker's
# layer cache reuses each unchanged layer. Prints the images as environment
# assignments for the tests: KINDRED_E2E_NODE_IMAGE=... KINDRED_E2E_REGISTRY_IMAGE=...
# KINDRED_E2E_BIN=... (the folder of the Go-built binaries, such as CoreDNS).
#
# Also builds kindred-e2e/registry:<version> (the distribution registry),
# which the real-kind tests use as kindred's local registry image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tb=$(cd "$here/.." && pwd)
log() { echo "e2e-image: $*" >&2; }


bin=$("$here/binaries.sh")
if ! docker info >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    log "no Docker engine answers; run testbed/docker/setup.sh as root"; exit 1
  fi
  log "no Docker engine answers: skipping the e2e images (the real-kind tests will skip)"
  echo "KINDRED_E2E_BIN=$bin"
  exit 0
fi
rootfs=$("$here/rootfs.sh")
cp_bin=$("$tb/build.sh")
. "$cp_bin/versions.env"
K8S=$KUBERNETES
cache=${KINDRED_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred/e2e}

ver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
COREDNS=$(ver "$here/mods/coredns" github.com/coredns/coredns)
LOCALPATH=$(ver "$here/mods/localpath" github.com/rancher/local-path-provisioner)
REGISTRY=$(ver "$here/mods/registry" github.com/distribution/distribution/v3)
CRICTL=$(ver "$here/mods/crictl" sigs.k8s.io/cri-tools)

work=$(mktemp -d "${TMPDIR:-/tmp}/kindred-e2e.XXXX")
trap 'rm -rf "$work"' EXIT

# Our own two small images' binaries.
(cd "$here/images" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/own/" ./kindnetd ./pause)

# busybox for local-path-provisioner's helper pods, from Debian.
bb="$cache/busybox-static"
if [ ! -x "$bb/bin/busybox" ]; then
  (cd "$work" && apt-get download -qq busybox-static >/dev/null 2>&1) || {
    apt-get update -qq && (cd "$work" && apt-get download -qq busybox-static)
  }
  rm -rf "$bb.tmp" && dpkg-deb -x "$work"/busybox-static_*.deb "$bb.tmp" && mv "$bb.tmp" "$bb"
fi

# The images kubeadm expects, with the tags it asks for.
kubeadm="$bin/kubeadm-$K8S"
mapfile -t want < <("$kubeadm" config images list --kubernetes-version "$K8S" 2>/dev/null)
tag_of() { printf '%s\n' "${want[@]}" | grep "/$1:" | head -1; }
PAUSE_IMAGE=$(tag_of pause)
KINDNETD_IMAGE="kindred-e2e/kindnetd:$(sha256sum "$work/own/kindnetd" | cut -c1-12)"
LOCALPATH_IMAGE="kindred-e2e/local-path-provisioner:$LOCALPATH"
HELPER_IMAGE="kindred-e2e/local-path-helper:$(sha256sum "$bb/bin/busybox" | cut -c1-12)"
REGISTRY_IMAGE="kindred-e2e/registry:$REGISTRY"

# image TAG ENTRYPOINT FILE:DEST... builds a FROM-scratch image of files;
# ENTRYPOINT is a path or a JSON array.
image() {
  local tag=$1 entry=$2; shift 2
  [ "${entry:0:1}" = "[" ] || entry="[\"$entry\"]"
  local ctx="$work/ctx-${tag//[:\/]/_}"
  mkdir -p "$ctx"
  local spec
  for spec in "$@"; do
    mkdir -p "$ctx/$(dirname "${spec#*:}")"
    cp -a "${spec%%:*}" "$ctx/${spec#*:}"
  done
  {
    echo "FROM scratch"
    echo "COPY . /"
    echo 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'
    echo "ENTRYPOINT $entry"
  } > "$ctx/Dockerfile"
  docker build -q -t "$tag" "$ctx" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
}

# kube-proxy needs iptables (nft) with its shared libraries and extensions.
mkdir -p "$work/root"
tar -C "$work/root" -xf "$rootfs"
proxy="$work/proxyfs"
mkdir -p "$proxy/usr/sbin" "$proxy/usr/local/bin" "$proxy/usr/lib"
ln -s usr/lib "$proxy/lib" # merged /usr, as in Debian
cp "$bin/kube-proxy-$K8S" "$proxy/usr/local/bin/kube-proxy"
cp -a "$work/root/usr/sbin/xtables-nft-multi" "$proxy/usr/sbin/"
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$proxy/usr/sbin/$t"
done
mkdir -p "$proxy/usr/lib/x86_64-linux-gnu"
cp -a "$work/root/usr/lib/x86_64-linux-gnu/xtables" "$proxy/usr/lib/x86_64-linux-gnu/"
libs() { # the shared libraries a binary needs, resolved inside the rootfs
  chroot "$work/root" /usr/bin/ldd "$1" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
}
{ libs /usr/sbin/xtables-nft-multi; for so in "$work"/root/usr/lib/x86_64-linux-gnu/xtables/*.so; do libs "${so#"$work/root"}"; done; } | sort -u |
while read -r l; do
  mkdir -p "$proxy$(dirname "$l")"
  cp -L "$work/root$l" "$proxy$l"
done
# The dynamic loader is found at its absolute path.
mkdir -p "$proxy/lib64" && cp -L "$work/root/lib64/ld-linux-x86-64.so.2" "$proxy/lib64/"
mkdir -p "$proxy/run" "$proxy/tmp"

log "component images"
image "$PAUSE_IMAGE" /pause "$work/own/pause:pause"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  image "$(tag_of "$c")" "/usr/local/bin/$c" "$cp_bin/$c:usr/local/bin/$c"
done
image "$(tag_of etcd)" /usr/local/bin/etcd "$cp_bin/etcd:usr/local/bin/etcd"
image "$(tag_of coredns)" /coredns "$bin/coredns-$COREDNS:coredns"
image "$(tag_of kube-proxy)" /usr/local/bin/kube-proxy "$proxy/usr:usr" "$proxy/lib:lib" "$proxy/lib64:lib64" "$proxy/run:run" "$proxy/tmp:tmp"
image "$KINDNETD_IMAGE" /kindnetd "$work/own/kindnetd:kindnetd"
image "$LOCALPATH_IMAGE" /local-path-provisioner "$bin/local-path-provisioner-$LOCALPATH:local-path-provisioner"
mkdir -p "$work/helper/bin" && cp "$bb/bin/busybox" "$work/helper/bin/"
for a in sh mkdir rm ls cat chmod; do ln -sf busybox "$work/helper/bin/$a"; done
image "$HELPER_IMAGE" /bin/sh "$work/helper/bin:bin"
mkdir -p "$work/regfs/etc/distribution" "$work/regfs/var/lib/registry"
cat > "$work/regfs/etc/distribution/config.yml" <<'CFG'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
CFG
image "$REGISTRY_IMAGE" '["/registry", "serve", "/etc/distribution/config.yml"]' "$bin/registry-$REGISTRY:registry" "$work/regfs/etc:etc" "$work/regfs/var:var"
docker image inspect "$REGISTRY_IMAGE" >/dev/null

# debian_image NAME IMAGE PACKAGE...: builds IMAGE from a Debian rootfs with
# the packages (cached by rootfs.sh), the files in $here/NAME, and the
# Dockerfile lines on stdin after its FROM.
debian_image() {
  local name=$1 image=$2 rootfs base
  shift 2
  rootfs=$("$here/rootfs.sh" "$name" "$@")
  base="kindred-e2e/$name-base:$(basename "$rootfs" .tar | sed "s/^rootfs-$name-//")"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    docker import "$rootfs" "$base" >/dev/null
  fi
  mkdir -p "$work/$name"
  if [ -d "$here/$name" ]; then cp -a "$here/$name/." "$work/$name/"; fi
  { echo "FROM $base"; cat; } > "$work/$name/Dockerfile"
  docker build -q -t "$image" "$work/$name" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
}

# The databases, from Debian's packages. In the node each is also tagged as
# the official image of the catalogue's version, so kindred's database
# component runs it unchanged.
#
# Postgres, with an entrypoint that keeps the official image's contract.
POSTGRES_IMAGE=kindred-e2e/postgres:15
debian_image postgres "$POSTGRES_IMAGE" postgresql-15 <<'DF'
COPY entrypoint /usr/local/bin/docker-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint"]
DF
# Redis (Debian's 7.0). kindred gives the command itself (redis-server with
# a password), so the image needs only the binaries and the official
# image's working folder, /data.
REDIS_IMAGE=kindred-e2e/redis:7
debian_image redis "$REDIS_IMAGE" redis-server <<'DF'
WORKDIR /data
CMD ["redis-server"]
DF
# MySQL (Debian's MariaDB 10.11), with an entrypoint that keeps the official
# image's contract.
MYSQL_IMAGE=kindred-e2e/mysql:10.11
debian_image mysql "$MYSQL_IMAGE" mariadb-server <<'DF'
# Debian's package initialised a data folder; the entrypoint makes its own.
RUN rm -rf /var/lib/mysql && mkdir -p /var/lib/mysql && chown mysql:mysql /var/lib/mysql
COPY entrypoint /usr/local/bin/docker-entrypoint
ENTRYPOINT ["/usr/local/bin/docker-entrypoint"]
DF

images=("${want[@]}" "$KINDNETD_IMAGE" "$LOCALPATH_IMAGE" "$HELPER_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$MYSQL_IMAGE")
node="kindred-e2e/node:$K8S"
emit() { echo "KINDRED_E2E_NODE_IMAGE=$node KINDRED_E2E_REGISTRY_IMAGE=$REGISTRY_IMAGE KINDRED_E2E_BIN=$bin"; }

# The inputs' hash: every image's ID, the rootfs, the node files and this script.
inputs=$( {
  sha256sum "$rootfs" | cut -d' ' -f1
  for i in "${images[@]}"; do docker image inspect -f '{{.Id}}' "$i"; done
  for b in kubelet kubeadm kubectl; do sha256sum "$bin/$b-$K8S" | cut -d' ' -f1; done
  sha256sum "$bin/crictl-$CRICTL" | cut -d' ' -f1
  (cd "$here/node" && find . -type f -o -type l | LC_ALL=C sort | xargs -d '\n' sha256sum 2>/dev/null; find . -type l -printf '%p %l\n' | LC_ALL=C sort)
  sha256sum "$0" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "dev.kindred.e2e.inputs"}}' "$node" 2>/dev/null)" = "$inputs" ]; then
  log "$node is up to date ($inputs)"
  emit; exit 0
fi
start=$(date +%s)

# Layer 1: the Debian rootfs, imported once per rootfs.
base="kindred-e2e/node-base:$(basename "$rootfs" .tar | sed 's/^rootfs-//')"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  log "importing $rootfs as $base"
  docker import "$rootfs" "$base" >/dev/null
fi

# Layer 2: binaries and configuration.
ctx="$work/node"
mkdir -p "$ctx/usr/bin" "$ctx/kind/manifests"
cp -a "$here/node/rootfs/." "$ctx/"
for b in kubelet kubeadm kubectl; do cp "$bin/$b-$K8S" "$ctx/usr/bin/$b"; done
cp "$bin/crictl-$CRICTL" "$ctx/usr/bin/crictl"
echo "$K8S" > "$ctx/kind/version"
subst() {
  sed -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" -e "s|@KINDNETD_IMAGE@|docker.io/$KINDNETD_IMAGE|g" \
      -e "s|@LOCALPATH_IMAGE@|docker.io/$LOCALPATH_IMAGE|g" -e "s|@HELPER_IMAGE@|docker.io/$HELPER_IMAGE|g" "$1"
}
mkdir -p "$ctx/etc/containerd/certs.d"
subst "$here/node/containerd.toml.in" > "$ctx/etc/containerd/config.toml"
subst "$here/node/default-cni.yaml.in" > "$ctx/kind/manifests/default-cni.yaml"
subst "$here/node/default-storage.yaml.in" > "$ctx/kind/manifests/default-storage.yaml"
cat > "$ctx/Dockerfile" <<DF
FROM $base
COPY . /
DF
docker build -q -t "kindred-e2e/node-stage:$K8S" "$ctx" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }

# Layer 3: every image preloaded into containerd's k8s.io namespace.
log "preloading ${#images[@]} images"
mkdir -p "$work/images"
docker save -o "$work/images/all.tar" "${images[@]}"
cid=$(docker run -d --privileged --entrypoint /bin/sh -v "$work/images:/images:ro" \
  "kindred-e2e/node-stage:$K8S" -c 'sleep infinity')
cleanup_cid() { docker rm -f "$cid" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup_cid EXIT
docker exec "$cid" sh -c '
  set -e
  containerd >/tmp/containerd.log 2>&1 &
  pid=$!
  for i in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
  ctr -n k8s.io images import --no-unpack /images/all.tar >/dev/null
  ctr -n k8s.io images tag docker.io/kindred-e2e/postgres:15 docker.io/library/postgres:15 >/dev/null
  ctr -n k8s.io images tag docker.io/kindred-e2e/redis:7 docker.io/library/redis:8.2 >/dev/null
  ctr -n k8s.io images tag docker.io/kindred-e2e/mysql:10.11 docker.io/library/mysql:8.4 >/dev/null
  ctr -n k8s.io images ls -q | sort
  kill $pid; wait $pid || true
  rm -rf /tmp/* /var/log/*.log' >"$work/preloaded"
for i in "${images[@]}"; do
  grep -q "$i\$" "$work/preloaded" || { log "image $i was not preloaded"; cat "$work/preloaded" >&2; exit 1; }
done
docker stop -t 1 "$cid" >/dev/null
docker commit "$cid" "kindred-e2e/node-preloaded:$K8S" >/dev/null
# docker commit cannot set a stop signal; one metadata-only build can.
mkdir -p "$work/final"
cat > "$work/final/Dockerfile" <<DF
FROM kindred-e2e/node-preloaded:$K8S
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
CMD []
LABEL dev.kindred.e2e.inputs=$inputs
DF
docker build -q -t "$node" "$work/final" >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
log "built $node in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$node" | awk '{printf "%d MB", $1/1e6}'))"
emit
