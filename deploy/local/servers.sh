#!/usr/bin/env bash
# Real Apache Kafka 4.x (single-node KRaft) and Elasticsearch 8.x on 127.0.0.1 for
# development and CI, fetched from Maven Central with `mvn` (no Docker).
#
#   bash deploy/local/servers.sh start  [kafka|es|all]   fetch if needed, configure, start, wait until healthy
#   bash deploy/local/servers.sh stop   [kafka|es|all]   stop cleanly (idempotent)
#   bash deploy/local/servers.sh status                  what runs, and where (exit 0 only if both run)
#   bash deploy/local/servers.sh env                     export lines for eval
#   bash deploy/local/servers.sh fetch  [kafka|es|all]   only download/unpack (cached)
#
# See deploy/local/README.md for the environment variables and the layout of .local/.
set -Eeuo pipefail

# ---------------------------------------------------------------- settings
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

LOCAL_DIR=${STORMWATCH_LOCAL_DIR:-$REPO_ROOT/.local}
mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd)

KAFKA_VERSION=${STORMWATCH_KAFKA_VERSION:-4.1.2}
LOG4J_VERSION=${STORMWATCH_LOG4J_VERSION:-2.24.3}   # what Kafka 4.1 ships (4.2.x ships 2.25.x)
ES_VERSION=${STORMWATCH_ES_VERSION:-8.19.21}
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1

