#!/usr/bin/env bash
# Test infrastructure: Debian packages the tests use as real peers — the
# database servers the readiness checks are tested against (started by the
# tests themselves on loopback), debootstrap for the e2e images, and jq.
# Their services are not started at install. Idempotent.
set -euo pipefail
need=()
for p in postgresql-15 mariadb-server redis-server debootstrap jq tmux; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
policy=/usr/sbin/policy-rc.d
had_policy=false
[ -e "$policy" ] && had_policy=true
$had_policy || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
trap '$had_policy || rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
