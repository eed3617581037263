#!/usr/bin/env bash
#
# compare.sh - Baton side by side with Mosquitto, NATS (JetStream) and
# RabbitMQ on this machine, all on 127.0.0.1 with TLS 1.3, client
# certificates required and durable settings, same message size, sender
# count and window; runs alternate between the systems; prints one table
# with Baton's ratio to each. Then Baton alone: --idle idle sessions (the
# broker's memory per session) and --queued handovers for a node that is
# offline (receipt rate first vs last 10%, store bytes per handover).
#
#   BATON_BIN=build bash tests/bench/compare.sh [options]
#
#   --loads "P M W;..."  senders, messages per sender, window
#                        (default "4 20000 64;16 5000 64;4 5000 1")
#   --size S             message bytes (default 2048; Baton's handover is
#                        padded to S packed bytes)
#   --rounds K           alternating rounds; the table shows the median (1)
#   --systems "..."      any of baton mosquitto nats rabbitmq (all)
#   --idle K             idle Baton sessions, 0 to skip (10000)
#   --queued N           handovers queued for an offline node, 0 to skip
#                        (1000000; the map is sized for it)
#   --quick              "4 2000 64;4 500 1", --idle 1000, --queued 20000
#   --no-install         do not apt-get what is missing; skip those systems
#
# What each system runs with:
#   Baton      batond as tests/bench/run.sh starts it (every receipt after
#              an fdatasync'd commit), the pipelined libbaton, 1 receiver
#   Mosquitto  persistence true, QoS 1 both ways, a persistent subscriber
#              session, require_certificate, tls_version tlsv1.3 (Mosquitto
#              acknowledges before its periodic save reaches the disk)
#   NATS       JetStream, file storage, TLS verify (client certificates);
#              nats-server 2.9 from Debian has no sync_interval option and
#              no TLS minimum setting: it negotiates TLS 1.3 with libnats
#              and syncs the file store on its own schedule
#   RabbitMQ   durable classic queue, persistent messages, publisher
#              confirms, ssl_options verify_peer + fail_if_no_peer_cert,
#              versions tlsv1.3; a private epmd on 127.0.0.1
# Certificates are made for the run (openssl; never kept); everything
# lives in a private temp dir removed at the end; every process started is
# stopped by PID at exit (trap); every wait is bounded in count and time.
# Packages missing are installed once (apt-get update, then
# DEBIAN_FRONTEND=noninteractive apt-get install -y, services not started:
# a policy-rc.d that says no is put in place if there is none).
# Speed is printed, never asserted.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
BATON_BIN=${BATON_BIN:-$src/build}
BATON_BIN=$(cd "$BATON_BIN" && pwd)
loads="4 20000 64;16 5000 64;4 5000 1"
size=2048 rounds=1 idle=10000 queued=1000000 install=1
systems="baton mosquitto nats rabbitmq"
while (($#)); do
  case $1 in
  --loads) loads=$2; shift ;;
  --size) size=$2; shift ;;
  --rounds) rounds=$2; shift ;;
  --systems) systems=$2; shift ;;
  --idle) idle=$2; shift ;;
  --queued) queued=$2; shift ;;
  --quick) loads="4 2000 64;4 500 1" idle=1000 queued=20000 ;;
  --no-install) install=0 ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;/^set -euo/d' >&2; exit 2 ;;
  esac
  shift
done

T=$(mktemp -d "${TMPDIR:-/tmp}/baton-compare.XXXXXX")
chmod 755 "$T" # RabbitMQ runs as its own user and must read its files
pids=()
log() { printf '[compare] %s\n' "$*" >&2; }

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do stop_pid "$p"; done
  [[ -n "${rm_policy:-}" ]] && rm -f /usr/sbin/policy-rc.d
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- packages -------------------------------------------------------------

