"""The shared input checks: finiteness, dtype/device, tensor type, rank cutoff, formatting."""

from __future__ import annotations

import pytest
import torch

from invlib import InvalidInputError
from invlib.validation import (
    all_finite,
    check_dtype_device,
    check_finite,
    check_flag,
    check_tensor,
    default_rcond,
    format_shape,
    where,
)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_all_finite_detects_every_kind(bad: float) -> None:
    y = torch.randn(100, 7)
    assert all_finite(y)
    y[37, 3] = bad
    assert not all_finite(y)
    assert all_finite(torch.zeros(0, 3))


def test_check_finite_counts() -> None:
    y = torch.tensor([float("nan"), float("nan"), float("inf"), 1.0])
    with pytest.raises(InvalidInputError, match=r"z contains 2 NaN and 1 inf entries \(of 4\)"):
        check_finite(y, "z")


def test_check_tensor_and_dtype_device() -> None:
    with pytest.raises(InvalidInputError, match="y must be a torch.Tensor, got ndarray"):
        import numpy as np

        check_tensor(np.zeros(3))
    with pytest.raises(InvalidInputError, match="dtype torch.bool"):
        check_tensor(torch.zeros(2, dtype=torch.bool))
    y = torch.zeros(2)
    check_dtype_device(y, torch.float32, torch.device("cpu"))
    check_dtype_device(y, None, None)
    with pytest.raises(InvalidInputError, match="y has dtype torch.float32 but the inverse's weights are torch.float64"):
        check_dtype_device(y, torch.float64, None)
    with pytest.raises(InvalidInputError, match="y is on device cpu but the inverse's weights are on meta"):
        check_dtype_device(y, None, torch.device("meta"))


def test_formatting_and_rcond() -> None:
    assert where("2.1", "ReLU") == "2.1: ReLU"
    assert where("", "ReLU") == "ReLU"
    assert format_shape((8,)) == "(8,)"
    assert format_shape(("...", 16)) == "(..., 16)"
    assert default_rcond(3, 10, torch.float32) == pytest.approx(10 * 2**-23)
    assert default_rcond(4, 4, torch.float64) == pytest.approx(4 * 2**-52)


# --- outsider findings --------------------------------------------------------------------------
def test_integer_x_for_diagnose_does_not_talk_about_an_inverse() -> None:
    # diagnose(model, int tensor) used to say "the inverse needs a floating-point tensor"
    import invlib
    from torch import nn

    with pytest.raises(invlib.InvalidInputError) as info:
        invlib.diagnose(nn.Sequential(nn.Embedding(10, 4)), torch.tensor([[1, 2]]))
    message = str(info.value)
    assert "inverse" not in message and "x has dtype torch.int64" in message and "floating-point" in message


@pytest.mark.parametrize("value", [True, False])
def test_check_flag_passes_bools(value: bool) -> None:
    assert check_flag(value, "clamp") is value


@pytest.mark.parametrize("value", ["False", 0, 1, None, torch.tensor(True)])
def test_check_flag_refuses_everything_else(value: object) -> None:
    with pytest.raises(InvalidInputError, match="clamp must be True or False"):
        check_flag(value, "clamp")
