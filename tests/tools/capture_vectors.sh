#!/usr/bin/env bash
# Capture real Apache ZooKeeper 3.8 client<->server frames as codec test
# vectors.
#
#   tests/tools/capture_vectors.sh [OUTDIR]
#
# OUTDIR defaults to server/proto/tests/vectors.  Everything runs on
# loopback: a standalone ZooKeeper from the Debian packages `zookeeper
# zookeeper-bin` (temp dir, free port, 4lw.commands.whitelist=*,
# -Dzookeeper.extendedTypesEnabled=true for TTL nodes), the recording proxy
# tests/tools/zk_capture_proxy.py in front of it, then
#   (a) the Java client through zkCli.sh,
#   (b) the C client (cli_mt from zookeeper-bin),
#   (c) kazoo 2.11.0 (venv in .cache/venv-capture) + a raw no-readOnly
#       connect + the four-letter words (tests/tools/capture_kazoo.py).
# Writes OUTDIR/raw/capture.jsonl, OUTDIR/raw/{zkcli,ccli,kazoo}.log, OUTDIR/4lw_*.txt and
# then runs tests/tools/make_vectors.py to (re)generate OUTDIR/*.hex and
# OUTDIR/INDEX.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$ROOT/server/proto/tests/vectors}"
VENV="$ROOT/.cache/venv-capture"
ZKBIN=/usr/share/zookeeper/bin

if [ ! -x "$ZKBIN/zkServer.sh" ] || [ ! -x "$ZKBIN/zkCli.sh" ]; then
    echo "ZooKeeper not installed; run: apt-get install -y zookeeper zookeeper-bin" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import kazoo' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q kazoo==2.11.0
fi

