#!/usr/bin/env python3
"""Builds the graph-IR example models as ONNX, with fixed seeds, each with a calibration set and one
input. Requires `pip install onnx numpy`. Re-running it reproduces the committed files exactly.

- lenet.onnx: a LeNet-5-style CNN (Conv, AveragePool, Conv, AveragePool, Gemm, ReLU, Gemm) on a
  1x16x16 "image";
- residual.onnx: Conv + BatchNorm + ReLU + MaxPool, a residual block (Conv, BatchNorm, ReLU, Conv,
  BatchNorm, Add of the skip, ReLU), GlobalAveragePool, Flatten, Gemm, on a 3x12x12 input;
- torch_style.onnx: written the way torch.onnx writes `x.view(x.size(0), -1)`: Shape, Gather,
  Unsqueeze and Concat around the Reshape, Constant and Identity nodes, a Dropout;
- mlp_1m.onnx (in ../mlp_1m): an MLP 1024-512-512-256-10 (921k parameters), the benchmark size;
- smooth_mlp.onnx (in ../smooth_mlp): an MLP 64-32-16-16-10 with Tanh, Sigmoid and GELU written
  the way torch.onnx writes it below opset 20 (Div, Erf, Add, Mul, Mul), on an 8x8 input.

Weights are He-initialised, inputs are smooth blobs in [0, 1], so value ranges resemble real data.
Every Conv spells out its strides and pads (EZKL refuses a Conv without them)."""
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(20261202)


def he(shape, fan_in):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)


def small(shape, s=0.05):
    return rng.normal(0.0, s, size=shape).astype(np.float32)


def blobs(c, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((c, h, w))
    for ch in range(c):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(2, h - 2), rng.uniform(2, w - 2)
            s = rng.uniform(1.0, 3.0)
            img[ch] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return [round(float(v), 3) for v in np.clip(img, 0, 1).reshape(-1)]


def save(model, path, inputs, n_cal=16):
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    cal = [inputs() for _ in range(n_cal)]
    (path.parent / f"{path.stem}.calibration.json").write_text(json.dumps({"input": cal}, separators=(",", ":")) + "\n")
    (path.parent / f"{path.stem}.input.json").write_text(json.dumps({"input": [inputs()]}, separators=(",", ":")) + "\n")
    print("wrote", path)


def model_of(nodes, name, inp, out, inits):
    graph = helper.make_graph(nodes, name, [inp], [out], initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, producer_name="zkinfer-examples", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def lenet():
    inits = {
        "c1w": he((4, 1, 3, 3), 9), "c1b": small((4,)),
        "c2w": he((8, 4, 3, 3), 36), "c2b": small((8,)),
        "f1w": he((32, 8 * 2 * 2), 32), "f1b": small((32,)),
        "f2w": he((10, 32), 32), "f2b": small((10,)),
    }
    nodes = [
        helper.make_node("Conv", ["x", "c1w", "c1b"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("AveragePool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2w", "c2b"], ["c2"], name="conv2", pads=[0, 0, 0, 0], strides=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("AveragePool", ["r2"], ["p2"], name="pool2", kernel_shape=[3, 3], strides=[3, 3]),
        helper.make_node("Flatten", ["p2"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "f1w", "f1b"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["a"], name="relu3"),
        helper.make_node("Gemm", ["a", "f2w", "f2b"], ["y"], name="fc2", transB=1),
    ]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 16, 16])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    save(model_of(nodes, "lenet_style", inp, out, inits), HERE / "lenet.onnx", lambda: blobs(1, 16, 16))


def bn(name, c, x, y, inits):
    inits[f"{name}_g"] = rng.uniform(0.5, 1.5, size=(c,)).astype(np.float32)
    inits[f"{name}_b"] = small((c,), 0.1)
    inits[f"{name}_m"] = small((c,), 0.1)
    inits[f"{name}_v"] = rng.uniform(0.5, 2.0, size=(c,)).astype(np.float32)
    return helper.make_node("BatchNormalization", [x, f"{name}_g", f"{name}_b", f"{name}_m", f"{name}_v"], [y], name=name)


def residual():
    c = 6
    inits = {
        "c0w": he((c, 3, 3, 3), 27), "c0b": small((c,)),
        "c1w": he((c, c, 3, 3), 9 * c), "c1b": small((c,)),
        "c2w": he((c, c, 3, 3), 9 * c), "c2b": small((c,)),
        "fw": he((5, c), c), "fb": small((5,)),
    }
    nodes = [
        helper.make_node("Conv", ["x", "c0w", "c0b"], ["c0"], name="stem", pads=[1, 1, 1, 1], strides=[1, 1]),
        bn("bn0", c, "c0", "n0", inits),
        helper.make_node("Relu", ["n0"], ["r0"], name="relu0"),
        helper.make_node("MaxPool", ["r0"], ["m0"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["m0", "c1w", "c1b"], ["c1"], name="block_conv1", pads=[1, 1, 1, 1], strides=[1, 1]),
        bn("bn1", c, "c1", "n1", inits),
        helper.make_node("Relu", ["n1"], ["r1"], name="block_relu1"),
        helper.make_node("Conv", ["r1", "c2w", "c2b"], ["c2"], name="block_conv2", pads=[1, 1, 1, 1], strides=[1, 1]),
        bn("bn2", c, "c2", "n2", inits),
        helper.make_node("Add", ["n2", "m0"], ["s"], name="skip_add"),
        helper.make_node("Relu", ["s"], ["r2"], name="block_relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    save(model_of(nodes, "residual_cnn", inp, out, inits), HERE / "residual.onnx", lambda: blobs(3, 12, 12))


def torch_style():
    inits = {"cw": he((3, 1, 3, 3), 9), "cb": small((3,)), "fw": he((4, 3 * 4 * 4), 48), "fb": small((4,))}
    const = lambda name, arr: helper.make_node("Constant", [], [name], name=name, value=numpy_helper.from_array(arr, name))
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["conv"], name="/conv/Conv", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="/relu/Relu"),
        helper.make_node("Identity", ["relu"], ["ident"], name="/Identity"),
        helper.make_node("Shape", ["ident"], ["shape"], name="/Shape"),
        const("idx0", np.array(0, dtype=np.int64)),
        helper.make_node("Gather", ["shape", "idx0"], ["n"], name="/Gather", axis=0),
        const("axes0", np.array([0], dtype=np.int64)),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="/Unsqueeze"),
        const("minus1", np.array([-1], dtype=np.int64)),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["ident", "target"], ["flat"], name="/Reshape"),
        helper.make_node("Dropout", ["flat"], ["drop"], name="/dropout/Dropout"),
        helper.make_node("Gemm", ["drop", "fw", "fb"], ["y"], name="/fc/Gemm", transB=1),
    ]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", 1, 8, 8])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch_size", 4])
    save(model_of(nodes, "torch_jit", inp, out, inits), HERE / "torch_style.onnx", lambda: blobs(1, 8, 8))


