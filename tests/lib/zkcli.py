"""Drive Apache ZooKeeper's Java CLI (zkCli.sh) non-interactively and parse its output.

Two ways:
  * run(hosts, "get", "/x")     one command per JVM (exit code 0/1, stdout and stderr separate)
  * script(hosts, [cmds...])    one session, commands fed on stdin (JLine is disabled when stdin is
                                not a terminal); outputs are split per command by running `version`
                                between them, whose "ZooKeeper CLI version: ..." line is the marker.

Noise that is filtered: SLF4J binding warnings (Debian's zookeeper.jar has no SLF4J backend),
"Connecting to ...", "Welcome to ZooKeeper!", "JLine support is disabled", and the initial
SyncConnected/None event. Watch notifications are kept as lines "WatchedEvent state:... type:... path:...".
"""

import os
import re
import subprocess

ZKCLI = os.path.join(os.environ.get("ZOOKEEPER_BIN_DIR", "/usr/share/zookeeper/bin"), "zkCli.sh")
MARKER = "ZooKeeper CLI version: "

_NOISE = (
    re.compile(r"^SLF4J: "),
    re.compile(r"^Connecting to "),
    re.compile(r"^Welcome to ZooKeeper!$"),
    re.compile(r"^JLine support is (disabled|enabled)$"),
    re.compile(r"^WATCHER::$"),
    re.compile(r"^WatchedEvent state:SyncConnected type:None path:null$"),
    re.compile(r"^WatchedEvent state:Closed type:None path:null$"),
    re.compile(r"^\s*$"),
)


def _env():
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = " ".join(
        ["-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", env.get("CLIENT_JVMFLAGS", "")]
    )
    return env


def clean(text):
    return [l for l in text.splitlines() if not any(p.search(l) for p in _NOISE)]


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.raw_out = out
        self.raw_err = err
        self.out = clean(out)
        self.err = clean(err)

    @property
    def lines(self):
        """stdout then stderr lines, noise removed."""
        return self.out + self.err

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (self.rc, self.out, self.err)


def run(hosts, *args, timeout=60):
    p = subprocess.run(
        [ZKCLI, "-server", hosts] + [str(a) for a in args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        timeout=timeout,
        text=True,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def script(hosts, commands, timeout=90):
    """Run commands in one session. Returns (outputs, events): outputs[i] is the list of cleaned
    lines (stdout+stderr interleaved) printed by commands[i]; events is every watch notification
    line seen anywhere, in order."""
    lines = []
    for c in commands:
        lines.append(c)
        lines.append("version")
    # a few server round trips before quitting: `quit` exits the JVM without waiting for the
    # client's event thread, so give late watch notifications time to be printed
    lines += ["sync /", "ls /zookeeper", "sync /", "ls /zookeeper", "quit"]
    p = subprocess.run(
        [ZKCLI, "-server", hosts],
        input="\n".join(lines) + "\n",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        timeout=timeout,
        text=True,
    )
    outputs, events, cur = [], [], []
    for line in clean(p.stdout):
        if "WatchedEvent " in line:
            i = line.index("WatchedEvent ")
            events.append(line[i:])
            line = line[:i]
            if not line:
                continue
        if MARKER in line:
            # stderr messages printed without a newline end up on the marker's line
            prefix = line[: line.index(MARKER)]
            if prefix:
                cur.append(prefix)
            outputs.append(cur)
            cur = []
            continue
        cur.append(line)
    if cur:
        outputs.append(cur)
    while len(outputs) < len(commands):
        outputs.append([])
    return outputs[: len(commands)], events


def parse_event(line):
    m = re.match(r"^WatchedEvent state:(\w+) type:(\w+) path:(\S+)$", line)
    return (m.group(2), m.group(3)) if m else None


def parse_stat(lines):
    """'cZxid = 0x2' style lines -> dict of ints (hex and decimal) / strings (times)."""
    d = {}
    for l in lines:
        m = re.match(r"^(\w+) = (.*)$", l)
        if m:
            k, v = m.groups()
            if re.fullmatch(r"0x[0-9a-fA-F]+", v):
                d[k] = int(v, 16)
            elif re.fullmatch(r"-?\d+", v):
                d[k] = int(v)
            else:
                d[k] = v
    return d


STAT_KEYS = ("cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
             "ephemeralOwner", "dataLength", "numChildren")
