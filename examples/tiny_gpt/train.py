#!/usr/bin/env python3
"""Trains the example byte-level decoder and writes it as ONNX (`tiny_gpt.onnx`).

Tokens are bytes 0..255 plus a stop token 256. The text is the English documentation that ships
with every CPython, `pydoc_data.topics` (documents in sorted order, each followed by the stop
token), so the data needs no download. The model: 2 pre-LayerNorm decoder blocks, d_model 64,
2 heads, MLP 256 with GELU (erf form), learned positions, context 32, about 138k parameters.

Reproducible: fixed seeds, fixed data order, CPU only; `pip install "jax[cpu]==0.10.2" onnx numpy`
then `python3 train.py` (a few minutes on 2 cores). The ONNX graph takes `tokens` (int64,
[1, seq], seq from 1 to 32) and returns `logits` (float32, [1, seq, 257]): the positional rows and
the causal mask are sliced to the sequence, so a circuit of P + T slots runs P + T positions.
Position t's logits predict token t + 1, and causal masking means padding after the last real
token does not change earlier logits. `python3 train.py --reexport` writes the graph again from
the weights of the existing `tiny_gpt.onnx` (needs only onnx and numpy).
"""

import hashlib
import os
import sys

import numpy as np

VOCAB = 257
STOP = 256
CTX = 32
D = 64
HEADS = 2
MLP = 256
LAYERS = 2
STEPS = int(os.environ.get("STEPS", "3000"))
HERE = os.path.dirname(os.path.abspath(__file__))


def corpus() -> np.ndarray:
    from pydoc_data.topics import topics

    out = bytearray()
    for key in sorted(topics):
        out += topics[key].encode("utf-8")
        out.append(0)  # placeholder, replaced by the stop token below
    data = np.frombuffer(bytes(out), dtype=np.uint8).astype(np.int32)
    data = data.copy()
    ends = np.cumsum([len(topics[k].encode("utf-8")) + 1 for k in sorted(topics)]) - 1
    data[ends] = STOP
    return data


def init(rng: np.random.Generator) -> dict:
    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    p = {"tok": normal(VOCAB, D), "pos": normal(CTX, D), "lnf_g": np.ones(D, np.float32),
         "lnf_b": np.zeros(D, np.float32), "head": normal(D, VOCAB)}
    for l in range(LAYERS):
        p[f"l{l}.ln1_g"] = np.ones(D, np.float32)
        p[f"l{l}.ln1_b"] = np.zeros(D, np.float32)
        p[f"l{l}.qkv"] = normal(D, 3 * D)
        p[f"l{l}.qkv_b"] = np.zeros(3 * D, np.float32)
        p[f"l{l}.proj"] = normal(D, D, std=0.02 / np.sqrt(2 * LAYERS))
        p[f"l{l}.proj_b"] = np.zeros(D, np.float32)
        p[f"l{l}.ln2_g"] = np.ones(D, np.float32)
        p[f"l{l}.ln2_b"] = np.zeros(D, np.float32)
        p[f"l{l}.fc"] = normal(D, MLP)
        p[f"l{l}.fc_b"] = np.zeros(MLP, np.float32)
        p[f"l{l}.out"] = normal(MLP, D, std=0.02 / np.sqrt(2 * LAYERS))
        p[f"l{l}.out_b"] = np.zeros(D, np.float32)
    return p


def forward(p, tokens, jnp, erf):
    """Logits for a batch of token sequences [B, T]."""
    T = tokens.shape[1]

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / jnp.sqrt(var + 1e-5) * g + b

    x = p["tok"][tokens] + p["pos"][:T]
    mask = jnp.triu(jnp.full((T, T), -1e9, dtype=jnp.float32), 1)
    hd = D // HEADS
    for l in range(LAYERS):
        h = ln(x, p[f"l{l}.ln1_g"], p[f"l{l}.ln1_b"])
        qkv = h @ p[f"l{l}.qkv"] + p[f"l{l}.qkv_b"]
        q, k, v = (qkv[..., i * D:(i + 1) * D].reshape(*qkv.shape[:2], HEADS, hd).transpose(0, 2, 1, 3)
                   for i in range(3))
        att = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + mask
        att = att - att.max(-1, keepdims=True)
        att = jnp.exp(att)
        att = att / att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(*x.shape)
        x = x + y @ p[f"l{l}.proj"] + p[f"l{l}.proj_b"]
        h = ln(x, p[f"l{l}.ln2_g"], p[f"l{l}.ln2_b"])
        f = h @ p[f"l{l}.fc"] + p[f"l{l}.fc_b"]
        f = 0.5 * f * (1.0 + erf(f / np.float32(np.sqrt(2.0))))
        x = x + f @ p[f"l{l}.out"] + p[f"l{l}.out_b"]
    x = ln(x, p["lnf_g"], p["lnf_b"])
    return x @ p["head"]


