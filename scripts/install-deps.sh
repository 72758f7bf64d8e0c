#!/bin/sh
# Installs every Debian package berth needs to build, test, benchmark and run.
# Idempotent: packages already present are skipped, apt runs only when one is missing.
set -eu

PKGS="
build-essential cmake pkg-config git clang clang-format clang-tidy cppcheck
libclang-rt-14-dev valgrind
libevent-dev libhttp-parser-dev libjansson-dev libfyaml-dev libsqlite3-dev
libcurl4-openssl-dev libarchive-dev libsodium-dev libgit2-dev libcmocka-dev libpq-dev
postgresql-15
runc crun runsc iproute2 iptables nftables busybox-static
umoci skopeo docker-registry apache2-utils pebble
python3-pytest python3-pytest-timeout python3-requests python3-cryptography curl openssl
wrk nginx-light haproxy hyperfine
chromium chromium-driver
"

# The browser tests' node and npm: Debian's, unless this machine has a node
# already (NodeSource's nodejs bundles npm and conflicts with Debian's npm).
if ! command -v node >/dev/null && ! command -v npm >/dev/null; then
	PKGS="$PKGS nodejs npm"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "install-deps: one of node and npm is missing: install it from where the other" \
		"came from (Debian's would conflict with it)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
else
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The browser tests' npm packages (playwright-core, which drives Debian's
# chromium above: no browser is downloaded). npm ci runs only when
# node_modules is missing or package-lock.json changed since the last run.
cd "$(dirname "$0")/.."
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.berth-package-lock.sha256
if [ -d node_modules/playwright-core ] && [ "$(cat "$stamp" 2>/dev/null)" = "$lock_sum" ]; then
	echo "install-deps: node_modules up to date"
else
	echo "install-deps: npm ci"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	echo "$lock_sum" >"$stamp"
fi
