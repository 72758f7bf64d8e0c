"""Helpers of the berth-router system tests: the router binary, real backends
(busybox httpd, a Python streaming backend, a WebSocket echo), raw HTTP and
admin-API helpers.

Run: BERTH_BUILD=/abs/build-asan /usr/bin/python3 -m pytest tests/system/router
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)
from berth_helpers import free_port  # noqa: E402,F401 (below the ephemeral range)

BUILD = os.environ.get("BERTH_BUILD", os.path.join(os.path.dirname(__file__), "../../../build-asan"))
ROUTER = os.path.join(BUILD, "berth-router")


def wait_port(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {port}")


# --- the admin API ---------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Router:
    """A running berth-router process."""

    def __init__(self, tmp, args, threads=2, valgrind=False, binary=ROUTER):
        self.port = free_port()
        self.admin_path = os.path.join(tmp, f"admin-{self.port}.sock")
        self.log_path = os.path.join(tmp, f"router-{self.port}.log")
        cmd = [binary, "--listen", f"127.0.0.1:{self.port}", "--admin-socket",
               self.admin_path, "--threads", str(threads), "--log-level", "debug"] + args
        if valgrind:
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--quiet"] + cmd
        env = suite_checks.daemon_env(dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                                           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"))
        suite_checks.track("dir", tmp)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=env)
        end = time.time() + (30 if valgrind else 10)
        while not os.path.exists(self.admin_path):
            if self.proc.poll() is not None or time.time() > end:
                raise RuntimeError("router did not start:\n" + self.read_log())
            time.sleep(0.02)
        wait_port(self.port, 30 if valgrind else 5)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def admin(self, method, path, body=None):
        conn = UnixHTTPConnection(self.admin_path)
        data = json.dumps(body) if body is not None and not isinstance(body, str) else body
        conn.request(method, path, body=data)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        return resp.status, json.loads(raw) if "json" in ctype else raw.decode()

    def put_table(self, routes, generation, peer_key=None):
        table = {"generation": generation, "routes": routes}
        if peer_key is not None:
            table["peer_key"] = peer_key
        st, body = self.admin("PUT", "/v1/table", table)
        assert st == 200, body
        return body

    def set_route(self, host, route):
        st, body = self.admin("PUT", "/v1/routes/" + host, route)
        assert st == 200, body
        return body

    def upstreams(self):
        st, body = self.admin("GET", "/v1/upstreams")
        assert st == 200
        return {(u["host"], u["address"]): u for u in body["upstreams"]}

    def metric(self, name):
        st, text = self.admin("GET", "/metrics")
        assert st == 200
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, host, path="/", headers=None, timeout=10):
        c = self.conn(timeout)
        h = {"Host": host}
        h.update(headers or {})
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body, r

    def stop(self, timeout=15):
        """SIGTERM, then checks a clean exit without sanitizer reports."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("router did not stop on SIGTERM:\n" + self.read_log())
        self.log.close()
        suite_checks.scan_log(self.log_path)
        log = self.read_log()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Invalid read",
                    "Invalid write", "definitely lost"):
            assert bad not in log, log
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}\n{log}"


# --- backends --------------------------------------------------------------

class Busybox:
    """busybox httpd serving a directory with index.html = name."""

    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, "www-" + name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write(name)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["busybox", "httpd", "-f", "-p", self.addr, "-h", self.dir])
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def ws_send(sock, payload, mask=True, opcode=1):
    data = payload.encode() if isinstance(payload, str) else payload
    hdr = bytes([0x80 | opcode])
    n = len(data)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr += bytes([mbit | n])
    elif n < 65536:
        hdr += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        hdr += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        hdr += key
    sock.sendall(hdr + data)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def ws_recv(sock):
    """Returns (opcode, payload) of one frame."""
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    key = recv_exact(sock, 4) if b1 & 0x80 else None
    data = recv_exact(sock, n)
    if key:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return b0 & 0x0F, data


class PyBackend:
    """A threaded HTTP/1.1 backend named `name`:
    GET  /            -> name
    GET  /slow?ms=N   -> name after N ms
    GET  /stream?n=N&gap=MS -> chunked, N chunks "name:i\\n" MS apart
    GET  /stall?ms=N&size=S -> 10 of S (100) bytes, then nothing for N ms
    POST /echo        -> JSON: sha256 and length of the body, request headers
    GET  /ws          -> WebSocket echo, replies "name:<text>"
    Every request is logged in .log as (path, headers)."""

    def __init__(self, name, single=False):
        self.name = name
        self.log = []
        self.ports = []  # the client port of each GET: which connection carried it
        self.lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # single: one request at a time, one per connection, in accept order
            protocol_version = "HTTP/1.0" if single else "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                with backend.lock:
                    backend.log.append((self.path, dict(self.headers)))
                    backend.ports.append(self.client_address[1])
                if url.path == "/slow":
                    time.sleep(int(q.get("ms", "1000")) / 1000)
                    self.reply(200, backend.name.encode())
                elif url.path == "/stream":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(int(q.get("n", "3"))):
                        data = f"{backend.name}:{i}\n".encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                        time.sleep(int(q.get("gap", "500")) / 1000)
                    self.wfile.write(b"0\r\n\r\n")
                elif url.path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", q.get("size", "100"))
                    self.end_headers()
                    self.wfile.write(b"0123456789")
                    self.wfile.flush()
                    time.sleep(int(q.get("ms", "5000")) / 1000)
                    self.close_connection = True
                elif url.path == "/ws":
                    self.websocket()
                elif url.path == "/headers":
                    self.reply(200, json.dumps(dict(self.headers)).encode(), "application/json")
                else:
                    self.reply(200, backend.name.encode())

            do_HEAD = do_GET

            def do_POST(self):
                with backend.lock:
                    backend.log.append((self.path, dict(self.headers)))
                h = hashlib.sha256()
                n = 0
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        data = self.rfile.read(size)
                        self.rfile.readline()
                        h.update(data)
                        n += len(data)
                else:
                    left = int(self.headers.get("Content-Length", "0"))
                    while left > 0:
                        data = self.rfile.read(min(left, 65536))
                        h.update(data)
                        n += len(data)
                        left -= len(data)
                self.reply(200, json.dumps({"name": backend.name, "len": n,
                                            "sha256": h.hexdigest()}).encode(),
                           "application/json")

            def websocket(self):
                key = self.headers.get("Sec-WebSocket-Key")
                if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
                    self.reply(400, b"not a websocket")
                    return
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", ws_accept(key))
                self.end_headers()
                self.wfile.flush()
                sock = self.connection
                try:
                    while True:
                        op, data = ws_recv(sock)
                        if op == 8:
                            ws_send(sock, b"", mask=False, opcode=8)
                            break
                        ws_send(sock, f"{backend.name}:{data.decode()}", mask=False)
                except (ConnectionError, OSError):
                    pass
                self.close_connection = True

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        if single:
            class Single(http.server.HTTPServer):
                request_queue_size = 128

            self.server = Single(("127.0.0.1", 0), Handler)
        else:
            self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self):
        with self.lock:
            return [p for p, _ in self.log]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- raw HTTP --------------------------------------------------------------

