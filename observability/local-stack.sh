#!/usr/bin/env bash
# Prometheus (http://127.0.0.1:9090) and Alertmanager (http://127.0.0.1:9093) for the shop running
# on this machine (`npm start`), with the committed configuration and rules. No Docker needed:
# Debian's prometheus and prometheus-alertmanager packages (installed when missing). Debian's
# Prometheus serves the classic web UI: alerts at http://127.0.0.1:9090/classic/alerts.
#
#   bash observability/local-stack.sh          # Ctrl-C stops both
#
# Both ports must be free (the dev Kafka of scripts/kafka keeps clear of them: 9092 and 9192);
# the script says which one is taken rather than starting half a stack.
# Data goes to .data/observability (OBSERVABILITY_DATA_DIR), kept for 6 weeks (at most 20 GB).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd .. && pwd)"
data="${OBSERVABILITY_DATA_DIR:-$root/.data/observability}"
mkdir -p "$data/prometheus" "$data/alertmanager"

bash "$root/scripts/ensure-observability-tools.sh"
alertmanager_bin="$(command -v prometheus-alertmanager || command -v alertmanager)"

port_taken() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for spec in 9090:Prometheus 9093:Alertmanager; do
  if port_taken "${spec%%:*}"; then
    echo "local-stack: 127.0.0.1:${spec%%:*} (${spec#*:}) is already in use; stop what holds it (ss -ltnp 'sport = :${spec%%:*}' shows it)" >&2
    exit 1
  fi
done

promtool check config prometheus/prometheus.yml
amtool check-config alertmanager/alertmanager.yml

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$alertmanager_bin" \
  --config.file=alertmanager/alertmanager.yml \
  --storage.path="$data/alertmanager" \
  --web.listen-address=127.0.0.1:9093 \
  --cluster.listen-address= &
pids+=($!)

prometheus \
  --config.file=prometheus/prometheus.yml \
  --storage.tsdb.path="$data/prometheus" \
  --storage.tsdb.retention.time=6w \
  --storage.tsdb.retention.size=20GB \
  --web.listen-address=127.0.0.1:9090 \
  --web.enable-lifecycle &
pids+=($!)

echo "Prometheus: http://127.0.0.1:9090 (alerts: /classic/alerts)  Alertmanager: http://127.0.0.1:9093  (Ctrl-C stops both)"
wait
