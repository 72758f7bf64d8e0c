#!/bin/sh
# bench/router.sh: berth-router against nginx and HAProxy as reverse proxies.
#
# wrk on loopback, keep-alive, 64 connections, a small static response from
# nginx as the backend. Measured in one run: the backend directly, berth-router,
# nginx (upstream keepalive) and HAProxy (http mode, connection reuse), with the
# same number of worker threads/processes each and logs off.
#
# usage: bench/router.sh [BUILD_DIR [BASE_BUILD_DIR]]   (default build/, a release build)
#   BASE_BUILD_DIR: a second berth-router (an older commit's build, say) taking
#   its turns in the same rounds as target "base", so that both see the same
#   machine; RESULT then has rps_base, p99_base_ms and berth/base.
# env:   WORKERS (1), DURATION (10s), CONNS (64), WRK_THREADS (2), ROUNDS (3)
#
# The targets take turns, ROUNDS times; each figure is the median of its
# rounds, so that a noisy neighbour on a shared machine hits all of them.
set -eu
[ -n "${TRACE:-}" ] && set -x

BUILD=${1:-build}
BASE_BUILD=${2:-}
WORKERS=${WORKERS:-1}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_init router wrk nginx haproxy python3
TARGETS="direct berth nginx haproxy"
if [ -n "$BASE_BUILD" ]; then
	[ -x "$BASE_BUILD/berth-router" ] || { echo "no $BASE_BUILD/berth-router" >&2; exit 1; }
	TARGETS="direct berth base nginx haproxy"
fi

BACKEND=$(free_port)
BERTH=$(free_port)
NGINX=$(free_port)
HAPROXY=$(free_port)
BASE=$(free_port)

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
ports="$BACKEND $NGINX $HAPROXY $BERTH"
if [ -n "$BASE_BUILD" ]; then
	start "$BASE_BUILD/berth-router" --listen 127.0.0.1:$BASE --threads "$WORKERS" \
		--log-level warn --route "*=127.0.0.1:$BACKEND"
	ports="$ports $BASE"
fi
for p in $ports; do wait_port $p; done

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
	for t in $TARGETS; do
		case $t in
		direct) port=$BACKEND ;;
		berth) port=$BERTH ;;
		base) port=$BASE ;;
		nginx) port=$NGINX ;;
		haproxy) port=$HAPROXY ;;
		esac
		run $t $port >>"$TMP/$t.results"
	done
	round=$((round + 1))
done

printf '%-10s %12s %10s %10s\n' target req/s p50_ms p99_ms
for t in $TARGETS; do
	set -- $(median "$TMP/$t.results")
	eval "rps_$t=$1 p50_$t=$2 p99_$t=$3"
	printf '%-10s %12s %10s %10s\n' $t $1 $2 $3
done

ratio_nginx=$(python3 -c "print(f'{$rps_berth / $rps_nginx:.2f}')")
ratio_haproxy=$(python3 -c "print(f'{$rps_berth / $rps_haproxy:.2f}')")
echo "berth/nginx=$ratio_nginx berth/haproxy=$ratio_haproxy"
base=""
if [ -n "$BASE_BUILD" ]; then
	ratio_base=$(python3 -c "print(f'{$rps_berth / $rps_base:.2f}')")
	echo "berth/base=$ratio_base"
	base=" rps_base=$rps_base ratio_base=$ratio_base p99_base_ms=$p99_base"
fi
echo "RESULT rps_direct=$rps_direct rps_berth=$rps_berth rps_nginx=$rps_nginx rps_haproxy=$rps_haproxy ratio_nginx=$ratio_nginx ratio_haproxy=$ratio_haproxy p99_berth_ms=$p99_berth p99_nginx_ms=$p99_nginx p99_haproxy_ms=$p99_haproxy$base"