WORK="$(mktemp -d /tmp/zkcapture.XXXXXX)"
ZK_PID=""
PROXY_PID=""
cleanup() {
    set +e
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
    [ -n "$ZK_PID" ] && kill "$ZK_PID" 2>/dev/null && wait "$ZK_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ZK_PORT="$(free_port)"
PROXY_PORT="$(free_port)"
CTL_PORT="$(free_port)"
while [ "$PROXY_PORT" = "$ZK_PORT" ]; do PROXY_PORT="$(free_port)"; done
while [ "$CTL_PORT" = "$ZK_PORT" ] || [ "$CTL_PORT" = "$PROXY_PORT" ]; do CTL_PORT="$(free_port)"; done

mkdir -p "$WORK/data" "$WORK/logs" "$OUT/raw"
cat > "$WORK/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$WORK/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
maxClientCnxns=60
EOF

echo "== starting ZooKeeper on 127.0.0.1:$ZK_PORT" >&2
JMXDISABLE=true ZOOPIDFILE="$WORK/zk.pid" ZOO_LOG_DIR="$WORK/logs" \
    SERVER_JVMFLAGS="-Dzookeeper.extendedTypesEnabled=true" \
    "$ZKBIN/zkServer.sh" start-foreground "$WORK/zoo.cfg" >"$WORK/logs/server.out" 2>&1 &
ZK_PID=$!

fourlw() {
    python3 - "$ZK_PORT" "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(sys.argv[2].encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.write(out.decode("utf-8", "replace"))
except OSError:
    pass
PY
}
for _ in $(seq 1 60); do
    [ "$(fourlw ruok)" = "imok" ] && break
    kill -0 "$ZK_PID" 2>/dev/null || { cat "$WORK/logs/server.out" >&2; exit 1; }
    sleep 0.5
done
[ "$(fourlw ruok)" = "imok" ] || { echo "ZooKeeper did not come up" >&2; exit 1; }

CAPTURE="$OUT/raw/capture.jsonl"
: > "$CAPTURE"
echo "== proxy 127.0.0.1:$PROXY_PORT -> $ZK_PORT (control $CTL_PORT)" >&2
python3 "$HERE/zk_capture_proxy.py" --listen "127.0.0.1:$PROXY_PORT" \
    --target "127.0.0.1:$ZK_PORT" --control "127.0.0.1:$CTL_PORT" \
    --out "$CAPTURE" 2>"$WORK/logs/proxy.err" &
PROXY_PID=$!
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$CTL_PORT") 2>/dev/null && break
    sleep 0.1
done

ctl() {
    local reply
    exec 9<>"/dev/tcp/127.0.0.1/$CTL_PORT"
    printf '%s\n' "$*" >&9
    read -r reply <&9
    exec 9>&-
    echo "$reply" >&2
}

# ------------------------------------------------------------------ zkCli
DIGEST="$(python3 -c 'import base64,hashlib; print(base64.b64encode(hashlib.sha1(b"user1:pass1").digest()).decode())')"
ZKCLI_CMDS=(
    "create /vec root"
    "create /vec/p hello"
    "create -e /vec/eph e"
    "create -s /vec/seq- s"
    "create -c /vec/cont"
    "create -t 10000 /vec/ttl t"
    "get /vec/p"
    "get -w /vec/p"
    "set /vec/p world"
    "stat /vec/p"
    "ls /vec"
    "ls -s /vec"
    "getAllChildrenNumber /vec"
    "getEphemerals /vec"
    "create /vec/acl a"
    "setAcl /vec/acl digest:user1:$DIGEST:cdrwa"
    "getAcl /vec/acl"
    "addauth digest user1:pass1"
    "getAcl /vec/acl"
    "whoami"
    "get -w /vec/p"
    "ls -w /vec"
    "stat -w /vec/missing"
    "@kill setWatches (standard watches only)"
    "addWatch -m PERSISTENT /vec/pw"
    "addWatch -m PERSISTENT_RECURSIVE /vec/pr"
    "@kill setWatches2 (persistent watches present)"
    "create /vec/pw pw"
    "create /vec/pr pr"
    "create /vec/pr/child c"
    "get -w /vec/eph"
    "removewatches /vec/eph -d"
    "removewatches /vec/pw -a"
    "delete /vec/eph"
    "delete -v 0 /vec/pr/child"
    "sync /vec"
    "create /vec/p dup"
    "get /vec/nonexistent"
    "close"
    "quit"
)
feed_zkcli() {
    sleep 3
    local c
    for c in "${ZKCLI_CMDS[@]}"; do
        if [[ "$c" == @kill* ]]; then
            ctl "mark zkcli: kill connection (${c#@kill })"
            ctl "label zkcli-reconnect"
            ctl killall
            sleep 4
            continue
        fi
        ctl "mark zkcli: $c"
        printf '%s\n' "$c"
        sleep 0.8
    done
    sleep 1
}
echo "== zkCli phase" >&2
ctl "label zkcli"
ctl "mark zkcli: connect"
feed_zkcli | timeout 180 "$ZKBIN/zkCli.sh" -server "127.0.0.1:$PROXY_PORT" >"$OUT/raw/zkcli.log" 2>&1 || true
ctl "label "
sleep 1

# --------------------------------------------------------- C client (cli_mt)
# libzookeeper-mt's CLI (package zookeeper-bin).  It is the client that sends
# setWatches with the reserved xid -8; its xids start at time(NULL).
CLI_MT=/usr/lib/zookeeper/bin/cli_mt
CCLI_CMDS=(
    "create /cc"
    "get /cc"
    "ls /cc"
    "wexists /cc/missing"
    "@kill setWatches from the C client"
    "set /cc hello"
    "exists /cc"
    "ls2 /cc"
    "quit"
)
feed_ccli() {
    sleep 2
    local c
    for c in "${CCLI_CMDS[@]}"; do
        if [[ "$c" == @kill* ]]; then
            ctl "mark ccli: kill connection (${c#@kill })"
            ctl "label ccli-reconnect"
            ctl killall
            sleep 4
            continue
        fi
        ctl "mark ccli: $c"
        printf '%s\n' "$c"
        sleep 0.8
    done
    sleep 1
}
if [ -x "$CLI_MT" ]; then
    echo "== C client phase" >&2
    ctl "label ccli"
    ctl "mark ccli: connect"
    feed_ccli | timeout 120 "$CLI_MT" "127.0.0.1:$PROXY_PORT" >"$OUT/raw/ccli.log" 2>&1 || true
    ctl "label "
    sleep 1
else
    echo "== $CLI_MT missing: skipping the C client phase" >&2
fi

# ------------------------------------------------------------------ kazoo
echo "== kazoo phase" >&2
"$VENV/bin/python" "$HERE/capture_kazoo.py" --proxy "127.0.0.1:$PROXY_PORT" \
    --control "127.0.0.1:$CTL_PORT" --zk "127.0.0.1:$ZK_PORT" --fourlw-dir "$OUT" \
    > "$OUT/raw/kazoo.log" 2>&1 || { cat "$OUT/raw/kazoo.log" >&2; exit 1; }
sleep 1

echo "== stopping" >&2
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""
kill "$ZK_PID"; wait "$ZK_PID" 2>/dev/null || true; ZK_PID=""

sed -i -e "s/127\.0\.0\.1:$PROXY_PORT/127.0.0.1:PROXYPORT/g" "$OUT/raw/zkcli.log" "$OUT/raw/ccli.log" 2>/dev/null || true
echo "== curating vectors" >&2
python3 "$HERE/make_vectors.py" "$CAPTURE" "$OUT"
echo "done: $OUT" >&2