def train(data: np.ndarray) -> dict:
    import jax
    import jax.numpy as jnp

    params = {k: jnp.asarray(v) for k, v in init(np.random.default_rng(1)).items()}

    def loss_fn(p, xb, yb):
        logits = forward(p, xb, jnp, jax.scipy.special.erf)
        logp = jax.nn.log_softmax(logits, -1)
        return -jnp.take_along_axis(logp, yb[..., None], -1).mean()

    lr, b1, b2, wd = 3e-3, 0.9, 0.99, 0.01
    m = {k: jnp.zeros_like(v) for k, v in params.items()}
    s = {k: jnp.zeros_like(v) for k, v in params.items()}

    @jax.jit
    def step(p, m, s, t, xb, yb):
        loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
        rate = lr * jnp.minimum(1.0, t / 200.0) * 0.5 * (1 + jnp.cos(jnp.pi * t / STEPS))
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in p}
        s = {k: b2 * s[k] + (1 - b2) * g[k] ** 2 for k in p}
        p = {k: p[k] - rate * ((m[k] / (1 - b1 ** t)) / (jnp.sqrt(s[k] / (1 - b2 ** t)) + 1e-8)
                               + (wd * p[k] if p[k].ndim == 2 else 0.0)) for k in p}
        return p, m, s, loss

    rng = np.random.default_rng(2)
    for t in range(1, STEPS + 1):
        starts = rng.integers(0, len(data) - CTX - 1, size=64)
        xb = np.stack([data[i:i + CTX] for i in starts])
        yb = np.stack([data[i + 1:i + CTX + 1] for i in starts])
        params, m, s, loss = step(params, m, s, float(t), xb, yb)
        if t % 250 == 0 or t == 1:
            print(f"step {t} loss {float(loss):.3f}", file=sys.stderr)
    return {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}


