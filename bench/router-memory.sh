#!/bin/sh
# bench/router-memory.sh: berth-router's memory per idle keep-alive connection.
#
# Opens CONNS client connections, makes one request on each (so each has been
# through a whole exchange) and keeps them open; the growth of the router's RSS
# divided by CONNS is the cost of one idle connection.
#
# usage: bench/router-memory.sh [BUILD_DIR]     (default build/)
# env:   CONNS (10000), WORKERS (1)
set -eu

BUILD=${1:-build}
CONNS=${CONNS:-10000}
WORKERS=${WORKERS:-1}

. "$(dirname "$0")/lib.sh"
bench_init mem busybox python3
ulimit -n $((CONNS + 1000)) 2>/dev/null || { echo "cannot raise the fd limit to $((CONNS + 1000))" >&2; exit 1; }

BACKEND=$(free_port)
BERTH=$(free_port)
mkdir -p "$TMP/www"
printf 'ok\n' >"$TMP/www/index.html"
start busybox httpd -f -p 127.0.0.1:$BACKEND -h "$TMP/www"
start "$ROUTER" --listen 127.0.0.1:$BERTH --threads "$WORKERS" --log-level warn \
	--idle-timeout 600000 --max-client-connections 0 --max-connections 0 \
	--route "*=127.0.0.1:$BACKEND"
RPID=$LAST

python3 - "$BERTH" "$CONNS" "$RPID" <<'EOF2'
import socket, sys, time
port, conns, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def exchange(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: m.example.com\r\n\r\n")
    got = b""
    while not got.endswith(b"ok\n"):
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("router closed a connection")
        got += chunk
    assert got.startswith(b"HTTP/1.1 200"), got

for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        break
    except OSError:
        time.sleep(0.05)
# warm up: the first exchanges allocate what every later one reuses
warm = socket.create_connection(("127.0.0.1", port))
for _ in range(100):
    exchange(warm)
time.sleep(0.2)
before = rss_kib()
socks = []
for i in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    exchange(s)
    socks.append(s)
time.sleep(0.5)
after = rss_kib()
# every connection is still open and usable
for s in socks[:: max(1, conns // 100)]:
    exchange(s)
print(f"rss_before_kib={before} rss_after_kib={after}")
print(f"RESULT conns={conns} rss_kib_per_conn={(after - before) / conns:.2f}")
EOF2
