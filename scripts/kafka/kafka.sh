#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft mode: broker + controller in one JVM) on 127.0.0.1,
# for development and tests. The jars come from Maven Central through scripts/kafka/pom.xml; no
# Kafka distribution tarball, no Docker.
#
# Usage: scripts/kafka/kafka.sh <command>
#   fetch                 Copy Kafka $KAFKA_VERSION and its runtime dependencies into
#                         $KAFKA_CACHE_DIR/<version>/libs (cached: a no-op when the libs for this version
#                         and the current pom.xml are already there).
#   start                 Fetch if needed, format the KRaft storage once, then run the broker in the
#                         foreground (`exec java`, so a parent process owns the JVM; the pid is the JVM's).
#   start --background    Same, detached (own session), then wait until the broker port accepts
#                         connections. Console output goes to $KAFKA_DATA_DIR/logs/console.log.
#   stop                  SIGTERM the broker recorded in the pid file; SIGKILL after $KAFKA_STOP_TIMEOUT s.
#   status                Exit 0 when 127.0.0.1:$KAFKA_PORT accepts connections, 1 otherwise.
#   version               Print the Kafka version these settings run.
#
# Environment (defaults in brackets):
#   KAFKA_VERSION [the <kafka.version> of pom.xml: the 4.x that k8s/base/kafka/kafka.yaml deploys]
#                                 Apache Kafka version, 3.9.x or 4.x (3.9 is the compatibility floor)
#   KAFKA_PORT [9092]             client (PLAINTEXT) listener on 127.0.0.1
#   KAFKA_CONTROLLER_PORT [KAFKA_PORT + 100, so 9192]  KRaft controller listener on 127.0.0.1 (not 9093:
#                                 that is Alertmanager's, see observability/local-stack.sh)
#   KAFKA_DATA_DIR [<repo>/.data/kafka]   holds kraft/ (the log dirs), logs/, server.properties, kafka.pid
#   KAFKA_CACHE_DIR [<repo>/.cache/kafka] holds <version>/libs/ (the broker classpath of each version)
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx768m]   KAFKA_JVM_OPTS [G1, small pauses]: JVM flags
#   KAFKA_LOG_LEVEL [INFO]        level of <data dir>/logs/server.log
#   KAFKA_CONSOLE_LOG_LEVEL [WARN] level of what the broker prints on stdout
#   KAFKA_START_TIMEOUT [120]     seconds `start --background` waits for the port
#   KAFKA_STOP_TIMEOUT [30]       seconds `stop` waits before SIGKILL
#   KAFKA_CLUSTER_ID [random]     cluster id used when formatting a fresh data dir
#   KAFKA_PARENT_PID [unset]      foreground start only: stop the broker when this process disappears
#                                 (so a crashed test runner leaves no orphan JVM)
#   KAFKA_SASL_SSL_PORT [unset]   also open a SASL_SSL listener (TLS + SCRAM-SHA-512/256) on 127.0.0.1
#                                 (the TLS tests); the PLAINTEXT listener stays
#   KAFKA_SSL_KEYSTORE_PEM        with KAFKA_SASL_SSL_PORT: a PEM file holding the listener's unencrypted
#                                 PKCS#8 private key and its certificate chain (Kafka's PEM key store)
#   KAFKA_SCRAM_USERS [unset]     SCRAM credentials created when the storage is formatted, as
#                                 "name:password[ name:password…]" (no spaces, commas or brackets in
#                                 them); a data directory formatted earlier keeps its own users
#   JAVA_HOME                     java is taken from $JAVA_HOME/bin when set, else from PATH (Java 17+
#                                 for Kafka 4.x, 11+ for 3.x)
#
# kafkajs 2.2.4 (our client) works with both lines; what was measured is in docs/notes/foundation.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

