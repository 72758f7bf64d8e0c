#!/bin/sh
# lifecycle.sh: the lifecycle's speed with a real berthd, router, registry and
# enclaves (the pieces of scripts/demo.sh, on free ports and a temp dir):
#   - create -> running of a container whose image is cached (pulled by an
#     earlier container of the same digest), min-healthy-time 0s: median of RUNS;
#   - a blue-green tag update (min-healthy-time 1s): from its 202 to the first
#     answer of the new version through the router: median of UPDATES;
#   - GET /containers with LIST_N containers in the store (all failed at their
#     pull, their manifest unknown to the registry): p50 and p99 of LIST_GETS
#     sequential requests on one keep-alive connection, then LIST_GETS more
#     with a new connection each, then LIST_GETS more on one keep-alive
#     connection while another writes updates (a `retry` of one of those
#     containers every WRITE_PERIOD s), then LIST_GETS more, each right after
#     a retry written and answered on the same connection (untimed).
# The measuring is bench/lifecycle.py's; this script sets up and takes down.
#
# Usage: bench/lifecycle.sh [BUILD_DIR]   (default: build, from `make build`)
# Environment: RUNS (7), UPDATES (5), LIST_N (1000), LIST_GETS (1000),
#   WRITE_PERIOD (0.02);
#   KEEP=1 keeps the work dir (berthd's debug log) for reading.
# Last line: RESULT create_to_running_ms=… update_to_traffic_ms=… list_p99_ms=…
#   list_p99_newconn_ms=… list_p99_writes_ms=… list_p99_after_write_ms=…
#   (list_p99_ms: keep-alive)
# Run as root (enclaves). Everything it starts is stopped by PID at its end.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
enclave_bench_init lifecycle.sh "${1:-build}" 92 bbench
ENV_LOG_LEVEL=debug
ENV_MIN_HEALTHY=1s

trap enclave_bench_done EXIT
trap 'exit 130' INT TERM

echo "lifecycle.sh: registry, images, repository, berthd ($BUILD)..." >&2
env_registry_start
env_images
env_repo
# Tag fast: hello v1 again (same digest, so cached), healthy at once.
env_repo_tag fast "$ENV_HELLO_V1" 0s "$(date +%s)"
env_berthd_start

BENCH_API=$ENV_API BENCH_TOKEN=$ENV_TOKEN BENCH_ROUTER=$ENV_ROUTER BENCH_REPO=$ENV_REPO \
	BENCH_REGISTRY=$ENV_REGISTRY BENCH_STATE=$ENV_STATE BENCH_LOG=$ENV_STATE/berthd.log $ENV_PY "$HERE/lifecycle.py"