HOST=127.0.0.1
KAFKA_PORT=${STORMWATCH_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${STORMWATCH_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
ES_PORT=${STORMWATCH_ES_PORT:-19200}
ES_TRANSPORT_PORT=${STORMWATCH_ES_TRANSPORT_PORT:-$((ES_PORT + 100))}
START_TIMEOUT=${STORMWATCH_START_TIMEOUT:-120}
STOP_TIMEOUT=${STORMWATCH_STOP_TIMEOUT:-30}
KEEP_DATA=${STORMWATCH_KEEP_DATA:-0}
KAFKA_HEAP=${STORMWATCH_KAFKA_HEAP:-512m}
ES_HEAP=${STORMWATCH_ES_HEAP:-512m}
ES_USER=${STORMWATCH_ES_USER:-stormwatch-es}

CACHE_DIR=$LOCAL_DIR/cache
KAFKA_DIST=$CACHE_DIR/kafka-$KAFKA_VERSION          # pom.xml + lib/ (all jars)
ES_HOME=$CACHE_DIR/elasticsearch-$ES_VERSION        # unpacked integ-test-zip
FETCH_LOG_DIR=$LOCAL_DIR/logs

KAFKA_STATE=$LOCAL_DIR/kafka                        # config/, data/, logs/, kafka.pid
ES_STATE=$LOCAL_DIR/es                              # config/, data/, logs/, tmp/, es.pid

CURRENT_STEP="init"
CURRENT_LOG=""

# ---------------------------------------------------------------- helpers
say()  { printf '[servers] %s\n' "$*"; }
warn() { printf '[servers] WARNING: %s\n' "$*" >&2; }

# die MESSAGE [LOGFILE]: report the failed step, the tail of the relevant log, exit 1.
die() {
    local msg=$1 log=${2:-$CURRENT_LOG}
    trap - ERR
    {
        printf '[servers] FAILED at step "%s": %s\n' "$CURRENT_STEP" "$msg"
        if [[ -n $log && -f $log ]]; then
            printf '[servers] ---- last 40 lines of %s ----\n' "$log"
            tail -n 40 "$log" | sed 's/^/    /'
            printf '[servers] ---- end of %s ----\n' "$log"
        elif [[ -n $log ]]; then
            printf '[servers] (log %s does not exist)\n' "$log"
        fi
    } >&2
    exit 1
}
on_err() { die "command failed (exit $1) at line $2: $3"; }
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

step() { CURRENT_STEP=$1; CURRENT_LOG=${2:-}; say "$1"; }

is_root() { [[ $(id -u) -eq 0 ]]; }

find_java_home() {
    local jh=${STORMWATCH_JAVA_HOME:-${JAVA_HOME:-}}
    if [[ -z $jh || ! -x $jh/bin/java ]]; then
        if [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
            jh=/usr/lib/jvm/java-17-openjdk-amd64
        elif command -v java >/dev/null 2>&1; then
            jh=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
        else
            die "no Java found: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless) or set STORMWATCH_JAVA_HOME"
        fi
    fi
    local major
    major=$("$jh/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [[ ${major%%.*} -ge 17 ]] 2>/dev/null || die "Java at $jh is version '$major'; Kafka 4 and Elasticsearch 8 need 17+"
    JAVA_HOME_USED=$jh
}

# port_open PORT: true if something accepts TCP connections on HOST:PORT
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# pid_alive PIDFILE MARKER: true if the pid in PIDFILE is alive and its cmdline contains MARKER
pid_alive() {
    local pidfile=$1 marker=$2 pid
    [[ -f $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$marker"
}

# stop_pid NAME PIDFILE MARKER: SIGTERM, wait STOP_TIMEOUT, then SIGKILL
stop_pid() {
    local name=$1 pidfile=$2 marker=$3 pid i
    if ! pid_alive "$pidfile" "$marker"; then
        rm -f "$pidfile"
        say "$name: not running"
        return 0
    fi
    pid=$(tr -dc '0-9' <"$pidfile")
    say "$name: stopping pid $pid (SIGTERM, up to ${STOP_TIMEOUT}s)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name: pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    kill -0 "$pid" 2>/dev/null && die "$name: pid $pid survived SIGKILL"
    rm -f "$pidfile"
    say "$name: stopped"
}

run_mvn() {  # run_mvn LOG ARGS...: quiet maven, output to LOG
    local log=$1; shift
    command -v mvn >/dev/null 2>&1 || die "mvn not found (Debian: apt-get install maven)"
    mvn -B -ntp "$@" >"$log" 2>&1 || die "mvn failed (is Maven Central reachable?)" "$log"
}

# ---------------------------------------------------------------- fetch
fetch_kafka() {
    if [[ -f $KAFKA_DIST/.complete ]]; then
        say "kafka: using cached jars in $KAFKA_DIST/lib"
        return 0
    fi
    mkdir -p "$KAFKA_DIST" "$FETCH_LOG_DIR"
    local log=$FETCH_LOG_DIR/fetch-kafka-$KAFKA_VERSION.log
    step "kafka: fetching kafka_2.13:$KAFKA_VERSION + log4j $LOG4J_VERSION via Maven" "$log"
    cat >"$KAFKA_DIST/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
 <modelVersion>4.0.0</modelVersion>
 <groupId>local.stormwatch</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
 <dependencies>
  <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
  <!-- the published pom lacks the log4j binding that the release tarball ships -->
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
 </dependencies>
</project>
POM
    rm -rf "$KAFKA_DIST/lib.tmp"
    run_mvn "$log" -f "$KAFKA_DIST/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
        -DoutputDirectory="$KAFKA_DIST/lib.tmp" -DincludeScope=runtime
    ls "$KAFKA_DIST"/lib.tmp/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 ||
        die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn copy-dependencies" "$log"
    rm -rf "${KAFKA_DIST:?}/lib"
    mv "$KAFKA_DIST/lib.tmp" "$KAFKA_DIST/lib"
    touch "$KAFKA_DIST/.complete"
    say "kafka: $(ls "$KAFKA_DIST/lib" | wc -l) jars in $KAFKA_DIST/lib"
}

fetch_es() {
    if [[ -f $ES_HOME/.complete ]]; then
        say "es: using cached install $ES_HOME"
        return 0
    fi
    mkdir -p "$CACHE_DIR" "$FETCH_LOG_DIR"
    local log=$FETCH_LOG_DIR/fetch-es-$ES_VERSION.log
    step "es: fetching org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip via Maven" "$log"
    command -v unzip >/dev/null 2>&1 || die "unzip not found (Debian: apt-get install unzip)"
    local tmp=$CACHE_DIR/es-download.tmp
    rm -rf "$tmp" "$ES_HOME"
    mkdir -p "$tmp"
    run_mvn "$log" "$DEP_PLUGIN:copy" \
        -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
        -DoutputDirectory="$tmp"
    step "es: unpacking" "$log"
    unzip -q -o "$tmp/elasticsearch-$ES_VERSION.zip" -d "$tmp" >>"$log" 2>&1 || die "unzip failed" "$log"
    [[ -x $tmp/elasticsearch-$ES_VERSION/bin/elasticsearch ]] ||
        die "bin/elasticsearch missing in the zip" "$log"
    mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$tmp"                    # the zip itself stays cached in ~/.m2
    chmod -R a+rX "$ES_HOME"         # the unprivileged ES user must read it
    touch "$ES_HOME/.complete"
    say "es: installed $ES_HOME (modules: $(ls "$ES_HOME/modules" | tr '\n' ' '))"
}

# ---------------------------------------------------------------- kafka
KAFKA_PID=$KAFKA_STATE/kafka.pid
KAFKA_LOG=$KAFKA_STATE/logs/kafka.out
KAFKA_MARKER=kafka.Kafka

kafka_java_cmd() {  # fills KJ with the java command line shared by the storage tool and the broker
    KJ=("$JAVA_HOME_USED/bin/java" -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        -Dkafka.logs.dir="$KAFKA_STATE/logs"
        -Dlog4j2.configurationFile="$KAFKA_STATE/config/log4j2.properties"
        -cp "$KAFKA_DIST/lib/*")
}

new_cluster_id() {  # a Kafka Uuid: base64url of 16 random bytes, 22 chars, not starting with '-'
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ ${id:0:1} != - ]] && { echo "$id"; return; }
    done
}

kafka_ready_check() {  # one probe; true when the broker answers a metadata request
    port_open "$KAFKA_PORT" || return 1
    local py
    py=$(pick_python_with kafka) || py=""
    if [[ -n $py ]]; then
        timeout 30 "$py" - "$HOST:$KAFKA_PORT" >>"$KAFKA_STATE/logs/readiness.log" 2>&1 <<'PY'
import sys
from kafka import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
try:
    a.describe_cluster(); a.list_topics()
finally:
    a.close()
PY
    else
        grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null
    fi
}

# pick_python_with MODULE: print a python that can import MODULE (repo venv first)
pick_python_with() {
    local c
    for c in ${STORMWATCH_PYTHON:-} "$REPO_ROOT/.venv/bin/python" python3; do
        [[ -n $c ]] && command -v "$c" >/dev/null 2>&1 || continue
        "$c" -c "import $1" >/dev/null 2>&1 && { command -v "$c"; return 0; }
    done
    return 1
}

start_kafka() {
    if pid_alive "$KAFKA_PID" "$KAFKA_MARKER"; then
        say "kafka: already running (pid $(cat "$KAFKA_PID")) on $HOST:$KAFKA_PORT"
        return 0
    fi
    step "kafka: checking ports"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$p" && die "port $HOST:$p is already in use by another process (set STORMWATCH_KAFKA_PORT)"
    done
    find_java_home
    fetch_kafka

    step "kafka: writing config to $KAFKA_STATE/config"
    local KJ; kafka_java_cmd
    mkdir -p "$KAFKA_STATE/config" "$KAFKA_STATE/logs"
    if [[ $KEEP_DATA != 1 ]]; then rm -rf "$KAFKA_STATE/data"; fi
    mkdir -p "$KAFKA_STATE/data"
    cat >"$KAFKA_STATE/config/log4j2.properties" <<'L'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.raft.name = org.apache.kafka.raft
logger.raft.level = WARN
logger.controller.name = kafka.controller
logger.controller.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
L
    cat >"$KAFKA_STATE/config/server.properties" <<P
# generated by deploy/local/servers.sh -- edits are overwritten on start
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE/data
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=16777216
P

    if [[ -f $KAFKA_STATE/data/meta.properties ]]; then
        say "kafka: keeping existing data in $KAFKA_STATE/data (STORMWATCH_KEEP_DATA=1)"
    else
        local fmtlog=$KAFKA_STATE/logs/format.log
        step "kafka: formatting KRaft storage (standalone)" "$fmtlog"
        "${KJ[@]}" kafka.tools.StorageTool format --standalone -t "$(new_cluster_id)" \
            -c "$KAFKA_STATE/config/server.properties" >"$fmtlog" 2>&1 ||
            die "kafka-storage format failed" "$fmtlog"
    fi

    step "kafka: starting broker+controller" "$KAFKA_LOG"
    : >"$KAFKA_LOG"
    # the subshell execs nohup -> setsid -> java, so $! is the JVM's pid
    (cd "$KAFKA_STATE" && exec nohup setsid "${KJ[@]}" kafka.Kafka "$KAFKA_STATE/config/server.properties" \
        >>"$KAFKA_LOG" 2>&1 </dev/null) &
    echo $! >"$KAFKA_PID"
    local pid
    pid=$(cat "$KAFKA_PID")

    step "kafka: waiting for $HOST:$KAFKA_PORT to answer metadata requests (timeout ${START_TIMEOUT}s)" "$KAFKA_LOG"
    local t0=$SECONDS
    : >"$KAFKA_STATE/logs/readiness.log"
    until kafka_ready_check; do
        kill -0 "$pid" 2>/dev/null || { rm -f "$KAFKA_PID"; die "kafka process $pid exited during startup"; }
        ((SECONDS - t0 < START_TIMEOUT)) || die "kafka not ready after ${START_TIMEOUT}s (probe errors: $KAFKA_STATE/logs/readiness.log; still running as pid $pid; stop it with: $0 stop kafka)"
        sleep 1
    done
    say "kafka: ready on $HOST:$KAFKA_PORT after $((SECONDS - t0))s (pid $pid); log: $KAFKA_LOG"
}

stop_kafka() { CURRENT_STEP="kafka: stop"; stop_pid kafka "$KAFKA_PID" "$KAFKA_MARKER"; }

# ---------------------------------------------------------------- elasticsearch
ES_PID=$ES_STATE/es.pid
ES_LOG=$ES_STATE/logs/stormwatch-local.log   # <cluster.name>.log
ES_OUT=$ES_STATE/logs/startup.out
ES_MARKER=org.elasticsearch

es_url() { echo "http://$HOST:$ES_PORT"; }

# as_es_user CMD...: run CMD as the unprivileged ES user (or as ourselves when not root)
as_es_user() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$ES_USER" -- "$@"
        else
            setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups -- "$@"
        fi
    else
        "$@"
    fi
}

ensure_es_user() {
    is_root || return 0
    if ! id "$ES_USER" >/dev/null 2>&1; then
        step "es: creating system user $ES_USER (Elasticsearch refuses to run as root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$ES_USER" || die "useradd $ES_USER failed"
    fi
    # every parent of .local must be traversable by that user
    local d=$LOCAL_DIR
    while [[ $d != / ]]; do
        if ! as_es_user test -x "$d" 2>/dev/null; then
            warn "granting o+x (traverse only) on $d so that $ES_USER can reach $LOCAL_DIR"
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
    as_es_user test -r "$ES_HOME/lib" -a -x "$ES_HOME/bin/elasticsearch" ||
        die "$ES_USER cannot read $ES_HOME"
}

start_es() {
    command -v curl >/dev/null 2>&1 || die "curl not found (Debian: apt-get install curl)"
    if pid_alive "$ES_PID" "$ES_MARKER"; then
        say "es: already running (pid $(cat "$ES_PID")) on $(es_url)"
        return 0
    fi
    step "es: checking ports"
    local p
    for p in "$ES_PORT" "$ES_TRANSPORT_PORT"; do
        port_open "$p" && die "port $HOST:$p is already in use by another process (set STORMWATCH_ES_PORT)"
    done
    find_java_home
    fetch_es
    ensure_es_user

    step "es: writing config to $ES_STATE/config"
    if [[ $KEEP_DATA != 1 ]]; then rm -rf "$ES_STATE/data"; fi
    rm -rf "$ES_STATE/config" "$ES_STATE/tmp"
    mkdir -p "$ES_STATE/data" "$ES_STATE/logs" "$ES_STATE/tmp"
    cp -r "$ES_HOME/config" "$ES_STATE/config"
    # jvm.options paths are relative: 8.19 runs the server JVM with cwd = path.logs (gc.log, hs_err);
    # older 8.x used cwd = ES_HOME with logs/gc.log, which the ES user cannot write: make those absolute
    sed -i -e "s#file=logs/#file=$ES_STATE/logs/#" -e "s#-XX:ErrorFile=logs/#-XX:ErrorFile=$ES_STATE/logs/#" \
        -e "s#-XX:HeapDumpPath=data\$#-XX:HeapDumpPath=$ES_STATE/data#" "$ES_STATE/config/jvm.options"
    {
        echo "# generated by deploy/local/servers.sh -- edits are overwritten on start"
        echo "cluster.name: stormwatch-local"
        echo "node.name: stormwatch-es"
        echo "network.host: $HOST"
        echo "http.port: $ES_PORT"
        echo "transport.port: $ES_TRANSPORT_PORT"
        echo "discovery.type: single-node"
        echo "path.data: $ES_STATE/data"
        echo "path.logs: $ES_STATE/logs"
        echo "cluster.routing.allocation.disk.threshold_enabled: false"
        echo "action.destructive_requires_name: false"
        # settings of modules that are absent abort startup: only set those whose module exists
        [[ -d $ES_HOME/modules/x-pack-security ]] && echo "xpack.security.enabled: false"
        [[ -d $ES_HOME/modules/x-pack-ml ]] && echo "xpack.ml.enabled: false"
        [[ -d $ES_HOME/modules/ingest-geoip ]] && echo "ingest.geoip.downloader.enabled: false"
        true
    } >"$ES_STATE/config/elasticsearch.yml"
    if is_root; then chown -R "$ES_USER:" "$ES_STATE"; fi

    local who; if is_root; then who=$ES_USER; else who=$(id -un); fi
    step "es: starting as user $who" "$ES_OUT"
    rm -f "$ES_PID"
    : >"$ES_OUT"
    # -d: the CLI daemonizes the server and returns once the node has started (or failed)
    (cd "$ES_HOME" && as_es_user env ES_JAVA_HOME="$JAVA_HOME_USED" ES_PATH_CONF="$ES_STATE/config" \
        ES_TMPDIR="$ES_STATE/tmp" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${STORMWATCH_ES_JAVA_OPTS:-}" \
        timeout "$START_TIMEOUT" "$ES_HOME/bin/elasticsearch" -d -p "$ES_PID" \
        >>"$ES_OUT" 2>&1 </dev/null) || {
        local rc=$?
        [[ -s $ES_OUT ]] || ES_OUT=$ES_LOG
        die "bin/elasticsearch -d exited with $rc (main log: $ES_LOG)" "$ES_OUT"
    }
    pid_alive "$ES_PID" "$ES_MARKER" || die "elasticsearch exited right after start" "$ES_LOG"

    step "es: waiting for $(es_url)/_cluster/health yellow (timeout ${START_TIMEOUT}s)" "$ES_LOG"
    local t0=$SECONDS
    until curl -fsS -m 10 "$(es_url)/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; do
        pid_alive "$ES_PID" "$ES_MARKER" || die "elasticsearch exited during startup"
        ((SECONDS - t0 < START_TIMEOUT)) || die "elasticsearch not yellow after ${START_TIMEOUT}s (still running; stop it with: $0 stop es)"
        sleep 1
    done
    say "es: ready on $(es_url) (pid $(cat "$ES_PID"), version $ES_VERSION); log: $ES_LOG"
}

stop_es() { CURRENT_STEP="es: stop"; stop_pid elasticsearch "$ES_PID" "$ES_MARKER"; }

# ---------------------------------------------------------------- commands
cmd_status() {
    local rc=0
    if pid_alive "$KAFKA_PID" "$KAFKA_MARKER"; then
        if port_open "$KAFKA_PORT"; then
            say "kafka: running, pid $(cat "$KAFKA_PID"), bootstrap $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT), log $KAFKA_LOG"
        else
            say "kafka: process $(cat "$KAFKA_PID") alive but $HOST:$KAFKA_PORT not accepting connections; log $KAFKA_LOG"; rc=1
        fi
    else
        say "kafka: not running"; rc=1
    fi
    if pid_alive "$ES_PID" "$ES_MARKER"; then
        local health
        health=$(curl -fsS -m 5 "$(es_url)/_cluster/health" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p') || true
        if [[ -n $health ]]; then
            say "es: running, pid $(cat "$ES_PID"), $(es_url) (health $health), log $ES_LOG"
        else
            say "es: process $(cat "$ES_PID") alive but $(es_url) not answering; log $ES_LOG"; rc=1
        fi
    else
        say "es: not running"; rc=1
    fi
    return $rc
}

cmd_env() {
    echo "export STORMWATCH_TEST_KAFKA=$HOST:$KAFKA_PORT"
    echo "export STORMWATCH_TEST_ES=$(es_url)"
}

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

main() {
    local cmd=${1:-} what=${2:-all}
    case $what in kafka | es | all) ;; *) usage ;; esac
    case $cmd in
    start)
        local t0=$SECONDS
        if [[ $what == kafka || $what == all ]]; then start_kafka; fi
        if [[ $what == es || $what == all ]]; then start_es; fi
        say "started ($what) in $((SECONDS - t0))s; state and logs under $LOCAL_DIR"
        ;;
    stop)
        if [[ $what == es || $what == all ]]; then stop_es; fi
        if [[ $what == kafka || $what == all ]]; then stop_kafka; fi
        ;;
    fetch)
        if [[ $what == kafka || $what == all ]]; then fetch_kafka; fi
        if [[ $what == es || $what == all ]]; then fetch_es; fi
        ;;
    status) cmd_status || exit 1 ;;
    env) cmd_env ;;
    *) usage ;;
    esac
}

main "$@"
