"""Writes calibration.json: 16 windows of 32 bytes of the training text (CPython's pydoc topics),
the token sequences zkinfer compile calibrates the tiny GPT's activations on.

    python3 examples/tiny_gpt/make_calibration.py
"""
import json
import pathlib

import pydoc_data.topics as topics

CTX = 32
WINDOWS = 16

text = "\n".join(topics.topics[k] for k in sorted(topics.topics)).encode("ascii", "replace")
stride = len(text) // WINDOWS
rows = [list(text[i * stride:i * stride + CTX]) for i in range(WINDOWS)]
out = pathlib.Path(__file__).with_name("calibration.json")
out.write_text(json.dumps({"input": rows}, separators=(",", ":")) + "\n")
print(f"{out}: {WINDOWS} windows of {CTX} bytes")
