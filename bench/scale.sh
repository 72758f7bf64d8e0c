#!/bin/sh
# scale.sh: berthd at the size of a fleet, on one machine, with no enclave
# run: HOSTS berth-agents with the hollow runtime (--runtime hollow: each
# enclave a loopback socket its agent answers, as Kubernetes' kubemark;
# each agent with its real berth-router) and CONTAINERS containers deployed
# through the API, DEPLOY_CONCURRENCY POSTs at a time. Figures (bench/scale.py):
#   deploy_all_s          the first POST -> every container running
#   list_p50_ms, list_p99_ms  GET /containers, LIST_GETS sequential, keep-alive
#                         (goal: p99 < 20 ms at 10,000 containers)
#   rss_kib_per_container berthd's RSS growth over the deploys, per container
#   update_to_traffic_ms  one blue-green update's 202 -> the new enclave's first
#                         answer through its host's router (min-healthy-time 1s,
#                         as bench/lifecycle.sh's update_to_traffic_ms at 1 container)
#
# Usage: bench/scale.sh [BUILD_DIR]     (default: build, from `make build`)
# Environment: HOSTS (50), CONTAINERS (10000), STORE (pg, or sqlite),
#   DEPLOY_CONCURRENCY (16), LIST_GETS (200), DEPLOY_TIMEOUT (3600 s),
#   BERTHD_WORKERS (4), PROFILE=FILE (perf's report of berthd during the
#   lists); KEEP=1 keeps the work dir (the daemons' logs).
#   A quick run: HOSTS=5 CONTAINERS=500 bench/scale.sh
# Last line: RESULT hosts=… containers=… list_p99_ms=… deploy_all_s=…
#   rss_kib_per_container=… update_to_traffic_ms=…
# Run as root (berthd opens its own host's runtime, unused here). Every
# process it starts is stopped by its PID at the end; PostgreSQL by tests/pg.sh.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || {
	echo "scale.sh: no build dir ${1:-build} (run make build)" >&2
	exit 2
}
[ -x "$BUILD/berth-agent" ] || { echo "scale.sh: no $BUILD/berth-agent" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "scale.sh: run as root (berthd's runtime)" >&2; exit 2; }
case "${STORE:-pg}" in
pg | sqlite) ;;
*) echo "scale.sh: STORE is pg or sqlite" >&2; exit 2 ;;
esac

WORK=$(mktemp -d /tmp/berth-bench-scale.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as nobody
cleanup() {
	[ "${STORE:-pg}" = pg ] && "$HERE/../tests/pg.sh" stop "$WORK/pg" >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then
		echo "scale.sh: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url=
if [ "${STORE:-pg}" = pg ]; then
	echo "scale.sh: PostgreSQL in $WORK/pg..." >&2
	url=$("$HERE/../tests/pg.sh" start "$WORK/pg")
fi
# More file descriptors: berthd holds a connection or two per agent, each
# agent a socket per enclave and per connection.
ulimit -n 65536 2>/dev/null || true
BENCH_BUILD=$BUILD BENCH_WORK=$WORK BENCH_STORE=$url /usr/bin/python3 "$HERE/scale.py"
