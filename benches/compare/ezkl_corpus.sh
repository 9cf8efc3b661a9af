#!/usr/bin/env bash
# Op coverage on EZKL's own example models, as a new user would try them: every
# `examples/onnx/NAME/network.onnx` of an EZKL checkout with its `input.json` (EZKL's data file,
# unchanged, as calibration and as the proven input) goes through `zkinfer compile`, `setup
# --dev-srs`, `prove` and `verify`. Prints one line per model (the stage it reached, `k`, prove
# seconds, argmax agreement with tract's float run, or the first line of the error) and the counts.
#
#   benches/compare/ezkl_corpus.sh EZKL_CHECKOUT [NAME ...]    (default: every example)
#   ZKINFER=BIN benches/compare/ezkl_corpus.sh ...              (that zkinfer build)
#
# EZKL_CHECKOUT is a clone of github.com/zkonduit/ezkl; nothing of it is copied here. Directories
# without a network.onnx (or holding a Git LFS pointer instead) are counted apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { sed -n 2,12p "$0" >&2; exit 2; }
EZKL="$(realpath "$1")/examples/onnx"
shift
[ -d "$EZKL" ] || { echo "$EZKL: no such directory (an EZKL checkout?)" >&2; exit 2; }
. benches/compare/zkinfer_bin.sh
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || mapfile -t NAMES < <(ls "$EZKL")

# The first line of a failed command's message, without log lines.
reason() { grep -v -e ' WARN ' -e '^  WARNING' "$1" | grep -m1 . | sed -e 's/^error: //' -e "s|^$src/||" | cut -c1-160; }

declare -A COUNT=()
printf "%-28s %-8s %s\n" model reached detail
for name in "${NAMES[@]}"; do
  src="$EZKL/$name"
  if [ ! -f "$src/network.onnx" ] || [ ! -f "$src/input.json" ] || head -c 40 "$src/network.onnx" | grep -q "git-lfs"; then
    stage=absent detail="no network.onnx and input.json (or a Git LFS pointer)"
  else
    d="$WORK/$name"
    stage=compile
    if ! timeout 600 "$ZK" compile "$src/network.onnx" --calibration "$src/input.json" -o "$d" >/dev/null 2>"$WORK/err"; then
      detail="$(reason "$WORK/err")"
    elif stage=setup && ! timeout 600 "$ZK" setup "$d" --dev-srs >/dev/null 2>"$WORK/err"; then
      detail="$(reason "$WORK/err")"
    elif stage=prove && ! /usr/bin/time -f %e -o "$WORK/time" timeout 600 "$ZK" prove "$d" --input "$src/input.json" --request-id 1 -o "$d/out" >/dev/null 2>"$WORK/err"; then
      detail="$(reason "$WORK/err")"
    elif stage=verify && ! "$ZK" verify "$d" "$d/out/proof-0.json" >/dev/null 2>"$WORK/err"; then
      detail="$(reason "$WORK/err")"
    else
      stage=proven
      detail="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); a=json.load(open(sys.argv[2])); print("k=%s prove %ss argmax agreement %.0f%%" % (s["k"], open(sys.argv[3]).read().strip(), 100 * a["argmax_agreement"]))' "$d/settings.json" "$d/accuracy.json" "$WORK/time")"
    fi
    rm -rf "$d"
  fi
  COUNT[$stage]=$((${COUNT[$stage]:-0} + 1))
  printf "%-28s %-8s %s\n" "$name" "$stage" "$detail"
done
echo
for s in proven compile setup prove verify absent; do
  n="${COUNT[$s]:-0}"
  case "$s" in
    proven) echo "proven and verified: $n" ;;
    absent) echo "no model in the directory: $n" ;;
    *) echo "stopped at $s: $n" ;;
  esac
done