def export(p: dict, path: str) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    hd = D // HEADS

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, name, **attrs):
        nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    for k, v in sorted(p.items()):
        const(k, v)
    const("pos_used", p["pos"][:CTX])
    const("mask", np.triu(np.full((CTX, CTX), -1e9, dtype=np.float32), 1))
    const("scale", np.float32(1.0 / np.sqrt(hd)))
    const("half", np.float32(0.5))
    const("one", np.float32(1.0))
    const("inv_sqrt2", np.float32(1.0 / np.sqrt(2.0)))
    const("heads_shape", np.array([1, -1, HEADS, hd], dtype=np.int64))
    const("model_shape", np.array([1, -1, D], dtype=np.int64))
    const("zero", np.array([0], dtype=np.int64))
    const("zeros", np.array([0, 0], dtype=np.int64))
    const("one_i", np.array([1], dtype=np.int64))
    const("two_i", np.array([2], dtype=np.int64))
    const("axes01", np.array([0, 1], dtype=np.int64))

    # the sequence length, and the positional rows and mask cut to it
    seq = node("Slice", [node("Shape", ["tokens"], "tokens_shape"), "one_i", "two_i", "zero"], "seq")
    pos = node("Slice", ["pos_used", "zero", seq, "zero"], "pos_seq")
    seq2 = node("Concat", [seq, seq], "seq2", axis=0)
    mask = node("Slice", ["mask", "zeros", seq2, "axes01"], "mask_seq")

    x = node("Gather", ["tok", "tokens"], "embed", axis=0)
    x = node("Add", [x, pos], "x0")
    for l in range(LAYERS):
        h = node("LayerNormalization", [x, f"l{l}.ln1_g", f"l{l}.ln1_b"], f"l{l}.ln1", axis=-1, epsilon=1e-5)
        qkv = node("Add", [node("MatMul", [h, f"l{l}.qkv"], f"l{l}.qkv_mm"), f"l{l}.qkv_b"], f"l{l}.qkv_out")
        const(f"l{l}.split", np.array([D, D, D], dtype=np.int64))
        nodes.append(helper.make_node("Split", [qkv, f"l{l}.split"], [f"l{l}.q", f"l{l}.k", f"l{l}.v"],
                                      name=f"l{l}.split_qkv", axis=-1))
        heads = {}
        for n in "qkv":
            r = node("Reshape", [f"l{l}.{n}", "heads_shape"], f"l{l}.{n}_heads")
            heads[n] = node("Transpose", [r], f"l{l}.{n}_t", perm=[0, 2, 1, 3])
        kt = node("Transpose", [heads["k"]], f"l{l}.kT", perm=[0, 1, 3, 2])
        att = node("MatMul", [heads["q"], kt], f"l{l}.qk")
        att = node("Mul", [att, "scale"], f"l{l}.qk_scaled")
        att = node("Add", [att, mask], f"l{l}.qk_masked")
        att = node("Softmax", [att], f"l{l}.att", axis=-1)
        y = node("MatMul", [att, heads["v"]], f"l{l}.att_v")
        y = node("Transpose", [y], f"l{l}.att_v_t", perm=[0, 2, 1, 3])
        y = node("Reshape", [y, "model_shape"], f"l{l}.att_merged")
        y = node("Add", [node("MatMul", [y, f"l{l}.proj"], f"l{l}.proj_mm"), f"l{l}.proj_b"], f"l{l}.proj_out")
        x = node("Add", [x, y], f"l{l}.res1")
        h = node("LayerNormalization", [x, f"l{l}.ln2_g", f"l{l}.ln2_b"], f"l{l}.ln2", axis=-1, epsilon=1e-5)
        f = node("Add", [node("MatMul", [h, f"l{l}.fc"], f"l{l}.fc_mm"), f"l{l}.fc_b"], f"l{l}.fc_out")
        e = node("Erf", [node("Mul", [f, "inv_sqrt2"], f"l{l}.gelu_in")], f"l{l}.gelu_erf")
        g = node("Mul", [node("Mul", [f, "half"], f"l{l}.gelu_half"),
                         node("Add", [e, "one"], f"l{l}.gelu_1p")], f"l{l}.gelu")
        y = node("Add", [node("MatMul", [g, f"l{l}.out"], f"l{l}.out_mm"), f"l{l}.out_b"], f"l{l}.mlp_out")
        x = node("Add", [x, y], f"l{l}.res2")
    x = node("LayerNormalization", [x, "lnf_g", "lnf_b"], "lnf", axis=-1, epsilon=1e-5)
    nodes.append(helper.make_node("MatMul", [x, "head"], ["logits"], name="head_mm"))
    # Only the used positional rows are an initializer the graph reads; drop the unused full copy.
    graph = helper.make_graph(
        nodes, "tiny_gpt",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "seq", VOCAB])],
        [i for i in inits if i.name != "pos"],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkinfer")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def generate(p: dict, prompt: bytes, n: int) -> bytes:
    """Greedy completion with the numpy forward pass (ties go to the lowest token)."""
    import math

    erf = np.vectorize(math.erf, otypes=[np.float32])
    toks = list(prompt)
    out = bytearray()
    for _ in range(n):
        window = toks[-CTX:]
        logits = forward(p, np.array([window]), np, erf)[0, len(window) - 1]
        nxt = int(np.argmax(logits))
        if nxt == STOP:
            break
        toks.append(nxt)
        out.append(nxt)
    return bytes(out)


def reexport(path: str) -> dict:
    """The trained weights, read back from an exported graph."""
    import onnx
    from onnx import numpy_helper

    derived = {"mask", "scale", "half", "one", "inv_sqrt2", "heads_shape", "model_shape", "zero", "zeros",
               "one_i", "two_i", "axes01"} | {f"l{l}.split" for l in range(LAYERS)}
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    p = {k: v for k, v in inits.items() if k not in derived and k != "pos_used"}
    p["pos"] = inits["pos_used"]
    return p


def main() -> None:
    path = os.path.join(HERE, "tiny_gpt.onnx")
    if sys.argv[1:] == ["--reexport"]:
        export(reexport(path), path)
        with open(path, "rb") as f:
            print(f"rewrote {path}: sha256 {hashlib.sha256(f.read()).hexdigest()}", file=sys.stderr)
        return
    data = corpus()
    print(f"corpus: {len(data)} tokens", file=sys.stderr)
    params = train(data)
    n = sum(v.size for k, v in params.items())
    print(f"parameters: {n}", file=sys.stderr)
    export(params, path)
    with open(path, "rb") as f:
        print(f"wrote {path}: {os.path.getsize(path)} bytes, sha256 {hashlib.sha256(f.read()).hexdigest()}",
              file=sys.stderr)
    for prompt in [b"The assert statement", b"A function definition ", b"The for statement is"]:
        print(repr(prompt), "->", repr(generate(params, prompt, 48)))


if __name__ == "__main__":
    main()
