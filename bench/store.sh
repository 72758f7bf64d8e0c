#!/bin/sh
# store.sh: the same store workload on SQLite (a file in /tmp) and on a local
# PostgreSQL 15 (tests/pg.sh, unix socket, fsync on: --durable), release build.
# Workload (tests/drivers/store-bench.c): CONTAINERS containers in one org,
# then WRITES single-commit container saves, READS reads by name, LISTS lists.
#
# Usage: bench/store.sh [BUILD_DIR]      (default: build, from `make build`)
# Environment: CONTAINERS (200), WRITES (500), READS (2000), LISTS (100)
# Last line: RESULT sqlite_writes_per_s=.. sqlite_reads_per_s=.. sqlite_list_p99_ms=..
#                   pg_writes_per_s=.. pg_reads_per_s=.. pg_list_p99_ms=..
set -eu

BUILD=$(cd "${1:-build}" && pwd)
DRIVER="$BUILD/tests/store-bench"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$DRIVER" ] || { echo "store.sh: no $DRIVER (make build)" >&2; exit 2; }
ARGS="${CONTAINERS:-200} ${WRITES:-500} ${READS:-2000} ${LISTS:-100}"

WORK=$(mktemp -d /tmp/berth-bench-store.XXXXXX)
chmod 755 "$WORK" # the server runs as nobody
cleanup() {
	"$HERE/../tests/pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2086
sq=$("$DRIVER" "$WORK/berth.db" $ARGS)
echo "sqlite:     $sq"
url=$("$HERE/../tests/pg.sh" start "$WORK/pg" --durable)
# shellcheck disable=SC2086
pg=$("$DRIVER" "$url" $ARGS)
echo "postgresql: $pg"

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "RESULT sqlite_writes_per_s=$(field "$sq" writes_per_s)" \
	"sqlite_reads_per_s=$(field "$sq" reads_per_s)" \
	"sqlite_list_p99_ms=$(field "$sq" list_p99_ms)" \
	"pg_writes_per_s=$(field "$pg" writes_per_s)" \
	"pg_reads_per_s=$(field "$pg" reads_per_s)" \
	"pg_list_p99_ms=$(field "$pg" list_p99_ms)"
