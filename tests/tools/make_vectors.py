#!/usr/bin/env python3
"""Curate a zk_capture_proxy.py capture into codec test vectors.

    make_vectors.py CAPTURE.jsonl OUTDIR

Writes OUTDIR/<name>.hex (one frame body per file, no length prefix,
lower-case hex wrapped at 64 characters) and OUTDIR/INDEX.md (what each
file is, decoded field by field with tests/tools/jute_decode.py, plus the
protocol facts observed in the capture).  Old *.hex files in OUTDIR are
removed first so the set always matches the capture.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jute_decode as jd  # noqa: E402

CLIENTS = {
    "zkcli": "Java client 3.8.0 (zkCli.sh)",
    "zkcli-reconnect": "Java client 3.8.0 (zkCli.sh), after reconnect",
    "ccli": "C client libzookeeper-mt 3.8.0 (cli_mt)",
    "ccli-reconnect": "C client libzookeeper-mt 3.8.0 (cli_mt), after reconnect",
    "kazoo-main": "kazoo 2.11.0",
    "kazoo-main-reconnect": "kazoo 2.11.0, after reconnect",
    "kazoo-writer": "kazoo 2.11.0 (second session)",
    "raw-noro": "hand-made 44-byte ConnectRequest (tests/tools/capture_kazoo.py)",
}


class Capture:
    def __init__(self, path):
        self.lines = jd.load_capture(path)
        self.frames = jd.decode_capture(self.lines)

    # -- selectors -------------------------------------------------------
    def find(self, pred, what):
        for fr in self.frames:
            try:
                if pred(fr):
                    return fr
            except (KeyError, TypeError, IndexError):
                continue
        raise LookupError("no frame for " + what)

    def first(self, label, direction):
        return self.find(lambda f: f["label"] == label and f["dir"] == direction
                         and f["decoded"].get("record", "").startswith("Connect"),
                         "%s %s connect" % (label, direction))

    def req(self, label, op, pred=lambda d: True, mark=None):
        def p(f):
            return (f["label"] == label and f["dir"] == "c2s"
                    and f["decoded"].get("op") == op
                    and (mark is None or f["mark"] == mark)
                    and pred(f["decoded"]))
        return self.find(p, "%s %s" % (label, op))

    def reply(self, req):
        xid = req["decoded"]["header"]["xid"]
        return self.find(lambda f: f["conn"] == req["conn"] and f["dir"] == "s2c"
                         and f["seq"] > req["seq"]
                         and f["decoded"].get("header", {}).get("xid") == xid,
                         "reply to seq %d" % req["seq"])

    def notification(self, label, type_name, path=None):
        return self.find(lambda f: f["label"] == label and f["dir"] == "s2c"
                         and f["decoded"].get("op") == "notification"
                         and f["decoded"]["body"]["type_name"] == type_name
                         and (path is None or f["decoded"]["body"]["path"] == path),
                         "%s notification %s" % (label, type_name))

    def in_mark(self, mark_prefix):
        return [f for f in self.frames if f["mark"].startswith(mark_prefix)]


def path_is(p):
    return lambda d: d["body"]["path"] == p


def select(cap):
    """(name, frame, note) for every vector, in INDEX order."""
    v = []

    def add(name, fr, note=""):
        v.append((name, fr, note))

    # connection handshake
    add("connect_request_java", cap.first("zkcli", "c2s"),
        "45 bytes: ConnectRequest + readOnly byte")
    add("connect_response", cap.first("zkcli", "s2c"),
        "answer to connect_request_java")
    add("connect_request_java_reconnect", cap.first("zkcli-reconnect", "c2s"),
        "session re-attach: lastZxidSeen, sessionId and passwd filled in")
    add("connect_response_java_reconnect", cap.first("zkcli-reconnect", "s2c"))
    add("connect_request_kazoo", cap.first("kazoo-main", "c2s"))
    add("connect_response_kazoo", cap.first("kazoo-main", "s2c"))
    try:
        add("connect_request_c", cap.first("ccli", "c2s"))
        add("connect_response_c", cap.first("ccli", "s2c"))
    except LookupError:
        pass
    add("connect_request_noreadonly", cap.first("raw-noro", "c2s"),
        "old-style 44-byte ConnectRequest without the readOnly byte")
    add("connect_response_noreadonly", cap.first("raw-noro", "s2c"),
        "server omits the readOnly byte when the request had none")

    # ping
    ping = cap.req("kazoo-main", "ping")
    add("ping_request", ping)
    add("ping_reply", cap.reply(ping))

    # create family
    r = cap.req("zkcli", "create", path_is("/vec/p"))
    add("create_request", r, "persistent, world:anyone ACL")
    add("create_response", cap.reply(r))
    r = cap.req("zkcli", "create", path_is("/vec/eph"))
    add("create_request_ephemeral", r)
    r = cap.req("zkcli", "create", path_is("/vec/seq-"))
    add("create_request_sequential", r)
    add("create_response_sequential", cap.reply(r), "server-assigned suffix")
    r = cap.req("zkcli", "createContainer")
    add("createcontainer_request", r, "no data given: null buffer (length -1)")
    add("createcontainer_response", cap.reply(r), "Create2Response")
    r = cap.req("zkcli", "createTTL")
    add("create2_request_ttl", r, "createTTL (opcode 21), ttl 10000 ms")
    add("createttl_response", cap.reply(r), "Create2Response")
    r = cap.req("kazoo-main", "create2")
    add("create2_request", r, "kazoo create(include_data=True)")
    add("create2_response", cap.reply(r), "path + Stat")
    r = cap.req("kazoo-main", "create", path_is("/kz/es-"))
    add("create_request_ephemeral_sequential_kazoo", r, "empty data = buffer length 0")
    r = cap.req("kazoo-main", "create", path_is("/kz/acl"))
    add("create_request_digest_acl", r)

    # reads
    r = cap.req("zkcli", "getData", lambda d: not d["body"]["watch"])
    add("getdata_request", r)
    add("getdata_response", cap.reply(r), "data + Stat")
    r = cap.req("zkcli", "getData", lambda d: d["body"]["watch"])
    add("getdata_request_watch", r)
    r = cap.req("zkcli", "exists", path_is("/vec/p"))
    add("exists_request", r)
    add("exists_response", cap.reply(r))
    r = cap.req("zkcli", "exists", path_is("/vec/missing"))
    add("exists_request_watch", r)
    add("exists_reply_nonode", cap.reply(r), "exists on a missing node: header only, err -101")
    r = cap.req("zkcli", "getChildren2", mark="zkcli: ls -s /vec")
    add("getchildren2_request", r, "zkCli `ls -s`")
    add("getchildren2_response", cap.reply(r))
    r = cap.req("kazoo-main", "getChildren", lambda d: not d["body"]["watch"])
    add("getchildren_request", r)
    add("getchildren_response", cap.reply(r))
    r = cap.req("zkcli", "getAllChildrenNumber")
    add("getallchildrennumber_request", r)
    add("getallchildrennumber_response", cap.reply(r))
    r = cap.req("zkcli", "getEphemerals")
    add("getephemerals_request", r)
    add("getephemerals_response", cap.reply(r))

    # writes
    r = cap.req("zkcli", "setData")
    add("setdata_request", r, "version -1 (any)")
    add("setdata_response", cap.reply(r))
    r = cap.req("zkcli-reconnect", "delete", path_is("/vec/pr/child"))
    add("delete_request", r, "version 0")
    add("delete_response", cap.reply(r), "header only")

    # ACLs and auth
    r = cap.req("zkcli", "setACL")
    add("setacl_request_digest", r)
    add("setacl_response", cap.reply(r))
    getacls = [f for f in cap.frames if f["label"] == "zkcli" and f["dir"] == "c2s"
               and f["decoded"].get("op") == "getACL"]
    add("getacl_request", getacls[-1])
    add("getacl_response", cap.reply(getacls[-1]), "after addauth")
    add("error_reply_noauth", cap.reply(getacls[0]),
        "getACL before addauth: 3.8 requires READ or ADMIN")
    r = cap.req("zkcli", "auth")
    add("auth_request_digest", r, "xid -4")
    add("auth_reply", cap.reply(r), "xid -4, zxid 0")
    r = cap.req("zkcli", "whoAmI")
    add("whoami_request", r, "header only")
    add("whoami_response", cap.reply(r))

    # multi
    multis = [f for f in cap.frames if f["label"] == "kazoo-main" and f["dir"] == "c2s"
              and f["decoded"].get("op") == "multi"]
    add("multi_request_ok", multis[0], "create + setData + check + delete")
    add("multi_response_ok", cap.reply(multis[0]))
    add("multi_request_fail", multis[1], "create + setData + check(version 99) + delete")
    add("multi_response_fail", cap.reply(multis[1]))

    # errors
    r = cap.req("kazoo-main", "getData", path_is("/kz/missing"))
    add("getdata_request_missing", r)
    add("error_reply_nonode", cap.reply(r), "reply header only")
    r = cap.req("zkcli-reconnect", "create", lambda d: d["body"]["data"] == b"dup")
    add("error_reply_nodeexists", cap.reply(r), "failed create (NodeExists)")
    r = cap.req("kazoo-main-reconnect", "setData", lambda d: d["body"]["version"] == 1234)
    add("error_reply_badversion", cap.reply(r))

    # notifications
    add("notification_nodedatachanged", cap.notification("kazoo-main", "NodeDataChanged"),
        "fired by the kazoo-writer session's setData")
    add("notification_nodecreated", cap.notification("zkcli-reconnect", "NodeCreated", "/vec/pw"),
        "from the PERSISTENT watch on /vec/pw")
    add("notification_nodechildrenchanged",
        cap.notification("zkcli-reconnect", "NodeChildrenChanged", "/vec"),
        "from the child watch on /vec (restored by setWatches)")
    add("notification_nodedeleted",
        cap.notification("zkcli-reconnect", "NodeDeleted", "/vec/pr/child"),
        "from the PERSISTENT_RECURSIVE watch on /vec/pr")

    # watch management
    r = cap.req("zkcli-reconnect", "setWatches")
    add("setwatches_request", r, "Java client, only standard watches: opcode 101, ordinary xid")
    add("setwatches_reply", cap.reply(r))
    r = cap.req("zkcli-reconnect", "setWatches2")
    add("setwatches2_request", r, "Java client with persistent watches: opcode 105")
    add("setwatches2_reply", cap.reply(r))
    try:
        r = cap.req("ccli-reconnect", "setWatches")
        add("setwatches_request_c", r, "C client: opcode 101 with xid -8")
        add("setwatches_reply_c", cap.reply(r), "xid -8 echoed")
    except LookupError:
        pass
    r = cap.req("zkcli-reconnect", "addWatch", lambda d: d["body"]["mode"] == 0)
    add("addwatch_request", r, "mode 0 = PERSISTENT")
    add("addwatch_response", cap.reply(r), "body is ErrorResponse{err=0}")
    r = cap.req("zkcli-reconnect", "addWatch", lambda d: d["body"]["mode"] == 1)
    add("addwatch_request_recursive", r, "mode 1 = PERSISTENT_RECURSIVE")
    r = cap.req("zkcli-reconnect", "removeWatches", lambda d: d["body"]["type"] == 2)
    add("removewatches_request", r, "type 2 = Data")
    add("removewatches_response", cap.reply(r), "header only")
    r = cap.req("zkcli-reconnect", "removeWatches", lambda d: d["body"]["type"] == 3)
    add("removewatches_request_any", r, "type 3 = Any, on a PERSISTENT watch")

    # sync / close
    r = cap.req("zkcli-reconnect", "sync")
    add("sync_request", r)
    add("sync_response", cap.reply(r))
    r = cap.req("zkcli-reconnect", "closeSession")
    add("closesession_request", r, "opcode -11, header only")
    add("closesession_response", cap.reply(r))
    return v


# ------------------------------------------------------------- rendering
def fmt_value(v):
    if isinstance(v, bytes):
        s = "0x" + v.hex() if v else "(empty, length 0)"
        try:
            a = v.decode("ascii")
            if v and all(32 <= ord(c) < 127 for c in a):
                s += '  "%s"' % a
        except UnicodeDecodeError:
            pass
        return s
    if v is None:
        return "null (length -1)"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def is_stat(d):
    return isinstance(d, dict) and "czxid" in d and "pzxid" in d


def fmt_fields(d, indent=""):
    out = []
    for k, v in d.items():
        if k in ("type_name", "state_name"):
            continue
        if is_stat(v):
            out.append("%s%s = Stat{%s}" % (indent, k, ", ".join(
                "%s=%s" % (sk, sv) for sk, sv in v.items())))
        elif isinstance(v, dict):
            out.append("%s%s:" % (indent, k))
            out.extend(fmt_fields(v, indent + "  "))
        elif isinstance(v, list):
            if v and isinstance(v[0], dict):
                out.append("%s%s: vector of %d" % (indent, k, len(v)))
                for i, item in enumerate(v):
                    if "perms" in item:
                        out.append("%s  [%d] ACL{perms=%d, id=Id{scheme=\"%s\", id=\"%s\"}}" % (
                            indent, i, item["perms"], item["id"]["scheme"], item["id"]["id"]))
                    elif set(item) == {"authScheme", "user"}:
                        out.append('%s  [%d] ClientInfo{authScheme="%s", user="%s"}' % (
                            indent, i, item["authScheme"], item["user"]))
                    else:
                        out.append("%s  [%d]" % (indent, i))
                        out.extend(fmt_fields(item, indent + "    "))
            else:
                out.append("%s%s = [%s] (vector of %d)" % (
                    indent, k, ", ".join(fmt_value(x) for x in v), len(v)))
        else:
            extra = ""
            if k == "type" and "type_name" in d:
                extra = " (%s)" % d["type_name"]
            elif k == "state" and "state_name" in d:
                extra = " (%s)" % d["state_name"]
            elif k == "err" and isinstance(v, int) and v in jd.ERRORS:
                extra = " (%s)" % jd.ERRORS[v]
            elif k == "type" and isinstance(v, int) and v in jd.OPCODES and "done" in d:
                extra = " (%s)" % jd.OPCODES[v]
            out.append("%s%s = %s%s" % (indent, k, fmt_value(v), extra))
    return out


def describe(fr):
    d = fr["decoded"]
    lines = []
    if d.get("record", "").startswith("Connect"):
        rec = dict(d)
        name = rec.pop("record")
        trailing = rec.pop("trailing", None)
        ro = rec.pop("readOnly", None)
        lines.append("%s:" % name)
        lines.extend(fmt_fields(rec, "  "))
        if ro is None:
            lines.append("(no readOnly byte)")
        else:
            lines.append("readOnly = %s   (1 byte after the record)" % fmt_value(ro))
        if trailing:
            lines.append("trailing = 0x" + trailing.hex())
        return lines
    h = d["header"]
    if fr["dir"] == "c2s":
        lines.append("RequestHeader: xid=%d type=%d (%s)" % (
            h["xid"], h["type"], jd.OPCODES.get(h["type"], "?")))
    else:
        lines.append("ReplyHeader: xid=%d zxid=%d err=%d (%s)" % (
            h["xid"], h["zxid"], h["err"], d["err_name"]))
    if d.get("record") in ("MultiRequest", "MultiResponse"):
        key = "ops" if d["record"] == "MultiRequest" else "results"
        for i, op in enumerate(d["body"][key]):
            mh = op["header"]
            lines.append("[%d] MultiHeader{type=%d (%s), done=%s, err=%d} %s:" % (
                i, mh["type"], op["op"], fmt_value(mh["done"]), mh["err"], op["record"]))
            lines.extend(fmt_fields(op["body"], "      "))
        e = d["body"]["end"]
        lines.append("end MultiHeader{type=%d, done=%s, err=%d}" % (
            e["type"], fmt_value(e["done"]), e["err"]))
    elif "body" in d and d["body"]:
        lines.append("%s:" % d["record"])
        lines.extend(fmt_fields(d["body"], "  "))
    elif "body" in d:
        lines.append("(no body: %s)" % d.get("record", ""))
    else:
        lines.append("(no body)")
    if d.get("trailing"):
        lines.append("trailing = 0x" + d["trailing"].hex())
    return lines


def opcode_of(fr, cap):
    d = fr["decoded"]
    if d.get("record", "").startswith("Connect"):
        return "-", "-"
    xid = d["header"]["xid"]
    if fr["dir"] == "c2s":
        t = d["header"]["type"]
        return "%d %s" % (t, jd.OPCODES.get(t, "?")), str(xid)
    op = d.get("op", "?")
    code = {v: k for k, v in jd.OPCODES.items()}.get(op)
    return ("%s %s" % (code, op) if code is not None else op), str(xid)


def wrap_hex(h, width=64):
    return "\n".join(h[i:i + width] for i in range(0, len(h), width)) + "\n"


# ---------------------------------------------------------------- facts
def facts(cap, vecs):
    by = {n: f for n, f, _ in vecs}
    out = []

    def blen(name):
        return len(by[name]["hex"]) // 2

    out.append("### 1. ConnectRequest / ConnectResponse bytes")
    out.append("")
    out.append("| client | request bytes | request readOnly byte | response bytes | response readOnly byte |")
    out.append("| --- | --- | --- | --- | --- |")
    pairs = [("Java 3.8.0 (zkCli)", "connect_request_java", "connect_response"),
             ("Java 3.8.0 reconnect", "connect_request_java_reconnect", "connect_response_java_reconnect"),
             ("C 3.8.0 (cli_mt)", "connect_request_c", "connect_response_c"),
             ("kazoo 2.11.0", "connect_request_kazoo", "connect_response_kazoo"),
             ("hand-made old-style", "connect_request_noreadonly", "connect_response_noreadonly")]
    for label, rq, rs in pairs:
        if rq not in by:
            continue
        rqd, rsd = by[rq]["decoded"], by[rs]["decoded"]
        out.append("| %s | %d | %s | %d | %s |" % (
            label, blen(rq),
            "yes (%s)" % fmt_value(rqd["readOnly"]) if "readOnly" in rqd else "no",
            blen(rs),
            "yes (%s)" % fmt_value(rsd["readOnly"]) if "readOnly" in rsd else "no"))
    cr = by["connect_response"]["hex"]
    out.append("")
    out.append("Exact ConnectResponse to the Java client (`connect_response.hex`, %d bytes):" % (len(cr) // 2))
    out.append("")
    out.append("```")
    out.append("%s  protocolVersion (int)" % cr[0:8])
    out.append("%s  timeOut (int, negotiated ms)" % cr[8:16])
    out.append("%s  sessionId (long)" % cr[16:32])
    out.append("%s  passwd length (int)" % cr[32:40])
    out.append("%s  passwd (16 bytes)" % cr[40:72])
    out.append("%s  readOnly (boolean) -- only when the ConnectRequest carried one" % cr[72:])
    out.append("```")
    out.append("")
    out.append("The server appends the readOnly byte (0x00 on a read-write server) to "
               "every ConnectResponse whose ConnectRequest had the readOnly byte: Java, C and "
               "kazoo all send it (45-byte request), so all of them get a 37-byte response. "
               "A 44-byte request without it gets a 36-byte response without it. "
               "Negotiated timeOut is the requested one clamped to "
               "[minSessionTimeout=2*tickTime, maxSessionTimeout=20*tickTime] (4000..40000 here, see 4lw_conf.txt); requests here asked for 30000 (Java, C), 6000 (kazoo), 10000 (hand-made) and got exactly that.")
    out.append("")

    out.append("### 2. Reply-header zxid on pings, notifications, auth")
    out.append("")
    pings = [f for f in cap.frames if f["dir"] == "s2c" and f["decoded"].get("op") == "ping"
             and "header" in f["decoded"]]
    notifs = [f for f in cap.frames if f["dir"] == "s2c" and f["decoded"].get("op") == "notification"]
    auths = [f for f in cap.frames if f["dir"] == "s2c" and f["decoded"].get("header", {}).get("xid") == -4]
    # last zxid the server had handed out before each ping reply
    maxz = -1
    ping_rows = []
    for f in cap.frames:
        h = f["decoded"].get("header")
        if f["dir"] == "s2c" and h and h["xid"] not in (-1, -2, -4):
            maxz = max(maxz, h["zxid"])
        if f in pings:
            ping_rows.append((h["zxid"], maxz))
    out.append("- ping replies (xid -2, 16 bytes, no body, err 0): (ping zxid, highest zxid in any "
               "earlier client reply) = %s. The ping reply carries the server's last processed "
               "zxid. Where it is higher than anything a client saw, a txn no proxied client "
               "issued was processed in between (presumably the container/TTL reaper removing "
               "the empty container /vec/cont or the expired TTL node /vec/ttl; createSession and "
               "closeSession txns also consume zxids without a zxid-carrying reply to the new session)."
               % sorted(set(ping_rows)))
    out.append("- notifications (xid -1): zxid = %s in all %d captured "
               "(3.8 always sends -1, not the zxid of the triggering change), err 0."
               % (sorted({f["decoded"]["header"]["zxid"] for f in notifs}), len(notifs)))
    out.append("- auth replies (xid -4, no body): zxid = %s, err 0."
               % sorted({f["decoded"]["header"]["zxid"] for f in auths}))
    out.append("- read replies carry the last processed zxid; every write reply carries "
               "the zxid of its own txn, **including failed writes**: the NodeExists create, "
               "the BadVersion setData and the failed multi each consumed a new zxid "
               "(see error_reply_nodeexists / error_reply_badversion / multi_response_fail).")
    out.append("")

    out.append("### 3. multi: header err and per-op results")
    out.append("")
    for name in ("multi_response_ok", "multi_response_fail"):
        d = by[name]["decoded"]
        res = ", ".join("{type=%d, done=%s, err=%d}" % (
            r["header"]["type"], fmt_value(r["header"]["done"]), r["header"]["err"])
            for r in d["body"]["results"])
        e = d["body"]["end"]
        out.append("- `%s`: ReplyHeader err=%d (%s); results %s; end marker "
                   "{type=%d, done=%s, err=%d}." % (
                       name, d["header"]["err"], d["err_name"], res, e["type"],
                       fmt_value(e["done"]), e["err"]))
    out.append("- A failed multi is answered with ReplyHeader.err = 0 (OK). Every op becomes an "
               "ErrorResult: MultiHeader type -1 followed by an ErrorResponse int. Ops before "
               "the failing one get err 0 (rolled back), the failing op gets its error "
               "(-103 BadVersion here), ops after it get -2 (RuntimeInconsistency). The MultiHeader "
               "err field equals the ErrorResponse err.")
    out.append("- In a successful multi each result's MultiHeader has type = the op's opcode, "
               "done=false, err=0, followed by create->CreateResponse(path), "
               "setData->SetDataResponse(stat), check/delete->nothing.")
    out.append("- Requests end with MultiHeader{type=-1, done=true, err=-1} (kazoo, same as the Java "
               "client); request op headers carry done=false, err=-1.")
    out.append("")

    out.append("### 4. setWatches / setWatches2")
    out.append("")
    sw = by["setwatches_request"]["decoded"]["header"]
    sw2 = by["setwatches2_request"]["decoded"]["header"]
    out.append("- Java client (3.8.0, zkCli's JVM client) on reconnect: with only data/exist/child "
               "watches it sends **setWatches (101)**; once it has persistent or persistent-recursive "
               "watches it sends **setWatches2 (105)**. Both were sent with an *ordinary* xid "
               "(%d and %d) -- ClientCnxn builds the header with SET_WATCHES_XID -8 but the NIO "
               "socket layer overwrites the xid of every packet except ping/auth. The server "
               "echoes that xid in the empty reply." % (sw["xid"], sw2["xid"]))
    if "setwatches_request_c" in by:
        c = by["setwatches_request_c"]["decoded"]["header"]
        out.append("- C client (libzookeeper-mt 3.8.0): setWatches (101) with **xid %d**; "
                   "reply xid %d, zxid = last processed, no body." % (
                       c["xid"], by["setwatches_reply_c"]["decoded"]["header"]["xid"]))
    out.append("- kazoo 2.11.0 sends **neither**: it has no SetWatches record. On connection loss "
               "it fires every registered watcher locally with EventType NONE and drops them, "
               "re-attaches the session with a ConnectRequest (sessionId/passwd/lastZxidSeen), "
               "re-sends auth (xid -4) and restarts its xid counter at 1. No server notification "
               "arrived for the old watch after reconnect.")
    out.append("- relativeZxid = the client's lastZxidSeen. The Java client pipelines auth (xid -4) "
               "and setWatches right after the ConnectResponse without waiting; the server answers "
               "them in order.")
    out.append("")

    out.append("### 5. `ls` / `ls -s`")
    out.append("")
    ls = [f for f in cap.frames if f["dir"] == "c2s" and f["mark"] in ("zkcli: ls /vec", "zkcli: ls -s /vec")]
    for f in ls:
        out.append("- zkCli `%s` -> opcode %d (%s)" % (
            f["mark"][len("zkcli: "):], f["decoded"]["header"]["type"], f["decoded"]["op"]))
    out.append("- Both use getChildren2 in 3.8's zkCli (`ls -w` too, with watch=true). kazoo uses "
               "getChildren (8) and getChildren2 (12) only for include_data=True. The children "
               "vector is in the server's internal (hash-set) order, not sorted.")
    out.append("")

    out.append("### 6. Special xids")
    out.append("")
    out.append("| what | Java 3.8.0 | C 3.8.0 | kazoo 2.11.0 |")
    out.append("| --- | --- | --- | --- |")
    out.append("| ping (type 11) | -2 | -2 (not captured here) | -2 |")
    out.append("| auth (type 100) | -4 | -4 (not captured here) | -4 |")
    out.append("| setWatches (101/105) | ordinary xid | -8 | never sent |")
    out.append("| notification (server->client) | -1 | -1 | -1 |")
    out.append("| first ordinary xid | 1, continues across reconnects | time(NULL) at start | 1, reset to 1 on every reconnect |")
    out.append("")
    out.append("Replies to ping/auth/setWatches echo the request's xid.")
    out.append("")

    out.append("### 7. Frame order when a watch fires")
    out.append("")
    for prefix, desc in (("kazoo: setData on the watching connection",
                          "kazoo: getData(watch) then setData on the same connection"),
                         ("zkcli: set /vec/p world", "zkCli: `get -w /vec/p` then `set /vec/p world`"),
                         ("ccli: set /cc hello", "C client: watch restored by setWatches, then `set /cc hello`"),
                         ("zkcli: create /vec/pw pw", "zkCli: persistent watch /vec/pw + child watch /vec, then `create /vec/pw`")):
        fs = [f for f in cap.in_mark(prefix)]
        if not fs:
            continue
        write = next(f for f in fs if f["dir"] == "c2s")
        end = cap.reply(write)
        fs = [f for f in fs if f["conn"] == write["conn"]
              and write["seq"] <= f["seq"] <= end["seq"]]
        out.append("- %s:" % desc)
        for f in fs:
            d = f["decoded"]
            h = d["header"]
            what = d.get("op")
            if what == "notification":
                what = "notification %s %s" % (d["body"]["type_name"], d["body"]["path"])
            out.append("  - %s xid=%d %s" % (f["dir"], h["xid"], what))
    out.append("")
    out.append("On the connection that issued the write, the notification(s) (xid -1) are sent "
               "**before** the write's own reply, in the same order as DataTree triggers them "
               "(node's own watches, then the parent's child watches). For a watch held by "
               "another session the notification goes to that session's connection; relative "
               "order across two sockets is not meaningful.")
    out.append("")

    out.append("### 8. Other observations")
    out.append("")
    out.append("- addWatch reply body is an ErrorResponse {err=0} (4 bytes after the header); "
               "removeWatches, delete, setWatches, setWatches2, auth, closeSession and ping replies have no body.")
    out.append("- createContainer (19) and createTTL (21) are answered with Create2Response (path + Stat); "
               "create (1) with CreateResponse (path only); create2 (15) with Create2Response.")
    out.append("- CreateMode flags seen: 0 persistent, 1 ephemeral, 2 persistent sequential, "
               "3 ephemeral sequential, 4 container, 5 persistent with TTL.")
    out.append("- Null vs empty buffer: zkCli `create -c` with no data sends buffer length -1 (null); "
               "kazoo b\"\" sends length 0. A GetData/Create2 answer for such a node reports dataLength 0.")
    out.append("- Error replies (err != 0) are the 16-byte ReplyHeader with no body, for single ops.")
    out.append("- whoAmI request is the 8-byte header only; the response is a vector of "
               "ClientInfo{authScheme, user} (digest user1 and ip 127.0.0.1 here).")
    out.append("- getACL on a node whose ACL lacks READ/ADMIN for the caller fails with NoAuth (-102) in 3.8.")
    out.append("- closeSession reply carries the zxid of the closeSession txn; the server then closes the socket.")
    out.append("")
    return out


def write_index(cap, vecs, outdir):
    lines = []
    lines.append("# ZooKeeper 3.8 wire-protocol test vectors")
    lines.append("")
    lines.append("Captured from a real Apache ZooKeeper 3.8.0 server (Debian packages `zookeeper "
                 "zookeeper-bin`, standalone, loopback) with `tests/tools/capture_vectors.sh`: "
                 "`tests/tools/zk_capture_proxy.py` sat between the clients and the server and "
                 "recorded every frame (`raw/capture.jsonl`), and `tests/tools/make_vectors.py` "
                 "picked the frames below and wrote this file. Decoding is by "
                 "`tests/tools/jute_decode.py`, which follows zookeeper.jute field order.")
    lines.append("")
    lines.append("File format: each `<name>.hex` is ONE frame body, i.e. the bytes after the 4-byte "
                 "big-endian length prefix, as lower-case hex wrapped at 64 characters. Strip "
                 "whitespace before decoding. `4lw_<cmd>.txt` are raw four-letter-word answers "
                 "(bytes exactly as the server sent them; the connection is closed after).")
    lines.append("")
    lines.append("Session ids, passwords, timestamps, zxids and the C client's xids differ on every "
                 "capture; a re-capture regenerates all files. Encoding reminders: int = 4 bytes BE, "
                 "long = 8 bytes BE, boolean = 1 byte, ustring/buffer = int length (-1 = null) + "
                 "bytes, vector = int count (-1 = null) + items.")
    lines.append("")
    lines.append("## Facts observed")
    lines.append("")
    lines.extend(facts(cap, vecs))
    lines.append("## Files")
    lines.append("")
    lines.append("| file | dir | client | opcode | xid | bytes | note |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for name, fr, note in vecs:
        op, xid = opcode_of(fr, cap)
        lines.append("| `%s.hex` | %s | %s | %s | %s | %d | %s |" % (
            name, fr["dir"], CLIENTS.get(fr["label"], fr["label"]), op, xid,
            len(fr["hex"]) // 2, note))
    lines.append("")
    lines.append("## Decoded vectors")
    lines.append("")
    for name, fr, note in vecs:
        lines.append("### %s.hex" % name)
        lines.append("")
        lines.append("%s, %s, %d bytes, capture seq %d conn %d%s." % (
            "client -> server" if fr["dir"] == "c2s" else "server -> client",
            CLIENTS.get(fr["label"], fr["label"]), len(fr["hex"]) // 2, fr["seq"],
            fr["conn"], ("; " + note) if note else ""))
        lines.append("")
        lines.append("```")
        lines.extend(describe(fr))
        lines.append("```")
        lines.append("")
    lines.append("## Four-letter words")
    lines.append("")
    lines.append("Sent straight to the server port (not through the proxy) while the kazoo "
                 "sessions were connected with watches set. Each answer is plain text, "
                 "the server closes the connection after it. `ruok` -> `imok` (no newline), "
                 "`isro` -> `rw` (no newline), `mntr` is tab-separated `key\\tvalue` lines, "
                 "the others are newline-terminated lines.")
    lines.append("")
    for f in sorted(glob.glob(os.path.join(outdir, "4lw_*.txt"))):
        b = os.path.basename(f)
        lines.append("- `%s` (%d bytes)" % (b, os.path.getsize(f)))
    lines.append("")
    with open(os.path.join(outdir, "INDEX.md"), "w") as fh:
        fh.write("\n".join(lines))


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    capture, outdir = argv
    cap = Capture(capture)
    bad = [f for f in cap.frames if "error" in f["decoded"] or f["decoded"].get("trailing")]
    for f in bad:
        if f["decoded"].get("record", "").startswith("Connect"):
            continue
        print("warning: seq %d did not decode cleanly: %s" % (f["seq"], f["decoded"]),
              file=sys.stderr)
    vecs = select(cap)
    names = [n for n, _, _ in vecs]
    assert len(names) == len(set(names)), "duplicate vector names"
    os.makedirs(outdir, exist_ok=True)
    for old in glob.glob(os.path.join(outdir, "*.hex")):
        os.remove(old)
    for name, fr, _ in vecs:
        with open(os.path.join(outdir, name + ".hex"), "w") as fh:
            fh.write(wrap_hex(fr["hex"].lower()))
    write_index(cap, vecs, outdir)
    print("wrote %d vectors to %s" % (len(vecs), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
