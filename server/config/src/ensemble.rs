//! The ensemble: `server.N` / `group.N` / `weight.N` entries, ZooKeeper's validity rules for the
//! server list, and applying `myid`.

use std::path::Path;

use crate::error::{quote, ConfigError, ConfigWarning, WarningKind};
use crate::parser::Parser;
use crate::properties::Entry;
use crate::server_line::{parse_group_value, parse_id, parse_server_value, PeerRole};
use crate::types::{Origin, ServerConfig};
use crate::values::java_parse_int;

impl ServerConfig {
    /// Apply this server's id (from [`crate::read_myid`]) the way
    /// ZooKeeper's `QuorumPeerConfig` does after reading `myid`:
    ///
    /// * in an ensemble ([`Self::is_distributed`]) a missing myid or an id
    ///   without a `server.N` line is an error;
    /// * if this server's line has a client address and `clientPort` /
    ///   `clientPortAddress` are set too, they must agree: when
    ///   `clientPortAddress` is a specific address the whole address must
    ///   match, when it is unset / a wildcard only the port must match;
    ///   otherwise this is an error, as in ZooKeeper;
    /// * `peer_type` becomes the role of this server's line (a warning when
    ///   `peerType` said otherwise).
    ///
    /// Returns warnings. `myid_file` is only used in messages.
    pub fn apply_myid(
        &mut self,
        myid: Option<u64>,
        myid_file: &Path,
    ) -> Result<Vec<ConfigWarning>, ConfigError> {
        let mut warnings = Vec::new();
        let myid_name = myid_file.display().to_string();
        self.server_id = myid;
        if self.is_distributed() {
            let Some(id) = myid else {
                return Err(ConfigError::missing(
                    &myid_name,
                    "myid",
                    "myid file is missing; it is required when server.N lines define an ensemble",
                ));
            };
            if !self.servers.contains_key(&id) {
                let ids: Vec<String> = self.servers.keys().map(u64::to_string).collect();
                return Err(ConfigError::invalid(
                    &myid_name,
                    1,
                    "myid",
                    format!(
                        "server id {id} has no server.{id} line in {} (ids: {})",
                        self.origin,
                        ids.join(", ")
                    ),
                ));
            }
        }
        let Some(id) = myid else {
            return Ok(warnings);
        };
        if let Some(spec) = self.servers.get(&id).cloned() {
            if let (Some(port), Some((line_host, line_port))) =
                (self.client_port, &spec.client_addr)
            {
                let static_host = self.client_port_address.clone();
                let wildcard = match &static_host {
                    None => true,
                    Some(h) => is_wildcard(h),
                };
                let agree = if wildcard {
                    port == *line_port
                } else {
                    static_host.as_deref() == Some(line_host.as_str()) && port == *line_port
                };
                if !agree {
                    let o = self.origin_of(&format!("server.{id}"));
                    return Err(ConfigError::invalid(
                        &o.file,
                        o.line,
                        format!("server.{id}"),
                        format!(
                            "client address {}:{} of this server (myid {id}) differs from clientPort/clientPortAddress {}:{}; ZooKeeper requires them to agree",
                            crate::server_line::bracket_host(line_host),
                            line_port,
                            crate::server_line::bracket_host(
                                static_host.as_deref().unwrap_or("0.0.0.0")
                            ),
                            port
                        ),
                    ));
                }
            }
        }
        let role_by_list = match self.servers.get(&id) {
            Some(s) => s.role,
            None => PeerRole::Participant,
        };
        if role_by_list != self.peer_type {
            let o = self.origin_of("peerType");
            warnings.push(ConfigWarning {
                file: o.file,
                line: o.line,
                key: "peerType".to_string(),
                kind: WarningKind::Adjusted,
                message: format!(
                    "peerType {} does not match the servers list ({}) for myid {id}; using the servers list, like ZooKeeper",
                    self.peer_type.as_str(),
                    role_by_list.as_str()
                ),
            });
            self.peer_type = role_by_list;
        }
        Ok(warnings)
    }
}

