# bench/lib.sh: what the router benches share, sourced after they set BUILD:
#   . "$(dirname "$0")/lib.sh"
#   bench_init NAME TOOL...  checks $BUILD/berth-router (ROUTER) and the tools,
#                            makes TMP (removed at exit with every pid in PIDS)
#   start CMD...             runs CMD in the background, its pid in PIDS and LAST
#   free_port, wait_port PORT
#   nginx_backend DIR PORT WORKERS ROOT   a static nginx backend, started
#   nginx_proxy DIR PORT WORKERS BACKEND [LISTEN_EXTRA [SERVER_LINES]]
#                            an nginx reverse proxy (upstream keepalive), started
#   wrk_figures OUT [CPU0 CPU1]   "rps p50_ms p99_ms [cpu_us_per_request]"
#   median FILE              the median line (by req/s) of a results file
# and what the benches on a real berthd and enclaves share (lifecycle.sh,
# soak.sh), sourced after they set HERE (this folder):
#   enclave_bench_init NAME BUILD_DIR OCTET BRIDGE   scripts/demo-env.sh sourced,
#                            root checked, BUILD absolute, ENV_* for a temp dir
#                            (ENV_DIR), free ports, subnet 10.OCTET.x.0/24 and
#                            bridge BRIDGEx
#   enclave_bench_done       env_stop, ENV_DIR removed (KEEP=1 keeps it)

bench_init() {
	name=$1
	shift
	ROUTER=$BUILD/berth-router
	[ -x "$ROUTER" ] || { echo "no $ROUTER: run make build" >&2; exit 1; }
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$t is missing" >&2; exit 1; }
	done
	TMP=$(mktemp -d "/tmp/berth-bench-$name.XXXXXX")
	chmod 755 "$TMP" # nginx workers run as nobody
	PIDS=""
	trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}

start() {
	"$@" &
	LAST=$!
	PIDS="$PIDS $LAST"
}

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

# nginx_head DIR PORT WORKERS: the start of DIR's nginx.conf, into its http block
nginx_head() {
	cat <<EOF
worker_processes $3;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
EOF
}

nginx_backend() {
	mkdir -p "$1"
	{
		nginx_head "$@"
		cat <<EOF
	server {
		listen 127.0.0.1:$2 reuseport;
		root $4;
	}
}
EOF
	} >"$1/nginx.conf"
	start nginx -p "$1" -c "$1/nginx.conf" -g 'daemon off;'
}

nginx_proxy() {
	mkdir -p "$1"
	{
		nginx_head "$@"
		cat <<EOF
	upstream backend {
		server 127.0.0.1:$4;
		keepalive 128;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:$2 ${5:-}reuseport;
${6:-}
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
	} >"$1/nginx.conf"
	start nginx -p "$1" -c "$1/nginx.conf" -g 'daemon off;'
}

wrk_figures() {
	python3 - "$@" <<'EOF'
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
out = f"{rps:.0f} {p50:.3f} {p99:.3f}"
if len(sys.argv) > 3:
    cpu_s = float(sys.argv[3]) - float(sys.argv[2])
    reqs = int(re.search(r"(\d+) requests in", t).group(1))
    out += f" {cpu_s * 1e6 / max(reqs, 1):.0f}"
print(out)
EOF
}

median() {
	sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

enclave_bench_init() {
	ENV_NAME=$1
	BUILD=$(cd "$2" 2>/dev/null && pwd) || {
		echo "$1: no build dir $2 (run make build)" >&2
		exit 2
	}
	# shellcheck source=scripts/demo-env.sh
	. "$HERE/../scripts/demo-env.sh"
	[ "$(id -u)" = 0 ] || env_die "berthd makes network namespaces and runs runc: run as root"
	n=$(($$ % 200 + 20))
	ENV_BUILD=$BUILD
	ENV_DIR=$(mktemp -d "/tmp/berth-bench-${1%.sh}.XXXXXX")
	ENV_LISTEN=127.0.0.1:$(env_free_port)
	ENV_ROUTER=127.0.0.1:$(env_free_port)
	ENV_REGISTRY=
	ENV_SUBNET=10.$3.$n.0/24
	ENV_BRIDGE=$4$n
}

enclave_bench_done() {
	env_stop
	if [ "${KEEP:-0}" = 1 ]; then
		echo "$ENV_NAME: kept $ENV_DIR" >&2
	else
		rm -rf "$ENV_DIR"
	fi
}
