#!/usr/bin/env bash
# Runs every test of the workspace. Needs a Rust toolchain and Node.js with npm; installs the
# pinned JavaScript tools (snarkjs) itself, and Debian's PostgreSQL (which the service's tests
# start on a free port of their own) when it is missing and this runs as root. Compiled dependencies are cached outside the clone
# (CARGO_TARGET_DIR, default ~/.cache/zkinfer-target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
# Incremental artifacts of every clone pile up in the shared cache (tens of GB); CI builds are
# not edited in place, so they gain nothing from them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
command -v npm >/dev/null || { echo "npm is required (apt-get install nodejs npm)" >&2; exit 1; }
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is required (sudo apt-get install postgresql)" >&2; exit 1
  fi
fi
npm ci --prefix verifier-contracts --no-audit --no-fund --loglevel=error
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
# The criterion benches are not tests, but they must keep compiling against the crates they time.
cargo test --workspace --locked --benches --no-run --quiet
