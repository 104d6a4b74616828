#!/usr/bin/env bash
# ensure-tools.sh makes sure the command-line tools the tests run are
# installed: promtool (from the Debian package prometheus), which checks the
# runtime's /metrics output the way Prometheus parses it, and Chromium (the
# Debian package chromium, /usr/bin/chromium), which the console's browser
# tests drive headless. It installs a missing tool from the system's packages
# (Debian/Ubuntu apt) without recommended packages and without starting the
# Prometheus server the package ships as a service. It is safe to run any number of times; on failure it
# exits non-zero saying what went wrong.
set -euo pipefail

log() { printf 'ensure-tools: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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

POLICY=/usr/sbin/policy-rc.d
own_policy=

# no_service_start installs a policy-rc.d that tells the package scripts not to
# start services (exit 101), unless one already exists; drop_policy removes
# only the one this script wrote.
no_service_start() {
	[ -e "$POLICY" ] && return 0
	printf '#!/bin/sh\n# written by dge scripts/ensure-tools.sh for one apt-get install\nexit 101\n' |
		as_root tee "$POLICY" >/dev/null
	as_root chmod 755 "$POLICY"
	own_policy=1
}
drop_policy() { if [ -n "$own_policy" ]; then as_root rm -f "$POLICY"; fi; }
trap drop_policy EXIT

# apt_install installs Debian packages, non-interactively, waiting for another
# apt-get to release its lock rather than failing.
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "$* not installed and apt-get is not available; install it yourself (promtool from Prometheus 2.x, Chromium as /usr/bin/chromium)"
	log "installing $* with apt-get"
	no_service_start
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
	# Without fresh package lists the install may not find the package, or
	# fetch versions the mirror no longer has: update, then try again.
	as_root "${apt[@]}" install -y -q --no-install-recommends "$@" && return 0
	log "retrying after apt-get update"
	as_root "${apt[@]}" update -q || die "apt-get update failed"
	as_root "${apt[@]}" install -y -q --no-install-recommends "$@" ||
		die "apt-get install $* failed"
}

if ! command -v promtool >/dev/null 2>&1; then
	apt_install prometheus
	command -v promtool >/dev/null 2>&1 || die "promtool still not on PATH after installing prometheus"
fi
log "promtool: $(promtool --version 2>&1 | head -n 1)"

# The browser tests start /usr/bin/chromium (internal/browsertest). Debian's
# chromium package needs none of its recommended packages to run headless.
if [ ! -x /usr/bin/chromium ]; then
	apt_install chromium
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after installing chromium"
fi
log "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
