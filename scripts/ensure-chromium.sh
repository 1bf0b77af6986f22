#!/usr/bin/env bash
# Makes sure Debian's headless-capable Chromium is installed at /usr/bin/chromium.
# The browser tests (gateway/tests/graphiql.browser.test.ts) drive it through playwright-core,
# which never downloads a browser of its own. Idempotent: does nothing when chromium is present.
# Fails loudly (non-zero exit, message on stderr) when it cannot install it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  echo "ensure-chromium: $CHROMIUM already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

fail() {
  echo "ensure-chromium: ERROR: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install Debian's 'chromium' package by hand so that $CHROMIUM exists"

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is unavailable; cannot apt-get install chromium"
  SUDO=(sudo)
fi

echo "ensure-chromium: $CHROMIUM missing; installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run may hold the lock briefly; wait for it rather than failing at once.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update || fail "apt-get update failed"
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends chromium fonts-liberation \
  || fail "apt-get install chromium failed"

[[ -x "$CHROMIUM" ]] || fail "chromium package installed but $CHROMIUM is still missing"
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
