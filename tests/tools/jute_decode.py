#!/usr/bin/env python3
"""Small, dependency-free decoder for ZooKeeper client-protocol frames.

Follows the record definitions of ZooKeeper's zookeeper.jute (3.8):
jute binary encoding is big-endian; int = 4 bytes, long = 8 bytes,
boolean = 1 byte, ustring/buffer = int length (-1 = null) + bytes,
vector<T> = int count (-1 = null) + items, records are their fields in
declaration order with no framing of their own.

Usage:
    jute_decode.py CAPTURE.jsonl            # decoded listing of a capture
    jute_decode.py --request  HEX           # one client->server frame body
    jute_decode.py --response HEX --opcode N   # one server->client body
    jute_decode.py --connect-request HEX | --connect-response HEX

A frame body is what follows the 4-byte length prefix.
"""

import json
import struct
import sys

# --------------------------------------------------------------- opcodes
OPCODES = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData",
    5: "setData", 6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync",
    11: "ping", 12: "getChildren2", 13: "check", 14: "multi", 15: "create2",
    16: "reconfig", 17: "checkWatches", 18: "removeWatches",
    19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl",
    103: "getEphemerals", 104: "getAllChildrenNumber", 105: "setWatches2",
    106: "addWatch", 107: "whoAmI", -10: "createSession",
    -11: "closeSession", -1: "error",
}

ERRORS = {
    0: "OK", -1: "SystemError", -2: "RuntimeInconsistency",
    -3: "DataInconsistency", -4: "ConnectionLoss", -5: "MarshallingError",
    -6: "Unimplemented", -7: "OperationTimeout", -8: "BadArguments",
    -13: "NewConfigNoQuorum", -14: "ReconfigInProgress",
    -15: "UnknownSession", -100: "APIError", -101: "NoNode", -102: "NoAuth",
    -103: "BadVersion", -108: "NoChildrenForEphemerals", -110: "NodeExists",
    -111: "NotEmpty", -112: "SessionExpired", -113: "InvalidCallback",
    -114: "InvalidACL", -115: "AuthFailed", -118: "SessionMoved",
    -119: "NotReadOnly", -120: "EphemeralOnLocalSession",
    -121: "NoWatcher", -122: "RequestTimeout", -123: "ReconfigDisabled",
    -124: "SessionClosedRequireSaslAuth", -125: "QuotaExceeded",
    -127: "Throttled",
}

EVENT_TYPES = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted",
               3: "NodeDataChanged", 4: "NodeChildrenChanged",
               5: "DataWatchRemoved", 6: "ChildWatchRemoved",
               7: "PersistentWatchRemoved"}
KEEPER_STATES = {-1: "Unknown", 0: "Disconnected", 1: "NoSyncConnected",
                 3: "SyncConnected", 4: "AuthFailed", 5: "ConnectedReadOnly",
                 6: "SaslAuthenticated", -112: "Expired", 7: "Closed"}

SPECIAL_XIDS = {-1: "notification", -2: "ping", -4: "auth",
                -8: "setWatches"}