pom_kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1; }
VERSION="${KAFKA_VERSION:-$(pom_kafka_version)}"
CACHE_DIR="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache/kafka}"
LIBS_DIR="$CACHE_DIR/$VERSION/libs"
DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/.data/kafka}"
LOG_DIR="$DATA_DIR/logs"
KRAFT_DIR="$DATA_DIR/kraft"
PID_FILE="$DATA_DIR/kafka.pid"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true}"
LOG_LEVEL="${KAFKA_LOG_LEVEL:-INFO}"
CONSOLE_LOG_LEVEL="${KAFKA_CONSOLE_LOG_LEVEL:-WARN}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-}"
SSL_KEYSTORE_PEM="${KAFKA_SSL_KEYSTORE_PEM:-}"
SCRAM_USERS="${KAFKA_SCRAM_USERS:-}"

log() { echo "kafka.sh: $*"; }
fail() {
  echo "kafka.sh: ERROR: $*" >&2
  exit 1
}

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" > 0 && "$1" < 65536)); }
[[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || fail "KAFKA_VERSION must be a release such as 4.1.0 or 3.9.2, got '$VERSION'"
MAJOR="${BASH_REMATCH[1]}"
MINOR="${BASH_REMATCH[2]}"
{ ((MAJOR == 4)) || ((MAJOR == 3 && MINOR >= 9)); } || fail "KAFKA_VERSION $VERSION is not supported: use 4.x, or 3.9.x (the compatibility floor)"
is_port "$PORT" || fail "KAFKA_PORT must be a TCP port number, got '$PORT'"
[[ -n "$CONTROLLER_PORT" ]] || CONTROLLER_PORT=$((10#$PORT + 100))
is_port "$CONTROLLER_PORT" || fail "KAFKA_CONTROLLER_PORT must be a TCP port number, got '$CONTROLLER_PORT'"
[[ "$PORT" != "$CONTROLLER_PORT" ]] || fail "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $PORT)"
if [[ -n "$SASL_SSL_PORT" ]]; then
  is_port "$SASL_SSL_PORT" || fail "KAFKA_SASL_SSL_PORT must be a TCP port number, got '$SASL_SSL_PORT'"
  [[ "$SASL_SSL_PORT" != "$PORT" && "$SASL_SSL_PORT" != "$CONTROLLER_PORT" ]] || fail "KAFKA_SASL_SSL_PORT must differ from KAFKA_PORT and KAFKA_CONTROLLER_PORT (got $SASL_SSL_PORT)"
  [[ -n "$SSL_KEYSTORE_PEM" && -r "$SSL_KEYSTORE_PEM" ]] || fail "KAFKA_SASL_SSL_PORT needs KAFKA_SSL_KEYSTORE_PEM, a readable PEM file with the key and certificate (got '$SSL_KEYSTORE_PEM')"
fi

kafka_version() { echo "$VERSION"; }
# Kafka 4 logs through log4j 2, Kafka 3 through log4j 1 (reload4j): the pom.xml profile of each.
logging_profile() { if ((MAJOR >= 4)); then echo log4j2; else echo reload4j; fi; }

# The libs are valid for exactly one pom.xml and version: editing either makes the next fetch redo the copy.
pom_stamp() { echo "$VERSION $(sha256sum "$POM" | cut -d' ' -f1)"; }
libs_ready() { [[ -f "$LIBS_DIR/.complete" && "$(cat "$LIBS_DIR/.complete")" == "$(pom_stamp)" ]]; }

find_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    fail "java not found (set JAVA_HOME or put java on PATH; Kafka $(kafka_version) needs Java 17 (3.x: 11) or newer; on Debian: apt-get install openjdk-17-jre-headless)"
  fi
  local version major
  version="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  major="${version%%.*}"
  [[ "$major" == 1 ]] && major="$(echo "$version" | cut -d. -f2)"
  [[ "$major" =~ ^[0-9]+$ ]] || fail "cannot tell the version of $JAVA (got '$version')"
  local needed=11
  ((MAJOR >= 4)) && needed=17
  ((major >= needed)) || fail "$JAVA is Java $version; Kafka $(kafka_version) needs Java $needed or newer"
}

cmd_fetch() {
  if libs_ready; then
    log "Kafka $(kafka_version) already fetched in $LIBS_DIR"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || fail "mvn not found: it fetches Kafka from Maven Central (on Debian: apt-get install maven)"
  mkdir -p "$CACHE_DIR/$VERSION"
  # Parallel test workers may fetch at once: one copies, the others wait for it and find the libs ready.
  # The lock lives in a subshell so that its descriptor is never inherited by the broker JVM.
  (
    exec 9>"$CACHE_DIR/.fetch.lock"
    flock -w 900 9 || fail "timed out waiting for another fetch (lock $CACHE_DIR/.fetch.lock)"
    if libs_ready; then
      log "Kafka $(kafka_version) already fetched in $LIBS_DIR"
      exit 0
    fi
    log "fetching Kafka $(kafka_version) from Maven Central into $LIBS_DIR"
    tmp="$(mktemp -d "$CACHE_DIR/$VERSION/libs.tmp.XXXXXX")"
    trap 'rm -rf "$tmp"; rmdir "$CACHE_DIR/$VERSION" 2>/dev/null || true' EXIT
    if ! mvn -q -B -Dstyle.color=never -f "$POM" "-Dkafka.version=$VERSION" "-P$(logging_profile)" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" >"$CACHE_DIR/fetch-$VERSION.log" 2>&1; then
      tail -n 40 "$CACHE_DIR/fetch-$VERSION.log" >&2 || true
      fail "mvn could not fetch Kafka $(kafka_version) (is it a released version? full output in $CACHE_DIR/fetch-$VERSION.log)"
    fi
    compgen -G "$tmp/kafka_2.13-$VERSION.jar" >/dev/null || fail "mvn succeeded but no kafka_2.13-$VERSION jar landed in $tmp (no such release?)"
    if ((MAJOR >= 4)); then
      compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null || fail "mvn succeeded but the log4j-slf4j-impl logging binding is missing"
    else
      compgen -G "$tmp/slf4j-reload4j-*.jar" >/dev/null || fail "mvn succeeded but the slf4j-reload4j logging binding is missing"
    fi
    chmod 755 "$tmp"
    pom_stamp >"$tmp/.complete"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    trap - EXIT
    log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1))"
  )
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# True while process $1 exists and is not a zombie (an exited broker that was started with --background
# is reparented to PID 1, which may take a while to reap it).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

# The pid in the pid file, if that process is alive and is a Kafka broker (not a recycled pid).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -e 'kafka\.Kafka' -e 'kafka\.sh' || return 1
  echo "$pid"
}

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$KRAFT_DIR"
  cat >"$DATA_DIR/server.properties" <<EOF
# Generated by scripts/kafka/kafka.sh on each start; edits are overwritten.
# Single-node KRaft: this one JVM is both the broker and the (only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT${SASL_SSL_PORT:+,SASL_SSL://127.0.0.1:$SASL_SSL_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT${SASL_SSL_PORT:+,SASL_SSL://127.0.0.1:$SASL_SSL_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${SASL_SSL_PORT:+,SASL_SSL:SASL_SSL}
log.dirs=$KRAFT_DIR

# One replica of everything.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3

# Development conveniences.
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=3
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=60000

# Small footprint for a 2-core machine.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

# Quick, clean shutdown on SIGTERM: faster broker<->controller heartbeats so the controlled shutdown
# is acknowledged quickly, and a bounded wait for it.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
  if [[ -n "$SASL_SSL_PORT" ]]; then
    cat >>"$DATA_DIR/server.properties" <<EOF

# SASL_SSL listener (KAFKA_SASL_SSL_PORT): TLS with a PEM key store, SCRAM users created at format time.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$SSL_KEYSTORE_PEM
EOF
  fi
  # Kafka 4 always shuts down in a controlled way (the setting is gone); 3.x is told to.
  ((MAJOR >= 4)) || echo "controlled.shutdown.enable=true" >>"$DATA_DIR/server.properties"
  if ((MAJOR >= 4)); then write_log4j2_config; else write_log4j_config; fi
}

