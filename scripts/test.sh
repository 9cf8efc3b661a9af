#!/usr/bin/env bash
# Runs every test of the workspace. Needs a Rust toolchain and Node.js with npm; installs the
# pinned JavaScript tools (snarkjs) itself. Compiled dependencies are cached outside the clone
# (CARGO_TARGET_DIR, default ~/.cache/zkinfer-target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
command -v npm >/dev/null || { echo "npm is required (apt-get install nodejs npm)" >&2; exit 1; }
npm ci --prefix verifier-contracts --no-audit --no-fund --loglevel=error
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
