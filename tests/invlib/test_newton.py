"""invlib._newton: batched Jacobians, the boundary-crossing line search, the dense solvers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from invlib import _newton
from invlib._problem import Problem, Tracker

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = torch.float64


def test_batched_jacobian_matches_autograd_per_sample():
    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).to(DT)
    x = torch.randn(6, 3, generator=gen, dtype=DT)
    J = _newton.batched_jacobian(net, x)
    assert J.shape == (6, 4, 3)
    for i in range(6):
        ref = torch.autograd.functional.jacobian(lambda z: net(z[None])[0], x[i])
        assert torch.allclose(J[i], ref, atol=1e-12)


def test_jacobian_fallback_for_maps_torch_func_cannot_transform():
    calls = []

    def f(x):
        calls.append(1)
        if torch._C._functorch.is_functorch_wrapped_tensor(x):
            raise RuntimeError("no functorch here")
        return torch.stack([x[:, 0] * x[:, 1], x[:, 1] ** 2], dim=1)

    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=DT)
    J = _newton.batched_jacobian(f, x)
    expected = torch.tensor([[[2.0, 1.0], [0.0, 4.0]], [[-1.0, 3.0], [0.0, -2.0]]], dtype=DT)
    assert torch.allclose(J, expected)


def test_inverse_falls_back_to_pseudo_inverse_for_singular_rows():
    J = torch.stack([torch.eye(2, dtype=DT) * 2, torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=DT)])
    H, _ = _newton.inverse_and_condition(J)
    assert torch.allclose(H[0], torch.eye(2, dtype=DT) / 2)
    assert torch.allclose(H[1], torch.linalg.pinv(J[1]))


def test_inverse_treats_numerically_singular_rows_as_singular():
    # rank one up to rounding: inv_ex "succeeds" with entries ~1e15, a step that flies off to infinity
    J = torch.tensor([[[1.0, 1.0], [1.0, 1.0 + 1e-15]]], dtype=DT)
    assert int(torch.linalg.inv_ex(J).info) == 0
    H, _ = _newton.inverse_and_condition(J)
    assert H.abs().max() < 1.0
    assert torch.allclose(H[0], torch.linalg.pinv(J[0]))


def _problem(f, y, n):
    return Problem(f, y, (n,), None, None, 1e-10)


def test_boundary_step_lands_just_past_the_kink():
    """F(x) = leaky_relu(x - 1, 0.1) in 1-D from x = 0 towards y = 2: the kink is at x = 1."""
    f = lambda x: torch.nn.functional.leaky_relu(x - 1.0, 0.1)  # noqa: E731
    y = torch.tensor([[2.0]], dtype=DT)
    P = _problem(f, y, 1)
    x = torch.zeros(1, 1, dtype=DT)
    r = P.residual(x, torch.tensor([0]))  # -0.1 - 2 = -2.1
    dx = torch.tensor([[21.0]], dtype=DT)  # Newton step for slope 0.1: 2.1 / 0.1
    a, r_new, found = _newton._boundary_step(P, torch.tensor([0]), x, dx, r, -r, kappa=0.5)
    assert bool(found.all())
    x_new = float(x + a * dx)
    assert 1.0 < x_new < 1.1  # past the kink, but only just
    assert float(r_new.abs()) < float(r.abs())


def test_grid_step_never_stops_short_of_a_kink():
    f = lambda x: torch.nn.functional.leaky_relu(x - 1.0, 0.1)  # noqa: E731
    y = torch.tensor([[2.0]], dtype=DT)
    P = _problem(f, y, 1)
    x = torch.zeros(1, 1, dtype=DT)
    r = P.residual(x, torch.tensor([0]))
    dx = torch.tensor([[21.0]], dtype=DT)
    a, _, acc = _newton._grid_step(P, torch.tensor([0]), x, dx, r, -r)
    # a = 1 (x = 21, |r| = 18) and a = 1/4 (x = 5.25, |r| = 2.25) do not decrease |r| = 2.1;
    # a = 1/16 (x = 1.3125, |r| = 1.69) does and is past the kink; a = 1/64 (x = 0.33) would
    # decrease |r| too but stops short of the kink, so it is not eligible
    assert bool(acc.all()) and float(a) == 1 / 16


def test_square_newton_solves_a_1d_kinked_equation_exactly():
    f = lambda x: torch.nn.functional.leaky_relu(x - 1.0, 0.1) + 0.01 * x  # noqa: E731
    x_true = torch.tensor([[3.0], [-4.0], [0.5]], dtype=DT)
    y = f(x_true)
    P = _problem(f, y, 1)
    T = Tracker(P, torch.zeros(3, 1, dtype=DT), 50)
    _newton.square_newton(P, T)
    assert bool(T.converged.all())
    assert torch.allclose(T.x, x_true, atol=1e-12)


def test_levenberg_marquardt_stalls_at_least_squares_point():
    A = torch.tensor([[1.0], [1.0]], dtype=DT)
    f = lambda x: x @ A.T  # noqa: E731
    y = torch.tensor([[1.0, 3.0]], dtype=DT)  # best x = 2, residual (-1, 1)
    P = _problem(f, y, 1)
    T = Tracker(P, torch.zeros(1, 1, dtype=DT), 100)
    _newton.levenberg_marquardt(P, T)
    assert not bool(T.converged.any()) and bool(T.stalled.all())
    assert abs(float(T.x) - 2.0) < 1e-8
    assert T.iterations < 100


def test_batched_cpu_inverse_is_right_with_several_threads_for_large_matrices():
    """torch's batched CPU LU returns zero pivots / wrong inverses with 2 threads at n = 256 (torch 2.11, 2.13);
    invlib's inverse must not inherit that."""
    from invlib._newton import inverse_and_condition

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        J = torch.randn(64, 256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        inv, cond = inverse_and_condition(J)
    finally:
        torch.set_num_threads(old)
    eye = torch.eye(256, dtype=torch.float64)
    assert float((J @ inv - eye).abs().max()) < 1e-8
    assert bool(torch.isfinite(cond).all())


@pytest.mark.parametrize("rows", [1, 3, 200])
def test_jacobian_from_copies_equals_one_call_per_output(rows):
    """One pass over m copies of each row, m autograd calls, and blocks of g copies in between (g dividing m
    or not) -- the same Jacobians, and batched_jacobian (which picks g by the rows) returns them too."""
    gen = torch.Generator().manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 7), nn.ELU(), nn.Linear(7, 6)).to(DT)
    x = torch.randn(rows, 5, generator=gen, dtype=DT)
    for J in (_newton._jacobian_from_copies(net, x, 6), _newton._jacobian_autograd(net, x),
              _newton._jacobian_blocks(net, x, 6, 2), _newton._jacobian_blocks(net, x, 6, 4),
              _newton.batched_jacobian(net, x), _newton.batched_jacobian(net, x, 6)):
        assert J.shape == (rows, 6, 5)
        for i in sorted({0, rows // 2, rows - 1}):
            ref = torch.autograd.functional.jacobian(lambda z: net(z[None])[0], x[i])
            torch.testing.assert_close(J[i], ref, rtol=0, atol=1e-13)


def test_product_form_inverse_matches_dense_updates_and_keeps_a_shared_base_shared():
    """H <- (I + u v^T) H, kept as factors, applies like the dense matrices it stands for, through a fold
    into a dense base, fresh rows and a shrink."""
    gen = torch.Generator().manual_seed(2)
    n, b = 5, 4
    J = (torch.eye(n, dtype=DT) + 0.3 * torch.randn(n, n, generator=gen, dtype=DT)).expand(b, n, n)
    H, cond = _newton._BroydenInverse.from_jacobians(J)
    assert H.shared and H.base.shape == (1, n, n) and len(H) == b and cond.shape == (b,)
    dense = torch.linalg.inv(J[0]).expand(b, n, n).clone()
    for step in range(30):  # past MAX_UPDATES: the updates are folded into a dense base once
        u = 0.2 * torch.randn(b, n, generator=gen, dtype=DT) * (torch.arange(b) != step % b)[:, None]  # a row stays
        v = torch.randn(b, n, generator=gen, dtype=DT)
        H.update(u, v)
        dense = dense + u.unsqueeze(2) * (v.unsqueeze(1) @ dense)  # (I + u v^T) H
        r = torch.randn(b, n, generator=gen, dtype=DT)
        torch.testing.assert_close(H.matvec(r), (dense @ r.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-12)
        if step < _newton._BroydenInverse.MAX_UPDATES - 1:
            assert H.shared, "a shared base was copied per row before any row needed its own inverse"
    assert not H.shared  # folded
    # fresh inverses for some rows, then the active set shrinks
    rows = torch.tensor([1, 3])
    fresh = torch.linalg.inv(torch.eye(n, dtype=DT) * 2).expand(2, n, n)
    H.update(torch.ones(b, n, dtype=DT), torch.ones(b, n, dtype=DT))
    dense = dense + dense.sum(dim=1, keepdim=True)  # (I + 1 1^T) H
    H.set_rows(rows, fresh)
    dense[rows] = fresh
    keep = torch.tensor([0, 3])
    H.keep(keep)
    dense = dense[keep]
    r = torch.randn(2, n, generator=gen, dtype=DT)
    torch.testing.assert_close(H.matvec(r), (dense @ r.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(H.matvec(r[1:], torch.tensor([1])), (dense[1:] @ r[1:].unsqueeze(-1)).squeeze(-1))


def _leaky_net(n: int, seed: int) -> nn.Sequential:
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for _ in range(3):
        q, _r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=DT))
        lin = nn.Linear(n, n).to(DT)
        with torch.no_grad():
            lin.weight.copy_(q)
            lin.bias.copy_(0.1 * torch.randn(n, generator=gen, dtype=DT))
        layers += [lin, nn.LeakyReLU(0.5)]
    return nn.Sequential(*layers).requires_grad_(False)


def test_float32_base_keeps_float64_accuracy_and_is_given_up_for_ill_conditioned_rows():
    """Well-conditioned rows: the dense inverse base is stored in float32, and Newton still reaches the
    float64 solution (residuals and iterates stay float64); a row whose inverse is ill-conditioned turns the
    store back to float64 for good."""
    n, b = 12, 40
    net = _leaky_net(n, 3)
    x_true = torch.randn(b, n, generator=torch.Generator().manual_seed(4), dtype=DT)
    y = net(x_true)
    seen = []
    original = _newton._BroydenInverse.set_rows

    def spy(self, rows, inv, cond=None):
        original(self, rows, inv, cond)
        seen.append(self.base.dtype)

    _newton._BroydenInverse.set_rows = spy
    try:
        ends = {}
        for low in (False, True):
            P = Problem(net, y, (n,), None, None, 1e-12, 1e-10)
            T = Tracker(P, torch.zeros(b, n, dtype=DT), 200)
            _newton.square_newton(P, T, low_precision=low)
            ends[low] = T.x.clone()
            assert bool(T.converged.all())
    finally:
        _newton._BroydenInverse.set_rows = original
    assert torch.float32 in seen  # the float32 store was used
    err = ((ends[True] - x_true).norm(dim=1) / x_true.norm(dim=1)).max()
    assert float(err) < 1e-10, float(err)
    # one ill-conditioned row: the store goes back to float64
    H, _ = _newton._BroydenInverse.from_jacobians(torch.eye(n, dtype=DT).expand(3, n, n).clone(), torch.float32)
    assert H.base.dtype == torch.float32 and H.low == torch.float32
    bad = torch.diag(torch.logspace(0, 8, n, dtype=DT))[None]
    H.set_rows(torch.tensor([1]), torch.linalg.inv(bad), torch.tensor([1e8], dtype=DT))
    assert H.base.dtype == DT and H.low is None
    torch.testing.assert_close(H.base[1], torch.linalg.inv(bad[0]), rtol=1e-15, atol=0)


def test_shrinking_the_product_form_keeps_its_rows_and_its_buffers():
    """keep() after updates on a shared base, more updates, a second keep: the same products as dense
    matrices, and the rows move inside the update buffers (no fresh buffer per shrink: each one cost a page
    fault per 4 KiB touched)."""
    gen = torch.Generator().manual_seed(5)
    n, b = 4, 6
    J = (torch.eye(n, dtype=DT) + 0.2 * torch.randn(n, n, generator=gen, dtype=DT)).expand(b, n, n)
    H, _ = _newton._BroydenInverse.from_jacobians(J)
    dense = torch.linalg.inv(J[0]).expand(b, n, n).clone()

    def updates(k: int) -> None:
        nonlocal dense
        for _ in range(k):
            u = 0.2 * torch.randn(len(H), n, generator=gen, dtype=DT)
            v = torch.randn(len(H), n, generator=gen, dtype=DT)
            H.update(u, v)
            dense = dense + u.unsqueeze(2) * (v.unsqueeze(1) @ dense)  # (I + u v^T) H

    updates(3)
    buffers = (H._Ubuf.data_ptr(), H._Vbuf.data_ptr())
    for keep in (torch.tensor([0, 2, 3, 5]), torch.tensor([1, 3])):
        H.keep(keep)
        dense = dense[keep]
        assert H.shared and len(H) == keep.numel()
        updates(2)
        r = torch.randn(len(H), n, generator=gen, dtype=DT)
        torch.testing.assert_close(H.matvec(r), (dense @ r.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-12)
    assert (H._Ubuf.data_ptr(), H._Vbuf.data_ptr()) == buffers
