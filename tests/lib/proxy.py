"""A tiny loopback TCP forwarder used to make a client lose its server without touching either
process: `blackhole()` keeps every socket open but silently drops all bytes (so the client's pings
go unanswered and the server stops hearing from the session -> the session expires), `cut()` closes
every forwarded connection (client reconnects with the same session), `forward()` restores traffic.
"""

import select
import socket
import threading


class TcpProxy:
    def __init__(self, upstream_host, upstream_port, listen_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((listen_host, 0))
        self._lsock.listen(16)
        self.host, self.port = self._lsock.getsockname()
        self._lock = threading.Lock()
        self._pairs = []
        self._dropping = False
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def hosts(self):
        return "%s:%d" % (self.host, self.port)

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._lsock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        try:
            while not self._closed:
                r, _, _ = select.select([client, upstream], [], [], 0.2)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    if not self._dropping:
                        peer[s].sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for s in pair:
                try:
                    s.close()
                except OSError:
                    pass
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)

    def blackhole(self):
        """Drop every byte in both directions (connections stay open)."""
        self._dropping = True

    def forward(self):
        self._dropping = False

    def cut(self):
        """Close all forwarded connections now (new ones are still accepted)."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self._closed = True
        self.cut()
        try:
            self._lsock.close()
        except OSError:
            pass
