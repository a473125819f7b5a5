"""ZooKeeper 3.5+/3.6+ requests that kazoo 2.11 has no public API for, sent through kazoo's own
connection (``KazooClient._call``) with kazoo's own serialization helpers.

kazoo 2.11.0 lacks: container and TTL creates, getEphemerals, getAllChildrenNumber, whoAmI,
addWatch (persistent / persistent-recursive watches), removeWatches / checkWatches. It also
normalises paths client-side (strips trailing '/', collapses '//', rejects '.' / '..'), so to see
what the *server* answers for a malformed path we send the request with the path verbatim.

Every request here is written from the wire format in ZooKeeper's zookeeper.jute; nothing is copied.
"""

from collections import namedtuple
import struct

from kazoo.protocol.serialization import (
    Create2,
    Watch,
    int_struct,
    long_struct,
    read_string,
    stat_struct,
    write_buffer,
    write_string,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE

# CreateMode flags (org.apache.zookeeper.CreateMode)
PERSISTENT = 0
EPHEMERAL = 1
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# AddWatchMode
WATCH_MODE_PERSISTENT = 0
WATCH_MODE_PERSISTENT_RECURSIVE = 1

# WatcherType for removeWatches / checkWatches
WATCHER_CHILDREN = 1
WATCHER_DATA = 2
WATCHER_ANY = 3

# Event types (Watcher.Event.EventType)
EV_NONE = -1
EV_CREATED = 1
EV_DELETED = 2
EV_CHANGED = 3
EV_CHILD = 4
EV_DATA_WATCH_REMOVED = 5
EV_CHILD_WATCH_REMOVED = 6
EV_PERSISTENT_WATCH_REMOVED = 7


def _acl_bytes(acls):
    b = bytearray(int_struct.pack(len(acls)))
    for acl in acls:
        b.extend(int_struct.pack(acl.perms) + write_string(acl.id.scheme) + write_string(acl.id.id))
    return b


class RawCreate2(Create2):
    """create2 (15) / createContainer (19) with any flags and a verbatim path."""

    type = 15


class CreateContainer(Create2):
    type = 19


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21

    def serialize(self):
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(write_buffer(self.data))
        b.extend(_acl_bytes(self.acl))
        b.extend(int_struct.pack(self.flags))
        b.extend(long_struct.pack(self.ttl))
        return b

    @classmethod
    def deserialize(cls, buf, offset):
        path, offset = read_string(buf, offset)
        stat = ZnodeStat._make(stat_struct.unpack_from(buf, offset))
        return path, stat


class _PathOnly(namedtuple("_PathOnly", "path")):
    def serialize(self):
        return write_string(self.path)


class GetEphemerals(_PathOnly):
    type = 103

    @classmethod
    def deserialize(cls, buf, offset):
        n = int_struct.unpack_from(buf, offset)[0]
        offset += 4
        out = []
        for _ in range(max(n, 0)):
            s, offset = read_string(buf, offset)
            out.append(s)
        return out


class GetAllChildrenNumber(_PathOnly):
    type = 104

    @classmethod
    def deserialize(cls, buf, offset):
        return int_struct.unpack_from(buf, offset)[0]


class WhoAmI:
    """whoAmI (107). Not a namedtuple: kazoo skips the reply for falsy (empty) request objects."""

    type = 107

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, buf, offset):
        n = int_struct.unpack_from(buf, offset)[0]
        offset += 4
        out = []
        for _ in range(max(n, 0)):
            scheme, offset = read_string(buf, offset)
            user, offset = read_string(buf, offset)
            out.append((scheme, user))
        return out


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.mode)

    @classmethod
    def deserialize(cls, buf, offset):
        return True


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    type = 18

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.watcher_type)

    @classmethod
    def deserialize(cls, buf, offset):
        return True


class CheckWatches(RemoveWatches):
    type = 17


class RawGetData(namedtuple("RawGetData", "path")):
    """getData without a watch and without kazoo's path normalisation."""

    type = 4

    def serialize(self):
        return write_string(self.path) + b"\x00"

    @classmethod
    def deserialize(cls, buf, offset):
        n = int_struct.unpack_from(buf, offset)[0]
        offset += 4
        data = None if n < 0 else bytes(buf[offset : offset + n])
        offset += max(n, 0)
        return data, ZnodeStat._make(stat_struct.unpack_from(buf, offset))


def call(client, request, timeout=10.0):
    """Send `request` on kazoo's connection and wait for the answer (raises kazoo exceptions)."""
    result = client.handler.async_result()
    client._call(request, result)
    return result.get(timeout=timeout)


def create_raw(client, path, data=b"", acl=None, flags=PERSISTENT):
    return call(client, RawCreate2(path, data, OPEN_ACL_UNSAFE if acl is None else acl, flags))


def create_container(client, path, data=b"", acl=None):
    return call(client, CreateContainer(path, data, acl or OPEN_ACL_UNSAFE, CONTAINER))


def create_ttl(client, path, ttl_ms, data=b"", acl=None, sequential=False):
    flags = PERSISTENT_SEQUENTIAL_WITH_TTL if sequential else PERSISTENT_WITH_TTL
    return call(client, CreateTTL(path, data, acl or OPEN_ACL_UNSAFE, flags, ttl_ms))


def get_ephemerals(client, prefix="/"):
    return call(client, GetEphemerals(prefix))


def get_all_children_number(client, path):
    return call(client, GetAllChildrenNumber(path))


def whoami(client):
    return call(client, WhoAmI())


class WatchEventTap:
    """Records every watch notification the server sends on a kazoo connection, including the
    ones kazoo does not dispatch (persistent / recursive watch events, watch-removed events).

    kazoo looks up one-shot watchers and drops events nobody registered for; this tap wraps the
    connection's event reader (instance attribute) so the test sees the raw stream too.
    """

    def __init__(self, client):
        import threading

        self.client = client
        self.events = []
        self.cond = threading.Condition()
        conn = client._connection
        original = conn._read_watch_event

        def tap(buffer, offset):
            watch, _ = Watch.deserialize(buffer, offset)
            with self.cond:
                self.events.append((watch.type, watch.path))
                self.cond.notify_all()
            if watch.type in (EV_CREATED, EV_DELETED, EV_CHANGED, EV_CHILD):
                return original(buffer, offset)
            return None  # kazoo would only log "unknown event"

        conn._read_watch_event = tap

    def wait_for(self, predicate, timeout=10.0):
        import time

        deadline = time.time() + timeout
        with self.cond:
            while not predicate(list(self.events)):
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def clear(self):
        with self.cond:
            self.events.clear()


def add_watch(client, path, mode):
    return call(client, AddWatch(path, mode))


def remove_watches(client, path, watcher_type=WATCHER_ANY):
    return call(client, RemoveWatches(path, watcher_type))


def check_watches(client, path, watcher_type=WATCHER_ANY):
    return call(client, CheckWatches(path, watcher_type))
