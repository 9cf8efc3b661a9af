#!/usr/bin/env python3
"""Builds decoder.onnx: a second decoder with another architecture than the tiny GPT, written the
way torch.onnx writes it at opset 14, with a calibration set and one input. Requires
`pip install onnx numpy`; re-running it reproduces the committed files exactly.

- vocabulary 48, context 16 (int64 `tokens [1, 16]` in, `logits [1, 16, 48]` out), d_model 32,
  2 post-norm blocks (x = LN(x + attn(x)); x = LN(x + mlp(x))), 4 heads of 8, MLP width 96
  with ReLU, LayerNormalization as one op;
- tied input and output embeddings: the logits are h @ wte^T (a Transpose of the embedding);
- positions from `arange(T)` (Range on the sequence length, then Gather of the position table);
- the causal mask additive, a float buffer of 0 and -inf added to the scores (as
  scaled_dot_product_attention exports an `attn_mask`);
- weights drawn with a fixed seed (the model is built, not trained: zkinfer proves what the graph
  computes, whatever it computes).
"""
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(20261205)
V, L, D, H, F, BLOCKS = 48, 16, 32, 4, 96, 2
HS = D // H

inits = {}
nodes = []


def const(name, value, dtype=np.float32):
    inits[name] = np.asarray(value, dtype=dtype)
    return name


def weight(name, shape, s):
    return const(name, rng.normal(0.0, s, size=shape))


def node(op, inputs, outputs, **attrs):
    nodes.append(helper.make_node(op, inputs, outputs, name=f"/{outputs[0]}", **attrs))
    return outputs[0]


def layer_norm(p, x):
    g = const(f"{p}.weight", 1.0 + rng.normal(0.0, 0.1, size=[D]))
    b = weight(f"{p}.bias", [D], 0.05)
    return node("LayerNormalization", [x, g, b], [f"{p}.out"], axis=-1, epsilon=1e-5)


def linear(p, x, n_in, n_out):
    y = node("MatMul", [x, weight(f"{p}.weight", [n_in, n_out], 1.0 / np.sqrt(n_in))], [f"{p}.mm"])
    return node("Add", [y, weight(f"{p}.bias", [n_out], 0.02)], [f"{p}.out"])


def heads(x, p, perm):
    v = node("Reshape", [x, const("heads_shape", [1, L, H, HS], np.int64)], [f"{p}.split_heads"])
    return node("Transpose", [v], [f"{p}.heads"], perm=perm)


def block(i, x):
    p = f"h.{i}"
    q = heads(linear(f"{p}.q", x, D, D), f"{p}.q", [0, 2, 1, 3])
    kt = heads(linear(f"{p}.k", x, D, D), f"{p}.k", [0, 2, 3, 1])
    v = heads(linear(f"{p}.v", x, D, D), f"{p}.v", [0, 2, 1, 3])
    s = node("MatMul", [q, kt], [f"{p}.scores"])
    s = node("Mul", [s, const("score_scale", 1.0 / np.sqrt(HS))], [f"{p}.scaled"])
    s = node("Add", [s, "attn_mask"], [f"{p}.masked"])
    a = node("Softmax", [s], [f"{p}.probs"], axis=-1)
    y = node("MatMul", [a, v], [f"{p}.context"])
    y = node("Transpose", [y], [f"{p}.merge"], perm=[0, 2, 1, 3])
    y = node("Reshape", [y, const("model_shape", [1, L, D], np.int64)], [f"{p}.merged"])
    y = linear(f"{p}.proj", y, D, D)
    x = layer_norm(f"{p}.ln_1", node("Add", [x, y], [f"{p}.resid_1"]))
    m = node("Relu", [linear(f"{p}.fc", x, D, F)], [f"{p}.relu"])
    m = linear(f"{p}.fc_out", m, F, D)
    return layer_norm(f"{p}.ln_2", node("Add", [x, m], [f"{p}.resid_2"]))


def decoder():
    wte = weight("wte", [V, D], 1.0)
    wpe = weight("wpe", [L, D], 0.3)
    mask = np.triu(np.full((L, L), -np.inf, dtype=np.float32), k=1)
    const("attn_mask", mask)
    tok = node("Gather", [wte, "tokens"], ["tok_emb"], axis=0)
    shape = node("Shape", ["tokens"], ["tokens.shape"])
    t = node("Gather", [shape, const("one_i", 1, np.int64)], ["seq_len"], axis=0)
    pos = node("Range", [const("zero_i", 0, np.int64), t, const("step_i", 1, np.int64)], ["positions"])
    pe = node("Gather", [wpe, pos], ["pos_emb"], axis=0)
    x = node("Add", [tok, pe], ["embedded"])
    for i in range(BLOCKS):
        x = block(i, x)
    wte_t = node("Transpose", [wte], ["wte_t"], perm=[1, 0])
    node("MatMul", [x, wte_t], ["logits"])

    inp = helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, L])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, L, V])
    graph = helper.make_graph(nodes, "decoder", [inp], [out],
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, producer_name="zkinfer-examples", opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def sample():
    return [int(t) for t in rng.integers(0, V, size=L)]


def main():
    m = decoder()
    params = sum(v.size for k, v in inits.items() if v.dtype == np.float32 and k != "attn_mask" and v.size > 1)
    path = HERE / "decoder.onnx"
    path.write_bytes(m.SerializeToString())
    cal = [sample() for _ in range(16)]
    (HERE / "decoder.calibration.json").write_text(json.dumps({"input": cal}, separators=(",", ":")) + "\n")
    (HERE / "decoder.input.json").write_text(json.dumps({"input": [sample()]}, separators=(",", ":")) + "\n")
    print("wrote", path, f"({params} parameters)")


main()
