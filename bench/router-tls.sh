#!/bin/sh
# bench/router-tls.sh: HTTPS through berth-router against nginx, in one run.
#
# wrk on loopback against the same backend (nginx serving a small static
# file over plain HTTP), through berth-router --tls-listen and through nginx
# `listen ssl` with upstream keepalive: the same ECDSA P-256 certificate for
# "localhost", the same worker count, logs off. Two figures each:
#   keep-alive   CONNS TLS connections kept open, requests back to back
#   handshakes   "Connection: close" on every request: a new TCP connection
#                and a full TLS handshake (wrk does not resume sessions) per
#                request, so requests/s = new handshakes/s
#
# usage: bench/router-tls.sh [BUILD_DIR]     (default build/, a release build)
# env:   WORKERS (1), DURATION (10s), CONNS (64), HS_CONNS (16), WRK_THREADS (2),
#        ROUNDS (3)
#
# The targets take turns, ROUNDS times; each figure is the median of its
# rounds, so that a noisy neighbour on a shared machine hits all of them.
set -eu
[ -n "${TRACE:-}" ] && set -x

BUILD=${1:-build}
WORKERS=${WORKERS:-1}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
HS_CONNS=${HS_CONNS:-16}
HS_PROCS=${HS_PROCS:-2}
HERE=$(dirname "$0")
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
. "$HERE/lib.sh"
bench_init router-tls wrk nginx openssl python3

BACKEND=$(free_port)
BERTH=$(free_port)
BERTH_TLS=$(free_port)
NGINX=$(free_port)

mkdir -p "$TMP/www" "$TMP/certs"
printf 'hello from the backend\n' >"$TMP/www/index.html"

# A CA and a P-256 leaf for localhost, as berth's local CA issues them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=bench-ca -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-keyout "$TMP/leaf.key" -out "$TMP/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
	-CAcreateserial -days 2 -extfile "$TMP/ext" -out "$TMP/leaf.pem" 2>/dev/null
cat "$TMP/leaf.key" "$TMP/leaf.pem" >"$TMP/certs/localhost.pem"
chmod 644 "$TMP/leaf.key" # nginx reads it as root before dropping, but be sure

nginx_backend "$TMP/nginx-backend" "$BACKEND" "$WORKERS" "$TMP/www"
nginx_proxy "$TMP/nginx-proxy" "$NGINX" "$WORKERS" "$BACKEND" "ssl " "\
		ssl_certificate $TMP/leaf.pem;
		ssl_certificate_key $TMP/leaf.key;
		ssl_protocols TLSv1.2 TLSv1.3;"
NGINX_PID=$LAST
start "$ROUTER" --listen 127.0.0.1:$BERTH --tls-listen 127.0.0.1:$BERTH_TLS --tls-dir "$TMP/certs" \
	--threads "$WORKERS" --log-level warn --max-client-connections 0 \
	--route "*=127.0.0.1:$BACKEND"
BERTH_PID=$LAST
for p in $BACKEND $NGINX $BERTH_TLS; do wait_port $p; done
for p in $BERTH_TLS $NGINX; do
	curl -sSf --cacert "$TMP/ca.pem" "https://localhost:$p/" >/dev/null ||
		{ echo "no HTTPS answer on $p" >&2; exit 1; }
done

# cpu PID: CPU seconds (user + system) of PID and its children processes
# so far (nginx's workers are children of its master). On a shared machine
# the CPU a proxy spends per request holds better than its requests/s.
cpu() {
	python3 - "$1" <<'EOF'
import os, sys
def stat(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
pid = int(sys.argv[1])
kids = []
for p in os.listdir("/proc"):
    try:
        if p.isdigit() and stat(p)[1] == str(pid):
            kids.append(int(p))
    except OSError:
        pass
print(sum(int(stat(p)[11]) + int(stat(p)[12]) for p in [pid] + kids) / os.sysconf("SC_CLK_TCK"))
EOF
}

# run NAME PORT CONNS [wrk args]: prints "rps p50_ms p99_ms cpu_us_per_request"
run() {
	name=$1 port=$2 conns=$3
	shift 3
	wrk -t"$WRK_THREADS" -c"$conns" -d1s "$@" "https://localhost:$port/" >/dev/null
	case $name in *berth) pid=$BERTH_PID ;; *) pid=$NGINX_PID ;; esac
	c0=$(cpu $pid)
	wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" --latency "$@" \
		"https://localhost:$port/" >"$TMP/$name.out"
	c1=$(cpu $pid)
	wrk_figures "$TMP/$name.out" "$c0" "$c1"
}

