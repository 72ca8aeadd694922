"""Plain data: the only thing that crosses the trust boundary between a student's kernel and the grader.

Plain data is ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``, ``torch.Tensor``,
``numpy.ndarray`` (numeric or bool), NumPy scalars, ``torch.dtype``, and ``list`` / ``tuple`` / ``dict`` of
them. It travels as JSON text: JSON scalars for the Python scalars (``float('nan')`` and infinities as
JSON's ``NaN``/``Infinity``), and tagged objects ``{"__t": kind, ...}`` for everything else, a tensor as
its dtype, shape and raw bytes (base64).

:func:`decode` rebuilds **exact base types**: never a subclass, never an object of a class the sender
names (there is no pickle). What it does not recognise is a :class:`PlainDataError`. Two hooks extend the
schema without widening it: ``encode(..., other=f)`` turns an object that is not plain data into a tagged
reference ``f(obj)`` (a dict with ``"__t"``), and ``decode(..., refs=g)`` turns such a reference back
(``g(tagged_dict)``); without them, neither exists.

This module runs on both sides: the grader imports it, and the grader sends its source into the kernel
(see :mod:`gradekit.kernel_shim`), so it imports nothing but the standard library at import time.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from typing import Any, Callable

__all__ = ["PlainDataError", "encode", "decode", "to_json", "from_json", "MAX_BYTES", "MAX_DEPTH"]

MAX_BYTES = 64 * 2**20  # one message, encoded
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
TENSOR_DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128", "uint8", "int8",
                 "int16", "int32", "int64", "bool")
NUMPY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, strings, records or datetimes


class PlainDataError(TypeError):
    """A value is not plain data (or a message is not a valid encoding of plain data)."""


def _torch():
    return sys.modules.get("torch")


def _numpy():
    return sys.modules.get("numpy")


def _tensor_bytes(t) -> bytes:
    t = t.detach().to("cpu").resolve_conj().resolve_neg().contiguous()
    if t.numel() == 0:
        return b""
    torch = _torch()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def encode(obj: Any, other: Callable[[Any], dict] | None = None, _depth: int = 0) -> Any:
    """A JSON-able form of ``obj`` (see module doc); ``other(obj)`` for what is not plain data, else an error."""
    if _depth > MAX_DEPTH:
        raise PlainDataError(f"nested deeper than {MAX_DEPTH} levels")
    t = type(obj)
    if obj is None or t is bool or t is str:
        return obj
    if t is int:
        return obj if abs(obj) < 2**53 else {"__t": "int", "v": str(obj)}
    if t is float:
        return obj
    if t is complex:
        return {"__t": "complex", "re": obj.real, "im": obj.imag}
    if t is bytes:
        return {"__t": "bytes", "b64": base64.b64encode(obj).decode()}
    if t is list:
        return [encode(x, other, _depth + 1) for x in obj]
    if t is tuple:
        return {"__t": "tuple", "items": [encode(x, other, _depth + 1) for x in obj]}
    if t is dict:
        return {"__t": "dict", "items": [[encode(k, other, _depth + 1), encode(v, other, _depth + 1)]
                                         for k, v in obj.items()]}
    torch, np = _torch(), _numpy()
    if torch is not None:
        if t is torch.Tensor or t is torch.nn.Parameter:
            if obj.dtype is not None and str(obj.dtype).removeprefix("torch.") not in TENSOR_DTYPES:
                raise PlainDataError(f"tensors of dtype {obj.dtype} are not plain data")
            if obj.is_sparse or obj.layout != torch.strided:
                raise PlainDataError("only dense (strided) tensors are plain data")
            return {"__t": "tensor", "dtype": str(obj.dtype).removeprefix("torch."), "shape": list(obj.shape),
                    "grad": bool(obj.requires_grad), "b64": base64.b64encode(_tensor_bytes(obj)).decode()}
        if t is torch.Size:
            return {"__t": "tuple", "items": [int(x) for x in obj]}
        if t is torch.dtype:
            return {"__t": "dtype", "name": str(obj).removeprefix("torch.")}
    if np is not None:
        if t is np.ndarray or isinstance(obj, np.generic) and type(obj).__module__ == "numpy":
            arr = np.asarray(obj)
            if arr.dtype.kind not in NUMPY_KINDS:
                raise PlainDataError(f"NumPy arrays of dtype {arr.dtype} are not plain data")
            return {"__t": "ndarray" if t is np.ndarray else "npscalar", "dtype": arr.dtype.str,
                    "shape": list(arr.shape), "b64": base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode()}
    if other is not None:
        ref = other(obj)
        if isinstance(ref, dict) and "__t" in ref:
            return ref
    raise PlainDataError(f"a {t.__module__}.{t.__qualname__} is not plain data (tensors, arrays, numbers, "
                         "strings, bools, None, and lists / tuples / dicts of them)")


def _need(d: dict, key: str, kind: type) -> Any:
    v = d.get(key)
    if type(v) is not kind:
        raise PlainDataError(f"{d.get('__t')!r}: field {key!r} must be a {kind.__name__}")
    return v


def _shape(d: dict) -> tuple[int, ...]:
    shape = _need(d, "shape", list)
    if len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
        raise PlainDataError("a shape is a list of at most 32 non-negative ints")
    return tuple(shape)


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def decode(data: Any, refs: Callable[[dict], Any] | None = None, _depth: int = 0) -> Any:
    """Rebuild the value :func:`encode` made, as exact base types; ``refs(tagged)`` for references."""
    if _depth > MAX_DEPTH:
        raise PlainDataError(f"nested deeper than {MAX_DEPTH} levels")
    t = type(data)
    if data is None or t is bool or t is str or t is int or t is float:
        return data
    if t is list:
        return [decode(x, refs, _depth + 1) for x in data]
    if t is not dict:
        raise PlainDataError(f"unexpected JSON value of type {t.__name__}")
    tag = data.get("__t")
    if tag == "int":
        v = _need(data, "v", str)
        if len(v) > 4000:
            raise PlainDataError("integer too long")
        return int(v)
    if tag == "complex":
        re, im = data.get("re"), data.get("im")
        if type(re) not in (int, float) or type(im) not in (int, float):
            raise PlainDataError("a complex number has a real 're' and 'im'")
        return complex(re, im)
    if tag == "bytes":
        return base64.b64decode(_need(data, "b64", str), validate=True)
    if tag == "tuple":
        return tuple(decode(x, refs, _depth + 1) for x in _need(data, "items", list))
    if tag == "dict":
        out = {}
        for pair in _need(data, "items", list):
            if type(pair) is not list or len(pair) != 2:
                raise PlainDataError("a dict is a list of [key, value] pairs")
            key = decode(pair[0], refs, _depth + 1)
            try:
                hash(key)
            except TypeError:
                raise PlainDataError("a dict key must be hashable plain data") from None
            out[key] = decode(pair[1], refs, _depth + 1)
        return out
    if tag == "tensor":
        import torch

        name = _need(data, "dtype", str)
        if name not in TENSOR_DTYPES:
            raise PlainDataError(f"tensor dtype {name!r} is not one of {TENSOR_DTYPES}")
        dtype = getattr(torch, name)
        shape = _shape(data)
        raw = base64.b64decode(_need(data, "b64", str), validate=True)
        size = torch.empty((), dtype=dtype).element_size()
        if len(raw) != _numel(shape) * size:
            raise PlainDataError(f"tensor of shape {list(shape)} and dtype {name} needs {_numel(shape) * size} "
                                 f"bytes, got {len(raw)}")
        if not raw:
            out = torch.empty(shape, dtype=dtype)
        else:
            out = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape).clone()
        if data.get("grad") is True and (out.is_floating_point() or out.is_complex()):
            out.requires_grad_(True)
        assert type(out) is torch.Tensor
        return out
    if tag in ("ndarray", "npscalar"):
        import numpy as np

        dt = np.dtype(_need(data, "dtype", str))
        if dt.kind not in NUMPY_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise PlainDataError(f"NumPy dtype {dt} is not plain data")
        shape = _shape(data)
        raw = base64.b64decode(_need(data, "b64", str), validate=True)
        if len(raw) != _numel(shape) * dt.itemsize:
            raise PlainDataError(f"array of shape {list(shape)} and dtype {dt} needs {_numel(shape) * dt.itemsize} "
                                 f"bytes, got {len(raw)}")
        arr = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        if tag == "npscalar":
            if shape != ():
                raise PlainDataError("a NumPy scalar has shape ()")
            return arr[()]
        assert type(arr) is np.ndarray
        return arr
    if tag == "dtype":
        import torch

        name = _need(data, "name", str)
        if name not in TENSOR_DTYPES:
            raise PlainDataError(f"torch dtype {name!r} is not one of {TENSOR_DTYPES}")
        return getattr(torch, name)
    if refs is not None and isinstance(tag, str):
        return refs(data)
    raise PlainDataError(f"unknown tag {tag!r}")


def to_json(obj: Any, other: Callable[[Any], dict] | None = None) -> str:
    """``json.dumps(encode(obj, other))``, refusing more than :data:`MAX_BYTES`."""
    text = json.dumps(encode(obj, other), separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise PlainDataError(f"the value is larger than {MAX_BYTES // 2**20} MiB encoded")
    return text


def from_json(text: Any, refs: Callable[[dict], Any] | None = None) -> Any:
    """The value of a :func:`to_json` text, rebuilt as exact base types (see :func:`decode`)."""
    if type(text) is not str:
        raise PlainDataError("a plain-data message is a str")
    if len(text) > MAX_BYTES:
        raise PlainDataError(f"the message is larger than {MAX_BYTES // 2**20} MiB")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PlainDataError(f"not valid JSON: {exc}") from None
    try:
        return decode(data, refs)
    except PlainDataError:
        raise
    except Exception as exc:  # noqa: BLE001 -- bad base64, dtype, int text, shape...: never the sender's error type
        # a ValueError / TypeError / RuntimeError escaping here would reach a test's ``except ValueError``
        raise PlainDataError(f"not a valid plain-data encoding: {type(exc).__name__}: {str(exc)[:200]}") from None
