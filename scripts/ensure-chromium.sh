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

source "$(dirname "$0")/lib/apt.sh"
apt_install ensure-chromium chromium fonts-liberation

[[ -x "$CHROMIUM" ]] || fail "chromium package installed but $CHROMIUM is still missing"
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