echo "workers=$WORKERS conns=$CONNS hs_conns=$HS_CONNS duration=$DURATION wrk_threads=$WRK_THREADS rounds=$ROUNDS"
round=1
while [ $round -le "$ROUNDS" ]; do
	for t in berth nginx; do
		case $t in
		berth) port=$BERTH_TLS port_pid=$BERTH_PID ;;
		nginx) port=$NGINX port_pid=$NGINX_PID ;;
		esac
		run ka-$t $port "$CONNS" >>"$TMP/ka-$t.results"
		run rs-$t $port "$HS_CONNS" -H 'Connection: close' >>"$TMP/rs-$t.results"
		secs=$(python3 -c "import re; m=re.match(r'([\d.]+)(ms|s|m)?$', '$DURATION'); print(float(m.group(1)) * {'ms': 0.001, 's': 1, 'm': 60, None: 1}[m.group(2)])")
		c0=$(cpu $port_pid)
		python3 "$HERE/tls-handshakes.py" "$port" localhost "$secs" "$HS_PROCS" >"$TMP/hs.out"
		c1=$(cpu $port_pid)
		awk -v c0="$c0" -v c1="$c1" -v secs="$secs" '{
			if ($4 != 0) print "warning: " $4 " failed handshakes" > "/dev/stderr"
			n = $1 * secs
			printf "%s %s %s %.0f\n", $1, $2, $3, (c1 - c0) * 1e6 / (n > 0 ? n : 1) }' \
			"$TMP/hs.out" >>"$TMP/hs-$t.results"
	done
	round=$((round + 1))
done

printf '%-14s %12s %10s %10s %12s\n' target req/s p50_ms p99_ms cpu_us/req
for k in ka hs rs; do
	for t in berth nginx; do
		set -- $(median "$TMP/$k-$t.results")
		eval "rps_${k}_$t=$1 p99_${k}_$t=$3 cpu_${k}_$t=$4"
		printf '%-14s %12s %10s %10s %12s\n' "$k-$t" $1 $2 $3 $4
	done
done

ratio_ka=$(python3 -c "print(f'{$rps_ka_berth / $rps_ka_nginx:.2f}')")
ratio_hs=$(python3 -c "print(f'{$rps_hs_berth / $rps_hs_nginx:.2f}')")
ratio_rs=$(python3 -c "print(f'{$rps_rs_berth / $rps_rs_nginx:.2f}')")
echo "keep-alive berth/nginx=$ratio_ka handshakes berth/nginx=$ratio_hs resumed berth/nginx=$ratio_rs"
echo "RESULT rps_ka_berth=$rps_ka_berth rps_ka_nginx=$rps_ka_nginx ratio_ka=$ratio_ka p99_ka_berth_ms=$p99_ka_berth p99_ka_nginx_ms=$p99_ka_nginx hs_berth=$rps_hs_berth hs_nginx=$rps_hs_nginx ratio_hs=$ratio_hs p99_hs_berth_ms=$p99_hs_berth p99_hs_nginx_ms=$p99_hs_nginx rs_berth=$rps_rs_berth rs_nginx=$rps_rs_nginx ratio_rs=$ratio_rs cpu_us_ka_berth=$cpu_ka_berth cpu_us_ka_nginx=$cpu_ka_nginx cpu_us_hs_berth=$cpu_hs_berth cpu_us_hs_nginx=$cpu_hs_nginx"
