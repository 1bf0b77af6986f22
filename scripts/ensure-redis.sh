#!/usr/bin/env bash
# Makes sure Debian's redis-server (7.0 on bookworm) is installed at /usr/bin/redis-server.
# The jest global setup (packages/platform/src/testing/infra.main.ts) starts its own redis-server
# on TEST_REDIS_PORT (default 16379) with a directory under .data; this script only installs the
# binary and never starts, enables or configures the system's service. Idempotent: does nothing when
# redis-server is present. Fails loudly (non-zero exit, message on stderr) when it cannot install it.
set -euo pipefail

REDIS_SERVER=/usr/bin/redis-server

if [[ -x "$REDIS_SERVER" ]]; then
  echo "ensure-redis: $REDIS_SERVER already installed ($("$REDIS_SERVER" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

fail() {
  echo "ensure-redis: ERROR: $*" >&2
  exit 1
}

source "$(dirname "$0")/lib/apt.sh"
apt_install ensure-redis redis-server

[[ -x "$REDIS_SERVER" ]] || fail "redis-server package installed but $REDIS_SERVER is still missing"
echo "ensure-redis: installed $("$REDIS_SERVER" --version 2>/dev/null || echo "$REDIS_SERVER")"
