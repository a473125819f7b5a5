//! ZooKeeper reconfig requests turned into membership changes.

use super::*;

#[derive(Debug)]
pub(super) enum ReconfigParseError {
    Bad(String),
    StaleConfig,
}

impl std::fmt::Display for ReconfigParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReconfigParseError::Bad(m) => f.write_str(m),
            ReconfigParseError::StaleConfig => {
                f.write_str("curConfigId does not match the current configuration")
            }
        }
    }
}

pub(super) fn e_code(e: &ReconfigParseError) -> ErrorCode {
    match e {
        ReconfigParseError::Bad(_) => ErrorCode::BadArguments,
        ReconfigParseError::StaleConfig => ErrorCode::BadVersion,
    }
}

pub(super) fn reconfig_code(e: &rzk_raft::ReconfigError) -> ErrorCode {
    match e {
        rzk_raft::ReconfigError::NoQuorum => ErrorCode::NewConfigNoQuorum,
        rzk_raft::ReconfigError::InProgress => ErrorCode::ReconfigInProgress,
        rzk_raft::ReconfigError::BadArguments(_) => ErrorCode::BadArguments,
        _ => ErrorCode::SystemError,
    }
}

/// Turns a ZooKeeper reconfig request (incremental or a full new member list) into a change.
pub(super) fn reconfig_change(
    s: &Shared,
    r: &ReconfigRequest,
) -> Result<rzk_raft::MembershipChange, ReconfigParseError> {
    let cur = s.raft().members();
    if r.cur_config_id != -1 && r.cur_config_id as u64 != cur.version {
        return Err(ReconfigParseError::StaleConfig);
    }
    let default_port = s.cfg.client_address().map_or(2181, |a| a.1);
    let parse_specs =
        |text: &str| -> Result<Vec<(u64, rzk_raft::Member, bool)>, ReconfigParseError> {
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let sp =
                        rzk_config::parse_server_assignment(t).map_err(ReconfigParseError::Bad)?;
                    let (m, voter) = crate::server::member_from_spec(&sp, default_port);
                    Ok((sp.id, m, voter))
                })
                .collect()
        };
    let mut change = rzk_raft::MembershipChange::default();
    if !r.new_members.trim().is_empty() {
        change.upsert = parse_specs(&r.new_members)?;
        let keep: std::collections::BTreeSet<u64> = change.upsert.iter().map(|u| u.0).collect();
        change.remove = cur
            .voters
            .keys()
            .chain(cur.learners.keys())
            .copied()
            .filter(|id| !keep.contains(id))
            .collect();
    } else {
        change.upsert = parse_specs(&r.joining_servers)?;
        for id in r
            .leaving_servers
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            change.remove.push(id.parse().map_err(|_| {
                ReconfigParseError::Bad(format!("bad server id {id:?} in leavingServers"))
            })?);
        }
    }
    if change.upsert.is_empty() && change.remove.is_empty() {
        return Err(ReconfigParseError::Bad("empty reconfiguration".into()));
    }
    Ok(change)
}
