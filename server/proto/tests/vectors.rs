//! Decodes every frame captured from a real ZooKeeper 3.8 server (tests/vectors/*.hex, documented in
//! tests/vectors/INDEX.md), checks the decoded fields against INDEX.md, and re-encodes the typed
//! records to check the bytes are identical. `every_vector_is_covered` fails when a `.hex` file is
//! added without a case below.

mod common;

use common::{all_vector_names, encode_request, load, parse_hex};
use rzk_proto::consts::{
    add_watch_mode, create_mode, event_type, keeper_state, op, perms, watcher_type, xid,
};
use rzk_proto::jute::{Jute, Reader, Writer};
use rzk_proto::records::*;
use rzk_proto::{
    decode_request, ConnectRequest, ConnectResponse, Create, ErrorCode, MultiOp, Request,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// RequestHeader + `decode_request`, then re-encode the typed request and compare bytes.
fn request(b: &[u8]) -> (RequestHeader, Request) {
    let mut r = Reader::new(b);
    let h = RequestHeader::decode(&mut r).expect("RequestHeader");
    let req = decode_request(h.op, &b[r.position()..])
        .unwrap_or_else(|e| panic!("decode_request({}): {e}", h.op));
    assert_eq!(
        hex(&encode_request(&h, &req)),
        hex(b),
        "re-encoded request differs from the vector"
    );
    (h, req)
}

/// ReplyHeader + body record `T`; the record must consume the rest exactly and re-encode identically.
fn reply<T: Jute>(b: &[u8]) -> (ReplyHeader, T) {
    let mut r = Reader::new(b);
    let h = ReplyHeader::decode(&mut r).expect("ReplyHeader");
    let body = T::decode(&mut r).expect("reply body");
    assert_eq!(r.remaining(), 0, "trailing bytes after the reply body");
    let mut w = Writer::new();
    h.encode(&mut w);
    body.encode(&mut w);
    assert_eq!(
        hex(&w.buf),
        hex(b),
        "re-encoded reply differs from the vector"
    );
    (h, body)
}

/// A reply that is the 16-byte ReplyHeader only.
fn reply_header_only(b: &[u8]) -> ReplyHeader {
    assert_eq!(b.len(), 16, "header-only reply must be 16 bytes");
    let mut r = Reader::new(b);
    let h = ReplyHeader::decode(&mut r).expect("ReplyHeader");
    assert_eq!(r.remaining(), 0);
    let mut w = Writer::new();
    h.encode(&mut w);
    assert_eq!(w.buf, b);
    h
}

fn check_connect_request(b: &[u8]) -> ConnectRequest {
    let c = ConnectRequest::decode(b).expect("ConnectRequest");
    let mut w = Writer::new();
    c.encode(&mut w);
    assert_eq!(hex(&w.buf), hex(b), "re-encoded ConnectRequest differs");
    c
}

fn check_connect_response(b: &[u8]) -> ConnectResponse {
    let c = ConnectResponse::decode(b).expect("ConnectResponse");
    let mut w = Writer::new();
    c.encode(&mut w);
    assert_eq!(hex(&w.buf), hex(b), "re-encoded ConnectResponse differs");
    c
}

/// One result of a multi reply, as ZooKeeper's MultiResponse writes it.
#[derive(Debug, PartialEq)]
enum MultiResult {
    Create(CreateResponse),
    Create2(Create2Response),
    SetData(StatResponse),
    GetData(GetDataResponse),
    GetChildren(GetChildrenResponse),
    /// check / delete: no body.
    Empty,
    Error(ErrorResponse),
}

/// Decodes a multi reply: ReplyHeader, then (MultiHeader, body)* ending with a done=true header; re-encodes.
fn multi_reply(b: &[u8]) -> (ReplyHeader, Vec<(MultiHeader, MultiResult)>) {
    let mut r = Reader::new(b);
    let h = ReplyHeader::decode(&mut r).expect("ReplyHeader");
    let mut results = Vec::new();
    let end = loop {
        let mh = MultiHeader::decode(&mut r).expect("MultiHeader");
        if mh.done {
            break mh;
        }
        let res = match mh.op {
            op::CREATE => MultiResult::Create(CreateResponse::decode(&mut r).unwrap()),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                MultiResult::Create2(Create2Response::decode(&mut r).unwrap())
            }
            op::SET_DATA => MultiResult::SetData(StatResponse::decode(&mut r).unwrap()),
            op::GET_DATA => MultiResult::GetData(GetDataResponse::decode(&mut r).unwrap()),
            op::GET_CHILDREN => {
                MultiResult::GetChildren(GetChildrenResponse::decode(&mut r).unwrap())
            }
            op::CHECK | op::DELETE => MultiResult::Empty,
            op::ERROR => MultiResult::Error(ErrorResponse::decode(&mut r).unwrap()),
            other => panic!("unexpected multi result type {other}"),
        };
        results.push((mh, res));
    };
    assert_eq!(
        end,
        MultiHeader {
            op: -1,
            done: true,
            err: -1
        },
        "multi end marker"
    );
    assert_eq!(
        r.remaining(),
        0,
        "trailing bytes after the multi end marker"
    );

    let mut w = Writer::new();
    h.encode(&mut w);
    for (mh, res) in &results {
        mh.encode(&mut w);
        match res {
            MultiResult::Create(x) => x.encode(&mut w),
            MultiResult::Create2(x) => x.encode(&mut w),
            MultiResult::SetData(x) => x.encode(&mut w),
            MultiResult::GetData(x) => x.encode(&mut w),
            MultiResult::GetChildren(x) => x.encode(&mut w),
            MultiResult::Empty => {}
            MultiResult::Error(x) => x.encode(&mut w),
        }
    }
    end.encode(&mut w);
    assert_eq!(hex(&w.buf), hex(b), "re-encoded multi reply differs");
    (h, results)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn rh(xid: i32, zxid: i64, err: i32) -> ReplyHeader {
    ReplyHeader { xid, zxid, err }
}

fn rq(xid: i32, op: i32) -> RequestHeader {
    RequestHeader { xid, op }
}

#[allow(clippy::too_many_arguments)]
fn stat(
    czxid: i64,
    mzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    ephemeral_owner: i64,
    data_length: i32,
    num_children: i32,
    pzxid: i64,
) -> Stat {
    Stat {
        czxid,
        mzxid,
        ctime,
        mtime,
        version,
        cversion,
        aversion,
        ephemeral_owner,
        data_length,
        num_children,
        pzxid,
    }
}

fn world_anyone() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn digest_user1() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=".into(),
        },
    }]
}