# ----------------------------------------------------------- records
# Field lists in declaration order (zookeeper.jute).
RECORDS = {
    "Id": [("scheme", "ustring"), ("id", "ustring")],
    "ACL": [("perms", "int"), ("id", "Id")],
    "Stat": [("czxid", "long"), ("mzxid", "long"), ("ctime", "long"),
             ("mtime", "long"), ("version", "int"), ("cversion", "int"),
             ("aversion", "int"), ("ephemeralOwner", "long"),
             ("dataLength", "int"), ("numChildren", "int"), ("pzxid", "long")],
    "ClientInfo": [("authScheme", "ustring"), ("user", "ustring")],
    "ConnectRequest": [("protocolVersion", "int"), ("lastZxidSeen", "long"),
                       ("timeOut", "int"), ("sessionId", "long"),
                       ("passwd", "buffer")],
    "ConnectResponse": [("protocolVersion", "int"), ("timeOut", "int"),
                        ("sessionId", "long"), ("passwd", "buffer")],
    "SetWatches": [("relativeZxid", "long"),
                   ("dataWatches", ("vector", "ustring")),
                   ("existWatches", ("vector", "ustring")),
                   ("childWatches", ("vector", "ustring"))],
    "SetWatches2": [("relativeZxid", "long"),
                    ("dataWatches", ("vector", "ustring")),
                    ("existWatches", ("vector", "ustring")),
                    ("childWatches", ("vector", "ustring")),
                    ("persistentWatches", ("vector", "ustring")),
                    ("persistentRecursiveWatches", ("vector", "ustring"))],
    "RequestHeader": [("xid", "int"), ("type", "int")],
    "MultiHeader": [("type", "int"), ("done", "bool"), ("err", "int")],
    "AuthPacket": [("type", "int"), ("scheme", "ustring"), ("auth", "buffer")],
    "ReplyHeader": [("xid", "int"), ("zxid", "long"), ("err", "int")],
    "GetDataRequest": [("path", "ustring"), ("watch", "bool")],
    "SetDataRequest": [("path", "ustring"), ("data", "buffer"),
                       ("version", "int")],
    "ReconfigRequest": [("joiningServers", "ustring"),
                        ("leavingServers", "ustring"),
                        ("newMembers", "ustring"), ("curConfigId", "long")],
    "SetDataResponse": [("stat", "Stat")],
    "CreateRequest": [("path", "ustring"), ("data", "buffer"),
                      ("acl", ("vector", "ACL")), ("flags", "int")],
    "CreateTTLRequest": [("path", "ustring"), ("data", "buffer"),
                         ("acl", ("vector", "ACL")), ("flags", "int"),
                         ("ttl", "long")],
    "DeleteRequest": [("path", "ustring"), ("version", "int")],
    "GetChildrenRequest": [("path", "ustring"), ("watch", "bool")],
    "GetAllChildrenNumberRequest": [("path", "ustring")],
    "GetChildren2Request": [("path", "ustring"), ("watch", "bool")],
    "CheckVersionRequest": [("path", "ustring"), ("version", "int")],
    "SyncRequest": [("path", "ustring")],
    "SyncResponse": [("path", "ustring")],
    "GetACLRequest": [("path", "ustring")],
    "SetACLRequest": [("path", "ustring"), ("acl", ("vector", "ACL")),
                      ("version", "int")],
    "SetACLResponse": [("stat", "Stat")],
    "AddWatchRequest": [("path", "ustring"), ("mode", "int")],
    "WatcherEvent": [("type", "int"), ("state", "int"), ("path", "ustring")],
    "ErrorResponse": [("err", "int")],
    "CreateResponse": [("path", "ustring")],
    "Create2Response": [("path", "ustring"), ("stat", "Stat")],
    "ExistsRequest": [("path", "ustring"), ("watch", "bool")],
    "ExistsResponse": [("stat", "Stat")],
    "GetDataResponse": [("data", "buffer"), ("stat", "Stat")],
    "GetChildrenResponse": [("children", ("vector", "ustring"))],
    "GetAllChildrenNumberResponse": [("totalNumber", "int")],
    "GetChildren2Response": [("children", ("vector", "ustring")),
                             ("stat", "Stat")],
    "GetACLResponse": [("acl", ("vector", "ACL")), ("stat", "Stat")],
    "CheckWatchesRequest": [("path", "ustring"), ("type", "int")],
    "RemoveWatchesRequest": [("path", "ustring"), ("type", "int")],
    "GetEphemeralsRequest": [("prefixPath", "ustring")],
    "GetEphemeralsResponse": [("ephemerals", ("vector", "ustring"))],
    "WhoAmIResponse": [("clientInfo", ("vector", "ClientInfo"))],
    "Empty": [],
}

REQUEST_BODY = {
    1: "CreateRequest", 15: "CreateRequest", 19: "CreateRequest",
    21: "CreateTTLRequest", 2: "DeleteRequest", 20: "DeleteRequest",
    3: "ExistsRequest", 4: "GetDataRequest", 5: "SetDataRequest",
    6: "GetACLRequest", 7: "SetACLRequest", 8: "GetChildrenRequest",
    9: "SyncRequest", 11: "Empty", 12: "GetChildren2Request",
    13: "CheckVersionRequest", 16: "ReconfigRequest",
    17: "CheckWatchesRequest", 18: "RemoveWatchesRequest",
    101: "SetWatches", 103: "GetEphemeralsRequest",
    104: "GetAllChildrenNumberRequest", 105: "SetWatches2",
    106: "AddWatchRequest", 107: "Empty", -11: "Empty",
}
# 100 (auth) is an AuthPacket; 14/22 (multi) are special.

