#!/usr/bin/env bash
# cluster.sh runs a private 3-node RabbitMQ cluster on this machine, beside
# the default broker (5672/15672), which it never touches. Everything lives
# under $DGE_CLUSTER_DIR (default /tmp/dge-cluster): each node's config,
# data, logs and pid file, and a HOME with a cookie of the cluster's own, so
# its rabbitmqctl cannot reach another node by mistake.
#
#   scripts/cluster.sh start    start the nodes that are not running, join
#                               nodes 2 and 3 to node 1, wait until all run
#   scripts/cluster.sh stop     stop every node it started and remove its data
#   scripts/cluster.sh status   one line per node; exit 1 unless all 3 run
#   scripts/cluster.sh kill N   SIGKILL node N (1-3), as a crash would
#   scripts/cluster.sh urls     print the DGE_AMQP_URL and DGE_MANAGEMENT_URL
#                               lists of the cluster, as shell exports
#   scripts/cluster.sh ctl N ARGS...
#                               run rabbitmqctl ARGS against node N only, e.g.
#                               ctl 1 set_vm_memory_high_watermark 0.0000001
#
# Node i is dge-cluster-i@localhost: AMQP on 127.0.0.1:570i, management on
# 127.0.0.1:1570i, Erlang distribution on 2570i; rabbitmqctl takes its
# distribution ports from 35701-35720. User guest/guest. RabbitMQ is
# installed with apt-get when missing, as scripts/ensure-broker.sh does.
set -euo pipefail

DIR=${DGE_CLUSTER_DIR:-/tmp/dge-cluster}
NODES=(1 2 3)
WAIT_SECONDS=${DGE_CLUSTER_WAIT_SECONDS:-120}
RMQ_BIN=/usr/lib/rabbitmq/bin

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

node_name() { echo "dge-cluster-$1@localhost"; }
amqp_port() { echo $((5700 + $1)); }
mgmt_port() { echo $((15700 + $1)); }
dist_port() { echo $((25700 + $1)); }
node_dir() { echo "$DIR/node$1"; }
pid_file() { echo "$(node_dir "$1")/pid"; }

# as_root runs a command as root: directly, or through sudo when available.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' (install sudo or run this script as root)"
	fi
}

ensure_installed() {
	[ -x "$RMQ_BIN/rabbitmq-server" ] && return
	command -v apt-get >/dev/null 2>&1 ||
		die "RabbitMQ is not installed ($RMQ_BIN/rabbitmq-server is missing) and apt-get is not available; install RabbitMQ 3.10+ yourself"
	log "installing rabbitmq-server with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server || die "apt-get install rabbitmq-server failed"
	[ -x "$RMQ_BIN/rabbitmq-server" ] || die "rabbitmq-server installed, but $RMQ_BIN/rabbitmq-server is missing"
}

# node_env runs a command with node $1's environment. The /usr/sbin
# wrappers would switch to the rabbitmq user and drop it, and the system's
# rabbitmq-env.conf and rabbitmq.conf name the default broker: the cluster
# uses files of its own.
node_env() {
	local i=$1
	shift
	local d
	d=$(node_dir "$i")
	env HOME="$DIR/home" \
		RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
		RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
		RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
		RABBITMQ_NODENAME="$(node_name "$i")" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$(amqp_port "$i")" \
		RABBITMQ_DIST_PORT="$(dist_port "$i")" \
		RABBITMQ_MNESIA_BASE="$d/mnesia" \
		RABBITMQ_LOG_BASE="$d/log" \
		RABBITMQ_PID_FILE="$(pid_file "$i")" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
		RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand" \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		RABBITMQ_CTL_DIST_PORT_MIN=35701 \
		RABBITMQ_CTL_DIST_PORT_MAX=35720 \
		ERL_EPMD_ADDRESS=127.0.0.1 \
		"$@"
}

# ctl runs rabbitmqctl against node $1 only (always with -n).
ctl() {
	local i=$1
	shift
	node_env "$i" "$RMQ_BIN/rabbitmqctl" -q -n "$(node_name "$i")" "$@"
}

# node_pid prints node $1's pid when that process runs and is this
# cluster's node (a recycled pid is not); fails otherwise.
node_pid() {
	local f pid
	f=$(pid_file "$1")
	[ -s "$f" ] || return 1
	pid=$(tr -d '[:space:]' <"$f")
	[ -n "$pid" ] && [ -r "/proc/$pid/environ" ] || return 1
	{ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$(node_name "$1")" || return 1
	echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_files() {
	mkdir -p "$DIR/home"
	if [ ! -s "$DIR/home/.erlang.cookie" ]; then
		head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/home/.erlang.cookie"
		chmod 400 "$DIR/home/.erlang.cookie"
	fi
	echo "ERL_EPMD_ADDRESS=127.0.0.1" >"$DIR/rabbitmq-env.conf"
	local i d
	for i in "${NODES[@]}"; do
		d=$(node_dir "$i")
		mkdir -p "$d/log" "$d/mnesia"
		cat >"$d/rabbitmq.conf" <<EOT
listeners.tcp.default = 127.0.0.1:$(amqp_port "$i")
management.tcp.port = $(mgmt_port "$i")
management.tcp.ip = 127.0.0.1
loopback_users = none
EOT
		# A quorum queue forwards a dead-lettered message (dge's retries) at
		# least once: it keeps the message until the retry queue confirms it,
		# and resends an unconfirmed one only after this timeout. The default,
		# 3 minutes, stalls a retry that was in flight when a node died for
		# that long; 10 s is what dge recommends for a cluster (docs/reliability.md).
		cat >"$d/advanced.config" <<EOT
[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 10000}]}].
EOT
		echo "[rabbitmq_management]." >"$d/enabled_plugins"
	done
}

