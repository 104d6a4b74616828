#!/usr/bin/env bash
# ensure-broker.sh makes sure a local RabbitMQ with the management plugin is
# running on 127.0.0.1 (AMQP 5672, management API 15672, user guest/guest),
# installing it from the system's packages (Debian/Ubuntu apt) when missing
# and starting it when stopped. It never restarts a healthy broker, and it is
# safe to run any number of times. On success it prints the variables the
# tests read; on failure it exits non-zero saying what went wrong.
set -euo pipefail

HOST=127.0.0.1
AMQP_PORT=5672
MGMT_PORT=15672
WAIT_SECONDS=${DGE_BROKER_WAIT_SECONDS:-90}

log() { printf 'ensure-broker: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

amqp_up() { (exec 3<>"/dev/tcp/$HOST/$AMQP_PORT") 2>/dev/null; }
mgmt_up() { curl -fsS -o /dev/null --max-time 5 -u guest:guest "http://$HOST:$MGMT_PORT/api/overview" 2>/dev/null; }
healthy() { amqp_up && mgmt_up; }

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

print_env() {
	cat <<EOT
RabbitMQ is running: AMQP on $HOST:$AMQP_PORT, management on http://$HOST:$MGMT_PORT
export DGE_TEST_AMQP_URL=amqp://guest:guest@$HOST:$AMQP_PORT/
export DGE_TEST_MANAGEMENT_URL=http://guest:guest@$HOST:$MGMT_PORT
EOT
}

# apt_install installs Debian packages, non-interactively.
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "$* not installed and apt-get is not available; install RabbitMQ 3.10+ with the management plugin yourself"
	log "installing $* with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
		die "apt-get install $* failed"
}

# curl is how this script talks to the management API.
command -v curl >/dev/null 2>&1 || apt_install curl

if healthy; then
	print_env
	exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
	apt_install rabbitmq-server
fi
PATH=$PATH:/usr/sbin:/usr/local/sbin

node_running() { as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

if node_running; then
	# Running but not (yet) healthy: maybe still booting, maybe the plugin
	# is off. Enabling an enabled plugin is a no-op and restarts nothing.
	log "broker is running; making sure rabbitmq_management is enabled"
	as_root rabbitmq-plugins -q enable rabbitmq_management >/dev/null ||
		die "could not enable rabbitmq_management on the running broker"
else
	log "enabling rabbitmq_management and starting rabbitmq-server"
	as_root rabbitmq-plugins -q --offline enable rabbitmq_management >/dev/null ||
		die "could not enable rabbitmq_management (rabbitmq-plugins --offline)"
	# A service manager may have started it meanwhile; starting twice fails
	# harmlessly, so only start when the node still does not answer.
	if ! node_running; then
		as_root rabbitmq-server -detached ||
			die "rabbitmq-server -detached failed; see /var/log/rabbitmq/"
	fi
fi

log "waiting up to ${WAIT_SECONDS}s for AMQP on $HOST:$AMQP_PORT and the management API on $HOST:$MGMT_PORT"
deadline=$((SECONDS + WAIT_SECONDS))
until healthy; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		amqp_up && amqp=up || amqp=down
		mgmt_up && mgmt=up || mgmt=down
		die "RabbitMQ not ready after ${WAIT_SECONDS}s (AMQP $amqp, management API $mgmt); see /var/log/rabbitmq/ and 'rabbitmq-diagnostics status'"
	fi
	sleep 1
done
print_env