# Kafka 4.x logs through slf4j -> log4j 2; the properties format needs no extra jar (YAML would).
write_log4j2_config() {
  cat >"$DATA_DIR/log4j2.properties" <<EOF
# Generated by scripts/kafka/kafka.sh. Kafka 4.x logs through slf4j -> log4j 2.
status = warn
name = kafka-dev

appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
appender.stdout.filter.threshold.type = ThresholdFilter
appender.stdout.filter.threshold.level = $CONSOLE_LOG_LEVEL

appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.filePattern = \${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3

rootLogger.level = $LOG_LEVEL
rootLogger.appenderRef.stdout.ref = STDOUT
rootLogger.appenderRef.file.ref = FILE

logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.network.name = org.apache.kafka.clients.NetworkClient
logger.network.level = WARN
EOF
}

write_log4j_config() {
  cat >"$DATA_DIR/log4j.properties" <<EOF
# Generated by scripts/kafka/kafka.sh. Kafka 3.x logs through slf4j -> reload4j (log4j 1.x API).
log4j.rootLogger=$LOG_LEVEL, file, stdout

log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.Threshold=$CONSOLE_LOG_LEVEL
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
EOF
}

java_cmd() {
  # shellcheck disable=SC2206 # the *_OPTS are word lists on purpose
  JAVA_CMD=("$JAVA" $HEAP_OPTS $JVM_OPTS
    "-Dlog4j.configuration=file:$DATA_DIR/log4j.properties" "-Dlog4j2.configurationFile=$DATA_DIR/log4j2.properties"
    "-Dkafka.logs.dir=$LOG_DIR" -cp "$LIBS_DIR/*")
}

# The Kafka version that formatted the data directory ("unknown" before versions were recorded).
formatted_by() { cat "$DATA_DIR/formatted-by-kafka" 2>/dev/null || echo unknown; }

# Kafka upgrades a data directory written by an older version, but cannot go back to an older minor.
check_data_version() {
  local by
  by="$(formatted_by)"
  [[ "$by" == unknown || "$by" == "$VERSION" ]] && return 0
  if [[ "$(printf '%s\n%s\n' "${by%.*}" "${VERSION%.*}" | sort -V | tail -n1)" != "${VERSION%.*}" ]]; then
    fail "$KRAFT_DIR was written by Kafka $by, which Kafka $VERSION cannot read: use KAFKA_VERSION=$by, another KAFKA_DATA_DIR, or delete $KRAFT_DIR (its topics are lost)"
  fi
  log "data in $KRAFT_DIR was written by Kafka $by; Kafka $VERSION upgrades it"
}

format_storage() {
  if [[ -f "$KRAFT_DIR/meta.properties" ]]; then
    check_data_version
    echo "$VERSION" >"$DATA_DIR/formatted-by-kafka"
    return 0
  fi
  local cluster_id="${KAFKA_CLUSTER_ID:-}"
  if [[ -z "$cluster_id" ]]; then
    # A Kafka Uuid: 16 random bytes, base64url without padding. Kafka never issues one starting with '-'
    # (the command line would take it for an option), so neither do we.
    cluster_id="-"
    while [[ "$cluster_id" == -* ]]; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    done
  fi
  # SCRAM users exist from the start: KRaft keeps their credentials in the metadata log.
  local scram=() user
  for user in $SCRAM_USERS; do
    [[ "$user" =~ ^([^:,=]+):([^,]+)$ && "$user" != *[\[\]]* ]] || fail "KAFKA_SCRAM_USERS: expected name:password (no commas or brackets), got '$user'"
    scram+=(--add-scram "SCRAM-SHA-512=[name=${BASH_REMATCH[1]},password=${BASH_REMATCH[2]}]" --add-scram "SCRAM-SHA-256=[name=${BASH_REMATCH[1]},password=${BASH_REMATCH[2]}]")
  done
  log "formatting KRaft storage in $KRAFT_DIR (cluster id $cluster_id)"
  java_cmd
  if ! "${JAVA_CMD[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
    --config "$DATA_DIR/server.properties" --ignore-formatted ${scram[@]+"${scram[@]}"} >"$LOG_DIR/format.log" 2>&1; then
    cat "$LOG_DIR/format.log" >&2
    fail "formatting $KRAFT_DIR failed"
  fi
  echo "$VERSION" >"$DATA_DIR/formatted-by-kafka"
}

cmd_start() {
  local background=0
  for arg in "$@"; do
    case "$arg" in
      --background | -d) background=1 ;;
      *) fail "unknown option for start: $arg (usage: kafka.sh start [--background])" ;;
    esac
  done
  find_java
  cmd_fetch
  local pid
  if pid="$(running_pid)"; then
    fail "a broker is already running from $DATA_DIR (pid $pid); run 'kafka.sh stop' first"
  fi
  port_open "$PORT" && fail "127.0.0.1:$PORT is already in use (another broker? see 'kafka.sh status' or set KAFKA_PORT)"
  port_open "$CONTROLLER_PORT" && fail "127.0.0.1:$CONTROLLER_PORT is already in use (set KAFKA_CONTROLLER_PORT)"
  if [[ -n "$SASL_SSL_PORT" ]] && port_open "$SASL_SSL_PORT"; then fail "127.0.0.1:$SASL_SSL_PORT is already in use (set KAFKA_SASL_SSL_PORT)"; fi

  write_config
  format_storage
  java_cmd
  JAVA_CMD+=(kafka.Kafka "$DATA_DIR/server.properties")

  if ((background)); then
    log "starting Kafka $(kafka_version) in the background on 127.0.0.1:$PORT (logs: $LOG_DIR)"
    # setsid: own session and process group, so the broker outlives this shell and its terminal.
    setsid "${JAVA_CMD[@]}" >>"$LOG_DIR/console.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    local waited=0
    while ! port_open "$PORT"; do
      if ! alive "$pid"; then
        tail -n 40 "$LOG_DIR/server.log" "$LOG_DIR/console.log" >&2 2>/dev/null || true
        rm -f "$PID_FILE"
        fail "the broker exited during startup (logs in $LOG_DIR)"
      fi
      if ((waited >= START_TIMEOUT * 4)); then
        tail -n 40 "$LOG_DIR/server.log" >&2 2>/dev/null || true
        fail "the broker did not open 127.0.0.1:$PORT within ${START_TIMEOUT}s (pid $pid still running; 'kafka.sh stop' ends it)"
      fi
      sleep 0.25
      waited=$((waited + 1))
    done
    log "Kafka is up on 127.0.0.1:$PORT (pid $pid)"
    return 0
  fi

  echo "$$" >"$PID_FILE" # exec keeps this pid: it becomes the JVM's
  if [[ -n "${KAFKA_PARENT_PID:-}" ]]; then
    [[ "$KAFKA_PARENT_PID" =~ ^[0-9]+$ ]] || fail "KAFKA_PARENT_PID must be a pid, got '$KAFKA_PARENT_PID'"
    # Watchdog: when the owning process dies without stopping us (crash, SIGKILL), stop the broker.
    # It is in the broker's process group, so killing that group ends it too.
    local broker_pid=$$ parent_pid=$KAFKA_PARENT_PID
    (
      while alive "$parent_pid" && alive "$broker_pid"; do sleep 1; done
      if alive "$broker_pid"; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        for _ in $(seq 1 15); do
          alive "$broker_pid" || exit 0
          sleep 1
        done
        if tr '\0' ' ' <"/proc/$broker_pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
          kill -KILL "$broker_pid" 2>/dev/null || true
        fi
      fi
    ) </dev/null >/dev/null 2>&1 &
  fi
  log "starting Kafka $(kafka_version) on 127.0.0.1:$PORT, controller 127.0.0.1:$CONTROLLER_PORT (data: $DATA_DIR, logs: $LOG_DIR/server.log)"
  exec "${JAVA_CMD[@]}"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    if port_open "$PORT"; then
      fail "no broker pid recorded in $PID_FILE, but 127.0.0.1:$PORT is in use by another process"
    fi
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while alive "$pid"; do
    if ((waited >= STOP_TIMEOUT * 4)); then
      log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if port_open "$PORT"; then
    if pid="$(running_pid)"; then
      log "running on 127.0.0.1:$PORT (pid $pid, data $DATA_DIR)"
    else
      log "127.0.0.1:$PORT accepts connections (no pid recorded in $PID_FILE)"
    fi
    return 0
  fi
  if pid="$(running_pid)"; then
    log "process $pid is up but 127.0.0.1:$PORT does not accept connections yet"
  else
    log "not running (127.0.0.1:$PORT closed)"
  fi
  return 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

command="${1:-}"
[[ $# -gt 0 ]] && shift
case "$command" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  version) kafka_version ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
