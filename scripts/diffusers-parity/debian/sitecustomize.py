"""Lets diffusers' schedulers import on a Python with only Debian's packages (see ../README.md).

- huggingface_hub and safetensors have no Debian package. diffusers imports them at import time for its hub
  and file code, which no scheduler calls: any module under them is a stub whose attributes are dummies
  (CONSTANTS are a path, Classes are empty classes, Errors are exceptions, anything else a callable dummy).
- torch 1.13 (python3-torch) lacks device namespaces that diffusers lists at import (torch.xpu, ...): empty
  stand-ins are added. Nothing the scheduler math uses is touched.

Python imports this file at start-up when its folder is on PYTHONPATH.
"""
import importlib.abc
import importlib.machinery
import sys
import types

STUBBED = ("huggingface_hub", "safetensors")


class _Dummy:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Dummy()

    def __getattr__(self, name):
        return _Dummy()


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.isupper():
            return "/nonexistent/hub-stub"
        if name[:1].isupper():
            return type(name, (Exception if name.endswith("Error") else object,), {})
        return _Dummy()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        module.__version__ = "0.0.0+stub"
        return module

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _StubFinder())

try:
    import torch
except ImportError:  # check.py will say that torch is missing
    torch = None

if torch is not None:
    for _name in ("xpu", "mps", "npu", "mtia"):
        if not hasattr(torch, _name):
            setattr(torch, _name, _Dummy())
    if not hasattr(torch.backends, "mps"):
        torch.backends.mps = _Dummy()
