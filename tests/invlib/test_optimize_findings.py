"""Findings against optimize_inverse from an outsider's probe (a PyTorch user with their own models), each
written as a test before its fix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8)).double()


@pytest.mark.parametrize("limit", [0, -5, float("nan")])
def test_memory_limit_must_be_positive(limit: float) -> None:
    model = _mlp()
    y = model(torch.randn(4, 8, dtype=torch.float64)).detach()
    with pytest.raises(invlib.InvalidInputError, match="memory_limit"):
        invlib.optimize_inverse(model, y, memory_limit=limit)


def test_meta_model_says_it_has_no_weights() -> None:
    model = nn.Linear(8, 8, device="meta", dtype=torch.float64)
    y = torch.randn(4, 8, dtype=torch.float64)
    with pytest.raises(invlib.InvalidInputError) as info:
        invlib.optimize_inverse(model, y)
    message = str(info.value)
    assert "meta" in message and "y.to('meta')" not in message and "no values" in message


def test_training_mode_batchnorm_failure_points_at_eval() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)).double()   # training mode
    y = torch.randn(16, 8, dtype=torch.float64)
    with pytest.warns(invlib.TrainingModeWarning), pytest.raises(invlib.InvalidInputError) as info:
        invlib.optimize_inverse(model, y, max_iter=5)
    assert "eval()" in str(info.value) and "input_shape" not in str(info.value)


def test_empty_batch_says_what_is_valid() -> None:
    model = _mlp()
    with pytest.raises(invlib.InvalidInputError, match=r"at least one sample.*batch >= 1"):
        invlib.optimize_inverse(model, torch.zeros(0, 8, dtype=torch.float64))


def test_a_compiled_model_is_solved_through_the_module_it_wraps() -> None:
    """torch.compile(model) took 116.7 s against 0.13 s: every new active-set size recompiled. The wrapper
    computes the same map with the same parameters, so the solve calls the original module."""
    import warnings

    model = _mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch._dynamo's own import-time warnings
        compiled = torch.compile(model)
    calls = []
    compiled.forward = lambda *a, **k: calls.append(1)  # would be used if the wrapper were called
    x = 0.5 * torch.randn(6, 8, dtype=torch.float64)
    y = model(x).detach()
    res = invlib.optimize_inverse(compiled, y)
    assert not calls
    torch.testing.assert_close(res.x, invlib.optimize_inverse(model, y).x, rtol=0, atol=1e-12)
    assert bool(res.converged.all())
