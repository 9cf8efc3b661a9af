"""EZKL 23.0.5 as its users run it: settings, calibration on our calibration samples, compile,
a local SRS of the size the settings ask for, keys and the witness. Proving is ezkl_prove.py."""
import asyncio, inspect, json, pathlib, sys

import ezkl


def call(f, *args, **kw):
    r = f(*args, **kw)
    return asyncio.run(r) if inspect.isawaitable(r) else r


onnx, data, cal, out = sys.argv[1:5]
out = pathlib.Path(out)
out.mkdir(parents=True, exist_ok=True)
p = {k: str(out / k) for k in ["settings.json", "model.compiled", "pk.key", "vk.key", "kzg.srs", "witness.json", "input.json", "cal.json"]}
# EZKL's data layout: one flat array per input; calibration samples concatenated.
x = json.loads(pathlib.Path(data).read_text())["input"]
pathlib.Path(p["input.json"]).write_text(json.dumps({"input_data": [x[0]]}))
c = json.loads(pathlib.Path(cal).read_text())["input"]
pathlib.Path(p["cal.json"]).write_text(json.dumps({"input_data": [sum(c, [])]}))
# The batch axis is symbolic in our files; EZKL needs it fixed, as its users do with `variables`.
import onnx as onnx_lib

dims = {d.dim_param for i in onnx_lib.load(onnx).graph.input for d in i.type.tensor_type.shape.dim if d.dim_param}
args = ezkl.PyRunArgs()
args.variables = [(d, 1) for d in sorted(dims)]
call(ezkl.gen_settings, onnx, p["settings.json"], py_run_args=args)
call(ezkl.calibrate_settings, p["cal.json"], onnx, p["settings.json"], "resources")
call(ezkl.compile_circuit, onnx, p["model.compiled"], p["settings.json"])
logrows = json.loads(pathlib.Path(p["settings.json"]).read_text())["run_args"]["logrows"]
call(ezkl.gen_srs, p["kzg.srs"], logrows)
call(ezkl.gen_witness, p["input.json"], p["model.compiled"], p["witness.json"])
call(ezkl.setup, p["model.compiled"], p["vk.key"], p["pk.key"], p["kzg.srs"])
