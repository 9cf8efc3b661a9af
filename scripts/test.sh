#!/usr/bin/env bash
# Runs every test of the workspace. Needs only a Rust toolchain; compiled dependencies are
# cached outside the clone (CARGO_TARGET_DIR, default ~/.cache/zkinfer-target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
