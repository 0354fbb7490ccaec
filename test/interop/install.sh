#!/usr/bin/env bash
# Installs the third-party SMPP clients the interoperability tests drive the
# gateway with:
#   - Perl Net::SMPP      (Debian package libnet-smpp-perl)
#   - Kannel bearerbox and smsbox (Debian package kannel)
#   - node-smpp 0.5.1     (npm package smpp, pinned by test/interop/node/package-lock.json)
#   - libsmpp34 and gcc   (Debian packages libsmpp34-dev, gcc, libc6-dev; the
#                          test compiles test/interop/libsmpp34/smpp_client.c)
# gosmpp, the fifth client, is a Go module in go.mod: nothing to install.
#
# Meant for a new Debian machine, run as root, non-interactively (CI=true, no
# stdin); safe to run again: it only installs what is missing. It never leaves
# a Kannel service running: the tests start their own bearerbox and smsbox on
# free ports.
#
# Usage: bash test/interop/install.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'interop install: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

# perl: JSON::PP and Getopt::Long used by the Perl client are core modules.
# nodejs/npm: only installed from Debian when the machine has no node at all.
# gcc, libc6-dev: the libsmpp34 client is compiled by its test.
want=(libnet-smpp-perl kannel perl libsmpp34-dev gcc libc6-dev)
if ! command -v node >/dev/null 2>&1; then
	want+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
	want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
	installed "$p" || missing+=("$p")
done

# Kannel's package starts its init script on installation (bearerbox on the
# sample configuration's ports 13000/13001 plus a wapbox). Stop that from
# happening with a policy-rc.d for the duration of the install, unless the
# machine already has one (container images usually do).
policy=/usr/sbin/policy-rc.d
made_policy=
cleanup() {
	if [ -n "$made_policy" ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT

apt_install() {
	$SUDO apt-get install -y --no-install-recommends "$@" </dev/null
}

if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# temporary, from test/interop/install.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
		$SUDO chmod 755 "$policy"
		made_policy=1
	fi
	# apt-get update only when the package lists do not know a package or an
	# install from stale lists fails.
	need_update=
	for p in "${missing[@]}"; do
		if ! apt-cache show "$p" >/dev/null 2>&1; then
			need_update=1
		fi
	done
	if [ -n "$need_update" ]; then
		log "apt-get update"
		$SUDO apt-get update </dev/null
		apt_install "${missing[@]}"
	elif ! apt_install "${missing[@]}"; then
		log "install failed; apt-get update and retry"
		$SUDO apt-get update </dev/null
		apt_install "${missing[@]}"
	fi
else
	log "Debian packages already installed"
fi

# Whatever happened above (an earlier install without policy-rc.d, a reboot),
# make sure no system Kannel is running or starts at boot.
if [ -x /etc/init.d/kannel ]; then
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		$SUDO systemctl disable --now kannel >/dev/null 2>&1 || true
	fi
	$SUDO /etc/init.d/kannel stop >/dev/null 2>&1 || true
	if command -v update-rc.d >/dev/null 2>&1; then
		$SUDO update-rc.d kannel disable >/dev/null 2>&1 || true
	fi
fi
for pidfile in /var/run/kannel/kannel_bearerbox.pid /var/run/kannel/kannel_wapbox.pid /var/run/kannel/kannel_smsbox.pid; do
	if [ -s "$pidfile" ]; then
		pid="$(cat "$pidfile")"
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			log "stopping system Kannel process $pid ($pidfile)"
			$SUDO kill "$pid" 2>/dev/null || true
		fi
	fi
done

for bin in bearerbox smsbox; do
	if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
		log "error: $bin not found after installing kannel"
		exit 1
	fi
done
perl -MNet::SMPP -MJSON::PP -e 1
if [ ! -f /usr/include/libsmpp34/smpp34.h ] || ! command -v gcc >/dev/null 2>&1; then
	log "error: libsmpp34 headers or gcc missing after installing libsmpp34-dev and gcc"
	exit 1
fi

# node-smpp, exactly as locked.
cd "$here/node"
if node -e 'process.exit(require("./node_modules/smpp/package.json").version === "0.5.1" ? 0 : 1)' >/dev/null 2>&1; then
	log "node-smpp 0.5.1 already installed"
else
	log "npm ci (smpp@0.5.1)"
	npm ci --no-audit --no-fund --loglevel=error </dev/null
fi
node -e 'const v = require("./node_modules/smpp/package.json").version; if (v !== "0.5.1") { console.error("smpp " + v + " installed, want 0.5.1"); process.exit(1); }'

log "ok: Net::SMPP $(perl -MNet::SMPP -e 'print $Net::SMPP::VERSION'), node-smpp 0.5.1, Kannel $(dpkg-query -W -f='${Version}' kannel), libsmpp34 $(dpkg-query -W -f='${Version}' libsmpp34-dev)"
