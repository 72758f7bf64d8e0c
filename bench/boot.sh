#!/bin/sh
# Enclave boot time: from enclave_create() to the first HTTP 200 from a busybox
# httpd at the enclave's address, measured inside the driver (so process
# start and OCI runtime detection, done once by berthd, are not counted), at
# both isolation levels: hardened runc (the whole sandbox: caps, seccomp,
# cgroups, firewall tables) and gVisor (runsc, platform ptrace).
# Usage: bench/boot.sh [runs]   (root; env BERTH_BUILD=build dir, default build)
# Prints each run, then "RESULT boot_runc_ms=<median> boot_gvisor_ms=<median>".
set -eu
RUNS=${1:-11}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BERTH_BUILD:-$HERE/build}
DRIVER=$BUILD/tests/berth-enclave
[ -x "$DRIVER" ] || { echo "no $DRIVER: run make build" >&2; exit 1; }
TMP=$(mktemp -d /tmp/berth-bench-boot.XXXXXX)
BRIDGE=bbench$$
BRIDGE=$(echo "$BRIDGE" | cut -c1-15)
SUBNET=
for o in 251 252 253 249 248; do
	if ! ip -4 route | grep -q "^10\.213\.$o\."; then SUBNET=10.213.$o.0/24; break; fi
done
[ -n "$SUBNET" ] || { echo "no free subnet" >&2; exit 1; }
RUN=/run/berth-bench-$$
D="$DRIVER --state $TMP/state --oci-root $TMP/oci --netns-dir $RUN/netns --bridge $BRIDGE --subnet $SUBNET"

cleanup() {
	for n in $($D list 2>/dev/null | tr -d '[]",' ); do $D destroy "$n" >/dev/null 2>&1 || true; done
	ip link del "$BRIDGE" 2>/dev/null || true
	umount "$RUN/bundles" 2>/dev/null || true
	rm -rf "$TMP" "$RUN"
}
trap cleanup EXIT INT TERM

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/www"
cp /bin/busybox "$R/bin/busybox"
chroot "$R" /bin/busybox --install -s /bin
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'hello' >"$R/www/index.html"

median() {
	sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

result=RESULT
for iso in runc gvisor; do
	i=0
	: >"$TMP/times"
	while [ $i -lt "$RUNS" ]; do
		name=b-bench$$-$i
		cat >"$TMP/spec.json" <<JSON
{"name": "$name", "isolation": "$iso",
 "containers": [{"name": "web", "rootfs": "$R", "stop_timeout_ms": 100,
  "image": {"cmd": ["httpd", "-f", "-p", "8080", "-h", "/www"]}}]}
JSON
		ms=$($D create "$TMP/spec.json" --wait-http 8080 2>&1 >/dev/null | sed -n 's/^boot_ms=//p')
		[ -n "$ms" ] || { echo "$iso run $i failed" >&2; exit 1; }
		echo "$iso run $i: ${ms} ms"
		echo "$ms" >>"$TMP/times"
		$D destroy "$name" >/dev/null 2>&1
		i=$((i + 1))
	done
	result="$result boot_${iso}_ms=$(median "$TMP/times")"
done
echo "$result"
