#!/usr/bin/env bash
# Installs the observability tools the tests and the local stack use, when missing:
#   prometheus, promtool       (Debian package `prometheus`)
#   prometheus-alertmanager, amtool  (Debian package `prometheus-alertmanager`; Debian names the
#                              Alertmanager binary prometheus-alertmanager, upstream calls it alertmanager)
# Idempotent: does nothing when every binary is already on PATH. Fails loudly (non-zero exit and
# a line naming what is missing) when it cannot install them, so CI never silently skips the
# observability end-to-end test.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
{ command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; } && command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)

if [ ${#missing[@]} -eq 0 ]; then
  echo "observability tools present: $(prometheus --version 2>&1 | head -n1)"
  exit 0
fi

source "$(dirname "$0")/lib/apt.sh"
apt_install ensure-observability-tools "${missing[@]}"

for bin in prometheus promtool prometheus-alertmanager amtool; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "ensure-observability-tools: $bin is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
echo "observability tools installed: $(prometheus --version 2>&1 | head -n1)"