fn create(
    opc: i32,
    path: &str,
    data: Option<&[u8]>,
    acl: Vec<Acl>,
    flags: i32,
    ttl: i64,
) -> Request {
    Request::Create(Create {
        op: opc,
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl,
        flags,
        ttl,
    })
}

fn pw(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.into(),
        watch,
    }
}

fn p(path: &str) -> PathRequest {
    PathRequest { path: path.into() }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn zeros16() -> Vec<u8> {
    vec![0; 16]
}

fn conn_req(
    last_zxid_seen: i64,
    timeout_ms: i32,
    session_id: i64,
    passwd: Vec<u8>,
    read_only: Option<bool>,
) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen,
        timeout_ms,
        session_id,
        passwd,
        read_only,
    }
}

fn conn_resp(
    timeout_ms: i32,
    session_id: i64,
    passwd: &str,
    read_only: Option<bool>,
) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id,
        passwd: parse_hex(passwd),
        read_only,
    }
}

fn notification(b: &[u8], typ: i32, path: &str) {
    let (h, ev) = reply::<WatcherEvent>(b);
    assert_eq!(h, rh(xid::NOTIFICATION, -1, 0));
    assert_eq!(
        ev,
        WatcherEvent {
            typ,
            state: keeper_state::SYNC_CONNECTED,
            path: path.into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// the cases: `name (bytes) => |b| { ... }` makes a #[test] per vector and lists it in COVERED.

macro_rules! vectors {
    ($($name:ident ($len:expr) => |$b:ident| $body:block)*) => {
        $(
            #[test]
            fn $name() {
                let bytes = load(stringify!($name));
                assert_eq!(bytes.len(), $len, "size documented in INDEX.md");
                let $b: &[u8] = &bytes;
                $body
            }
        )*
        const COVERED: &[&str] = &[$(stringify!($name)),*];
    };
}

vectors! {
    // --- session handshake ---
    connect_request_java (45) => |b| {
        assert_eq!(check_connect_request(b), conn_req(0, 30000, 0, zeros16(), Some(false)));
    }
    connect_response (37) => |b| {
        assert_eq!(check_connect_response(b), conn_resp(30000, 72057640946499584, "7a9a20cc7f93b835e8b22f7760e58d4d", Some(false)));
    }
    connect_request_java_reconnect (45) => |b| {
        let passwd = parse_hex("7a9a20cc7f93b835e8b22f7760e58d4d");
        assert_eq!(check_connect_request(b), conn_req(10, 30000, 72057640946499584, passwd, Some(false)));
    }
    connect_response_java_reconnect (37) => |b| {
        assert_eq!(check_connect_response(b), conn_resp(30000, 72057640946499584, "7a9a20cc7f93b835e8b22f7760e58d4d", Some(false)));
    }
    connect_request_kazoo (45) => |b| {
        assert_eq!(check_connect_request(b), conn_req(0, 6000, 0, zeros16(), Some(false)));
    }
    connect_response_kazoo (37) => |b| {
        assert_eq!(check_connect_response(b), conn_resp(6000, 72057640946499586, "54582ccc3ffcf9abfe2c6120b9d364b3", Some(false)));
    }
    connect_request_c (45) => |b| {
        assert_eq!(check_connect_request(b), conn_req(0, 30000, 0, zeros16(), Some(false)));
    }
    connect_response_c (37) => |b| {
        assert_eq!(check_connect_response(b), conn_resp(30000, 72057640946499585, "8dbb1acc1fdf977addf596a2346ea21a", Some(false)));
    }
    connect_request_noreadonly (44) => |b| {
        assert_eq!(check_connect_request(b), conn_req(0, 10000, 0, zeros16(), None));
    }
    connect_response_noreadonly (36) => |b| {
        assert_eq!(check_connect_response(b), conn_resp(10000, 72057640946499588, "c61e09ccffc13549bdbecc24af08e081", None));
    }

    // --- ping ---
    ping_request (8) => |b| {
        assert_eq!(request(b), (rq(xid::PING, op::PING), Request::Ping));
    }
    ping_reply (16) => |b| {
        assert_eq!(reply_header_only(b), rh(xid::PING, 32, 0));
    }

    // --- create family ---
    create_request (58) => |b| {
        assert_eq!(request(b), (rq(2, op::CREATE), create(op::CREATE, "/vec/p", Some(b"hello"), world_anyone(), create_mode::PERSISTENT, -1)));
    }
    create_response (26) => |b| {
        assert_eq!(reply::<CreateResponse>(b), (rh(2, 3, 0), CreateResponse { path: "/vec/p".into() }));
    }
    create_request_ephemeral (56) => |b| {
        assert_eq!(request(b), (rq(3, op::CREATE), create(op::CREATE, "/vec/eph", Some(b"e"), world_anyone(), create_mode::EPHEMERAL, -1)));
    }
    create_request_sequential (57) => |b| {
        assert_eq!(
            request(b),
            (rq(4, op::CREATE), create(op::CREATE, "/vec/seq-", Some(b"s"), world_anyone(), create_mode::PERSISTENT_SEQUENTIAL, -1))
        );
    }
    create_response_sequential (39) => |b| {
        assert_eq!(reply::<CreateResponse>(b), (rh(4, 5, 0), CreateResponse { path: "/vec/seq-0000000002".into() }));
    }
    createcontainer_request (56) => |b| {
        // zkCli `create -c` without data: null buffer (length -1), kept as None so it re-encodes as -1.
        assert_eq!(
            request(b),
            (rq(5, op::CREATE_CONTAINER), create(op::CREATE_CONTAINER, "/vec/cont", None, world_anyone(), create_mode::CONTAINER, -1))
        );
    }
    createcontainer_response (97) => |b| {
        assert_eq!(
            reply::<Create2Response>(b),
            (rh(5, 6, 0), Create2Response { path: "/vec/cont".into(), stat: stat(6, 6, 1795642369676, 1795642369676, 0, 0, 0, 0, 0, 0, 6) })
        );
    }
    create2_request_ttl (64) => |b| {
        assert_eq!(
            request(b),
            (rq(6, op::CREATE_TTL), create(op::CREATE_TTL, "/vec/ttl", Some(b"t"), world_anyone(), create_mode::PERSISTENT_WITH_TTL, 10000))
        );
    }
    createttl_response (96) => |b| {
        assert_eq!(
            reply::<Create2Response>(b),
            (rh(6, 7, 0), Create2Response { path: "/vec/ttl".into(), stat: stat(7, 7, 1795642370482, 1795642370482, 0, 0, 0, 0, 1, 0, 7) })
        );
    }
    create2_request (54) => |b| {
        assert_eq!(request(b), (rq(2, op::CREATE2), create(op::CREATE2, "/kz/c2", Some(b"x"), world_anyone(), create_mode::PERSISTENT, -1)));
    }
    create2_response (94) => |b| {
        assert_eq!(
            reply::<Create2Response>(b),
            (rh(2, 24, 0), Create2Response { path: "/kz/c2".into(), stat: stat(24, 24, 1795642421481, 1795642421481, 0, 0, 0, 0, 1, 0, 24) })
        );
    }
    create_request_ephemeral_sequential_kazoo (54) => |b| {
        // kazoo b"": empty buffer (length 0), distinct from null.
        assert_eq!(
            request(b),
            (rq(3, op::CREATE), create(op::CREATE, "/kz/es-", Some(b""), world_anyone(), create_mode::EPHEMERAL_SEQUENTIAL, -1))
        );
    }
    create_request_digest_acl (89) => |b| {
        assert_eq!(request(b), (rq(4, op::CREATE), create(op::CREATE, "/kz/acl", Some(b"secret"), digest_user1(), create_mode::PERSISTENT, -1)));
    }
    error_reply_nodeexists (16) => |b| {
        assert_eq!(reply_header_only(b), rh(36, 16, ErrorCode::NodeExists.code()));
    }

    // --- reads ---
    getdata_request (19) => |b| {
        assert_eq!(request(b), (rq(7, op::GET_DATA), Request::GetData(pw("/vec/p", false))));
    }
    getdata_response (93) => |b| {
        assert_eq!(
            reply::<GetDataResponse>(b),
            (rh(7, 7, 0), GetDataResponse { data: Some(b"hello".to_vec()), stat: stat(3, 3, 1795642367266, 1795642367266, 0, 0, 0, 0, 5, 0, 3) })
        );
    }
    getdata_request_watch (19) => |b| {
        assert_eq!(request(b), (rq(8, op::GET_DATA), Request::GetData(pw("/vec/p", true))));
    }
    getdata_request_missing (24) => |b| {
        assert_eq!(request(b), (rq(10, op::GET_DATA), Request::GetData(pw("/kz/missing", false))));
    }
    error_reply_nonode (16) => |b| {
        assert_eq!(reply_header_only(b), rh(10, 26, ErrorCode::NoNode.code()));
    }
    exists_request (19) => |b| {
        assert_eq!(request(b), (rq(10, op::EXISTS), Request::Exists(pw("/vec/p", false))));
    }
    exists_response (84) => |b| {
        assert_eq!(
            reply::<StatResponse>(b),
            (rh(10, 8, 0), StatResponse { stat: stat(3, 8, 1795642367266, 1795642372892, 1, 0, 0, 0, 5, 0, 3) })
        );
    }
    exists_request_watch (25) => |b| {
        assert_eq!(request(b), (rq(22, op::EXISTS), Request::Exists(pw("/vec/missing", true))));
    }
    exists_reply_nonode (16) => |b| {
        assert_eq!(reply_header_only(b), rh(22, 10, ErrorCode::NoNode.code()));
    }
    getchildren2_request (17) => |b| {
        assert_eq!(request(b), (rq(12, op::GET_CHILDREN2), Request::GetChildren2(pw("/vec", false))));
    }
    getchildren2_response (133) => |b| {
        assert_eq!(
            reply::<GetChildren2Response>(b),
            (
                rh(12, 8, 0),
                GetChildren2Response {
                    children: strings(&["p", "seq-0000000002", "eph", "cont", "ttl"]),
                    stat: stat(2, 2, 1795642366471, 1795642366471, 0, 5, 0, 0, 4, 5, 7),
                }
            )
        );
    }
    getchildren_request (16) => |b| {
        assert_eq!(request(b), (rq(8, op::GET_CHILDREN), Request::GetChildren(pw("/kz", false))));
    }
    getchildren_response (50) => |b| {
        assert_eq!(
            reply::<GetChildrenResponse>(b),
            (rh(8, 26, 0), GetChildrenResponse { children: strings(&["es-0000000001", "acl", "c2"]) })
        );
    }
    getallchildrennumber_request (16) => |b| {
        assert_eq!(request(b), (rq(13, op::GET_ALL_CHILDREN_NUMBER), Request::GetAllChildrenNumber(p("/vec"))));
    }
    getallchildrennumber_response (20) => |b| {
        assert_eq!(reply::<GetAllChildrenNumberResponse>(b), (rh(13, 8, 0), GetAllChildrenNumberResponse { total: 5 }));
    }
    getephemerals_request (16) => |b| {
        assert_eq!(request(b), (rq(14, op::GET_EPHEMERALS), Request::GetEphemerals(p("/vec"))));
    }
    getephemerals_response (32) => |b| {
        assert_eq!(reply::<GetEphemeralsResponse>(b), (rh(14, 8, 0), GetEphemeralsResponse { ephemerals: strings(&["/vec/eph"]) }));
    }

    // --- writes ---
    setdata_request (31) => |b| {
        assert_eq!(
            request(b),
            (rq(9, op::SET_DATA), Request::SetData(SetDataRequest { path: "/vec/p".into(), data: Some(b"world".to_vec()), version: -1 }))
        );
    }
    setdata_response (84) => |b| {
        assert_eq!(
            reply::<StatResponse>(b),
            (rh(9, 8, 0), StatResponse { stat: stat(3, 8, 1795642367266, 1795642372892, 1, 0, 0, 0, 5, 0, 3) })
        );
    }
    error_reply_badversion (16) => |b| {
        assert_eq!(reply_header_only(b), rh(1, 34, ErrorCode::BadVersion.code()));
    }
    delete_request (29) => |b| {
        assert_eq!(request(b), (rq(34, op::DELETE), Request::Delete(DeleteRequest { path: "/vec/pr/child".into(), version: 0 })));
    }
    delete_response (16) => |b| {
        assert_eq!(reply_header_only(b), rh(34, 15, 0));
    }

    // --- ACLs and auth ---
    setacl_request_digest (80) => |b| {
        assert_eq!(
            request(b),
            (rq(16, op::SET_ACL), Request::SetAcl(SetAclRequest { path: "/vec/acl".into(), acl: digest_user1(), version: -1 }))
        );
    }
    setacl_response (84) => |b| {
        assert_eq!(
            reply::<StatResponse>(b),
            (rh(16, 10, 0), StatResponse { stat: stat(9, 9, 1795642377701, 1795642377701, 0, 0, 1, 0, 1, 0, 9) })
        );
    }
    getacl_request (20) => |b| {
        assert_eq!(request(b), (rq(18, op::GET_ACL), Request::GetAcl(p("/vec/acl"))));
    }
    getacl_response (140) => |b| {
        assert_eq!(
            reply::<GetAclResponse>(b),
            (rh(18, 10, 0), GetAclResponse { acl: digest_user1(), stat: stat(9, 9, 1795642377701, 1795642377701, 0, 0, 1, 0, 1, 0, 9) })
        );
    }
    error_reply_noauth (16) => |b| {
        assert_eq!(reply_header_only(b), rh(17, 10, ErrorCode::NoAuth.code()));
    }
    auth_request_digest (37) => |b| {
        assert_eq!(
            request(b),
            (rq(xid::AUTH, op::AUTH), Request::Auth(AuthPacket { typ: 0, scheme: "digest".into(), auth: b"user1:pass1".to_vec() }))
        );
    }
    auth_reply (16) => |b| {
        assert_eq!(reply_header_only(b), rh(xid::AUTH, 0, 0));
    }
    whoami_request (8) => |b| {
        assert_eq!(request(b), (rq(19, op::WHO_AM_I), Request::WhoAmI));
    }
    whoami_response (58) => |b| {
        assert_eq!(
            reply::<WhoAmIResponse>(b),
            (
                rh(19, 10, 0),
                WhoAmIResponse {
                    client_info: vec![
                        ClientInfo { auth_scheme: "digest".into(), user: "user1".into() },
                        ClientInfo { auth_scheme: "ip".into(), user: "127.0.0.1".into() },
                    ]
                }
            )
        );
    }

    // --- multi ---
    multi_request_ok (140) => |b| {
        let ops = vec![
            MultiOp::Create(Create { op: op::CREATE, path: "/kz/m1".into(), data: Some(b"a".to_vec()), acl: world_anyone(), flags: 0, ttl: -1 }),
            MultiOp::SetData(SetDataRequest { path: "/kz".into(), data: Some(b"b".to_vec()), version: -1 }),
            MultiOp::Check(CheckVersionRequest { path: "/kz".into(), version: 1 }),
            MultiOp::Delete(DeleteRequest { path: "/kz/m1".into(), version: -1 }),
        ];
        assert_eq!(request(b), (rq(11, op::MULTI), Request::Multi(ops)));
    }
    multi_response_ok (139) => |b| {
        let mh = |op| MultiHeader { op, done: false, err: 0 };
        assert_eq!(
            multi_reply(b),
            (
                rh(11, 27, 0),
                vec![
                    (mh(op::CREATE), MultiResult::Create(CreateResponse { path: "/kz/m1".into() })),
                    (
                        mh(op::SET_DATA),
                        MultiResult::SetData(StatResponse { stat: stat(23, 27, 1795642421479, 1795642421497, 1, 4, 0, 0, 1, 4, 27) })
                    ),
                    (mh(op::CHECK), MultiResult::Empty),
                    (mh(op::DELETE), MultiResult::Empty),
                ]
            )
        );
    }
    multi_request_fail (140) => |b| {
        let ops = vec![
            MultiOp::Create(Create { op: op::CREATE, path: "/kz/m2".into(), data: Some(b"a".to_vec()), acl: world_anyone(), flags: 0, ttl: -1 }),
            MultiOp::SetData(SetDataRequest { path: "/kz".into(), data: Some(b"c".to_vec()), version: -1 }),
            MultiOp::Check(CheckVersionRequest { path: "/kz".into(), version: 99 }),
            MultiOp::Delete(DeleteRequest { path: "/kz/m2".into(), version: -1 }),
        ];
        assert_eq!(request(b), (rq(12, op::MULTI), Request::Multi(ops)));
    }
    multi_response_fail (77) => |b| {
        // A failed multi: header err 0, every op an ErrorResult whose MultiHeader.err equals its ErrorResponse.
        let e = |err: ErrorCode| {
            (MultiHeader { op: op::ERROR, done: false, err: err.code() }, MultiResult::Error(ErrorResponse { err: err.code() }))
        };
        assert_eq!(
            multi_reply(b),
            (
                rh(12, 28, 0),
                vec![e(ErrorCode::Ok), e(ErrorCode::Ok), e(ErrorCode::BadVersion), e(ErrorCode::RuntimeInconsistency)]
            )
        );
    }

    // --- notifications ---
    notification_nodedatachanged (31) => |b| {
        notification(b, event_type::NODE_DATA_CHANGED, "/kz");
    }
    notification_nodecreated (35) => |b| {
        notification(b, event_type::NODE_CREATED, "/vec/pw");
    }
    notification_nodechildrenchanged (32) => |b| {
        notification(b, event_type::NODE_CHILDREN_CHANGED, "/vec");
    }
    notification_nodedeleted (41) => |b| {
        notification(b, event_type::NODE_DELETED, "/vec/pr/child");
    }

    // --- watch management ---
    setwatches_request (62) => |b| {
        let s = SetWatches2 {
            relative_zxid: 10,
            data_watches: strings(&["/vec/p"]),
            exist_watches: strings(&["/vec/missing"]),
            child_watches: strings(&["/vec"]),
            ..Default::default()
        };
        assert_eq!(request(b), (rq(23, op::SET_WATCHES), Request::SetWatches(s)));
    }
    setwatches_reply (16) => |b| {
        assert_eq!(reply_header_only(b), rh(23, 10, 0));
    }
    setwatches2_request (92) => |b| {
        let s = SetWatches2 {
            relative_zxid: 10,
            data_watches: strings(&["/vec/p"]),
            exist_watches: strings(&["/vec/missing"]),
            child_watches: strings(&["/vec"]),
            persistent_watches: strings(&["/vec/pw"]),
            persistent_recursive_watches: strings(&["/vec/pr"]),
        };
        assert_eq!(request(b), (rq(26, op::SET_WATCHES2), Request::SetWatches(s)));
    }
    setwatches2_reply (16) => |b| {
        assert_eq!(reply_header_only(b), rh(26, 10, 0));
    }
    setwatches_request_c (57) => |b| {
        let s = SetWatches2 {
            relative_zxid: 19,
            data_watches: strings(&["/cc"]),
            exist_watches: strings(&["/cc/missing"]),
            child_watches: strings(&["/cc"]),
            ..Default::default()
        };
        assert_eq!(request(b), (rq(xid::SET_WATCHES, op::SET_WATCHES), Request::SetWatches(s)));
    }
    setwatches_reply_c (16) => |b| {
        assert_eq!(reply_header_only(b), rh(xid::SET_WATCHES, 19, 0));
    }
    addwatch_request (23) => |b| {
        assert_eq!(
            request(b),
            (rq(24, op::ADD_WATCH), Request::AddWatch(AddWatchRequest { path: "/vec/pw".into(), mode: add_watch_mode::PERSISTENT }))
        );
    }
    addwatch_response (20) => |b| {
        assert_eq!(reply::<ErrorResponse>(b), (rh(24, 10, 0), ErrorResponse { err: 0 }));
    }
    addwatch_request_recursive (23) => |b| {
        assert_eq!(
            request(b),
            (rq(25, op::ADD_WATCH), Request::AddWatch(AddWatchRequest { path: "/vec/pr".into(), mode: add_watch_mode::PERSISTENT_RECURSIVE }))
        );
    }
    removewatches_request (24) => |b| {
        assert_eq!(
            request(b),
            (rq(31, op::REMOVE_WATCHES), Request::RemoveWatches(WatchTypeRequest { path: "/vec/eph".into(), typ: watcher_type::DATA }))
        );
    }
    removewatches_response (16) => |b| {
        assert_eq!(reply_header_only(b), rh(31, 13, 0));
    }
    removewatches_request_any (23) => |b| {
        assert_eq!(
            request(b),
            (rq(32, op::REMOVE_WATCHES), Request::RemoveWatches(WatchTypeRequest { path: "/vec/pw".into(), typ: watcher_type::ANY }))
        );
    }

    // --- sync, close ---
    sync_request (16) => |b| {
        assert_eq!(request(b), (rq(35, op::SYNC), Request::Sync(p("/vec"))));
    }
    sync_response (24) => |b| {
        // SyncResponse {ustring path} has the same layout as PathRequest.
        assert_eq!(reply::<PathRequest>(b), (rh(35, 15, 0), p("/vec")));
    }
    closesession_request (8) => |b| {
        assert_eq!(request(b), (rq(38, op::CLOSE_SESSION), Request::CloseSession));
    }
    closesession_response (16) => |b| {
        assert_eq!(reply_header_only(b), rh(38, 17, 0));
    }
}

/// Every `.hex` file in tests/vectors must have a case above, and every case a file.
#[test]
fn every_vector_is_covered() {
    let files = all_vector_names();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !COVERED.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "vectors without a test case in tests/vectors.rs: {missing:?}"
    );
    let stale: Vec<&&str> = COVERED
        .iter()
        .filter(|c| !files.iter().any(|f| f == *c))
        .collect();
    assert!(stale.is_empty(), "cases without a vector file: {stale:?}");
    let mut dup = COVERED.to_vec();
    dup.sort();
    dup.dedup();
    assert_eq!(dup.len(), COVERED.len(), "duplicate case names");
    assert!(
        files.len() >= 81,
        "expected at least the 81 captured vectors, found {}",
        files.len()
    );
}

/// Every `.hex` file must also be documented in INDEX.md's table.
#[test]
fn every_vector_is_documented() {
    let index = std::fs::read_to_string(common::vectors_dir().join("INDEX.md")).expect("INDEX.md");
    for f in all_vector_names() {
        assert!(
            index.contains(&format!("| `{f}.hex` |")),
            "{f}.hex is not in INDEX.md's file table"
        );
    }
}

/// multiRead is not in the captures (neither zkCli nor kazoo send it). Its ops are GetChildrenRequest /
/// GetDataRequest, i.e. path + watch boolean (MultiOperationRecord), so a two-op multiRead must decode
/// with the watch byte consumed and re-encode identically.
#[test]
fn multi_read_ops_carry_watch_flag() {
    let mut w = Writer::new();
    rq(40, op::MULTI_READ).encode(&mut w);
    MultiHeader {
        op: op::GET_CHILDREN,
        done: false,
        err: -1,
    }
    .encode(&mut w);
    pw("/a", false).encode(&mut w);
    MultiHeader {
        op: op::GET_DATA,
        done: false,
        err: -1,
    }
    .encode(&mut w);
    pw("/a/b", false).encode(&mut w);
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .encode(&mut w);
    let (h, req) = request(&w.buf);
    assert_eq!(h, rq(40, op::MULTI_READ));
    assert_eq!(
        req,
        Request::MultiRead(vec![
            MultiOp::GetChildren(p("/a")),
            MultiOp::GetData(p("/a/b"))
        ])
    );
}

/// A create with a null path string, a null ACL vector: decoded leniently (empty), never a panic.
#[test]
fn null_string_and_vector_decode_as_empty() {
    let mut w = Writer::new();
    w.i32(-1); // path null
    w.i32(-1); // data null
    w.i32(-1); // acl null
    w.i32(0); // flags
    match decode_request(op::CREATE, &w.buf).unwrap() {
        Request::Create(c) => {
            assert_eq!(
                (c.path.as_str(), c.data, c.acl.len(), c.flags),
                ("", None, 0, 0)
            );
        }
        other => panic!("{other:?}"),
    }
}
