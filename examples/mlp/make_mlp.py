#!/usr/bin/env python3
"""Builds the example MLP 784-64-10 (ReLU) as ONNX, with a fixed seed, plus a calibration set and
one input. Requires `pip install onnx numpy`. Re-running it reproduces the committed files exactly.

Weights are He-initialised; inputs are 28x28 "images" in [0, 1] made of a few Gaussian blobs, so the
model sees MNIST-like value ranges."""
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(20261124)


def dense(n_in, n_out):
    w = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in)).astype(np.float32)
    b = rng.normal(0.0, 0.05, size=(n_out,)).astype(np.float32)
    return w, b


def image():
    yy, xx = np.mgrid[0:28, 0:28]
    img = np.zeros((28, 28))
    for _ in range(rng.integers(2, 5)):
        cy, cx = rng.uniform(6, 22, size=2)
        s = rng.uniform(1.5, 4.0)
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    img = np.clip(img, 0, 1)
    return [round(float(v), 3) for v in img.reshape(-1)]


w1, b1 = dense(784, 64)
w2, b2 = dense(64, 10)
nodes = [
    helper.make_node("Flatten", ["input"], ["flat"], name="flatten", axis=1),
    helper.make_node("Gemm", ["flat", "w1", "b1"], ["h1"], name="fc1", transB=1),
    helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
    helper.make_node("Gemm", ["a1", "w2", "b2"], ["output"], name="fc2", transB=1),
]
graph = helper.make_graph(
    nodes,
    "mlp_784_64_10",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])],
    initializer=[
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(b2, "b2"),
    ],
)
model = helper.make_model(graph, producer_name="zkinfer-examples", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
(HERE / "mlp.onnx").write_bytes(model.SerializeToString())

calibration = [image() for _ in range(32)]
(HERE / "calibration.json").write_text(json.dumps({"input": calibration}, separators=(",", ":")) + "\n")
(HERE / "input.json").write_text(json.dumps({"input": [image()]}, separators=(",", ":")) + "\n")
print("wrote mlp.onnx, calibration.json, input.json")
