"""Socket helpers every test kit uses: a free loopback port, a four-letter-word call, and raw
wire frames (length-prefixed jute records) for tests that talk to a server below any client.

One copy for tests/lib (servers.py, ensemble.py), tests/matrix, tests/upgrade and the rest.
"""

import socket
import struct


def free_port(host="127.0.0.1"):
    """A port nobody listens on at `host` right now (bind to 0, read it back, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def four_letter(host, port, cmd, timeout=3.0, partial_on_timeout=False):
    """Send a four-letter word and return the whole reply (the server closes the connection).

    A read that times out raises socket.timeout (an OSError), unless partial_on_timeout is set:
    then what arrived so far is returned.
    """
    if isinstance(cmd, str):
        cmd = cmd.encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(cmd)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                if partial_on_timeout:
                    break
                raise
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode("utf-8", "replace")


def frame(payload):
    """`payload` with its 4-byte big-endian length in front."""
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock):
    """One length-prefixed frame's payload; EOFError when the peer closes first."""
    def exactly(n):
        data = b""
        while len(data) < n:
            b = sock.recv(n - len(data))
            if not b:
                raise EOFError("closed after %d of %d bytes" % (len(data), n))
            data += b
        return data

    (n,) = struct.unpack(">i", exactly(4))
    return exactly(n)


def connect_frame(timeout_ms=10000):
    """A ConnectRequest for a new session (protocol 0, no zxid seen, empty password, readOnly
    false)."""
    return frame(struct.pack(">iqiqi16s?", 0, 0, timeout_ms, 0, 16, b"\0" * 16, False))
