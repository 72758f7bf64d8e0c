#!/bin/sh
# soak.sh: berth kept busy and hurt on a schedule, with a real berthd, router,
# registry and enclaves (the pieces of scripts/demo.sh, on free ports and a
# temp dir). N containers of the repository's tag v1, each binding a secret,
# under continuous client load through berth-router (CLIENTS keep-alive
# connections going round them) for DURATION; meanwhile, every UPDATE_PERIOD
# one container is updated: a blue-green tag update (v1 <-> v2), every 4th an
# edit of the secret and an edit-config that redeploys it, every 6th an
# update that must fail (its entrypoint is not in the image); once each, at a
# quarter, half and 70 % of DURATION: berth-router SIGKILLed (berthd
# respawns it), berthd SIGKILLed and started again, the registry stopped for
# up to 10 s and started again.
# The measuring is bench/soak.py's; this script sets up and takes down.
#
# Usage: bench/soak.sh [BUILD_DIR]   (default: build, from `make build`)
# Environment: N (8), DURATION (600s; `60s`, `10m`, `2h`), CLIENTS (4),
#   UPDATE_PERIOD (10 s); KEEP=1 keeps the work dir (berthd's log) for reading.
# Last line: RESULT containers=… requests=… failed=… failed_outside_respawn=…
#   failed_in_respawn=… p50_ms=… p99_ms=… updates_ok=… updates_failed=…
#   bad_updates_failed=… containers_running=N/N berthd_rss_kib=… berthd_fds=…
#   router_rss_kib=… router_fds=… rss_growth_kib=… fd_growth=… enclaves_extra=…
#   netns_extra=… veths_extra=…
# (RSS and fds as first->last sample of each process, comma-separated: each
# daemon is killed once, so two processes of each.)
# Run as root (enclaves). Everything it starts is stopped by PID at its end.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

seconds() {
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
DURATION_S=$(seconds "${DURATION:-600}")
enclave_bench_init soak.sh "${1:-build}" 93 bsoak

ENV_LOG_LEVEL=info
ENV_MIN_HEALTHY=1s
PIDS=$ENV_DIR/pids

cleanup() {
	# soak.py restarts berthd and the registry: their current pids.
	ENV_BERTHD_PID=$(cat "$PIDS/berthd.pid" 2>/dev/null || echo "$ENV_BERTHD_PID")
	ENV_REG_PID=$(cat "$PIDS/registry.pid" 2>/dev/null || echo "$ENV_REG_PID")
	enclave_bench_done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "soak.sh: registry, images, repository, berthd ($BUILD)..." >&2
env_registry_start
env_images
env_repo
env_berthd_start
mkdir -p "$PIDS"
echo "$ENV_BERTHD_PID" >"$PIDS/berthd.pid"
echo "$ENV_REG_PID" >"$PIDS/registry.pid"

BAD=$(env_config "$ENV_HELLO_V2" | sed 's|^    image: .*|&\n    entrypoint: ["/no/such/program"]|')
BERTHD_ARGV=$($ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
	"$ENV_BUILD/berthd" --state-dir "$ENV_STATE" --listen "$ENV_LISTEN" \
	--router-listen "$ENV_ROUTER" --subnet "$ENV_SUBNET" --bridge "$ENV_BRIDGE" \
	--log-level "$ENV_LOG_LEVEL" --source-root "$ENV_DIR")
REGISTRY_ARGV=$($ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
	docker-registry serve "$ENV_DIR/registry/config.yml")

BENCH_API=$ENV_API BENCH_TOKEN=$ENV_TOKEN BENCH_ROUTER=$ENV_ROUTER BENCH_REPO=$ENV_REPO \
	BENCH_STATE=$ENV_STATE BENCH_BRIDGE=$ENV_BRIDGE BENCH_PIDS=$PIDS \
	BENCH_RUN=/run/berth/$(printf %s "$ENV_STATE" | sha256sum | cut -c1-12) \
	BENCH_BERTHD_ARGV=$BERTHD_ARGV BENCH_REGISTRY_ARGV=$REGISTRY_ARGV BENCH_BAD_CONFIG=$BAD \
	DURATION=$DURATION_S $ENV_PY "$HERE/soak.py"
