"""New TLS handshakes per second against HOST:PORT: PROCS processes, each
opening a connection, making a full handshake (no session is ever resumed:
a new context and no ticket kept), sending one GET with Connection: close
and reading the answer to its end, back to back for SECONDS.

usage: tls-handshakes.py PORT SNI SECONDS PROCS
prints "handshakes_per_s p50_ms p99_ms errors" (latency: connect to the
answer's end)."""
import multiprocessing
import socket
import ssl
import sys
import time


def worker(port, sni, seconds, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.options |= ssl.OP_NO_TICKET
    req = f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode()
    lat, errors = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=sni) as s:
                    if s.session_reused:
                        raise RuntimeError("resumed")
                    s.sendall(req)
                    data = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError("not a 200")
            lat.append(time.monotonic() - t0)
        except (OSError, RuntimeError):
            errors += 1
    out.put((lat, errors))


def main():
    port, sni, seconds, procs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(port, sni, seconds, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    lat, errors = [], 0
    for _ in ps:
        l, e = q.get()
        lat += l
        errors += e
    for p in ps:
        p.join()
    lat.sort()
    pct = lambda f: lat[min(len(lat) - 1, int(len(lat) * f))] * 1000 if lat else 0.0
    print(f"{len(lat) / seconds:.0f} {pct(0.5):.3f} {pct(0.99):.3f} {errors}")


if __name__ == "__main__":
    main()
