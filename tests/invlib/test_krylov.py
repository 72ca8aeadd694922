"""invlib._krylov: batched conjugate gradients and matrix-free Gauss-Newton."""

from __future__ import annotations

import torch

from invlib import _krylov
from invlib._problem import Problem, Tracker

DT = torch.float64


def test_batched_cg_solves_each_row_to_its_tolerance():
    gen = torch.Generator().manual_seed(0)
    n, b = 12, 5
    M = torch.randn(b, n, n, generator=gen, dtype=DT)
    A = M @ M.transpose(1, 2) + 0.5 * torch.eye(n, dtype=DT)
    rhs = torch.randn(b, n, generator=gen, dtype=DT)
    rtol = torch.tensor([1e-12, 1e-12, 1e-3, 1e-12, 1e-1], dtype=DT)
    x, _ = _krylov.batched_cg(lambda v: (A @ v.unsqueeze(-1)).squeeze(-1), rhs, rtol, max_iter=200)
    res = (rhs - (A @ x.unsqueeze(-1)).squeeze(-1)).norm(dim=1) / rhs.norm(dim=1)
    assert bool((res <= rtol * 1.0001).all())
    exact = torch.linalg.solve(A, rhs)
    assert torch.allclose(x[[0, 1, 3]], exact[[0, 1, 3]], atol=1e-8)


def test_gauss_newton_cg_on_an_expansive_smooth_map():
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(9, 4, generator=gen, dtype=DT) / 2
    f = lambda x: torch.tanh(x @ W.T) + 0.1 * x.sum(dim=1, keepdim=True)  # noqa: E731
    x_true = torch.randn(7, 4, generator=gen, dtype=DT)
    y = f(x_true)
    P = Problem(f, y, (4,), None, None, 1e-10)
    T = Tracker(P, torch.zeros(7, 4, dtype=DT), 100)
    _krylov.gauss_newton_cg(P, T)
    assert bool(T.converged.all())
    assert torch.allclose(T.x, x_true, atol=1e-8)
