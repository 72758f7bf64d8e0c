#!/bin/sh
# Installs every Debian package berth needs to build, test, benchmark and run.
# Idempotent: packages already present are skipped, apt runs only when one is missing.
set -eu

PKGS="
build-essential cmake pkg-config git clang clang-format clang-tidy cppcheck
libclang-rt-14-dev valgrind
libevent-dev libhttp-parser-dev libjansson-dev libfyaml-dev libsqlite3-dev
libcurl4-openssl-dev libarchive-dev libsodium-dev libgit2-dev libcmocka-dev
runc crun containernetworking-plugins iproute2 iptables busybox-static
umoci skopeo docker-registry
python3-pytest python3-requests curl openssl
wrk nginx-light haproxy hyperfine
chromium chromium-driver
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
