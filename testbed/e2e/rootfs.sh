#!/usr/bin/env bash
# Test infrastructure: a Debian bookworm root filesystem, made by debootstrap
# (minbase) and kept as a tarball in a cache keyed by its name and package
# list. Prints the tarball's path. About 1-10 minutes cold.
#
#   rootfs.sh                   the e2e kind node's rootfs
#   rootfs.sh NAME PACKAGE...   another one, such as the postgres image's
set -euo pipefail
name=node
packages=(
  systemd systemd-sysv dbus containerd runc containernetworking-plugins
  iptables iproute2 ethtool socat conntrack mount util-linux kmod
  ca-certificates procps libseccomp2 pigz
)
if [ $# -gt 0 ]; then
  name=$1; shift
  packages=("$@")
fi
key=$(printf '%s\n' bookworm "${packages[@]}" | sha256sum | cut -c1-12)
cache=${KINDRED_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred/e2e}
out="$cache/rootfs-bookworm-$key.tar"
[ "$name" = node ] || out="$cache/rootfs-$name-bookworm-$key.tar"
if [ -f "$out" ]; then echo "$out"; exit 0; fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$cache"
work=$(mktemp -d "$cache/rootfs.XXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" bookworm "$work/root" http://deb.debian.org/debian >"$work/log" 2>&1 \
  || { tail -30 "$work/log" >&2; exit 1; }
# Trim what a node never uses.
chroot "$work/root" apt-get clean
rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/usr/share/doc/* "$work/root"/usr/share/man/* \
  "$work/root"/usr/share/locale/* "$work/root"/var/log/*.log "$work/root"/var/cache/debconf/*-old
tar -C "$work/root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "rootfs built in $(( $(date +%s) - start ))s: $(du -h "$out" | cut -f1)" >&2
echo "$out"
