"""gradekit.plain: what crosses the trust boundary is rebuilt as exact base types, or refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gradekit.plain import MAX_DEPTH, PlainDataError, decode, encode, from_json, to_json


def _round(x):
    return from_json(to_json(x))


def test_round_trip_keeps_values_types_and_dtypes():
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    value = {"a": [1, 2.5, None, True, "s", 2**80, complex(1, -2), b"\x00\x01"], (1, "k"): (t, torch.float32),
             "arr": np.arange(4, dtype=np.int16), "np": np.float32(1.5), "size": torch.Size([2, 3])}
    back = _round(value)
    assert type(back) is dict and set(back) == {"a", (1, "k"), "arr", "np", "size"}
    assert back["a"] == value["a"] and [type(v) for v in back["a"]] == [type(v) for v in value["a"]]
    got, dtype = back[(1, "k")]
    assert type(got) is torch.Tensor and got.dtype == torch.float64 and torch.equal(got, t) and dtype is torch.float32
    assert type(back["arr"]) is np.ndarray and back["arr"].dtype == np.int16 and (back["arr"] == np.arange(4)).all()
    assert type(back["np"]) is np.float32 and back["size"] == (2, 3) and type(back["size"]) is tuple


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.complex128, torch.int64,
                                   torch.uint8, torch.bool])
def test_tensors_of_every_dtype_and_empty_and_non_contiguous(dtype):
    t = (torch.arange(12) % 3).to(dtype).reshape(3, 4).T  # non-contiguous
    back = _round(t)
    assert type(back) is torch.Tensor and back.dtype == dtype and back.shape == (4, 3) and torch.equal(back, t)
    empty = _round(torch.empty(0, 5, dtype=dtype))
    assert empty.shape == (0, 5) and empty.dtype == dtype


def test_nan_inf_and_requires_grad_survive():
    back = _round([float("nan"), float("inf"), torch.ones(2, requires_grad=True)])
    assert math.isnan(back[0]) and back[1] == math.inf
    assert back[2].requires_grad and back[2].is_leaf


def test_subclasses_and_objects_are_not_plain_data():
    class Liar(torch.Tensor):
        pass

    class F(float):
        pass

    for bad in (torch.zeros(2).as_subclass(Liar), F(1.0), object(), [1, object()], {"k": lambda: 0},
                np.array([object()], dtype=object)):
        with pytest.raises(PlainDataError):
            encode(bad)


def test_other_hook_turns_non_plain_objects_into_references_only_when_given():
    ref = encode([1, object()], other=lambda o: {"__t": "handle", "id": 7})
    assert ref[1] == {"__t": "handle", "id": 7}
    with pytest.raises(PlainDataError, match="unknown tag"):
        decode(ref)
    assert decode(ref, refs=lambda d: ("ref", d["id"])) == [1, ("ref", 7)]


@pytest.mark.parametrize("message", [
    '{"__t": "tensor", "dtype": "float64", "shape": [3], "b64": "AAAA"}',  # wrong byte count
    '{"__t": "tensor", "dtype": "object", "shape": [1], "b64": ""}',
    '{"__t": "tensor", "dtype": "float32", "shape": [-1], "b64": ""}',
    '{"__t": "ndarray", "dtype": "|O", "shape": [1], "b64": "AAAAAAAAAAA="}',
    '{"__t": "ndarray", "dtype": "<U3", "shape": [1], "b64": "AAAAAAAAAAAAAAAA"}',
    '{"__t": "dict", "items": [[[1], 2]]}',  # unhashable key
    '{"__t": "pickle", "data": "..."}',
    '{"__t": "int", "v": "' + "9" * 5000 + '"}',
    'not json',
    # decoder errors of other types (binascii.Error is a ValueError): a test's ``except ValueError`` must not see them
    '{"__t": "bytes", "b64": "!"}',
    '{"__t": "tensor", "dtype": "float64", "shape": [0], "b64": "!"}',
    '{"__t": "ndarray", "dtype": "<f8", "shape": [0], "b64": "!"}',
    '{"__t": "ndarray", "dtype": "garbage", "shape": [0], "b64": ""}',
    '{"__t": "int", "v": "abc"}',
    '{"__t": "tensor", "dtype": "float64", "shape": [0, 4611686018427387904, 4611686018427387904], "b64": ""}',
    '{"__t": "ndarray", "dtype": "<f8", "shape": [0, 4611686018427387904, 4611686018427387904], "b64": ""}',
])
def test_malformed_messages_are_refused_with_a_typed_error(message):
    with pytest.raises(PlainDataError):
        from_json(message)


def test_depth_is_bounded():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(PlainDataError, match="deeper"):
        encode(deep)
    with pytest.raises(PlainDataError):
        from_json(json.dumps(deep))
