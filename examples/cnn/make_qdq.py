#!/usr/bin/env python3
"""Writes lenet_qdq.onnx: lenet.onnx quantized by onnxruntime's own static quantizer, the way a model
provider who already ships an int8 model would have produced it. Requires
`pip install onnx onnxruntime ml_dtypes numpy` (tested with onnxruntime 1.32).

QDQ format, int8 activations and weights, per-tensor scales, calibrated with MinMax on
lenet.calibration.json. zkinfer then takes the file's own scales and zero points instead of calibrating
(see `circuits/src/import/qdq.rs`). Re-running it reproduces the committed file exactly: MinMax
calibration is deterministic, and the model is saved without onnxruntime's version stamp."""
import json
import pathlib
import tempfile

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

HERE = pathlib.Path(__file__).resolve().parent


class Samples(CalibrationDataReader):
    def __init__(self, path):
        rows = json.loads(path.read_text())["input"]
        self.rows = iter([{"x": np.asarray(r, dtype=np.float32).reshape(1, 1, 16, 16)} for r in rows])

    def get_next(self):
        return next(self.rows, None)


def main():
    src = HERE / "lenet.onnx"
    out = HERE / "lenet_qdq.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_out = pathlib.Path(tmp) / "q.onnx"
        quantize_static(
            str(src), str(tmp_out), Samples(HERE / "lenet.calibration.json"),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            per_channel=False,
        )
        model = onnx.load(str(tmp_out))
    # Strip what varies between machines and versions, so the committed bytes are reproducible.
    model.producer_name = "zkinfer-examples"
    model.producer_version = ""
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    out.write_bytes(model.SerializeToString())
    for name in ("calibration", "input"):
        (HERE / f"lenet_qdq.{name}.json").write_text((HERE / f"lenet.{name}.json").read_text())
    print("wrote", out)


if __name__ == "__main__":
    main()
