#!/bin/sh
# pull.sh: pull + unpack of a ~100 MiB, 5-layer image from a local registry,
# berth (tests/berth-image of a release build) against skopeo copy + umoci
# unpack, in the same run, alternating, RUNS times each; prints the medians.
#
# Usage: bench/pull.sh [BUILD_DIR]      (default: build, from `make build`)
# Environment: RUNS (default 5), BIG_LAYERS / BIG_LAYER_MIB (default 5 x 20 MiB)
# Last line: RESULT pull_s=<berth median> skopeo_umoci_s=<median> ratio=<berth/skopeo>
set -eu

BUILD=$(cd "${1:-build}" && pwd)
DRIVER="$BUILD/tests/berth-image"
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$DRIVER" ] || { echo "pull.sh: no $DRIVER (make build)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
REG_PID=
cleanup() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
i=0
until curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "pull.sh: registry did not start" >&2; exit 1; }
	sleep 0.1
done

echo "building the big image ($((${BIG_LAYERS:-5})) x $((${BIG_LAYER_MIB:-20})) MiB)..." >&2
line=$("$HERE/../tests/images/build.sh" "127.0.0.1:$PORT" big)
DIGEST=${line#* }
REF="127.0.0.1:$PORT/big@$DIGEST"
echo "image $REF" >&2

now() { date +%s.%N; }

berth_run() {
	rm -rf "$WORK/cache" "$WORK/rootfs"
	t0=$(now)
	"$DRIVER" pull --cache "$WORK/cache" --unpack "$WORK/rootfs" "$REF" >/dev/null 2>"$WORK/berth.err" ||
		{ cat "$WORK/berth.err" >&2; exit 1; }
	t1=$(now)
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

skopeo_run() {
	rm -rf "$WORK/oci" "$WORK/bundle"
	t0=$(now)
	skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$WORK/oci:big" >/dev/null
	umoci unpack --image "$WORK/oci:big" "$WORK/bundle" >/dev/null
	t1=$(now)
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$WORK/berth.t"
: >"$WORK/skopeo.t"
r=1
while [ $r -le "$RUNS" ]; do
	if [ $((r % 2)) -eq 1 ]; then
		b=$(berth_run); s=$(skopeo_run)
	else
		s=$(skopeo_run); b=$(berth_run)
	fi
	echo "run $r: berth ${b}s skopeo+umoci ${s}s" >&2
	echo "$b" >>"$WORK/berth.t"
	echo "$s" >>"$WORK/skopeo.t"
	r=$((r + 1))
done
# Both unpacked the same files.
(cd "$WORK/rootfs" && find . -type f -exec sha256sum {} + | sort) >"$WORK/a.sum"
(cd "$WORK/bundle/rootfs" && find . -type f -exec sha256sum {} + | sort) >"$WORK/b.sum"
cmp -s "$WORK/a.sum" "$WORK/b.sum" || { echo "pull.sh: the rootfs differ" >&2; exit 1; }

B=$(median <"$WORK/berth.t")
S=$(median <"$WORK/skopeo.t")
echo "RESULT pull_s=$B skopeo_umoci_s=$S ratio=$(echo "$B $S" | awk '{printf "%.2f", $1 / $2}')"