fn is_wildcard(h: &str) -> bool {
    matches!(h, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

impl Parser {
    /// A `server.N`, `group.N` or `weight.N` entry.
    pub(crate) fn ensemble_entry(
        &mut self,
        cfg: &mut ServerConfig,
        e: &Entry,
        key: &str,
    ) -> Result<(), ConfigError> {
        let (family, id_text) = key.split_once('.').unwrap_or((key, ""));
        let id = parse_id(id_text).map_err(|r| self.err(e, key, format!("invalid id: {r}")))?;
        match family {
            "server" => {
                let spec = parse_server_value(id, &e.value).map_err(|r| self.err(e, key, r))?;
                let canonical = format!("server.{id}");
                if let Some(prev) = cfg
                    .origins
                    .get(&canonical)
                    .filter(|_| cfg.servers.contains_key(&id))
                {
                    let where_ = if prev.file == self.file {
                        format!("line {}", prev.line)
                    } else {
                        format!("{}:{}", prev.file, prev.line)
                    };
                    return Err(self.err(
                        e,
                        key,
                        format!("duplicate server id {id} (already defined on {where_})"),
                    ));
                }
                cfg.servers.insert(id, spec);
                cfg.origins.insert(
                    canonical,
                    Origin {
                        file: self.file.clone(),
                        line: e.line,
                    },
                );
            }
            "group" => {
                let members = parse_group_value(&e.value).map_err(|r| self.err(e, key, r))?;
                self.warn(e.line, key, WarningKind::Unsupported, "hierarchical quorums (group.N/weight.N) are not supported; rzk uses majority quorums");
                if cfg.groups.insert(id, members).is_some() {
                    self.warn(
                        e.line,
                        key,
                        WarningKind::Duplicate,
                        format!("group {id} defined more than once; the last one wins"),
                    );
                }
            }
            _ => {
                let w = java_parse_int(&e.value)
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        self.err(
                            e,
                            key,
                            format!(
                                "expected a non-negative integer weight, got {}",
                                quote(&e.value)
                            ),
                        )
                    })?;
                self.warn(e.line, key, WarningKind::Unsupported, "hierarchical quorums (group.N/weight.N) are not supported; rzk uses majority quorums");
                if cfg.weights.insert(id, w as u64).is_some() {
                    self.warn(
                        e.line,
                        key,
                        WarningKind::Duplicate,
                        format!("weight {id} defined more than once; the last one wins"),
                    );
                }
            }
        }
        if family != "server" {
            cfg.origins.insert(
                format!("{family}.{id}"),
                Origin {
                    file: self.file.clone(),
                    line: e.line,
                },
            );
        }
        Ok(())
    }

    /// ZooKeeper's `parseDynamicConfig` + `checkValidity` rules.
    pub(crate) fn validate_ensemble(&mut self, cfg: &mut ServerConfig) -> Result<(), ConfigError> {
        let participants = cfg.participants();
        let observers = cfg.servers.len() - participants;
        let first = cfg
            .servers
            .keys()
            .next()
            .map(|id| cfg.origin_of(&format!("server.{id}")));
        let first_line = first.as_ref().map(|o| o.line).unwrap_or(0);
        let first_file = first
            .as_ref()
            .map(|o| o.file.clone())
            .unwrap_or_else(|| self.file.clone());
        if participants == 0 {
            if !cfg.standalone_enabled {
                let o = cfg.origin_of("standaloneEnabled");
                return Err(ConfigError::invalid(
                    &o.file,
                    o.line,
                    "standaloneEnabled",
                    "is false, so at least one participant server.N line is required",
                ));
            }
            if observers > 0 {
                return Err(ConfigError::invalid(
                    &first_file,
                    first_line,
                    "server",
                    "observers without participants is an invalid configuration",
                ));
            }
        } else if participants == 1 && cfg.standalone_enabled {
            if observers > 0 {
                return Err(ConfigError::invalid(
                    &first_file,
                    first_line,
                    "server",
                    "observers without a quorum (only one participant) is an invalid configuration",
                ));
            }
            self.warn_at(&first_file, first_line, "server", WarningKind::Advice,
                "only one server specified: it runs standalone, like ZooKeeper (set standaloneEnabled=false for a one-member ensemble)");
        } else if participants <= 2 {
            self.warn_at(
                &first_file,
                first_line,
                "server",
                WarningKind::Advice,
                "no server failure will be tolerated; you need at least 3 servers",
            );
        } else if participants & 1 == 0 {
            self.warn_at(
                &first_file,
                first_line,
                "server",
                WarningKind::Advice,
                "non-optimal configuration, consider an odd number of servers",
            );
        }
        if cfg.is_distributed() {
            if cfg.init_limit == 0 {
                return Err(ConfigError::missing(
                    &self.file,
                    "initLimit",
                    "is not set; it is required when server.N lines define an ensemble",
                ));
            }
            if cfg.sync_limit == 0 {
                return Err(ConfigError::missing(
                    &self.file,
                    "syncLimit",
                    "is not set; it is required when server.N lines define an ensemble",
                ));
            }
        }
        Ok(())
    }
}
