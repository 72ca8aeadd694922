"""invlib._first_order: fixed point, gradient descent, Adam and LBFGS baselines."""

from __future__ import annotations

import torch

from invlib import _first_order
from invlib._problem import Problem, Tracker

DT = torch.float64


def _setup(f, y, x0, tol=1e-10, max_iter=100):
    P = Problem(f, y, tuple(x0.shape[1:]), None, None, tol)
    return P, Tracker(P, x0, max_iter)


def test_fixed_point_converges_at_the_contraction_rate():
    # f(x) = x + 0.5 sin(x): g = 0.5 sin is a contraction with L = 0.5
    f = lambda x: x + 0.5 * torch.sin(x)  # noqa: E731
    x_true = torch.linspace(-3, 3, 8, dtype=DT)[:, None]
    P, T = _setup(f, f(x_true), torch.zeros(8, 1, dtype=DT))
    _first_order.run("fixed_point", P, T, None)
    assert bool(T.converged.all())
    assert torch.allclose(T.x, x_true, atol=1e-9)
    assert T.iterations <= 40  # 0.5^k * 3 <= 1e-10 * |y| needs ~35 steps


def test_fixed_point_stalls_when_it_diverges():
    f = lambda x: -2.0 * x  # noqa: E731  x <- x + (y + 2x) = 3x + y: diverges
    P, T = _setup(f, torch.ones(2, 1, dtype=DT), torch.zeros(2, 1, dtype=DT), max_iter=500)
    _first_order.run("fixed_point", P, T, None)
    assert bool(T.stalled.all()) and not bool(T.converged.any())
    assert bool(torch.isfinite(T.x).all()) and T.iterations < 500


def test_adam_matches_torch_optim_adam_on_the_summed_objective():
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(3, 3, generator=gen, dtype=DT)
    f = lambda x: torch.tanh(x @ W.T)  # noqa: E731
    y = 0.5 * torch.rand(4, 3, generator=gen, dtype=DT)
    x0 = torch.zeros(4, 3, dtype=DT)
    P, T = _setup(f, y, x0, max_iter=25)
    _first_order.run("adam", P, T, 0.05)
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(25):
        opt.zero_grad()
        (f(x) - y).pow(2).sum().backward()
        opt.step()
    assert torch.allclose(T.x, x.detach(), atol=1e-12)


def test_gd_decreases_the_objective_monotonically():
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(4, 4, generator=gen, dtype=DT)
    f = lambda x: x @ W.T  # noqa: E731
    y = torch.randn(3, 4, generator=gen, dtype=DT)
    P, T = _setup(f, y, torch.zeros(3, 4, dtype=DT), max_iter=60)
    before = T.phi.clone()
    _first_order.run("gd", P, T, None)
    assert bool((T.phi < before).all())
    assert all(b <= a for a, b in zip(T.history()[0], T.history()[0][1:]))


def test_lbfgs_records_its_inner_iterations():
    f = lambda x: 2.0 * x + 0.1 * x**3  # noqa: E731
    y = torch.linspace(-1, 1, 5, dtype=DT)[:, None]
    P, T = _setup(f, y, torch.zeros(5, 1, dtype=DT), max_iter=200)
    _first_order.run("lbfgs", P, T, None)
    assert bool(T.converged.all())
    assert T.iterations == len(T.history()[0]) <= 200
