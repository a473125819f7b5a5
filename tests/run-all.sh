#!/usr/bin/env bash
# The whole test suite (README: "one command runs the whole test suite").
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets
cargo test --workspace
