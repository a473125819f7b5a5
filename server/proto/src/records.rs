//! Jute records of zookeeper.jute used on the client port.

use crate::jute::Element;
use crate::record;

record!(
    /// Identity of an ACL entry, e.g. `world:anyone`, `digest:user:hash`.
    Id { scheme: String, id: String }
);
impl Element for Id {}

record!(
    /// One ACL entry.
    Acl { perms: i32, id: Id }
);
impl Element for Acl {}

record!(
    /// Znode metadata.
    Stat {
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
    }
);

record!(RequestHeader { xid: i32, op: i32 });
record!(ReplyHeader {
    xid: i32,
    zxid: i64,
    err: i32
});
record!(WatcherEvent {
    typ: i32,
    state: i32,
    path: String
});
record!(AuthPacket { typ: i32, scheme: String, auth: Vec<u8> });
record!(MultiHeader {
    op: i32,
    done: bool,
    err: i32
});

record!(CreateRequest { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, flags: i32 });
record!(CreateTtlRequest { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, flags: i32, ttl: i64 });
record!(DeleteRequest {
    path: String,
    version: i32
});
record!(PathWatchRequest {
    path: String,
    watch: bool
});
record!(SetDataRequest { path: String, data: Option<Vec<u8>>, version: i32 });
record!(PathRequest { path: String });
record!(SetAclRequest { path: String, acl: Vec<Acl>, version: i32 });
record!(CheckVersionRequest {
    path: String,
    version: i32
});
record!(AddWatchRequest {
    path: String,
    mode: i32
});
record!(WatchTypeRequest {
    path: String,
    typ: i32
});
record!(SetWatches {
    relative_zxid: i64,
    data_watches: Vec<String>,
    exist_watches: Vec<String>,
    child_watches: Vec<String>,
});
record!(SetWatches2 {
    relative_zxid: i64,
    data_watches: Vec<String>,
    exist_watches: Vec<String>,
    child_watches: Vec<String>,
    persistent_watches: Vec<String>,
    persistent_recursive_watches: Vec<String>,
});
record!(ReconfigRequest {
    joining_servers: String,
    leaving_servers: String,
    new_members: String,
    cur_config_id: i64
});

record!(CreateResponse { path: String });
record!(Create2Response {
    path: String,
    stat: Stat
});
record!(StatResponse { stat: Stat });
record!(GetDataResponse { data: Option<Vec<u8>>, stat: Stat });
record!(GetAclResponse { acl: Vec<Acl>, stat: Stat });
record!(GetChildrenResponse { children: Vec<String> });
record!(GetChildren2Response { children: Vec<String>, stat: Stat });
record!(GetAllChildrenNumberResponse { total: i32 });
record!(GetEphemeralsResponse { ephemerals: Vec<String> });
record!(ErrorResponse { err: i32 });
record!(ClientInfo {
    auth_scheme: String,
    user: String
});
impl Element for ClientInfo {}
record!(WhoAmIResponse { client_info: Vec<ClientInfo> });
