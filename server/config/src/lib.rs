//! rzk-config: read an Apache ZooKeeper `zoo.cfg` into a typed
//! [`ServerConfig`].
//!
//! * Syntax: `java.util.Properties` (`key=value`, `key:value`, `key value`,
//!   `#`/`!` comments, backslash line continuation, `\uXXXX` escapes), keys
//!   and values trimmed, the last duplicate wins (with a warning).
//! * Semantics: ZooKeeper 3.8's `QuorumPeerConfig`, checked against a real
//!   ZooKeeper 3.8.0 (see the crate's tests). Keys ZooKeeper reads as Java
//!   system properties (`4lw.commands.whitelist`, `jute.maxbuffer`,
//!   `forceSync`, ...) are accepted with and without the `zookeeper.`
//!   prefix. `rzk.*` keys are kept in [`ServerConfig::rzk`].
//! * Bad values are errors: `zoo.cfg:3: tickTime: expected a positive
//!   integer, got "abc"`. Unknown, ignored and unsupported keys are
//!   [`ConfigWarning`]s. No input makes the parser panic.
//!
//! Typical startup: [`load`] (= [`parse_file`] + [`read_myid`] +
//! [`ServerConfig::apply_myid`]), or [`ServerConfig::default_standalone`]
//! when there is no config file.

mod ensemble;
mod error;
mod keys;
mod myid;
mod parser;
pub mod properties;
mod render;
mod security;
mod server_line;
mod types;
mod values;

pub use error::{ConfigError, ConfigWarning, WarningKind};
pub use myid::{parse_myid, read_myid};
pub use parser::{load, parse_file, parse_str};
pub use render::ConfRuntime;
pub use security::{
    ClientAuth, SecurityConfig, StoreConfig, StoreType, TlsVersion, NETTY_FACTORY, SASL_PROVIDER,
    SUPPORTED_CIPHER_SUITES, X509_PROVIDER,
};
pub use server_line::{bracket_host, parse_server_assignment, PeerRole, ServerSpec};
pub use types::{
    AdminServerConfig, FourLetterWords, MetricsConfig, Origin, ServerConfig, DEFAULT_CLIENT_PORT,
    DEFAULT_JUTE_MAX_BUFFER, DEFAULT_PROVIDER, ELECTION_ALG_FAST_LEADER, KNOWN_FOUR_LETTER_WORDS,
    MIN_SNAP_RETAIN_COUNT, PROMETHEUS_PROVIDER, STANDALONE_TICK_TIME, ZK_DEFAULT_TICK_TIME,
};
