#!/usr/bin/env bash
# Two builds of the zkinfer CLI side by side, back to back on the same machine: for each example,
# compile, setup (dev SRS) and prove (a decoder: generate) with the build before a change and the
# build after it; prints k, main and fullest range lane rows, setup and prove wall time and peak
# memory of each (/usr/bin/time). This is how the README's "technique by technique" table is
# measured: the machine is shared and noisy, so only ratios from one run are compared.
#
#   benches/compare/ab.sh OLD_ZKINFER NEW_ZKINFER [example ...]
#   examples: mlp lenet residual attention mlp_1m decoder tiny_gpt (default: all)
#
# Build the two binaries first, e.g. `git worktree add /tmp/old <commit>` and
# `cargo build --release -p zkinfer` in each, copying target/release/zkinfer aside. Give each its
# own CARGO_TARGET_DIR: workspace crates of the same name and version get the same artifact
# hashes, so a second checkout built in one target dir can leave the other's binary stale. The
# k and rows this prints tell the two builds apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { sed -n 2,15p "$0" >&2; exit 2; }
OLD="$(realpath "$1")"
NEW="$(realpath "$2")"
shift 2
EXAMPLES=("$@")
[ ${#EXAMPLES[@]} -gt 0 ] || EXAMPLES=(mlp lenet residual attention mlp_1m decoder tiny_gpt)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PROMPT=84,104,101,32,99,108,97,115,115,32,109,101,116,104,111,100

# Runs a command under /usr/bin/time; prints "seconds peak_MiB".
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
  awk '{ printf "%s %.0f", $1, $2 / 1024 }' "$WORK/time"
}

# The compile arguments, the proving verb and its arguments of each example.
args() {
  case "$1" in
    mlp) echo "examples/mlp/mlp.onnx --calibration examples/mlp/calibration.json|prove|--input examples/mlp/input.json" ;;
    lenet | residual) echo "examples/cnn/$1.onnx --calibration examples/cnn/$1.calibration.json|prove|--input examples/cnn/$1.input.json" ;;
    attention) echo "examples/attention_block/attention_block.onnx --calibration examples/attention_block/attention_block.calibration.json|prove|--input examples/attention_block/attention_block.input.json" ;;
    mlp_1m) echo "examples/mlp_1m/mlp_1m.onnx --calibration examples/mlp_1m/mlp_1m.calibration.json|prove|--input examples/mlp_1m/mlp_1m.input.json" ;;
    decoder) echo "examples/decoder/decoder.onnx --calibration examples/decoder/decoder.calibration.json --prompt-slots 8 --gen-slots 8 --stop-token none|generate|--prompt-tokens 3,1,4,1,5,9,2,6 --max-tokens 8" ;;
    tiny_gpt) echo "examples/tiny_gpt/tiny_gpt.onnx --calibration examples/tiny_gpt/calibration.json --prompt-slots 16 --gen-slots 16 --stop-token none|generate|--prompt-tokens $PROMPT --max-tokens 16" ;;
    *) echo "unknown example $1" >&2; exit 2 ;;
  esac
}

printf "%-10s %-4s %3s %9s %9s %8s %9s %8s %9s\n" example build k main range setup_s setup_MiB prove_s prove_MiB
for ex in "${EXAMPLES[@]}"; do
  IFS='|' read -r compile verb prove <<<"$(args "$ex")"
  for build in old new; do
    zk="$OLD"; [ "$build" = new ] && zk="$NEW"
    d="$WORK/$ex-$build"
    # shellcheck disable=SC2086
    "$zk" compile $compile -o "$d" --json >"$WORK/compile.json"
    size=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["size"]; print(s["k"], s["main_rows"], s["range_rows"])' "$WORK/compile.json")
    setup=$(measure "$zk" setup "$d" --dev-srs) || exit 1
    # shellcheck disable=SC2086
    proved=$(measure "$zk" "$verb" "$d" $prove --request-id 1 -o "$d/out") || exit 1
    read -r setup_s setup_mib <<<"$setup"
    read -r prove_s prove_mib <<<"$proved"
    printf "%-10s %-4s %3s %9s %9s %8s %9s %8s %9s\n" "$ex" "$build" $size "$setup_s" "$setup_mib" "$prove_s" "$prove_mib"
    rm -rf "$d"
  done
done
