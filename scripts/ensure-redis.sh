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

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install Debian's 'redis-server' package by hand so that $REDIS_SERVER exists"

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is unavailable; cannot apt-get install redis-server"
  SUDO=(sudo)
fi

echo "ensure-redis: $REDIS_SERVER missing; installing Debian's redis-server package"
export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run may hold the lock briefly; wait for it rather than failing at once.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update || fail "apt-get update failed"
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends redis-server \
  || fail "apt-get install redis-server failed"

[[ -x "$REDIS_SERVER" ]] || fail "redis-server package installed but $REDIS_SERVER is still missing"
echo "ensure-redis: installed $("$REDIS_SERVER" --version 2>/dev/null || echo "$REDIS_SERVER")"
