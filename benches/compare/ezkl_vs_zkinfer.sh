#!/usr/bin/env bash
# Side by side, in one run: zkinfer and EZKL 23.0.5 (PyPI, as its users run it) prove the same ONNX
# model on the same input; prints prove time and peak memory of each and their ratios.
#
#   benches/compare/ezkl_vs_zkinfer.sh [lenet|mlp_1m|mlp|attention ...]  (default: lenet mlp_1m)
#   ZKINFER=BIN benches/compare/ezkl_vs_zkinfer.sh ...                    (that zkinfer build)
#
# Needs python3 (a venv with ezkl is made under $CARGO_TARGET_DIR) and /usr/bin/time. Both tools
# use a locally generated (insecure, dev) SRS of the size their circuit needs, so neither pays for
# a download; only `prove` is timed, each in a process of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/compare/zkinfer_bin.sh
VENV="$CARGO_TARGET_DIR/ezkl-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import ezkl" 2>/dev/null || "$VENV/bin/pip" install -q ezkl==23.0.5 onnx numpy
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

declare -A ONNX=([lenet]=examples/cnn/lenet [mlp_1m]=examples/mlp_1m/mlp_1m
  [attention]=examples/attention_block/attention_block [mlp]=examples/mlp/mlp)

# Runs a command under /usr/bin/time; prints "seconds peak_kib".
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
  cat "$WORK/time"
}

printf "%-8s %12s %12s %12s %12s %8s %8s\n" model zk_prove_s zk_peak_MiB ezkl_prove_s ezkl_peak_MiB time_x mem_x
for m in "${@:-lenet mlp_1m}"; do
  for name in $m; do
    base="${ONNX[$name]}"
    d="$WORK/$name"
    mkdir -p "$d"
    if [ "$name" = mlp ]; then
      # the MLP 784-64-10 keeps its input and calibration files beside it under plain names
      cp examples/mlp/mlp.onnx "$d/mlp.onnx"
      cp examples/mlp/input.json "$d/mlp.input.json"
      cp examples/mlp/calibration.json "$d/mlp.calibration.json"
      base="$d/mlp"
    fi
    if [ "$name" = attention ]; then
      # EZKL refuses the -inf of masked_fill ("significant bit truncation when instantiating"):
      # both tools prove a copy whose mask fill is -1e4 instead (zkinfer reads either as a mask)
      "$VENV/bin/python" - "$base" "$d/block" <<'PY'
import shutil, sys
import numpy as np, onnx
from onnx import numpy_helper
src, dst = sys.argv[1:3]
m = onnx.load(src + ".onnx")
for i, t in enumerate(m.graph.initializer):
    if t.name == "ninf":
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array(-1e4, np.float32), "ninf"))
onnx.save(m, dst + ".onnx")
for ext in (".calibration.json", ".input.json"):
    shutil.copy(src + ext, dst + ext)
PY
      base="$d/block"
    fi
    "$ZK" compile "$base.onnx" --calibration "$base.calibration.json" -o "$d/zk" >/dev/null
    "$ZK" setup "$d/zk" --dev-srs >/dev/null
    read -r zs zm < <(measure "$ZK" prove "$d/zk" --input "$base.input.json" --request-id 1 -o "$d/zk-out")
    "$VENV/bin/python" benches/compare/ezkl_setup.py "$base.onnx" "$base.input.json" "$base.calibration.json" "$d/ezkl" >"$d/ezkl-setup.log" 2>&1 || { cat "$d/ezkl-setup.log" >&2; exit 1; }
    read -r es em < <(measure "$VENV/bin/python" benches/compare/ezkl_prove.py "$d/ezkl")
    awk -v n="$name" -v zs="$zs" -v zm="$zm" -v es="$es" -v em="$em" 'BEGIN {
      printf "%-8s %12.2f %12.0f %12.2f %12.0f %8.1f %8.1f\n", n, zs, zm/1024, es, em/1024, es/zs, em/zm }'
  done
done
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
