"""What the make_reference.py scripts under tests/data share to run the original's own module files.

They load real diffusers (and Tora) module files by path and replace only diffusers' plumbing with the stand-ins
below (config registration, model mixins, logging, output containers), none of which computes anything; weights
are read from the fixtures' safetensors without the safetensors package.
"""
import importlib.util
import inspect
import json
import struct
import sys
import types
from dataclasses import dataclass

import numpy as np
import torch


def module(name, **attrs):
    """A stand-in module registered under `name` (a package, so that submodules can hang below it)."""
    m = types.ModuleType(name)
    m.__path__ = []
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def real(name, file):
    """The real module file `file`, loaded and registered as `name`."""
    spec = importlib.util.spec_from_file_location(name, file)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m
    spec.loader.exec_module(m)
    return m


class Logger:
    def __getattr__(self, _):
        return lambda *a, **k: None


logging = types.SimpleNamespace(get_logger=lambda *_: Logger())


def register_to_config(init):
    def inner(self, *args, **kwargs):
        bound = inspect.signature(init).bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        object.__setattr__(self, "_stub_config", types.SimpleNamespace(**values))
        init(self, *args, **kwargs)
    return inner


class ConfigMixin:
    @property
    def config(self):
        return self._stub_config


@dataclass
class BaseOutput:
    def __getitem__(self, i):
        return list(self.__dict__.values())[i]


def load_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]  # I64: BatchNorm's num_batches_tracked
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(info["shape"]).copy())
    return tensors


def config_of(folder):
    """A component's config.json without diffusers' bookkeeping keys (`_class_name`, `_diffusers_version`)."""
    return {k: v for k, v in json.loads((folder / "config.json").read_text()).items() if not k.startswith("_")}
