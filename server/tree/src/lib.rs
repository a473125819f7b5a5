//! rzk-tree
