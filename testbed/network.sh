#!/usr/bin/env bash
# Test infrastructure: blackhole routes for every cluster range the tests use,
# so no service or pod address can ever leave this machine. More specific
# routes, such as docker bridges, still win. Idempotent; checks the result.
set -euo pipefail
ranges=(
  10.96.0.0/12     # service subnets (kind and the simulated cluster)
  10.244.0.0/16    # kind's default pod subnet
  192.168.0.0/16   # Calico's default pod subnet
  10.0.0.0/24      # kwok's pod addresses
)
for r in "${ranges[@]}"; do
  ip route replace blackhole "$r"
done
for probe in 10.96.0.1 10.244.0.1 192.168.0.1 10.0.0.1; do
  out=$(ip route get "$probe" 2>&1 || true)
  case "$out" in
    *blackhole*|*"Invalid argument"*|*"No route"*) ;;
    *) echo "network.sh: $probe would route out of the machine: $out" >&2; exit 1 ;;
  esac
done
