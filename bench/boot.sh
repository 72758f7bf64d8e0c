#!/bin/sh
# Enclave boot time: from enclave_create() to the first HTTP 200 from a busybox
# httpd at the enclave's address, measured inside the driver (so process
# start and OCI runtime detection, done once by berthd, are not counted), at
# both isolation levels: hardened runc (the whole sandbox: caps, seccomp,
# cgroups, firewall tables) and gVisor (runsc, platform ptrace); then hardened
# runc with an egress allowlist of 4 names (resolved at boot from a DNS server
# on loopback, tests/system/dns_server.py: what the allowlist adds).
# The runtime of each level is opened (runsc detected) before the clock starts,
# as berthd does once at start.
# Usage: bench/boot.sh [runs]   (root; env BERTH_BUILD=build dir, default build)
# Prints each run, then "RESULT boot_runc_ms=<median> boot_gvisor_ms=<median>
# boot_runc_allowlist_ms=<median>".
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

DNS_PID=
cleanup() {
	[ -z "$DNS_PID" ] || kill "$DNS_PID" 2>/dev/null || true
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
# As berth unpacks images: for runc owned by the user namespace's root
# (RUNTIME_USERNS_BASE, src/runtime/runtime.h), for gVisor as it is.
cp -a "$R" "$R-plain"
chown -R -h 1073741824:1073741824 "$R"

median() {
	sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# The allowlist's DNS server: its address on the first line of its output.
/usr/bin/python3 -u -c "
import sys, time
sys.path.insert(0, '$HERE/tests/system')
from dns_server import DNSServer
d = DNSServer()
for i in range(4):
    d.set('api%d.bench.test' % i, ['198.18.0.%d' % (10 + i)])
print(d.addr)
time.sleep(3600)
" >"$TMP/dns.addr" &
DNS_PID=$!
for _ in $(seq 50); do [ -s "$TMP/dns.addr" ] && break; sleep 0.1; done
DNS=$(head -1 "$TMP/dns.addr")
[ -n "$DNS" ] || { echo "the DNS server did not start" >&2; exit 1; }

result=RESULT
for mode in runc gvisor runc_allowlist; do
	iso=${mode%_allowlist}
	root=$R
	[ "$iso" = gvisor ] && root=$R-plain
	extra=
	[ "$mode" = runc_allowlist ] && extra='"egress": "allowlist", "allow": ["api0.bench.test", "api1.bench.test", "api2.bench.test", "api3.bench.test"],'
	i=0
	: >"$TMP/times"
	while [ $i -lt "$RUNS" ]; do
		name=b-bench$$-$i
		cat >"$TMP/spec.json" <<JSON
{"name": "$name", "isolation": "$iso", $extra
 "containers": [{"name": "web", "rootfs": "$root", "stop_timeout_ms": 100,
  "image": {"cmd": ["httpd", "-f", "-p", "8080", "-h", "/www"]}}]}
JSON
		# The runtime of the level opened before the clock starts (runsc's
		# detection runs a container: berthd does it once, at start).
		out=$($D --egress-dns "$DNS" --isolation "$iso" create "$TMP/spec.json" --wait-http 8080 2>&1 >/dev/null) || true
		ms=$(echo "$out" |
			sed -n 's/^boot_ms=//p')
		[ -n "$ms" ] || { echo "$mode run $i failed: $(echo "$out" | tail -1)" >&2; exit 1; }
		echo "$mode run $i: ${ms} ms"
		echo "$ms" >>"$TMP/times"
		$D destroy "$name" >/dev/null 2>&1
		i=$((i + 1))
	done
	result="$result boot_${mode}_ms=$(median "$TMP/times")"
done
echo "$result"
