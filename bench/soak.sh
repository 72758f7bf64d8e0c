#!/bin/sh
# soak.sh: berth kept busy and hurt, with a real berthd, router, registry and
# enclaves (the pieces of scripts/demo.sh, on free ports and a temp dir). N
# containers (N-1 of the repository's tag v1, each binding a secret, and one
# simulated GPU container that takes all of the host's GPUs: berthd runs with
# --gpus 1) under continuous client load through berth-router (CLIENTS
# keep-alive connections going round them) for DURATION; meanwhile:
#   every UPDATE_PERIOD (20 s) a blue-green update of one container (a tag
#     update v1 <-> v2; every 4th an edit of the secret and an edit-config);
#   every BAD_PERIOD (120 s) an update that must fail (its entrypoint is not
#     in the image);
#   every RECREATE_PERIOD (180 s) a stop-then-start update of the GPU
#     container (its gaps are the only place a request may fail by design);
#   at random moments (exponential, mean CHAOS_MEAN = 60 s; SEED repeats a
#     run) a SIGKILL of an enclave's process, of berthd (started again) or of
#     berth-router (berthd starts it again);
#   once, at 70 % of DURATION, the registry stopped for up to 10 s.
# The measuring is bench/soak.py's; this script sets up and takes down.
#
# Usage: bench/soak.sh [BUILD_DIR]   (default: build, from `make build`)
# Environment: N (10), DURATION (600s; `60s`, `10m`, `2h`), CLIENTS (4),
#   UPDATE_PERIOD, BAD_PERIOD, RECREATE_PERIOD, CHAOS_MEAN (seconds), SEED;
#   KEEP=1 keeps the work dir (berthd's log) for reading.
# Last line: RESULT containers=… requests=… failed_outside_recreate=…
#   failed_in_recreate=… retried=… p50_ms=… p99_ms=… updates_ok=…
#   updates_failed=… bad_updates_failed=… recreates_ok=… killed_enclaves=…
#   killed_berthd=… killed_routers=… containers_running=N/N berthd_rss_kib=…
#   berthd_fds=… router_rss_kib=… router_fds=… rss_growth_kib=… fd_growth=…
#   enclaves_extra=… netns_extra=… veths_extra=…
# (RSS and fds as first->last sample of each process, comma-separated: one
# per process, as berthd and the router may be killed and started again.)
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
ENV_BERTHD_ARGS="--gpus 1"
# A killed enclave process comes back (docs/lifecycle.md#restarts).
ENV_RESTART=always
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
GPU_CONFIGS=$($ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
	"$(env_config "$ENV_HELLO_V1" | sed 's|^cvm-version: .*|&\ngpus: 1|')" \
	"$(env_config "$ENV_HELLO_V2" | sed 's|^cvm-version: .*|&\ngpus: 1|')")
BERTHD_ARGV=$($ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
	"$ENV_BUILD/berthd" --state-dir "$ENV_STATE" --listen "$ENV_LISTEN" \
	--router-listen "$ENV_ROUTER" --subnet "$ENV_SUBNET" --bridge "$ENV_BRIDGE" \
	--log-level "$ENV_LOG_LEVEL" --source-root "$ENV_DIR" $ENV_BERTHD_ARGS)
REGISTRY_ARGV=$($ENV_PY -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
	docker-registry serve "$ENV_DIR/registry/config.yml")

BENCH_API=$ENV_API BENCH_TOKEN=$ENV_TOKEN BENCH_ROUTER=$ENV_ROUTER BENCH_REPO=$ENV_REPO \
	BENCH_STATE=$ENV_STATE BENCH_BRIDGE=$ENV_BRIDGE BENCH_PIDS=$PIDS \
	BENCH_RUN=/run/berth/$(printf %s "$ENV_STATE" | sha256sum | cut -c1-12) \
	BENCH_BERTHD_ARGV=$BERTHD_ARGV BENCH_REGISTRY_ARGV=$REGISTRY_ARGV BENCH_BAD_CONFIG=$BAD BENCH_GPU_CONFIGS=$GPU_CONFIGS \
	DURATION=$DURATION_S $ENV_PY "$HERE/soak.py"
