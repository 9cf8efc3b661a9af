#!/usr/bin/env python3
"""Checks `tiny_gpt.onnx` independently with onnxruntime: its logits match train.py's numpy
forward pass on the same weights, and greedy completions (with padding after the prompt, which
causal masking ignores) are printed. `pip install onnxruntime onnx numpy`."""

import math
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from train import CTX, STOP, forward

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "tiny_gpt.onnx")


def main() -> None:
    model = onnx.load(PATH)
    params = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    params["pos"] = params["pos_used"]
    sess = ort.InferenceSession(PATH, providers=["CPUExecutionProvider"])
    erf = np.vectorize(math.erf, otypes=[np.float32])

    def logits(tokens):
        padded = np.zeros((1, CTX), dtype=np.int64)
        padded[0, :len(tokens)] = tokens
        return sess.run(["logits"], {"tokens": padded})[0][0]

    probe = list(b"The while statement is used for repeated execution")[:CTX]
    ref = forward(params, np.array([probe]), np, erf)[0]
    got = logits(probe)
    err = float(np.abs(ref - got).max())
    print(f"max |onnxruntime - numpy| over {len(probe)} positions: {err:.2e}")
    assert err < 1e-3

    for prompt in [b"The assert statement", b"A function definition ", b"The for statement is"]:
        toks, out = list(prompt), bytearray()
        while len(toks) < CTX:
            nxt = int(np.argmax(logits(toks)[len(toks) - 1]))
            if nxt == STOP:
                break
            toks.append(nxt)
            out.append(nxt)
        print(repr(prompt), "->", repr(bytes(out)))


if __name__ == "__main__":
    main()