start_node() {
	local i=$1 p
	if node_pid "$i" >/dev/null; then
		return
	fi
	for p in "$(amqp_port "$i")" "$(mgmt_port "$i")" "$(dist_port "$i")"; do
		port_busy "$p" && die "port $p is in use by another process; node $i cannot start (see 'ss -ltnp')"
	done
	rm -f "$(pid_file "$i")"
	log "starting node $i ($(node_name "$i"), AMQP $(amqp_port "$i"), management $(mgmt_port "$i"))"
	# 9>&-: the node must not inherit the lock (see with_lock).
	node_env "$i" "$RMQ_BIN/rabbitmq-server" -detached 9>&- ||
		die "rabbitmq-server -detached failed for node $i; see $(node_dir "$i")/log"
}

# wait_node waits until node $1 has booted (rabbitmqctl await_startup fails
# right after -detached: the node is not registered yet).
wait_node() {
	local i=$1 deadline=$((SECONDS + WAIT_SECONDS))
	until [ -s "$(pid_file "$i")" ]; do
		[ "$SECONDS" -lt "$deadline" ] || die "node $i wrote no pid file in ${WAIT_SECONDS}s; see $(node_dir "$i")/log"
		sleep 0.2
	done
	ctl "$i" wait --timeout "$WAIT_SECONDS" "$(pid_file "$i")" >/dev/null ||
		die "node $i did not start in ${WAIT_SECONDS}s; see $(node_dir "$i")/log"
}

# member reports whether node $1 runs in a cluster with node 1.
member() {
	ctl "$1" cluster_status --formatter json 2>/dev/null | grep -q "\"$(node_name 1)\""
}

join_node() {
	local i=$1
	if member "$i"; then
		return
	fi
	log "joining node $i to node 1"
	local out
	# The CLI prints transient errors while the node's app restarts: show
	# them only when a step fails.
	out=$(ctl "$i" stop_app 2>&1) || die "node $i: stop_app failed: $out"
	out=$(ctl "$i" join_cluster "$(node_name 1)" 2>&1) || die "node $i could not join node 1: $out (see $(node_dir "$i")/log)"
	out=$(ctl "$i" start_app 2>&1) || die "node $i: start_app failed: $out"
}

wait_management() {
	local i=$1 deadline=$((SECONDS + WAIT_SECONDS))
	until curl -fsS -o /dev/null --max-time 5 -u guest:guest "http://127.0.0.1:$(mgmt_port "$i")/api/overview" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "node $i's management API did not answer in ${WAIT_SECONDS}s"
		sleep 0.5
	done
}

cmd_start() {
	ensure_installed
	command -v curl >/dev/null 2>&1 || die "curl is needed; install it (apt-get install curl)"
	local t0=$SECONDS i
	write_files
	for i in "${NODES[@]}"; do start_node "$i"; done
	for i in "${NODES[@]}"; do wait_node "$i"; done
	local t1=$SECONDS
	for i in 2 3; do join_node "$i"; done
	for i in "${NODES[@]}"; do wait_management "$i"; done
	log "cluster running: started in $((t1 - t0))s, joined and serving in $((SECONDS - t1))s more"
	cmd_urls
}

cmd_stop() {
	local i pid
	for i in "${NODES[@]}"; do
		if pid=$(node_pid "$i"); then
			log "stopping node $i (pid $pid)"
			# In parallel: its data is removed next, nothing to wait for.
			node_env "$i" timeout 60 "$RMQ_BIN/rabbitmqctl" -q -n "$(node_name "$i")" stop "$(pid_file "$i")" >/dev/null 2>&1 9>&- &
		fi
	done
	wait
	for i in "${NODES[@]}"; do
		if pid=$(node_pid "$i"); then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$DIR"
	log "stopped; removed $DIR"
}

cmd_status() {
	local i pid ok=0
	for i in "${NODES[@]}"; do
		if pid=$(node_pid "$i"); then
			echo "node $i $(node_name "$i") running pid $pid amqp 127.0.0.1:$(amqp_port "$i") management 127.0.0.1:$(mgmt_port "$i")"
		else
			echo "node $i $(node_name "$i") stopped"
			ok=1
		fi
	done
	return $ok
}

cmd_kill() {
	local i=${1:-} pid
	case "$i" in 1 | 2 | 3) ;; *) die "kill needs a node number, 1 to 3" ;; esac
	pid=$(node_pid "$i") || die "node $i is not running"
	kill -9 "$pid"
	log "killed node $i (pid $pid)"
}

cmd_urls() {
	local i a=() m=()
	for i in "${NODES[@]}"; do
		a+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$i")")
		m+=("http://guest:guest@127.0.0.1:$(mgmt_port "$i")")
	done
	(
		IFS=,
		echo "export DGE_AMQP_URL=${a[*]}"
		echo "export DGE_MANAGEMENT_URL=${m[*]}"
	)
}

# with_lock runs a command holding the cluster's lock, so that two callers
# never start or stop it at once.
with_lock() {
	mkdir -p "$(dirname "$DIR")"
	exec 9>"$DIR.lock"
	flock -w 300 9 || die "another cluster.sh has held $DIR.lock for 300s"
	"$@"
}

case "${1:-}" in
start) with_lock cmd_start ;;
stop) with_lock cmd_stop ;;
status) cmd_status ;;
kill) cmd_kill "${2:-}" ;;
urls) cmd_urls ;;
ctl)
	case "${2:-}" in 1 | 2 | 3) ;; *) die "ctl needs a node number, 1 to 3, then rabbitmqctl's arguments" ;; esac
	n=$2
	shift 2
	ctl "$n" "$@"
	;;
*)
	echo "usage: $0 start|stop|status|kill N|urls|ctl N ARGS..." >&2
	exit 2
	;;
esac