def mlp_1m():
    dims = [1024, 512, 512, 256, 10]
    inits, nodes, cur = {}, [], "x"
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        inits[f"w{i}"], inits[f"b{i}"] = he((b, a), a), small((b,))
        nodes.append(helper.make_node("Gemm", [cur, f"w{i}", f"b{i}"], [f"h{i}"], name=f"fc{i}", transB=1))
        cur = f"h{i}"
        if i + 2 < len(dims):
            nodes.append(helper.make_node("Relu", [cur], [f"a{i}"], name=f"relu{i}"))
            cur = f"a{i}"
    nodes[-1].output[0] = "y"
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1024])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    save(model_of(nodes, "mlp_1m", inp, out, inits), HERE.parent / "mlp_1m" / "mlp_1m.onnx", lambda: blobs(1, 32, 32), n_cal=8)


def smooth_mlp():
    dims = [64, 32, 16, 16, 10]
    inits = {}
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        inits[f"w{i}"], inits[f"b{i}"] = he((b, a), a), small((b,))
    inits["sqrt2"] = np.array(np.sqrt(2.0), dtype=np.float32)
    inits["one"] = np.array(1.0, dtype=np.float32)
    inits["half"] = np.array(0.5, dtype=np.float32)
    gemm = lambda i, x, y: helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"fc{i}", transB=1)
    nodes = [
        gemm(0, "x", "h0"),
        helper.make_node("Tanh", ["h0"], ["a0"], name="tanh"),
        gemm(1, "a0", "h1"),
        helper.make_node("Sigmoid", ["h1"], ["a1"], name="sigmoid"),
        gemm(2, "a1", "h2"),
        helper.make_node("Div", ["h2", "sqrt2"], ["g0"], name="/gelu/Div"),
        helper.make_node("Erf", ["g0"], ["g1"], name="/gelu/Erf"),
        helper.make_node("Add", ["g1", "one"], ["g2"], name="/gelu/Add"),
        helper.make_node("Mul", ["h2", "g2"], ["g3"], name="/gelu/Mul"),
        helper.make_node("Mul", ["g3", "half"], ["a2"], name="/gelu/Mul_1"),
        gemm(3, "a2", "y"),
    ]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    save(model_of(nodes, "smooth_mlp", inp, out, inits), HERE.parent / "smooth_mlp" / "smooth_mlp.onnx", lambda: blobs(1, 8, 8))


lenet()
residual()
torch_style()
mlp_1m()
smooth_mlp()
