//! Random inputs must never make the parser panic (no extra deps: xorshift).
//! Also: whenever parsing succeeds, rendering and re-parsing must succeed and
//! give the same configuration, and `conf` rendering must not panic.

use std::path::Path;

use rzk_config::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const KEYS: &[&str] = &[
    "tickTime",
    "initLimit",
    "syncLimit",
    "dataDir",
    "dataLogDir",
    "clientPort",
    "secureClientPort",
    "clientPortAddress",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "4lw.commands.whitelist",
    "zookeeper.4lw.commands.whitelist",
    "jute.maxbuffer",
    "zookeeper.jute.maxbuffer",
    "globalOutstandingLimit",
    "snapCount",
    "preAllocSize",
    "syncEnabled",
    "forceSync",
    "standaloneEnabled",
    "reconfigEnabled",
    "readonlymode.enabled",
    "skipACL",
    "DigestAuthenticationProvider.superDigest",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "metricsProvider.className",
    "metricsProvider.httpHost",
    "metricsProvider.httpPort",
    "metricsProvider.exportJvmInfo",
    "metricsProvider.x",
    "dynamicConfigFile",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "sslQuorum",
    "server.1",
    "server.2",
    "server.3",
    "server.0",
    "server.01",
    "server.x",
    "server.",
    "server.18446744073709551615",
    "group.1",
    "weight.1",
    "weight.2",
    "rzk.a",
    "rzk.",
    "unknown",
    "",
    "clientPortListenBacklog",
    "ssl.x",
    "jvm.pause.x",
    "ti\\u0063kTime",
    "a\\u00",
    "k\\",
    "version",
];

const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "+5",
    "2181",
    "65535",
    "65536",
    "99999999999999999999",
    "-2147483648",
    "2147483647",
    "2147483648",
    "0x10",
    "#ff",
    "010",
    "08",
    "abc",
    "true",
    "false",
    "TRUE",
    "yes",
    "no",
    "*",
    "srvr,stat",
    ",,",
    "/tmp/x",
    "rel/dir",
    "/nonexistent/rzk-fuzz/dyn.cfg",
    "127.0.0.1",
    "::1",
    "[::1]",
    "[::1",
    "host-name.example",
    "a:1:2",
    "a:1:2:observer",
    "a:1:2;3",
    "[::1]:1:2;[::1]:3",
    "a:1:2;b:3",
    "a:1",
    "a:1:2:3:4",
    "a:1:2;",
    ";",
    ":::",
    "[]:1:2",
    "a:0:2",
    "a:1:65536",
    "a|b",
    "participant",
    "observer",
    "1:2:3",
    "1::2",
    "x:y",
    "\\u0041",
    "\\uZZ",
    "\\",
    "\\\\",
    "é",
    "\u{0}",
    "/cmds",
    "super:abc=",
    "3",
    "1000",
    "500000",
    " ",
    "\t",
    "=",
    ":",
];

/// Returns whether the text parsed.
fn check(text: &str) -> bool {
    let Ok((c, _)) = parse_str(text, "fuzz.cfg") else {
        return false;
    };
    // rendering never panics and round-trips
    let rendered = c.to_zoo_cfg();
    let (back, _) = parse_str(&rendered, "fuzz.cfg").unwrap_or_else(|e| {
        panic!("re-parse failed: {e}\n--- input ---\n{text}\n--- rendered ---\n{rendered}")
    });
    let mut a = back.clone();
    let mut b = c.clone();
    a.origins.clear();
    b.origins.clear();
    // a dynamic config file is inlined by to_zoo_cfg
    b.dynamic_config_file = None;
    b.config_version = 0;
    assert_eq!(
        a, b,
        "round trip differs\n--- input ---\n{text}\n--- rendered ---\n{rendered}"
    );
    let _ = c.render_conf(&ConfRuntime::default());
    // applying any id never panics
    for id in [None, Some(1), Some(2), Some(3), Some(u64::MAX)] {
        let mut m = c.clone();
        if m.apply_myid(id, Path::new("/nonexistent/myid")).is_ok() {
            let _ = m.render_conf(&ConfRuntime::default());
            let _ = m.client_address();
        }
    }
    true
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let alphabet: &[u8] =
        b"=:# !\\\n\r\t\x0cuU0123456789abcdefABCDEF.;[]|-+x server.tickTime dataDir clientPort";
    for _ in 0..20_000 {
        let len = rng.below(120);
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            if rng.below(4) == 0 {
                bytes.push(rng.next() as u8);
            } else {
                bytes.push(alphabet[rng.below(alphabet.len())]);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = check(&text);
        // and with a valid prefix so that later stages run
        let _ = check(&format!("dataDir=/d\nclientPort=2181\n{text}"));
        let _ = parse_myid(&text, "myid");
    }
}

#[test]
fn random_lines_never_panic() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let seps = ["=", ":", " ", " = ", "\t", "==", ""];
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut text = String::new();
        if rng.below(3) != 0 {
            text.push_str("dataDir=/d\n");
        }
        if rng.below(3) != 0 {
            text.push_str("clientPort=2181\n");
        }
        if rng.below(2) == 0 {
            text.push_str("initLimit=5\nsyncLimit=2\n");
        }
        for _ in 0..rng.below(8) {
            let k = rng.pick(KEYS);
            let v = rng.pick(VALUES);
            let s = seps[rng.below(seps.len())];
            let lead = if rng.below(5) == 0 { "  " } else { "" };
            let cont = if rng.below(10) == 0 { "\\\n  " } else { "" };
            let eol = ["\n", "\r\n", "\r"][rng.below(3)];
            text.push_str(&format!("{lead}{k}{s}{cont}{v}{eol}"));
        }
        parsed += check(&text) as usize;
    }
    // make sure the success path (rendering, round trip, myid) is exercised
    assert!(parsed > 1000, "only {parsed} inputs parsed");
}
