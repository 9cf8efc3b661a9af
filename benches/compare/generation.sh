#!/usr/bin/env bash
# Generation of each example decoder with the release CLI, as a provider runs it: compile, setup
# (dev SRS), then one `zkinfer generate`; prints the circuit size, key-generation and generate
# wall times and peak memory of each step (/usr/bin/time). Proving alone is measured by
# criterion (`cargo bench -p zkinfer-benches --bench generation`).
#
#   benches/compare/generation.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkinfer-target}"
export CARGO_INCREMENTAL=0
cargo build -q --release -p zkinfer
ZK="$CARGO_TARGET_DIR/release/zkinfer"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Runs a command under /usr/bin/time; prints "seconds peak_MiB".
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
  awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$WORK/time"
}

printf "%-9s %-7s %4s %9s %9s %10s %9s %9s %10s\n" model slots k main_rows setup_s setup_MiB gen_s gen_MiB completion
# model, ONNX, calibration, prompt slots, generated slots, prompt flag and value (the tiny GPT's
# is "The class method"); no stop token, so every run generates all its slots
while read -r name onnx cal p t flag prompt; do
  d="$WORK/$name-$p-$t"
  "$ZK" compile "$onnx" --calibration "$cal" --prompt-slots "$p" --gen-slots "$t" --stop-token none \
    -o "$d" --json >"$WORK/compile.json"
  size=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["size"]; print(s["k"], s["main_rows"])' "$WORK/compile.json")
  read -r setup_s setup_mib <<<"$(measure "$ZK" setup "$d" --dev-srs)"
  read -r gen_s gen_mib <<<"$(measure "$ZK" --json generate "$d" "$flag" "$prompt" --max-tokens "$t" --request-id 1 -o "$d/gen.json")"
  completion=$(python3 -c 'import re,sys; print(re.search(r"\"n_out\":\s*(\d+)", open(sys.argv[1]).read())[1])' "$WORK/log")
  printf "%-9s %-7s %4s %9s %9s %10s %9s %9s %10s\n" "$name" "$p+$t" $size "$setup_s" "$setup_mib" "$gen_s" "$gen_mib" "$completion tokens"
done <<'RUNS'
tiny_gpt examples/tiny_gpt/tiny_gpt.onnx examples/tiny_gpt/calibration.json 16 8 --prompt-tokens 84,104,101,32,99,108,97,115,115,32,109,101,116,104,111,100
tiny_gpt examples/tiny_gpt/tiny_gpt.onnx examples/tiny_gpt/calibration.json 16 16 --prompt-tokens 84,104,101,32,99,108,97,115,115,32,109,101,116,104,111,100
decoder examples/decoder/decoder.onnx examples/decoder/decoder.calibration.json 8 8 --prompt-tokens 3,1,4,1,5,9,2,6
decoder examples/decoder/decoder.onnx examples/decoder/decoder.calibration.json 1 15 --prompt-tokens 7
RUNS
