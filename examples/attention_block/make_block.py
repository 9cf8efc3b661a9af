#!/usr/bin/env python3
"""Builds attention_block.onnx: one pre-norm transformer block (GPT-2 style, sequence 16, d_model
32, 2 heads, MLP width 128, 12.7k parameters) written the way torch.onnx writes it at opset 14,
with a calibration set and one input. Requires `pip install onnx numpy`; re-running it reproduces
the committed files exactly.

What the exporter's habits look like here:
- LayerNorm decomposed: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add;
- GELU in its tanh form, decomposed: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)));
- one fused qkv projection, cut by Split;
- heads split and merged by Reshape whose shape is shape arithmetic (Shape, Gather, Unsqueeze,
  Concat) and Transpose;
- a causal mask built by Trilu on a ones buffer, sliced to the sequence by shape arithmetic,
  compared with Equal and applied by Where with -inf (masked_fill);
- the score scale as a Div by sqrt(head size).
"""
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(20261204)
L, D, H, F = 16, 32, 2, 128
HS = D // H

inits = {}


def const(name, value, dtype=np.float32):
    inits[name] = np.asarray(value, dtype=dtype)
    return name


def weight(name, shape, s):
    return const(name, rng.normal(0.0, s, size=shape))


nodes = []


def node(op, inputs, outputs, **attrs):
    nodes.append(helper.make_node(op, inputs, outputs, name=f"/{outputs[0]}", **attrs))
    return outputs[0]


def layer_norm(p, x):
    mu = node("ReduceMean", [x], [f"{p}.mean"], axes=[-1], keepdims=1)
    d = node("Sub", [x, mu], [f"{p}.centred"])
    d2 = node("Pow", [d, const("two", 2.0)], [f"{p}.square"])
    var = node("ReduceMean", [d2], [f"{p}.var"], axes=[-1], keepdims=1)
    ve = node("Add", [var, const("eps", 1e-5)], [f"{p}.var_eps"])
    sd = node("Sqrt", [ve], [f"{p}.std"])
    z = node("Div", [d, sd], [f"{p}.norm"])
    g = weight(f"{p}.weight", [D], 0.1)
    inits[g] = inits[g] + 1.0
    zg = node("Mul", [z, g], [f"{p}.scaled"])
    return node("Add", [zg, weight(f"{p}.bias", [D], 0.05)], [f"{p}.out"])


def linear(p, x, n_in, n_out):
    y = node("MatMul", [x, weight(f"{p}.weight", [n_in, n_out], 1.0 / np.sqrt(n_in))], [f"{p}.mm"])
    return node("Add", [y, weight(f"{p}.bias", [n_out], 0.02)], [f"{p}.out"])


def dim(x, i, p):
    """x.size(i) as torch.onnx writes it: Shape, Gather, Unsqueeze."""
    s = node("Shape", [x], [f"{p}.shape"])
    g = node("Gather", [s, const(f"{p}.i", i, np.int64)], [f"{p}.dim"], axis=0)
    return node("Unsqueeze", [g, const("axes0", [0], np.int64)], [f"{p}.udim"])


def heads(x, p, perm):
    """(B, T, D) -> (B, H, T, HS) then permuted, the shape built from x's own."""
    b, t = dim(x, 0, f"{p}.b"), dim(x, 1, f"{p}.t")
    shape = node("Concat", [b, t, const("n_head", [H], np.int64), const("head_size", [HS], np.int64)], [f"{p}.view"], axis=0)
    v = node("Reshape", [x, shape], [f"{p}.split_heads"])
    return node("Transpose", [v], [f"{p}.heads"], perm=perm)


def block():
    x = "x"
    h = layer_norm("ln_1", x)
    qkv = linear("attn.c_attn", h, D, 3 * D)
    node("Split", [qkv, const("qkv_split", [D, D, D], np.int64)], ["q", "k", "v"], axis=2)
    q = heads("q", "q", [0, 2, 1, 3])
    kt = heads("k", "k", [0, 2, 3, 1])
    v = heads("v", "v", [0, 2, 1, 3])
    att = node("MatMul", [q, kt], ["att.scores"])
    att = node("Div", [att, const("sqrt_hs", np.sqrt(HS))], ["att.scaled"])
    tril = node("Trilu", [const("ones", np.ones((L, L)))], ["att.tril"], upper=0)
    tril = node("Reshape", [tril, const("mask_shape", [1, 1, L, L], np.int64)], ["att.bias"])
    t = dim(x, 1, "att.t")
    ends = node("Concat", [t, t], ["att.ends"], axis=0)
    mask = node("Slice", [tril, const("starts", [0, 0], np.int64), ends, const("mask_axes", [2, 3], np.int64)], ["att.mask"])
    future = node("Equal", [mask, const("zero", 0.0)], ["att.future"])
    att = node("Where", [future, const("ninf", -np.inf), att], ["att.masked"])
    p = node("Softmax", [att], ["att.probs"], axis=-1)
    y = node("MatMul", [p, v], ["att.context"])
    y = node("Transpose", [y], ["att.merge"], perm=[0, 2, 1, 3])
    b, t = dim(x, 0, "att.out_b"), dim(x, 1, "att.out_t")
    shape = node("Concat", [b, t, const("d_model", [D], np.int64)], ["att.out_view"], axis=0)
    y = node("Reshape", [y, shape], ["att.merged"])
    y = linear("attn.c_proj", y, D, D)
    x1 = node("Add", [x, y], ["resid_1"])
    h2 = layer_norm("ln_2", x1)
    m = linear("mlp.c_fc", h2, D, F)
    cube = node("Pow", [m, const("three", 3.0)], ["gelu.cube"])
    inner = node("Add", [m, node("Mul", [cube, const("gelu_c", 0.044715)], ["gelu.cube_c"])], ["gelu.inner"])
    th = node("Tanh", [node("Mul", [inner, const("gelu_k", np.sqrt(2.0 / np.pi))], ["gelu.arg"])], ["gelu.tanh"])
    half = node("Mul", [m, const("half", 0.5)], ["gelu.half"])
    g = node("Mul", [half, node("Add", [th, const("one", 1.0)], ["gelu.one_plus"])], ["gelu.out"])
    m = linear("mlp.c_proj", g, F, D)
    node("Add", [x1, m], ["y"])

    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, L, D])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, L, D])
    graph = helper.make_graph(nodes, "attention_block", [inp], [out],
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, producer_name="zkinfer-examples", opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def sample():
    return [round(float(v), 3) for v in rng.normal(0.0, 1.0, size=L * D)]


def main():
    m = block()
    params = sum(v.size for k, v in inits.items() if v.dtype == np.float32 and v.size > 1 and k != "ones")
    path = HERE / "attention_block.onnx"
    path.write_bytes(m.SerializeToString())
    cal = [sample() for _ in range(16)]
    (HERE / "attention_block.calibration.json").write_text(json.dumps({"input": cal}, separators=(",", ":")) + "\n")
    (HERE / "attention_block.input.json").write_text(json.dumps({"input": [sample()]}, separators=(",", ":")) + "\n")
    print("wrote", path, f"({params} parameters)")


main()
