#!/usr/bin/env bash
# Test infrastructure: installs Debian's docker.io when missing, registers the
# runc-nocap wrapper as the default runtime, starts dockerd when none answers,
# and waits until it does. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v dockerd >/dev/null || ! command -v jq >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io jq iproute2 >/dev/null
fi

install -m 0755 "$here/runc-nocap" /usr/local/bin/runc-nocap
mkdir -p /etc/docker
want='{"runtimes":{"runc-nocap":{"path":"/usr/local/bin/runc-nocap"}},"default-runtime":"runc-nocap"}'
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$want" ]; then
  echo "$want" > /etc/docker/daemon.json
  if docker info >/dev/null 2>&1; then
    kill "$(cat /var/run/docker.pid)" 2>/dev/null || true
    for _ in $(seq 50); do docker info >/dev/null 2>&1 || break; sleep 0.2; done
  fi
fi

if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 150); do
    docker info >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
docker info --format 'docker {{.ServerVersion}}, default runtime {{.DefaultRuntime}}' \
  || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
