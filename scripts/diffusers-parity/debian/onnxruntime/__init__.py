"""A stand-in for the `onnxruntime` package that runs models in onnxruntime-node (ort-bridge.mjs).

For check.py on machines whose Python has torch (Debian's python3-torch) but no onnxruntime wheel: only
what check.py uses (InferenceSession with get_inputs/get_outputs and run(None, feeds), CPU only).
"""
import json
import os
import struct
import subprocess

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_BRIDGE = os.path.join(os.path.dirname(_HERE), "ort-bridge.mjs")
_REPO = os.path.abspath(os.path.join(_HERE, "..", "..", "..", ".."))
_ORT_VERSION = json.load(open(os.path.join(_REPO, "node_modules", "onnxruntime-node", "package.json")))["version"]
__version__ = f"{_ORT_VERSION} (onnxruntime-node through ort-bridge.mjs)"

# ORT element types as onnxruntime-node names them, as onnxruntime (Python) names them, and in numpy.
_TYPES = {
    "float32": ("tensor(float)", np.float32),
    "float64": ("tensor(double)", np.float64),
    "float16": ("tensor(float16)", np.float16),
    "int64": ("tensor(int64)", np.int64),
    "int32": ("tensor(int32)", np.int32),
}
_BY_NUMPY = {np.dtype(v[1]): k for k, v in _TYPES.items()}
_process = None


def _bridge():
    global _process
    if _process is None:
        _process = subprocess.Popen(["node", _BRIDGE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_REPO)
    return _process


def _read(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        raise RuntimeError("ort-bridge.mjs closed the connection")
    return data


def _call(header, buffers=()):
    p = _bridge()
    h = json.dumps(header).encode()
    parts = [struct.pack("<I", len(h)), h, struct.pack("<I", len(buffers))]
    for b in buffers:
        parts += [struct.pack("<I", len(b)), b]
    p.stdin.write(b"".join(parts))
    p.stdin.flush()
    reply = json.loads(_read(p.stdout, struct.unpack("<I", _read(p.stdout, 4))[0]))
    count = struct.unpack("<I", _read(p.stdout, 4))[0]
    out = [_read(p.stdout, struct.unpack("<I", _read(p.stdout, 4))[0]) for _ in range(count)]
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply, out


class NodeArg:
    def __init__(self, m):
        self.name = m["name"]
        self.type = _TYPES[m["type"]][0] if m["type"] in _TYPES else m["type"]
        self.shape = m["shape"]


class InferenceSession:
    def __init__(self, file, providers=None, **_):
        reply, _ = _call({"op": "open", "file": os.path.abspath(file)})
        self._id = reply["id"]
        self._inputs = [NodeArg(m) for m in reply["inputs"]]
        self._outputs = [NodeArg(m) for m in reply["outputs"]]

    def get_inputs(self):
        return self._inputs

    def get_outputs(self):
        return self._outputs

    def run(self, output_names, feeds):
        specs, buffers = [], []
        for name, value in feeds.items():
            a = np.ascontiguousarray(value)
            specs.append({"name": name, "type": _BY_NUMPY[a.dtype], "dims": list(a.shape)})
            buffers.append(a.tobytes())
        reply, out = _call({"op": "run", "id": self._id, "feeds": specs}, buffers)
        arrays = {m["name"]: np.frombuffer(b, dtype=_TYPES[m["type"]][1]).reshape(m["dims"]).copy() for m, b in zip(reply["outputs"], out)}
        return [arrays[n] for n in (output_names or [o.name for o in self._outputs])]
