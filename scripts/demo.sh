#!/usr/bin/env bash
# The main job end to end on the example MLP: compile the ONNX model, set up keys (insecure dev
# SRS), prove one inference with its usage statement, verify the proof.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
cargo build --release --locked -p zkinfer
zk="$CARGO_TARGET_DIR/release/zkinfer"
work="${1:-target/demo}"
"$zk" compile examples/mlp/mlp.onnx -o "$work/mlp"
"$zk" setup "$work/mlp" --dev-srs
"$zk" inspect "$work/mlp"
"$zk" prove "$work/mlp" --input examples/mlp/input.json --request-id 1 -o "$work/proofs"
"$zk" verify "$work/mlp" "$work/proofs/proof-0.json"
