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
WORKERS=${WORKERS:-1}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_init router wrk nginx haproxy python3

BACKEND=$(free_port)
BERTH=$(free_port)
NGINX=$(free_port)
HAPROXY=$(free_port)

mkdir -p "$TMP/www"
printf 'hello from the backend\n' >"$TMP/www/index.html"
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

nginx_backend "$TMP/nginx-backend" "$BACKEND" "$WORKERS" "$TMP/www"
nginx_proxy "$TMP/nginx-proxy" "$NGINX" "$WORKERS" "$BACKEND"
start haproxy -q -f "$TMP/haproxy.cfg"
start "$ROUTER" --listen 127.0.0.1:$BERTH --threads "$WORKERS" --log-level warn \
	--route "*=127.0.0.1:$BACKEND"
for p in $BACKEND $NGINX $HAPROXY $BERTH; do wait_port $p; done

# run NAME PORT: prints "rps p50_ms p99_ms"
run() {
	wrk -t"$WRK_THREADS" -c"$CONNS" -d1s -H 'Host: app.example.com' "http://127.0.0.1:$2/" >/dev/null
	wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Host: app.example.com' \
		"http://127.0.0.1:$2/" >"$TMP/$1.out"
	wrk_figures "$TMP/$1.out"
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
