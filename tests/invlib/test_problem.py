"""invlib._problem: priors, the flattened problem and the per-sample tracker."""

from __future__ import annotations

import pytest
import torch

from invlib import InvalidInputError
from invlib._problem import Problem, Tracker, better, make_prior

DT = torch.float64


def test_l2_prior_value_gradient_and_hessian():
    prior = make_prior("l2", 0.5, (3,))
    x = torch.tensor([[1.0, -2.0, 3.0], [0.0, 0.0, 1.0]], dtype=DT)
    assert torch.allclose(prior.value(x), torch.tensor([7.0, 0.5], dtype=DT))
    assert torch.allclose(prior.grad(x), x)  # d/dx 0.5 ||x||^2
    assert torch.allclose(prior.hessian(x), torch.eye(3, dtype=DT).expand(2, 3, 3))
    v = torch.randn(2, 3, dtype=DT)
    assert torch.allclose(prior.hvp(x, v), v)


def test_tv_prior_counts_edges_and_matches_autograd_derivatives():
    prior = make_prior("tv", 1.0, (1, 3, 3))
    step = torch.zeros(1, 9, dtype=DT)
    step.view(1, 1, 3, 3)[..., 2] = 1.0  # a vertical edge of height 1 over 3 rows
    assert torch.allclose(prior.value(step), torch.tensor([3.0], dtype=DT), atol=1e-2)
    assert float(prior.value(torch.zeros(1, 9, dtype=DT))) == 0.0
    x = torch.randn(2, 9, generator=torch.Generator().manual_seed(0), dtype=DT)
    H = prior.hessian(x)
    for i in range(2):
        ref = torch.autograd.functional.hessian(lambda z: prior.value(z[None])[0], x[i])
        assert torch.allclose(H[i], ref, atol=1e-8)
    v = torch.randn(2, 9, dtype=DT)
    assert torch.allclose(prior.hvp(x, v), (H @ v.unsqueeze(-1)).squeeze(-1), atol=1e-8)


def test_prior_dict_and_callable_combine_with_their_weights():
    custom = lambda x: x.reshape(x.shape[0], -1).sum(dim=1)  # noqa: E731
    prior = make_prior({"l2": 2.0, custom: 3.0}, 1e-3, (2,))
    x = torch.tensor([[1.0, 2.0]], dtype=DT)
    assert torch.allclose(prior.value(x), torch.tensor([2.0 * 5.0 + 3.0 * 3.0], dtype=DT))
    assert torch.allclose(prior.grad(x), 4.0 * x + 3.0)


@pytest.mark.parametrize("bad", ["sparse", {}, {"l2": -1.0}, {"l2": float("inf")}])
def test_invalid_priors(bad):
    with pytest.raises(InvalidInputError):
        make_prior(bad, 1e-3, (4,))


def test_relative_residual_uses_one_for_zero_targets():
    y = torch.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=DT)
    P = Problem(lambda x: x, y, (2,), None, None, 1e-10)
    r = torch.tensor([[0.5, 0.0], [0.5, 0.0]], dtype=DT)
    assert torch.allclose(P.rel(r, torch.arange(2)), torch.tensor([0.1, 0.5], dtype=DT))


def test_tracker_keeps_the_last_finite_state_and_marks_nan_rows_stalled():
    y = torch.ones(3, 2, dtype=DT)
    P = Problem(lambda x: 2 * x, y, (2,), None, None, 1e-10)
    T = Tracker(P, torch.zeros(3, 2, dtype=DT), max_iter=10)
    idx = torch.arange(3)
    x_new = torch.tensor([[0.5, 0.5], [float("nan"), 0.0], [0.25, 0.25]], dtype=DT)
    T.record(idx, x_new, P.residual(x_new, idx))
    assert T.converged.tolist() == [True, False, False]
    assert T.stalled.tolist() == [False, True, False]
    assert bool(torch.isfinite(T.x).all()) and torch.equal(T.x[1], torch.zeros(2, dtype=DT))
    assert T.active().tolist() == [2]
    assert T.iterations == 1 and len(T.history()[0]) == 1


def test_tracker_rejects_a_start_where_f_is_not_finite():
    y = torch.ones(2, 1, dtype=DT)
    P = Problem(torch.log, y, (1,), None, None, 1e-10)
    with pytest.raises(InvalidInputError, match="f\\(x0\\) contains NaN or inf"):
        Tracker(P, torch.tensor([[1.0], [-1.0]], dtype=DT), max_iter=5)


