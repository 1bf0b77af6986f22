#!/usr/bin/env bash
# A local trace viewer: Zipkin's server (UI + API, in-memory storage) on 127.0.0.1, for development
# and the trace test. The exec jar comes from Maven Central (io.zipkin:zipkin-server:<version>:exec,
# through Maven's own resolver); no Docker, nothing else downloaded. The shop sends its spans there
# with OTEL_TRACES_EXPORTER=zipkin (see README, "Operating the shop").
#
# Usage: scripts/zipkin/zipkin.sh <command>
#   fetch                 Copy the exec jar into $ZIPKIN_CACHE_DIR (a no-op when it is there).
#   start                 Fetch if needed, then run the server in the foreground (`exec java`).
#   start --background    Same, detached (own session); waits until /health answers UP.
#                         Output goes to $ZIPKIN_DATA_DIR/zipkin.log.
#   stop                  SIGTERM the server recorded in the pid file; SIGKILL after 15 s.
#   status                Exit 0 when http://127.0.0.1:$ZIPKIN_PORT/health answers, 1 otherwise.
#   url                   Print the UI's address.
#
# Environment (defaults in brackets):
#   ZIPKIN_VERSION [3.5.1]              io.zipkin:zipkin-server version (Java 17+)
#   ZIPKIN_PORT [9411]                  HTTP port on 127.0.0.1 (UI at /zipkin/, spans at /api/v2/spans)
#   ZIPKIN_CACHE_DIR [<repo>/.cache/zipkin]  holds zipkin-server-<version>-exec.jar
#   ZIPKIN_DATA_DIR [<repo>/.data/zipkin]    holds zipkin.pid and zipkin.log
#   ZIPKIN_HEAP_OPTS [-Xms64m -Xmx384m] JVM heap
#   ZIPKIN_MAX_SPANS [200000]           spans kept in memory (oldest traces dropped beyond it)
#   ZIPKIN_START_TIMEOUT [90]           seconds `start --background` waits
#   JAVA_HOME                           java from $JAVA_HOME/bin when set, else from PATH
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
VERSION="${ZIPKIN_VERSION:-3.5.1}"
PORT="${ZIPKIN_PORT:-9411}"
CACHE_DIR="${ZIPKIN_CACHE_DIR:-$REPO_ROOT/.cache/zipkin}"
DATA_DIR="${ZIPKIN_DATA_DIR:-$REPO_ROOT/.data/zipkin}"
JAR="$CACHE_DIR/zipkin-server-$VERSION-exec.jar"
PID_FILE="$DATA_DIR/zipkin.pid"
LOG_FILE="$DATA_DIR/zipkin.log"
HEAP_OPTS="${ZIPKIN_HEAP_OPTS:--Xms64m -Xmx384m}"
MAX_SPANS="${ZIPKIN_MAX_SPANS:-200000}"
START_TIMEOUT="${ZIPKIN_START_TIMEOUT:-90}"

log() { echo "zipkin.sh: $*"; }
fail() {
  echo "zipkin.sh: ERROR: $*" >&2
  exit 1
}
[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || fail "ZIPKIN_PORT must be a TCP port number, got '$PORT'"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "ZIPKIN_VERSION must be a release such as 3.5.1, got '$VERSION'"

find_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; elif command -v java >/dev/null 2>&1; then JAVA="$(command -v java)"; else fail "java not found (Zipkin $VERSION needs Java 17+; on Debian: apt-get install openjdk-17-jre-headless)"; fi
}

cmd_fetch() {
  if [[ -s "$JAR" ]]; then
    log "Zipkin $VERSION already in $JAR"
    return
  fi
  command -v mvn >/dev/null 2>&1 || fail "mvn not found (it fetches the jar from Maven Central; on Debian: apt-get install maven)"
  mkdir -p "$CACHE_DIR"
  log "fetching io.zipkin:zipkin-server:$VERSION:exec into $CACHE_DIR"
  mvn -q -B dependency:copy -Dartifact="io.zipkin:zipkin-server:$VERSION:jar:exec" -DoutputDirectory="$CACHE_DIR" -Dmdep.overWriteIfNewer=true \
    || fail "could not fetch io.zipkin:zipkin-server:$VERSION:exec from Maven Central"
  [[ -s "$JAR" ]] || fail "the fetch left no $JAR"
}

healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$PORT/health" 2>/dev/null | grep -q '"UP"'; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

java_command() {
  # Loopback only, in-memory storage, no self-tracing; Armeria's port list is Zipkin 3's listener.
  # shellcheck disable=SC2206 # the heap options are several words on purpose
  JAVA_CMD=("$JAVA" $HEAP_OPTS -XX:+ExitOnOutOfMemoryError -Djava.net.preferIPv4Stack=true -jar "$JAR"
    "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$PORT" "--armeria.ports[0].protocols=http"
    --zipkin.storage.type=mem "--zipkin.storage.mem.max-spans=$MAX_SPANS" --zipkin.self-tracing.enabled=false
    --logging.level.root=WARN --logging.level.com.linecorp.armeria.server.Server=INFO)
}

cmd_start() {
  cmd_fetch >/dev/null
  find_java
  if healthy; then fail "something already answers on 127.0.0.1:$PORT (another Zipkin? set ZIPKIN_PORT)"; fi
  mkdir -p "$DATA_DIR"
  java_command
  if [[ "${1:-}" != "--background" ]]; then
    echo $$ >"$PID_FILE"
    exec "${JAVA_CMD[@]}"
  fi
  setsid "${JAVA_CMD[@]}" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local waited=0
  until healthy; do
    kill -0 "$(cat "$PID_FILE")" 2>/dev/null || fail "Zipkin exited during start-up; see $LOG_FILE:
$(tail -n 20 "$LOG_FILE")"
    ((waited >= START_TIMEOUT * 2)) && fail "Zipkin did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s; see $LOG_FILE"
    sleep 0.5
    waited=$((waited + 1))
  done
  log "Zipkin $VERSION is up: http://127.0.0.1:$PORT/zipkin/ (pid $(cat "$PID_FILE"))"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    rm -f "$PID_FILE"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "stopped"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) shift; cmd_start "${1:-}" ;;
  stop) cmd_stop ;;
  status) healthy ;;
  url) echo "http://127.0.0.1:$PORT/zipkin/" ;;
  *) fail "usage: $0 fetch | start [--background] | stop | status | url" ;;
esac
