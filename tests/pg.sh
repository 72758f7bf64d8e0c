#!/bin/sh
# A throwaway PostgreSQL 15 for the tests and benchmarks.
#   tests/pg.sh start DIR [--durable]   initdb + start; prints the URL (also in DIR/url)
#   tests/pg.sh stop DIR                stops the server, removes DIR
# The server runs as an unprivileged user (nobody, or $BERTH_PG_USER), listens
# only on a unix socket in DIR (no TCP), trusts local connections, and holds
# the database "berth" of the superuser "berth". Without --durable, fsync is
# off (tests: a crash of the machine loses nothing that matters). start first
# stops and removes what a previous run left in DIR.
set -eu

PGBIN=${BERTH_PGBIN:-/usr/lib/postgresql/15/bin}
RUNAS=${BERTH_PG_USER:-nobody}

usage() {
	echo "usage: $0 start DIR [--durable] | stop DIR" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
durable=0
[ "${3:-}" = "--durable" ] && durable=1

case "$dir" in
/*) ;;
*) echo "pg.sh: DIR must be an absolute path" >&2; exit 2 ;;
esac

# As the server's user when root; as ourselves otherwise.
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --clear-groups \
			--reset-env -- "$@"
	else
		"$@"
	fi
}

stop() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_user "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
		# A server pg_ctl could not reach: its pid is the file's first line.
		pid=$(head -n1 "$dir/data/postmaster.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -rf "$dir"
}

case "$cmd" in
stop)
	stop
	;;
start)
	stop
	mkdir -p "$dir"
	parent=$(dirname "$dir")
	# The server's user must reach DIR.
	if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --clear-groups test -x "$parent"; then
		echo "pg.sh: $RUNAS cannot reach $parent" >&2
		exit 1
	fi
	chmod 0755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown "$RUNAS" "$dir"
	if ! as_user "$PGBIN/initdb" -D "$dir/data" -U berth -A trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		stop
		exit 1
	fi
	fsync=off
	[ $durable -eq 1 ] && fsync=on
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
fsync = $fsync
synchronous_commit = on
full_page_writes = $fsync
max_connections = 50
shared_buffers = 64MB
log_min_messages = warning
EOF
	if ! as_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
		cat "$dir/server.log" >&2 || true
		stop
		exit 1
	fi
	if ! as_user "$PGBIN/psql" -h "$dir" -U berth -d postgres -qAt \
		-c "CREATE DATABASE berth" >/dev/null; then
		stop
		exit 1
	fi
	url="postgresql:///berth?host=$dir&user=berth"
	echo "$url" >"$dir/url"
	echo "$url"
	;;
*)
	usage
	;;
esac
