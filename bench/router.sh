#!/bin/sh
# bench/router.sh: berth-router against nginx and HAProxy as reverse proxies.
#
# wrk on loopback, keep-alive, 64 connections, a small static response from
# nginx as the backend. Measured in one run: the backend directly, berth-router,
# nginx (upstream keepalive) and HAProxy (http mode, connection reuse), with the
# same number of worker threads/processes each and logs off.
#
# usage: bench/router.sh [BUILD_DIR]     (default build/, a release build)
# env:   WORKERS (1), DURATION (10s), CONNS (64), WRK_THREADS (2), ROUNDS (3)
#
# The targets take turns, ROUNDS times; each figure is the median of its
# rounds, so that a noisy neighbour on a shared machine hits all of them.
set -eu
[ -n "${TRACE:-}" ] && set -x

BUILD=${1:-build}
ROUTER=$BUILD/berth-router
WORKERS=${WORKERS:-1}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}

[ -x "$ROUTER" ] || { echo "no $ROUTER: run make build" >&2; exit 1; }
for t in wrk nginx haproxy python3; do
	command -v $t >/dev/null || { echo "$t is missing" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/berth-bench-router.XXXXXX)
chmod 755 "$TMP" # nginx workers run as nobody
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	i=0
	until python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "nothing listens on $1" >&2; exit 1; }
		sleep 0.05
	done
}

BACKEND=$(free_port)
BERTH=$(free_port)
NGINX=$(free_port)
HAPROXY=$(free_port)

mkdir -p "$TMP/www" "$TMP/nginx-backend" "$TMP/nginx-proxy"
printf 'hello from the backend\n' >"$TMP/www/index.html"

cat >"$TMP/nginx-backend/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $TMP/nginx-backend/nginx.pid;
error_log $TMP/nginx-backend/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$BACKEND reuseport;
		root $TMP/www;
	}
}
EOF

cat >"$TMP/nginx-proxy/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $TMP/nginx-proxy/nginx.pid;
error_log $TMP/nginx-proxy/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	upstream backend {
		server 127.0.0.1:$BACKEND;
		keepalive 128;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:$NGINX reuseport;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$remote_addr;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_buffering off;
		}
	}
}
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
	nbthread $WORKERS
	maxconn 8000
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	http-reuse always
	option forwardfor
frontend fe
	bind 127.0.0.1:$HAPROXY
	default_backend be
backend be
	server s1 127.0.0.1:$BACKEND
EOF

nginx -p "$TMP/nginx-backend" -c "$TMP/nginx-backend/nginx.conf" -g 'daemon off;' &
PIDS="$PIDS $!"
nginx -p "$TMP/nginx-proxy" -c "$TMP/nginx-proxy/nginx.conf" -g 'daemon off;' &
PIDS="$PIDS $!"
haproxy -q -f "$TMP/haproxy.cfg" &
PIDS="$PIDS $!"
"$ROUTER" --listen 127.0.0.1:$BERTH --threads "$WORKERS" --log-level warn \
	--route "*=127.0.0.1:$BACKEND" &
PIDS="$PIDS $!"
for p in $BACKEND $NGINX $HAPROXY $BERTH; do wait_port $p; done

# run NAME PORT: prints "rps p50_ms p99_ms"
run() {
	wrk -t"$WRK_THREADS" -c"$CONNS" -d1s -H 'Host: app.example.com' "http://127.0.0.1:$2/" >/dev/null
	wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Host: app.example.com' \
		"http://127.0.0.1:$2/" >"$TMP/$1.out"
	python3 - "$TMP/$1.out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
if non2xx or err:
    print("warning:", non2xx.group(0) if non2xx else "", err.group(0) if err else "", file=sys.stderr)
print(f"{rps:.0f} {p50:.3f} {p99:.3f}")
EOF
}

echo "workers=$WORKERS conns=$CONNS duration=$DURATION wrk_threads=$WRK_THREADS rounds=$ROUNDS"
round=1
while [ $round -le "$ROUNDS" ]; do
	for t in direct berth nginx haproxy; do
		case $t in
		direct) port=$BACKEND ;;
		berth) port=$BERTH ;;
		nginx) port=$NGINX ;;
		haproxy) port=$HAPROXY ;;
		esac
		run $t $port >>"$TMP/$t.results"
	done
	round=$((round + 1))
done

# median: prints the median line (by req/s) of a results file
median() {
	sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

printf '%-10s %12s %10s %10s\n' target req/s p50_ms p99_ms
for t in direct berth nginx haproxy; do
	set -- $(median "$TMP/$t.results")
	eval "rps_$t=$1 p50_$t=$2 p99_$t=$3"
	printf '%-10s %12s %10s %10s\n' $t $1 $2 $3
done

ratio_nginx=$(python3 -c "print(f'{$rps_berth / $rps_nginx:.2f}')")
ratio_haproxy=$(python3 -c "print(f'{$rps_berth / $rps_haproxy:.2f}')")
echo "berth/nginx=$ratio_nginx berth/haproxy=$ratio_haproxy"
echo "RESULT rps_direct=$rps_direct rps_berth=$rps_berth rps_nginx=$rps_nginx rps_haproxy=$rps_haproxy ratio_nginx=$ratio_nginx ratio_haproxy=$ratio_haproxy p99_berth_ms=$p99_berth p99_nginx_ms=$p99_nginx p99_haproxy_ms=$p99_haproxy"
