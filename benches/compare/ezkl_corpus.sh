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

. benches/compare/corpus_stages.sh
printf "%-44s %-8s %s\n" model reached detail
for name in "${NAMES[@]}"; do
  src="$EZKL/$name"
  if [ ! -f "$src/network.onnx" ] || [ ! -f "$src/input.json" ] || head -c 40 "$src/network.onnx" | grep -q "git-lfs"; then
    corpus_absent "$name" "no network.onnx and input.json (or a Git LFS pointer)"
  else
    corpus_model "$name" "$src/network.onnx" "$src/input.json"
  fi
done
corpus_summary
