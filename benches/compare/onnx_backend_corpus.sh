#!/usr/bin/env bash
# Op coverage on the models the `onnx` Python package ships for backend tests: the PyTorch
# exports of `pytorch-converted` (one torch.nn module each: Conv1d-3d, pools, pads, PReLU,
# Embedding...) and `pytorch-operator` (one torch operator each), and the `simple` graphs, each
# with its recorded input (`test_data_set_0/input_*.pb`, written to our data layout). Each goes
# through `zkinfer compile` (the input as calibration), `setup --dev-srs`, `prove` and `verify`,
# one line a model, then the counts.
#
#   benches/compare/onnx_backend_corpus.sh [SET ...]     (default: pytorch-converted
#                                                         pytorch-operator simple)
#   ZKINFER=BIN benches/compare/onnx_backend_corpus.sh ...  (that zkinfer build)
#
# Needs `pip install onnx` (the data is read where the package is installed; nothing of it is
# copied here). A test whose input is not numeric (strings) is counted apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data"))')"
SETS=("$@")
[ ${#SETS[@]} -gt 0 ] || SETS=(pytorch-converted pytorch-operator simple)
. benches/compare/zkinfer_bin.sh
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
. benches/compare/corpus_stages.sh

# The recorded inputs of test directory $1 as {"input_data": [[...], ...]} in $2; fails on a
# non-numeric one.
inputs_json() {
  python3 - "$1" "$2" <<'PY'
import glob, json, sys
import onnx
from onnx import numpy_helper
arrays = []
for p in sorted(glob.glob(f"{sys.argv[1]}/test_data_set_0/input_*.pb")):
    t = onnx.TensorProto()
    t.ParseFromString(open(p, "rb").read())
    a = numpy_helper.to_array(t)
    if a.dtype.kind not in "fiub":
        sys.exit(1)
    arrays.append(a.astype(float).flatten().tolist())
json.dump({"input_data": arrays}, open(sys.argv[2], "w"))
PY
}

printf "%-44s %-8s %s\n" model reached detail
for set in "${SETS[@]}"; do
  for dir in "$DATA/$set"/*/; do
    dir="${dir%/}"
    name="$set/$(basename "$dir")"
    if [ ! -f "$dir/model.onnx" ] || ! inputs_json "$dir" "$WORK/input.json" 2>/dev/null; then
      corpus_absent "$name" "no model or no numeric input"
    else
      corpus_model "$name" "$dir/model.onnx" "$WORK/input.json"
    fi
  done
done
corpus_summary