def test_restart_then_adopt_better_restores_only_rows_where_the_restart_did_worse():
    y = torch.ones(3, 1, dtype=DT)
    P = Problem(lambda x: x, y, (1,), None, None, 1e-10)
    T = Tracker(P, torch.tensor([[0.9], [0.9], [0.9]], dtype=DT), max_iter=10)
    T.stalled[:] = True
    before = T.snapshot()
    rows = torch.tensor([True, True, False])
    T.restart(rows, torch.tensor([[0.0], [0.99]], dtype=DT))
    assert T.stalled.tolist() == [False, False, True]
    assert T.active().tolist() == [0, 1]
    assert torch.allclose(T.res, torch.tensor([1.0, 0.01, 0.1], dtype=DT))
    T.adopt_better(before, rows)  # row 0 is worse than before the restart (1.0 > 0.1), row 1 better
    assert torch.allclose(T.x.flatten(), torch.tensor([0.9, 0.99, 0.9], dtype=DT))
    assert torch.allclose(T.res, torch.tensor([0.1, 0.01, 0.1], dtype=DT))
    assert T.stalled.tolist() == [True, False, True]


def test_better_prefers_converged_then_lower_objective():
    y = torch.ones(3, 1, dtype=DT)
    P = Problem(lambda x: x, y, (1,), None, None, 1e-10)
    a = Tracker(P, torch.tensor([[1.0], [0.5], [0.8]], dtype=DT), max_iter=1)  # converged, phi .25, phi .04
    b = Tracker(P, torch.tensor([[0.0], [1.0], [0.7]], dtype=DT), max_iter=1)  # phi 1, converged, phi .09
    assert better(a, b).tolist() == [True, False, True]
    assert better(b, a).tolist() == [False, True, False]


def test_hold_at_bounds_zeroes_only_outward_gradients_on_the_box():
    y = torch.ones(1, 4, dtype=DT)
    x = torch.tensor([[0.0, 0.0, 0.5, 1.0]], dtype=DT)
    g = torch.tensor([[1.0, -1.0, 1.0, -1.0]], dtype=DT)  # descent moves x by -g
    boxed = Problem(lambda v: v, y, (4,), None, (0.0, 1.0), 1e-10)
    projected, fixed = boxed.hold_at_bounds(x, g)
    # at 0 with g > 0 (pushed below 0) and at 1 with g < 0 (pushed above 1): held; the others move
    assert fixed.tolist() == [[True, False, False, True]]
    assert projected.tolist() == [[0.0, -1.0, 1.0, 0.0]]
    free = Problem(lambda v: v, y, (4,), None, None, 1e-10)
    projected, fixed = free.hold_at_bounds(x, g)
    assert fixed is None and torch.equal(projected, g)


def test_tracker_treats_a_huge_but_finite_row_as_finite():
    """The one-reduction finiteness test may overflow (||r||^2 = inf for r ~ 1e200); such rows are still
    finite: kept, not marked diverged or stalled."""
    y = torch.ones(2, 2, dtype=DT)
    P = Problem(lambda x: x, y, (2,), None, None, 1e-10)
    T = Tracker(P, torch.zeros(2, 2, dtype=DT), max_iter=10)
    idx = torch.arange(2)
    x_new = torch.tensor([[1e200, 0.0], [1.0, 1.0]], dtype=DT)
    T.record(idx, x_new, P.residual(x_new, idx))
    assert torch.equal(T.x, x_new)
    assert T.diverged.tolist() == [False, False] and T.stalled.tolist() == [False, False]
    assert T.converged.tolist() == [False, True]


def test_a_nan_forward_error_estimate_certifies_nothing():
    """xerr = ||dx|| / ||x|| is NaN when both norms overflow: the row is not converged on its residual alone."""
    y = torch.ones(2, 2, dtype=DT)
    P = Problem(lambda x: x, y, (2,), None, None, 1e-10, xtol=1e-6)
    T = Tracker(P, torch.zeros(2, 2, dtype=DT), max_iter=10)
    idx = torch.arange(2)
    x_new = torch.ones(2, 2, dtype=DT)
    T.record(idx, x_new, P.residual(x_new, idx), xerr=torch.tensor([float("nan"), 1e-9], dtype=DT))
    assert T.converged.tolist() == [False, True]
