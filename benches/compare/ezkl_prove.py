"""Proves with the artifacts ezkl_setup.py made (the step the side-by-side script times)."""
import asyncio, inspect, pathlib, sys

import ezkl

d = pathlib.Path(sys.argv[1])
r = ezkl.prove(str(d / "witness.json"), str(d / "model.compiled"), str(d / "pk.key"), str(d / "proof.json"), str(d / "kzg.srs"))
if inspect.isawaitable(r):
    asyncio.run(r)
assert ezkl.verify(str(d / "proof.json"), str(d / "settings.json"), str(d / "vk.key"), str(d / "kzg.srs"))