RESPONSE_BODY = {
    1: "CreateResponse", 15: "Create2Response", 19: "Create2Response",
    21: "Create2Response", 2: "Empty", 20: "Empty", 3: "ExistsResponse",
    4: "GetDataResponse", 5: "SetDataResponse", 6: "GetACLResponse",
    7: "SetACLResponse", 8: "GetChildrenResponse", 9: "SyncResponse",
    11: "Empty", 12: "GetChildren2Response", 13: "Empty",
    17: "Empty", 18: "Empty", 100: "Empty", 101: "Empty", 105: "Empty",
    103: "GetEphemeralsResponse", 104: "GetAllChildrenNumberResponse",
    106: "ErrorResponse", 107: "WhoAmIResponse", -11: "Empty",
}

# Result record of each op type inside a multi response.
MULTI_RESULT = {
    1: "CreateResponse", 15: "Create2Response", 19: "Create2Response",
    21: "Create2Response", 2: "Empty", 5: "SetDataResponse", 13: "Empty",
    -1: "ErrorResponse", 4: "GetDataResponse", 8: "GetChildrenResponse",
}


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.b = bytes(data)
        self.o = 0

    def need(self, n):
        if self.o + n > len(self.b):
            raise DecodeError("short read at %d (+%d of %d)" % (self.o, n, len(self.b)))

    def int(self):
        self.need(4)
        v = struct.unpack_from(">i", self.b, self.o)[0]
        self.o += 4
        return v

    def long(self):
        self.need(8)
        v = struct.unpack_from(">q", self.b, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        self.need(1)
        v = self.b[self.o]
        self.o += 1
        return v != 0

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        self.need(n)
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def ustring(self):
        v = self.buffer()
        return None if v is None else v.decode("utf-8")

    def rest(self):
        v = self.b[self.o:]
        self.o = len(self.b)
        return v

    def remaining(self):
        return len(self.b) - self.o

    def read(self, typ):
        if isinstance(typ, tuple):
            n = self.int()
            if n < 0:
                return None
            return [self.read(typ[1]) for _ in range(n)]
        if typ in ("int", "long", "bool", "buffer", "ustring"):
            return getattr(self, typ)()
        return self.record(typ)

    def record(self, name):
        out = {}
        for field, typ in RECORDS[name]:
            out[field] = self.read(typ)
        return out


def jsonable(v):
    if isinstance(v, bytes):
        try:
            s = v.decode("ascii")
            if all(32 <= ord(c) < 127 for c in s):
                return {"hex": v.hex(), "ascii": s}
        except UnicodeDecodeError:
            pass
        return {"hex": v.hex()}
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def _trailing(r, out):
    if r.remaining():
        out["trailing"] = r.rest()
    return out


def decode_connect_request(data):
    r = Reader(data)
    out = {"record": "ConnectRequest", **r.record("ConnectRequest")}
    if r.remaining() >= 1:
        out["readOnly"] = r.bool()
    return _trailing(r, out)


def decode_connect_response(data):
    r = Reader(data)
    out = {"record": "ConnectResponse", **r.record("ConnectResponse")}
    if r.remaining() >= 1:
        out["readOnly"] = r.bool()
    return _trailing(r, out)


def decode_multi_request(r):
    ops = []
    while True:
        h = r.record("MultiHeader")
        if h["done"]:
            return ops, h
        body = REQUEST_BODY.get(h["type"])
        op = {"header": h, "op": OPCODES.get(h["type"], h["type"])}
        if body is None:
            raise DecodeError("unknown op type %d in multi" % h["type"])
        op["record"] = body
        op["body"] = r.record(body)
        ops.append(op)


def decode_multi_response(r):
    results = []
    while True:
        h = r.record("MultiHeader")
        if h["done"]:
            return results, h
        body = MULTI_RESULT.get(h["type"])
        if body is None:
            raise DecodeError("unknown result type %d in multi" % h["type"])
        res = {"header": h, "op": OPCODES.get(h["type"], h["type"]),
               "record": body, "body": r.record(body)}
        results.append(res)


def decode_request(data):
    r = Reader(data)
    h = r.record("RequestHeader")
    op = h["type"]
    out = {"header": h, "op": OPCODES.get(op, str(op))}
    if op == 100:
        out["record"] = "AuthPacket"
        out["body"] = r.record("AuthPacket")
    elif op in (14, 22):
        out["record"] = "MultiRequest"
        ops, end = decode_multi_request(r)
        out["body"] = {"ops": ops, "end": end}
    elif op in REQUEST_BODY:
        out["record"] = REQUEST_BODY[op]
        out["body"] = r.record(REQUEST_BODY[op])
    else:
        out["record"] = "?"
    return _trailing(r, out)


def decode_response(data, opcode=None):
    """opcode: the type of the request this answers (None if unknown)."""
    r = Reader(data)
    h = r.record("ReplyHeader")
    out = {"header": h, "err_name": ERRORS.get(h["err"], str(h["err"]))}
    xid = h["xid"]
    if xid == -1:
        out["op"] = "notification"
        out["record"] = "WatcherEvent"
        ev = r.record("WatcherEvent")
        ev["type_name"] = EVENT_TYPES.get(ev["type"], ev["type"])
        ev["state_name"] = KEEPER_STATES.get(ev["state"], ev["state"])
        out["body"] = ev
        return _trailing(r, out)
    if xid in SPECIAL_XIDS:
        out["op"] = SPECIAL_XIDS[xid]
    if opcode is not None:
        out["op"] = OPCODES.get(opcode, str(opcode))
    if opcode in (14, 22):
        if r.remaining():
            results, end = decode_multi_response(r)
            out["record"] = "MultiResponse"
            out["body"] = {"results": results, "end": end}
        return _trailing(r, out)
    if h["err"] != 0 or opcode is None:
        return _trailing(r, out)
    body = RESPONSE_BODY.get(opcode)
    if body is not None and r.remaining():
        out["record"] = body
        out["body"] = r.record(body)
    return _trailing(r, out)


# ----------------------------------------------------- capture listing
def load_capture(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def decode_capture(lines):
    """Decode every frame of a capture.  Returns the list of frame records,
    each extended with "decoded", "label" and "mark" (last mark seen)."""
    labels = {}
    first = {}           # (conn, dir) -> seen first frame already
    pending = {}         # (conn, xid) -> opcode
    mark = ""
    frames = []
    for rec in lines:
        if "mark" in rec:
            mark = rec["mark"]
            continue
        if rec.get("event") == "open":
            labels[rec["conn"]] = rec.get("label", "")
            continue
        if "dir" not in rec or rec.get("raw") or rec.get("partial"):
            continue
        conn, d = rec["conn"], rec["dir"]
        data = bytes.fromhex(rec["hex"])
        key = (conn, d)
        try:
            if key not in first:
                first[key] = True
                dec = (decode_connect_request(data) if d == "c2s"
                       else decode_connect_response(data))
            elif d == "c2s":
                dec = decode_request(data)
                pending[(conn, dec["header"]["xid"])] = dec["header"]["type"]
            else:
                xid = struct.unpack_from(">i", data, 0)[0]
                opcode = pending.pop((conn, xid), None)
                if opcode is None and xid in (-2, -4, -8):
                    opcode = {-2: 11, -4: 100, -8: None}[xid]
                dec = decode_response(data, opcode)
        except DecodeError as e:
            dec = {"error": str(e)}
        frames.append(dict(rec, decoded=dec, label=labels.get(conn, ""),
                           mark=mark))
    return frames


def summary(dec):
    return json.dumps(jsonable(dec), separators=(",", ":"))


def main(argv):
    if len(argv) >= 2 and argv[0] == "--request":
        print(json.dumps(jsonable(decode_request(bytes.fromhex(argv[1]))), indent=1))
    elif len(argv) >= 2 and argv[0] == "--response":
        op = int(argv[3]) if len(argv) >= 4 and argv[2] == "--opcode" else None
        print(json.dumps(jsonable(decode_response(bytes.fromhex(argv[1]), op)), indent=1))
    elif len(argv) >= 2 and argv[0] == "--connect-request":
        print(json.dumps(jsonable(decode_connect_request(bytes.fromhex(argv[1]))), indent=1))
    elif len(argv) >= 2 and argv[0] == "--connect-response":
        print(json.dumps(jsonable(decode_connect_response(bytes.fromhex(argv[1]))), indent=1))
    elif len(argv) == 1:
        lines = load_capture(argv[0])
        mark = None
        for fr in decode_capture(lines):
            if fr["mark"] != mark:
                mark = fr["mark"]
                print("## " + mark)
            print("%5d %-4s conn=%-2d %-20s %s" % (
                fr["seq"], fr["dir"], fr["conn"], fr["label"],
                summary(fr["decoded"])))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
