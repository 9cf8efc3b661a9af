#!/usr/bin/env bash
# Runs every test of the workspace. Needs a Rust toolchain and Node.js with npm; installs the
# pinned JavaScript tools (snarkjs) itself. Compiled dependencies are cached outside the clone
# (CARGO_TARGET_DIR, default ~/.cache/zkinfer-target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
# Incremental artifacts of every clone pile up in the shared cache (tens of GB); CI builds are
# not edited in place, so they gain nothing from them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
command -v npm >/dev/null || { echo "npm is required (apt-get install nodejs npm)" >&2; exit 1; }
npm ci --prefix verifier-contracts --no-audit --no-fund --loglevel=error
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
