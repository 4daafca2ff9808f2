#!/usr/bin/env bash
# Test infrastructure, run after the tests: waits for kindredtest's reapers
# to delete the kind clusters they own (named kt-*), then removes kind's
# network when no container uses it, running or stopped (a user's stopped
# kind clusters need it to start again). kind makes the network again when
# it next needs it.
set -euo pipefail
command -v docker >/dev/null && docker info >/dev/null 2>&1 || exit 0
for _ in $(seq 120); do
  [ -z "$(docker ps -aq --filter label=io.x-k8s.kind.cluster --filter name=kt-)" ] && break
  sleep 0.5
done
if docker network inspect kind >/dev/null 2>&1 &&
   [ -z "$(docker ps -aq --filter network=kind)" ]; then
  docker network rm kind >/dev/null
fi
