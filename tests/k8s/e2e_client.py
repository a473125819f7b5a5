#!/usr/bin/env python3
"""Real ZooKeeper client (kazoo) checks for tests/k8s/e2e.sh.

  e2e_client.py write HOSTS PATH VALUE     create-or-set PATH through HOSTS (the client Service's
                                           endpoints), read it back
  e2e_client.py read HOSTS PATH VALUE      every host in HOSTS answers PATH == VALUE (after sync)
"""
import sys

from kazoo.client import KazooClient


def connect(hosts):
    zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": 20, "delay": 0.5})
    zk.start(timeout=30)
    return zk


def main():
    cmd, hosts, path, value = sys.argv[1:5]
    value_b = value.encode()
    if cmd == "write":
        zk = connect(hosts)
        try:
            zk.ensure_path(path.rsplit("/", 1)[0] or "/")
            if zk.exists(path):
                zk.set(path, value_b)
            else:
                zk.create(path, value_b)
            data, stat = zk.get(path)
            assert data == value_b, (data, value_b)
            print(f"wrote and read back {path}={data.decode()} (version {stat.version}) via {hosts}")
        finally:
            zk.stop()
            zk.close()
    elif cmd == "read":
        for host in hosts.split(","):
            zk = connect(host)
            try:
                zk.sync(path)
                data, _ = zk.get(path)
                assert data == value_b, (host, data, value_b)
                print(f"{host}: {path}={data.decode()}")
            finally:
                zk.stop()
                zk.close()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
