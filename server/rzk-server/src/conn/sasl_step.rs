//! SASL requests on a connection (the DIGEST-MD5 exchange itself is in `crate::sasl`).

use super::*;

/// One SASL (DIGEST-MD5) request: the reply frame, and whether to close the connection (a failed
/// authentication, as ZooKeeper does unless it is told to keep such clients).
pub(super) fn sasl_step(
    ctx: &Ctx,
    users: &crate::sasl::Users,
    xid: i32,
    body: &[u8],
) -> (Vec<u8>, bool) {
    use crate::sasl::Step;
    let token = rzk_proto::Reader::new(body)
        .buffer()
        .ok()
        .flatten()
        .unwrap_or(&[])
        .to_vec();
    let peer = ctx.info.peer;
    let step = ctx.sasl.lock().step(&token, users);
    let reply = |tok: &[u8]| frame(xid, 0, 0, |w| w.buffer(Some(tok)));
    match step {
        Step::Continue(tok) => (reply(&tok), false),
        Step::Success(tok, user) => {
            tracing::info!(%peer, user = %user, "SASL DIGEST-MD5 authenticated");
            let id = Id::new("sasl", &user);
            let mut auth = ctx.auth.write();
            if ctx.s.cfg.security.sasl_super_users.contains(&user) {
                auth.push(Id::new("super", ""));
            }
            if !auth.contains(&id) {
                auth.push(id);
            }
            (reply(&tok), false)
        }
        Step::Failure(why) => {
            tracing::warn!(%peer, reason = %why, "SASL authentication failed; closing the connection");
            let code = if ctx
                .s
                .cfg
                .security
                .enforce_auth_schemes
                .iter()
                .any(|s| s == "sasl")
                && ctx.s.cfg.security.enforce_auth
            {
                ErrorCode::SessionClosedRequireSaslAuth
            } else {
                ErrorCode::AuthFailed
            };
            (header_only(xid, 0, code), true)
        }
    }
}
