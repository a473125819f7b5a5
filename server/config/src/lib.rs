//! rzk-config
