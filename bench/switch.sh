#!/bin/sh
# bench/switch.sh: traffic through berth-router while its route flips between
# two backends every second. The goal is no failed request at all.
#
# wrk on loopback (keep-alive, 64 connections) for DURATION seconds; meanwhile
# the admin API moves the route from one nginx backend to the other and back,
# a table change per second, each draining the previous upstream.
#
# usage: bench/switch.sh [BUILD_DIR]     (default build/)
# env:   DURATION (30), CONNS (64), WORKERS (1)
set -eu

BUILD=${1:-build}
DURATION=${DURATION:-30}
CONNS=${CONNS:-64}
WORKERS=${WORKERS:-1}

. "$(dirname "$0")/lib.sh"
bench_init switch wrk nginx curl python3

BERTH=$(free_port)
ADMIN=$TMP/admin.sock
for b in blue green; do
	port=$(free_port)
	eval "PORT_$b=$port"
	mkdir -p "$TMP/$b/www"
	printf '%s\n' $b >"$TMP/$b/www/index.html"
	cat >"$TMP/$b/nginx.conf" <<EOF2
worker_processes 1;
pid $TMP/$b/nginx.pid;
error_log $TMP/$b/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	server { listen 127.0.0.1:$port; root $TMP/$b/www; }
}
EOF2
	start nginx -p "$TMP/$b" -c "$TMP/$b/nginx.conf" -g 'daemon off;'
done

start "$ROUTER" --listen 127.0.0.1:$BERTH --admin-socket "$ADMIN" --threads "$WORKERS" \
	--log-level warn --route "app.example.com=127.0.0.1:$PORT_blue"
for p in $PORT_blue $PORT_green $BERTH; do wait_port $p; done

wrk -t2 -c"$CONNS" -d"${DURATION}s" -H 'Host: app.example.com' "http://127.0.0.1:$BERTH/" \
	>"$TMP/wrk.out" &
WRK=$!
gen=1
flips=0
sleep 1
while kill -0 $WRK 2>/dev/null; do
	gen=$((gen + 1))
	if [ $((gen % 2)) -eq 0 ]; then port=$PORT_green; else port=$PORT_blue; fi
	curl -sf --unix-socket "$ADMIN" -X PUT "http://router/v1/table" \
		-d "{\"generation\": $gen, \"routes\": [{\"host\": \"app.example.com\", \"upstreams\": [\"127.0.0.1:$port\"]}]}" \
		>/dev/null && flips=$((flips + 1))
	sleep 1
done
wait $WRK || true
cat "$TMP/wrk.out"
curl -s --unix-socket "$ADMIN" http://router/v1/upstreams
echo
python3 - "$TMP/wrk.out" "$flips" <<'EOF2'
import re, sys
t = open(sys.argv[1]).read()
requests = int(re.search(r"(\d+) requests in", t).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
non2xx = int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errors = sum(int(x) for x in m.groups()) if m else 0
print(f"flips={sys.argv[2]}")
print(f"RESULT requests={requests} non2xx={non2xx} socket_errors={errors}")
EOF2