need_pkgs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
      missing+=("$p")
  done
  echo "${missing[*]}"
}
install_missing() {
  local missing
  missing=$(need_pkgs mosquitto libmosquitto-dev nats-server libnats-dev \
    rabbitmq-server librabbitmq-dev openssl)
  [[ -n "$missing" ]] || return 0
  if ((!install)); then
    log "missing (not installed, --no-install): $missing"
    return 0
  fi
  log "installing $missing"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    rm_policy=1
  fi
  timeout 600 apt-get update >"$T/apt.log" 2>&1 || log "apt-get update failed"
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y $missing \
    >>"$T/apt.log" 2>&1 || log "apt-get install failed: $(tail -n 3 "$T/apt.log")"
}

# ---- certificates, ports, waits ----------------------------------------

make_pki() {
  local d=$T/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >srv.ext
    printf 'extendedKeyUsage=clientAuth\n' >cli.ext
    for n in server client; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout $n.key -out $n.csr -subj "/CN=bench-$n"
      openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -days 2 \
        -set_serial "0x$(openssl rand -hex 8)" -out $n.crt \
        -extfile "$([[ $n == server ]] && echo srv.ext || echo cli.ext)"
    done
    chmod 644 ./*.key # read by the brokers' own users; the dir is private
  ) >"$T/pki.log" 2>&1 || { log "openssl failed: $(tail -n 3 "$T/pki.log")"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT SECONDS: until something listens on 127.0.0.1:PORT.
wait_port() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -n1; }

build_loaders() {
  local d=$src/tests/bench/anchors
  mkdir -p "$T/bin"
  [[ -f /usr/include/mosquitto.h ]] &&
    cc -O2 -Wall -o "$T/bin/mosq_load" "$d/mosq_load.c" -lmosquitto
  [[ -f /usr/include/nats/nats.h ]] &&
    cc -O2 -Wall -o "$T/bin/nats_load" "$d/nats_load.c" -lnats
  [[ -f /usr/include/amqp.h ]] &&
    cc -O2 -Wall -o "$T/bin/amqp_load" "$d/amqp_load.c" -lrabbitmq
  return 0
}

PKI=$T/pki
anchor_args() {
  echo --host "${ANCHOR_HOST:-127.0.0.1}" --port "$1" --ca "$PKI/ca.crt" --cert "$PKI/client.crt" \
    --key "$PKI/client.key" --senders "$2" --count "$3" --window "$4" \
    --size "$size" --seconds 300
}

# ---- the systems: each run_X P M W prints the loader's BENCH line --------

run_baton() {
  local out=$T/baton.out
  BENCH_BROKER_ARGS="--max-unacked 256" BATON_BIN=$BATON_BIN timeout 600 \
    bash "$src/tests/bench/run.sh" --senders "$1" --count "$2" --window "$3" \
    --size "$size" --credit 256 >"$out" 2>&1 || log "baton run failed: $(grep -v '^BENCH' "$out" | tail -n 3)"
  grep '^BENCH ' "$out" | head -n1
}

run_mosquitto() {
  local port d=$T/mosq pid
  command -v mosquitto >/dev/null && [[ -x $T/bin/mosq_load ]] || return 0
  port=$(free_port)
  rm -rf "$d" && mkdir -p "$d" && chmod 777 "$d"
  cat >"$d/mosquitto.conf" <<EOF
per_listener_settings false
persistence true
persistence_location $d/
allow_anonymous true
max_queued_messages 0
max_inflight_messages $3
listener $port 127.0.0.1
cafile $PKI/ca.crt
certfile $PKI/server.crt
keyfile $PKI/server.key
require_certificate true
tls_version tlsv1.3
log_dest file $d/log
EOF
  mosquitto -c "$d/mosquitto.conf" >"$d/out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_port "$port" 20 || { log "mosquitto did not listen"; stop_pid "$pid"; return 0; }
  # shellcheck disable=SC2046 # a list of options
  timeout 600 "$T/bin/mosq_load" $(anchor_args "$port" "$@") 2>"$d/err" ||
    log "mosquitto run: $(tail -n 2 "$d/err")"
  stop_pid "$pid"
}

run_nats() {
  local port d=$T/nats pid
  command -v nats-server >/dev/null && [[ -x $T/bin/nats_load ]] || return 0
  port=$(free_port)
  rm -rf "$d" && mkdir -p "$d/js"
  cat >"$d/nats.conf" <<EOF
listen: 127.0.0.1:$port
tls {
  cert_file: "$PKI/server.crt"
  key_file: "$PKI/server.key"
  ca_file: "$PKI/ca.crt"
  verify: true
  timeout: 5
}
jetstream {
  store_dir: "$d/js"
  max_file_store: 16G
}
EOF
  nats-server -c "$d/nats.conf" >"$d/out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_port "$port" 20 || { log "nats-server did not listen"; stop_pid "$pid"; return 0; }
  # shellcheck disable=SC2046
  timeout 600 "$T/bin/nats_load" $(anchor_args "$port" "$@") 2>"$d/err" ||
    log "nats run: $(tail -n 2 "$d/err")"
  stop_pid "$pid"
}

# RabbitMQ starts once (it takes seconds) and is reused; each run purges
# the queue first.
RABBIT_PORT=
start_rabbitmq() {
  local d=$T/rabbit epmd_port dist_port pid
  command -v rabbitmq-server >/dev/null && [[ -x $T/bin/amqp_load ]] || return 1
  RABBIT_PORT=$(free_port) epmd_port=$(free_port) dist_port=$(free_port)
  mkdir -p "$d/mnesia" "$d/log"
  cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp = none
listeners.ssl.default = 127.0.0.1:$RABBIT_PORT
ssl_options.cacertfile = $PKI/ca.crt
ssl_options.certfile = $PKI/server.crt
ssl_options.keyfile = $PKI/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
loopback_users = none
EOF
  echo '[].' >"$d/enabled_plugins"
  epmd -address 127.0.0.1 -port "$epmd_port" >"$d/epmd.out" 2>&1 &
  pids+=("$!")
  env HOME="$d" ERL_EPMD_PORT="$epmd_port" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_NODENAME=bench@localhost RABBITMQ_DIST_PORT="$dist_port" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_MNESIA_BASE="$d/mnesia" \
    RABBITMQ_LOG_BASE="$d/log" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$d/out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_port "$RABBIT_PORT" 90 || { log "rabbitmq did not listen: $(tail -n 3 "$d/out")"; RABBIT_PORT=; return 1; }
}

run_rabbitmq() {
  [[ -n "$RABBIT_PORT" ]] || return 0
  # shellcheck disable=SC2046
  # librabbitmq checks the name against DNS entries only (not IP ones)
  timeout 600 "$T/bin/amqp_load" $(ANCHOR_HOST=localhost anchor_args "$RABBIT_PORT" "$@") 2>"$T/rabbit/err" ||
    log "rabbitmq run: $(tail -n 2 "$T/rabbit/err")"
}

# ---- the comparison -------------------------------------------------------

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

install_missing
make_pki
build_loaders
[[ " $systems " == *" rabbitmq "* ]] && { start_rabbitmq || log "RabbitMQ not run"; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

IFS=';' read -r -a load_list <<<"$loads"
read -r -a sys_list <<<"$systems"
results=$T/results
: >"$results"
for ((round = 1; round <= rounds; round++)); do
  for load in "${load_list[@]}"; do
    # shellcheck disable=SC2086 # P M W
    set -- $load
    # alternate: each round and load starts with the next system
    n=${#sys_list[@]}
    for ((k = 0; k < n; k++)); do
      sys=${sys_list[$(((k + round - 1) % n))]}
      log "round $round: $sys $load (size $size)"
      line=$("run_$sys" "$@" || true)
      [[ -n "$line" ]] || { log "$sys $load: no result"; continue; }
      echo "$sys|$load|$line" >>"$results"
      log "  $(field msgs_per_s "$line") msgs/s, receipt p50 $(field rcpt_p50_ms "$line") ms"
    done
  done
done

stat_of() { # SYSTEM LOAD FIELD: the median over the rounds
  { grep -F "$1|$2|" "$results" || true; } | while IFS='|' read -r _ _ l; do field "$3" " $l"; done | median
}
echo
echo "## $(date -u +%Y-%m-%d) on $(nproc) cores, $size-byte messages, loopback, TLS 1.3 + client certificates, durable"
echo
printf '| P M W | system | msgs/s | receipt p50 / p99 ms | delivery p50 / p99 ms | Baton msgs/s ÷ this |\n'
printf '|---|---|---|---|---|---|\n'
for load in "${load_list[@]}"; do
  b=$(stat_of baton "$load" msgs_per_s)
  for sys in "${sys_list[@]}"; do
    m=$(stat_of "$sys" "$load" msgs_per_s)
    ratio=-
    [[ "$b" != - && "$m" != - && "$m" != 0 ]] && ratio=$(awk -v a="$b" -v b="$m" 'BEGIN {printf "%.2f", a / b}')
    printf '| %s | %s | %s | %s / %s | %s / %s | %s |\n' "$load" "$sys" "$m" \
      "$(stat_of "$sys" "$load" rcpt_p50_ms)" "$(stat_of "$sys" "$load" rcpt_p99_ms)" \
      "$(stat_of "$sys" "$load" dlv_p50_ms)" "$(stat_of "$sys" "$load" dlv_p99_ms)" "$ratio"
  done
done
b=$(grep '^baton|' "$results" | head -n1 | cut -d'|' -f3- || true)
[[ -n "$b" ]] && echo && echo "Baton broker at $(grep '^baton|' "$results" | head -n1 | cut -d'|' -f2): $(field cpu_us_per_msg " $b") µs CPU per handover, $(field per_commit " $b") handovers per commit, peak RSS anon $(field rss_anon_kb " $b") KiB / file $(field rss_file_kb " $b") KiB"

# ---- Baton alone: idle sessions, queued for an offline node ---------------

if ((idle > 0)); then
  lim=$(ulimit -n)
  if ((idle + 200 > lim)); then
    log "fd limit $lim: idle sessions scaled to $((lim - 200))"
    idle=$((lim - 200))
  fi
  per_node=$((idle < 10000 ? idle : 10000))
  BENCH_BROKER_ARGS="--max-per-node $per_node --max-connections $((idle + 100))" \
    BATON_BIN=$BATON_BIN timeout 900 bash "$src/tests/bench/run.sh" \
    --senders 1 --idle "$idle" --seconds 600 >"$T/idle.out" 2>&1 || log "idle run failed: $(tail -n 3 "$T/idle.out")"
  l=$(grep '^BENCHI' "$T/idle.out" || true)
  echo
  echo "Idle sessions: $(field sessions " $l") mutual-TLS sessions held, broker RssAnon $(field anon0_kb " $l") -> $(field anon1_kb " $l") KiB: $(field per_session_kb " $l") KiB per session"
fi
if ((queued > 0)); then
  per=$(((queued + 3) / 4))
  BENCH_BROKER_ARGS="--map-size $((64 << 30))" BATON_BIN=$BATON_BIN timeout 3000 \
    bash "$src/tests/bench/run.sh" --senders 4 --count "$per" --window 64 \
    --size "$size" --offline --seconds 2400 >"$T/queued.out" 2>&1 || log "queued run failed: $(grep -v '^BENCH' "$T/queued.out" | tail -n 3)"
  q=$(grep '^BENCHQ' "$T/queued.out" || true)
  s=$(grep '^BENCHS' "$T/queued.out" || true)
  echo
  echo "Queued for an offline node: $(field queued " $q") handovers of $size bytes; receipts/s first 10% $(field first_rate " $q"), last 10% $(field last_rate " $q"); store $(field store0_kb " $s") -> $(field store1_kb " $s") KiB: $(awk -v a="$(field store0_kb " $s")" -v b="$(field store1_kb " $s")" -v n="$(field queued " $q")" 'BEGIN {if (n) printf "%.0f", (b - a) * 1024 / n; else print "-"}') bytes per handover"
fi
