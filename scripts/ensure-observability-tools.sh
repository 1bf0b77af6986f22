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

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-observability-tools: missing ${missing[*]} and apt-get is not available; install Prometheus and Alertmanager (promtool, amtool) by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-observability-tools: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# --no-install-recommends: the packages recommend node exporters and web assets we do not need.
# The Debian packages also enable system services; on a machine without systemd (CI containers)
# policy-rc.d keeps them from starting, and the tests run their own instances on free ports anyway.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

for bin in prometheus promtool prometheus-alertmanager amtool; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "ensure-observability-tools: $bin is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
echo "observability tools installed: $(prometheus --version 2>&1 | head -n1)"