def raw_exchange(port, data, timeout=5.0, read_until_close=True):
    """Sends raw bytes, returns everything read until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                break
        return out
    finally:
        s.close()


def status_of(raw):
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw[9:12])


def route(host, *ups, mode="serve", paths=None, drain_ms=None, hold_ms=None):
    r = {"host": host, "mode": mode, "upstreams": [{"address": a, "weight": 1} for a in ups]}
    if paths is not None:
        r["paths"] = paths
    if drain_ms is not None:
        r["drain_timeout_ms"] = drain_ms
    if hold_ms is not None:
        r["hold_timeout_ms"] = hold_ms
    return r


class RecordingBackend:
    """A raw TCP backend that records every byte it receives, per connection,
    and reads requests as a lenient, normalising server would: lines end at
    LF (a CR before it is dropped), the two bytes after chunk data are skipped
    whatever they are, a chunk size is cut to 32 bits, and the path is
    percent-decoded, stripped of ";params" and "#fragments", backslashes made
    slashes, and dot segments resolved. Each request it reads is logged in
    .requests as (method, target, path) and answered 200 with the path as its
    body. A smuggled request shows up there; .received() is every byte."""

    def __init__(self):
        self.conns = []      # bytearray per connection, as received
        self.requests = []   # (method, target, normalised path)
        self.ends = []       # how each connection ended: "eof", "reset", "error"
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @staticmethod
    def normalise(target):
        import posixpath
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target.split("#", 1)[0].split("?", 1)[0]
        path = "/".join(seg.split(";", 1)[0] for seg in path.split("/"))
        for _ in range(2):  # decoded twice, as some stacks do
            path = urllib.parse.unquote(path, errors="replace")
        path = path.replace("\\", "/").split("\x00", 1)[0]
        path = posixpath.normpath("/" + path.lstrip("/"))
        return "/" + path.lstrip("/")

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            buf = bytearray()
            with self.lock:
                self.conns.append(buf)
            threading.Thread(target=self._serve, args=(c, buf), daemon=True).start()

    def _serve(self, c, record):
        pending = bytearray()

        def more():
            try:
                data = c.recv(65536)
            except ConnectionResetError:
                with self.lock:
                    self.ends.append("reset")
                raise
            if not data:
                with self.lock:
                    self.ends.append("eof")
                raise ConnectionError("eof")
            with self.lock:
                record.extend(data)
            pending.extend(data)

        def line():
            while b"\n" not in pending:
                more()
            i = pending.index(b"\n")
            out = bytes(pending[:i]).rstrip(b"\r")
            del pending[:i + 1]
            return out

        def take(n):
            while len(pending) < n:
                more()
            out = bytes(pending[:n])
            del pending[:n]
            return out

        try:
            while True:
                reqline = line()
                if not reqline:
                    continue
                parts = reqline.decode("latin-1").split(" ")
                method, target = parts[0], parts[1] if len(parts) > 1 else ""
                headers = {}
                while True:
                    h = line()
                    if not h:
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = 0
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    while True:
                        size = int(line().split(b";")[0].strip() or b"0", 16) & 0xFFFFFFFF
                        if size == 0:
                            while line():
                                pass
                            break
                        take(size)
                        n += size
                        take(2)  # "CRLF", whatever it is
                elif "content-length" in headers:
                    n = int(headers["content-length"].split(",")[0])
                    take(n)
                path = self.normalise(target)
                with self.lock:
                    self.requests.append((method, target, path))
                body = path.encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except (ConnectionError, OSError, ValueError, IndexError):
            pass
        finally:
            c.close()

    def received(self):
        with self.lock:
            return b"".join(bytes(b) for b in self.conns)

    def paths(self):
        with self.lock:
            return [p for _, _, p in self.requests]

    def targets(self):
        with self.lock:
            return [t for _, t, _ in self.requests]

    def reset(self):
        with self.lock:  # pooled connections keep their record: empty it
            for b in self.conns:
                del b[:]
            self.requests.clear()
            self.ends.clear()

    def stop(self):
        self.closing = True
        self.sock.close()
