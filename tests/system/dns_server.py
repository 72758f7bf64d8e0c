"""A tiny DNS server of the tests' own (UDP on 127.0.0.1, a free port): A and
AAAA records (the addresses with a colon) from a dict the test changes as it
goes, NXDOMAIN for other names, an empty answer for other types; silent=True never answers (a hostile or dead
server). It counts the queries it got."""
import socket
import struct
import threading


class DNSServer:
    def __init__(self, silent=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.records = {}  # name -> ([IPv4 and IPv6 addresses], ttl)
        self.silent = silent
        self.queries = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def set(self, name, addrs, ttl=300):
        self.records[name.lower()] = (list(addrs), ttl)

    def _serve(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.queries += 1
            if self.silent or len(data) < 12:
                continue
            off, labels = 12, []
            while off < len(data) and data[off] != 0:
                n = data[off]
                labels.append(data[off + 1:off + 1 + n].decode(errors="replace"))
                off += 1 + n
            qend = off + 5
            if qend > len(data):
                continue
            qtype = struct.unpack(">H", data[off + 1:off + 3])[0]
            rec = self.records.get(".".join(labels).lower())
            answers, n = b"", 0
            for ip in rec[0] if rec is not None else ():
                fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
                if qtype == (28 if fam == socket.AF_INET6 else 1):
                    data_ = socket.inet_pton(fam, ip)
                    answers += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, rec[1],
                                                        len(data_)) + data_
                    n += 1
            flags = 0x8180 if rec is not None else 0x8183
            reply = data[:2] + struct.pack(">HHHHH", flags, 1, n, 0, 0) + data[12:qend] + answers
            self.sock.sendto(reply, peer)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
