"""Findings against optimize_inverse from an outsider's probe, kept as strict xfails until fixed.

Each test states what should happen; when the fix lands the xfail turns into a failure (strict),
so the marker must be removed with the fix.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8)).double()


@pytest.mark.xfail(strict=True, reason="memory_limit=0 or < 0 is accepted silently (solves row by row)")
@pytest.mark.parametrize("limit", [0, -5, float("nan")])
def test_memory_limit_must_be_positive(limit: float) -> None:
    model = _mlp()
    y = model(torch.randn(4, 8, dtype=torch.float64)).detach()
    with pytest.raises(invlib.InvalidInputError, match="memory_limit"):
        invlib.optimize_inverse(model, y, memory_limit=limit)


@pytest.mark.xfail(strict=True, reason="a meta-device model is reported as a device mismatch whose advice "
                                       "is y.to('meta'), which has no values either")
def test_meta_model_says_it_has_no_weights() -> None:
    model = nn.Linear(8, 8, device="meta", dtype=torch.float64)
    y = torch.randn(4, 8, dtype=torch.float64)
    with pytest.raises(invlib.InvalidInputError) as info:
        invlib.optimize_inverse(model, y)
    message = str(info.value)
    assert "meta" in message and "y.to('meta')" not in message and "no values" in message


@pytest.mark.xfail(strict=True, reason="BatchNorm in training mode fails the one-row trial call of f, and "
                                       "the error blames x0's shape/dtype and suggests input_shape=")
def test_training_mode_batchnorm_failure_points_at_eval() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)).double()   # training mode
    y = torch.randn(16, 8, dtype=torch.float64)
    with pytest.warns(invlib.TrainingModeWarning), pytest.raises(invlib.InvalidInputError) as info:
        invlib.optimize_inverse(model, y, max_iter=5)
    assert "eval()" in str(info.value) and "input_shape" not in str(info.value)
