//! rzk-proto
