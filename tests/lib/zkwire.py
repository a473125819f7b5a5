"""Socket helpers every test kit uses: a free loopback port and a four-letter-word call.

One copy for tests/lib (servers.py, ensemble.py), tests/matrix, tests/upgrade and the rest.
"""

import socket


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
