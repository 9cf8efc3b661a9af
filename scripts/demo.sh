#!/usr/bin/env bash
# The main job end to end on embedded defaults: `zkinfer demo` compiles the example MLP, sets up
# keys (insecure dev setup), generates and deploys its Solidity verifier and Settlement on the
# embedded chain, opens a request, proves the run, settles and withdraws; prints balances and gas.
# Extra arguments go to `zkinfer demo` (e.g. `--backend groth16`, `--json`, `--dir DIR`, or
# `--model tiny-gpt` for the example language model, paid per token).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
# The pinned Solidity compiler (solc-js), anvil and snarkjs.
npm ci --prefix verifier-contracts --no-audit --no-fund --loglevel=error
cargo build --release --locked -p zkinfer
"$CARGO_TARGET_DIR/release/zkinfer" demo "$@"
