//! rzk-storage
