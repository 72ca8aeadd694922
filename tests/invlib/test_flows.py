"""Coupling layers and invertible residual blocks: round trips, log|det J|, Lipschitz bounds, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib
from invlib import AdditiveCoupling, AffineCoupling, InvertibleResidualBlock

# Round-trip tolerances (max |x_hat - x|) for x ~ N(0, 1), as (float32, float64).
TOL = {
    # x_a = (x_a + m) - m: one rounding of a sum of size |x| + |m| ~ 4: ~4u
    "AdditiveCoupling": (2e-6, 4e-15),
    # x_a = ((x_a e^s + t) - t) e^{-s} with |s| < 2: rounding amplified by at most e^{2|s|} <= e^4 = 55
    "AffineCoupling": (2e-5, 4e-14),
    # fixed point iteration stopped at the a-posteriori bound tol_eff = max(1e-10, 64 u (1 + |y|))
    "InvertibleResidualBlock": (5e-5, 1e-9),
}


def autograd_logdet(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.stack([
        torch.linalg.slogdet(torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).squeeze(0), xi)).logabsdet
        for xi in x])


def make(name: str, dim: int = 5, **kw) -> nn.Module:
    torch.manual_seed(0)
    block = {"AdditiveCoupling": AdditiveCoupling, "AffineCoupling": AffineCoupling,
             "InvertibleResidualBlock": InvertibleResidualBlock}[name](dim, 16, **kw)
    if name == "InvertibleResidualBlock":
        with torch.no_grad():  # large raw weights, so the spectral caps bind: Lip(g) ~ lipschitz
            for layer in block.g_layers:
                layer.linear.weight.mul_(10)
        block.eval()
    return block


@pytest.mark.parametrize("name", sorted(TOL))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_round_trip(name: str, dtype: torch.dtype) -> None:
    f = make(name).to(dtype)
    x = torch.randn(64, 5, dtype=dtype, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        err = (f.inverse(f(x)) - x).abs().max().item()
    assert err <= TOL[name][0 if dtype == torch.float32 else 1]


@pytest.mark.parametrize("name", sorted(TOL))
def test_log_abs_det_matches_autograd(name: str) -> None:
    f = make(name).double()
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(f.log_abs_det_jacobian(x, f(x)), autograd_logdet(f, x), atol=1e-10, rtol=0)


@pytest.mark.parametrize("cls", [AdditiveCoupling, AffineCoupling])
def test_couplings_copy_the_passive_half_and_swap(cls: type) -> None:
    x = torch.randn(3, 5)
    plain, swapped = cls(5), cls(5, swap=True)
    assert torch.equal(plain(x)[:, :2], x[:, :2])      # first half (2 of 5) passes
    assert torch.equal(swapped(x)[:, 2:], x[:, 2:])    # second half (3 of 5) passes
    assert not torch.allclose(plain(x)[:, 2:], x[:, 2:])
    # leading dims beyond the batch work, log-det keeps them
    xx = torch.randn(2, 3, 5)
    assert plain.log_abs_det_jacobian(xx, plain(xx)).shape == (2, 3)
    torch.testing.assert_close(plain.inverse(plain(xx)), xx, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(TOL))
def test_log_abs_det_jacobian_takes_x_and_y_and_checks_their_shapes(name: str) -> None:
    f = make(name)
    x = torch.randn(3, 5)
    with pytest.raises(TypeError):
        f.log_abs_det_jacobian(x)  # one signature everywhere: (x, y)
    with pytest.raises(invlib.InvalidInputError, match=r"y = f\(x\) of x's shape \(3, 5\), got \(3, 4\)"):
        f.log_abs_det_jacobian(x, torch.zeros(3, 4))
    with pytest.raises(invlib.InvalidInputError, match="x of shape"):
        f.log_abs_det_jacobian(torch.zeros(3, 4), torch.zeros(3, 4))


def test_affine_scale_is_bounded() -> None:
    f = AffineCoupling(4, 8, scale_bound=0.5)
    with torch.no_grad():
        f.net[-1].weight.mul_(100)
    s, _ = f.scale_shift(torch.randn(50, 2))
    assert s.abs().max() <= 0.5  # tanh rounds to 1 in float32: the bound is attained, never exceeded


@pytest.mark.parametrize("cls", [AdditiveCoupling, AffineCoupling, InvertibleResidualBlock])
def test_bad_inputs(cls: type) -> None:
    f = cls(4, 8)
    with pytest.raises(invlib.InvalidInputError, match=r"expects y of shape \(\.\.\., 4\), got \(2, 3\)"):
        f.inverse(torch.zeros(2, 3))
    with pytest.raises(invlib.InvalidInputError, match=r"expects x of shape \(\.\.\., 4\), got \(2, 5\)"):
        f(torch.zeros(2, 5))
    with pytest.raises(invlib.InvalidInputError, match="1 NaN and 0 inf"):
        f.inverse(torch.tensor([[0.0, float("nan"), 0.0, 0.0]]))
    if cls is InvertibleResidualBlock:
        with pytest.raises(ValueError, match=r"lipschitz must lie in \(0, 1\)"):
            cls(4, lipschitz=1.0)
    else:
        with pytest.raises(ValueError, match="needs dim >= 2"):
            cls(1)


# -------------------------------------------------------------------------------------------
# Invertible residual blocks
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lipschitz", [0.5, 0.9])
def test_lipschitz_bound_is_exact_cap_in_eval(lipschitz: float) -> None:
    f = make("InvertibleResidualBlock", lipschitz=lipschitz)
    bound = f.lipschitz_bound()
    assert bound <= lipschitz
    assert bound > 0.99 * lipschitz  # the caps bind (weights scaled up in make)
    # it is the product of the exact spectral norms of the effective weights
    norms = [torch.linalg.matrix_norm(l.weight_eff().double(), 2).item() for l in f.g_layers]
    assert bound == pytest.approx(norms[0] * norms[1] * norms[2], rel=1e-12)


def test_banach_iterations_grow_with_the_lipschitz_constant() -> None:
    x = torch.randn(32, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    iters = {}
    for lip in (0.2, 0.5, 0.9):
        f = make("InvertibleResidualBlock", lipschitz=lip).double()
        x_hat = f.inverse(f(x), tol=1e-12)
        iters[lip] = f.last_inverse_iterations
        # the a-posteriori bound guarantees |x_hat - x| <= tol_eff (here 64 u (1 + |y|) ~ 5e-14 |y|)
        assert (x_hat - x).norm(dim=1).max().item() < 1e-11
    assert 0 < iters[0.2] < iters[0.5] < iters[0.9]


def test_max_iter_warns_with_the_error_bound() -> None:
    f = make("InvertibleResidualBlock").double()
    y = f(torch.randn(4, 5, dtype=torch.float64))
    with pytest.warns(invlib.ConvergenceWarning, match=r"stopped after max_iter=2 steps with error bound"):
        f.inverse(y, max_iter=2)
    assert f.last_inverse_iterations == 2


def test_lipschitz_bound_above_one_is_refused() -> None:
    f = make("InvertibleResidualBlock")
    for layer in f.g_layers:
        layer.cap = 1.5  # break the construction on purpose: bound ~ 1.5^3
    assert f.lipschitz_bound() >= 1
    with pytest.raises(invlib.NotInvertibleError, match=r"Lipschitz bound of g is [0-9.]+ >= 1"):
        f.inverse(torch.zeros(1, 5))
    with pytest.raises(invlib.NotInvertibleError,
                       match=r"0: InvertibleResidualBlock is not invertible: the Lipschitz bound .* >= 1"):
        invlib.inverse(nn.Sequential(f))


def test_training_mode_block_is_refused_by_inverse_but_inverts_itself() -> None:
    f = InvertibleResidualBlock(4, 8)  # training mode
    with pytest.raises(invlib.NotInvertibleError, match=r"state-dependent.*call model.eval\(\)"):
        invlib.inverse(nn.Sequential(f))
    x = torch.randn(5, 4)
    y = f(x)  # the power iteration updates u here; inverse() reuses the same estimate
    torch.testing.assert_close(f.inverse(y), x, atol=1e-5, rtol=0)
    assert f.lipschitz_bound() < 1


def test_exact_spectral_norm_in_training_keeps_the_bound() -> None:
    torch.manual_seed(5)
    f = InvertibleResidualBlock(4, 16, lipschitz=0.8, n_power_iterations=0)
    x = torch.randn(64, 4)
    for _ in range(8):  # sign-gradient ascent on |g(x)|: pushes the weights up against the caps
        loss = -(f(x) - x).pow(2).mean()
        f.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in f.parameters():
                p -= 0.1 * p.grad.sign()
    assert 0.79 < f.lipschitz_bound() <= 0.8
    with pytest.raises(ValueError, match="n_power_iterations must be >= 0"):
        InvertibleResidualBlock(4, n_power_iterations=-1)


def test_training_mode_forward_is_differentiable() -> None:
    f = InvertibleResidualBlock(3, 8)
    f(torch.randn(4, 3)).sum().backward()
    assert all(l.linear.weight.grad is not None for l in f.g_layers)


# -------------------------------------------------------------------------------------------
# Inside invlib.inverse
# -------------------------------------------------------------------------------------------
def test_flow_inside_sequential_is_a_snapshot() -> None:
    torch.manual_seed(4)
    flow = nn.Sequential(AffineCoupling(6, 16), AdditiveCoupling(6, 16, swap=True),
                         InvertibleResidualBlock(6, 16)).double().eval()
    x = torch.randn(8, 6, dtype=torch.float64)
    y = flow(x)
    inv = invlib.inverse(flow)
    x_hat, logdet = inv.inverse_and_log_abs_det(y)
    torch.testing.assert_close(x_hat, x, atol=1e-9, rtol=0)
    torch.testing.assert_close(logdet, -autograd_logdet(flow, x), atol=1e-9, rtol=0)
    with torch.no_grad():
        flow[0].net[0].weight.add_(1.0)
    with pytest.warns(invlib.StaleInverseWarning):
        torch.testing.assert_close(inv(y), x, atol=1e-9, rtol=0)  # still the old weights
    inv_bad = invlib.inverse(nn.Sequential(AffineCoupling(6, 8)))
    with pytest.raises(invlib.InvalidInputError, match=r"inverse of 0: AffineCoupling: expected \(\.\.\., 6\), got \(2, 5\)"):
        inv_bad(torch.zeros(2, 5))


# -------------------------------------------------------------------------------------------
# Masked autoregressive layers (MADE masks, MAF / IAF)
# -------------------------------------------------------------------------------------------
from invlib.flows import MaskedAutoregressiveAffine, made_masks, residual_logdet_estimate  # noqa: E402


@pytest.mark.parametrize("reverse", [False, True], ids=["order", "reversed"])
def test_made_masks_make_output_i_depend_on_earlier_inputs_only(reverse: bool) -> None:
    dim = 5
    masks = made_masks(dim, hidden=7, n_hidden_layers=3, reverse=reverse)
    assert [tuple(m.shape) for m in masks] == [(7, 5), (7, 7), (7, 7), (5, 7)]
    reach = masks[0]
    for m in masks[1:]:
        reach = (m @ reach > 0).float()  # reach[i, j] = 1 iff some path joins input j to output i
    order = torch.arange(dim).flip(0) if reverse else torch.arange(dim)
    position = torch.empty(dim, dtype=torch.long)
    position[order] = torch.arange(dim)
    expected = (position[:, None] > position[None, :]).float()  # strictly earlier inputs, all of them
    assert torch.equal(reach, expected)


def _maf(dim: int = 5, **kw) -> MaskedAutoregressiveAffine:
    torch.manual_seed(0)
    layer = MaskedAutoregressiveAffine(dim, 16, **kw).double()
    with torch.no_grad():  # larger weights than the default init, so s and t vary visibly
        for p in layer.parameters():
            p.mul_(3)
    return layer


@pytest.mark.parametrize("reverse", [False, True], ids=["order", "reversed"])
def test_autoregressive_jacobian_is_triangular_and_logdet_is_its_diagonal(reverse: bool) -> None:
    f = _maf(reverse=reverse)
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.autograd.functional.jacobian(lambda v: f(v[None])[0], x)
    strict_upper = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    upper = jac.flip(0, 1) if reverse else jac  # reversed order: lower triangular instead
    assert upper[strict_upper].abs().max() == 0
    assert (upper.diagonal() - 1).abs().max() > 1e-3  # the scales are not all 1
    torch.testing.assert_close(f.log_abs_det_jacobian(x[None], f(x[None]))[0],
                               torch.linalg.slogdet(jac).logabsdet, atol=1e-12, rtol=0)


def test_autoregressive_forward_is_one_call_inverse_is_dim_calls() -> None:
    f = _maf(dim=6)
    x = torch.randn(32, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    f.conditioner_calls = 0
    with torch.no_grad():
        y = f(x)
        assert f.conditioner_calls == 1
        x_hat = f.inverse(y)
    assert f.conditioner_calls == 1 + 6
    assert (x_hat - x).abs().max().item() < 1e-12
    # one call fewer than dim leaves the last coordinate in the order wrong (not exact to rounding)
    with torch.no_grad():
        x_part = torch.zeros_like(y)
        for _ in range(5):
            s, t = f.scale_shift(x_part)
            x_part = (y - t) * torch.exp(-s)
    torch.testing.assert_close(x_part[:, :5], x[:, :5], atol=1e-12, rtol=0)
    assert (x_part[:, 5] - x[:, 5]).abs().max() > 1e-6


def test_autoregressive_bad_inputs() -> None:
    f = MaskedAutoregressiveAffine(4, 8)
    with pytest.raises(invlib.InvalidInputError, match=r"expects y of shape \(\.\.\., 4\), got \(2, 3\)"):
        f.inverse(torch.zeros(2, 3))
    with pytest.raises(invlib.InvalidInputError, match="1 NaN and 0 inf"):
        f.inverse(torch.tensor([[0.0, float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="needs dim >= 2"):
        MaskedAutoregressiveAffine(1)
    with pytest.raises(ValueError, match=r"hidden must be >= dim - 1 = 4"):
        MaskedAutoregressiveAffine(5, hidden=3)
    with pytest.raises(ValueError, match="scale_bound must be > 0"):
        MaskedAutoregressiveAffine(4, scale_bound=0)


# -------------------------------------------------------------------------------------------
# Residual-flow log-determinant estimate
# -------------------------------------------------------------------------------------------
def test_residual_logdet_estimate_matches_slogdet_for_a_linear_branch() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(4, 4, dtype=torch.float64, generator=gen)
    a = 0.6 * a / torch.linalg.matrix_norm(a, 2)  # ||J_g|| = 0.6: the series converges

    def g(v: torch.Tensor) -> torch.Tensor:
        return v @ a.T

    exact = torch.linalg.slogdet(torch.eye(4, dtype=torch.float64) + a).logabsdet
    x = torch.randn(3, 4, dtype=torch.float64, generator=gen)
    # all terms, many probes: close to the exact value (probe noise ~ 1/sqrt(P))
    est = residual_logdet_estimate(g, x, n_terms=60, n_probes=20000, generator=gen)
    assert est.shape == (3,)
    assert (est - exact).abs().max() < 0.03
    # per-probe values: their mean is the estimate, their spread is the probe noise
    single = residual_logdet_estimate(g, x, n_terms=60, n_probes=400, generator=gen, per_probe=True)
    assert single.shape == (400, 3) and single.std() > 0.01
    # the truncated series: exact trace of the first n terms, bias within D L^(n+1) / ((n+1)(1-L))
    for n in (1, 3, 8):
        series = sum((-1) ** (k + 1) / k * torch.trace(torch.linalg.matrix_power(a, k))
                     for k in range(1, n + 1))
        assert abs(series - exact) <= 4 * 0.6 ** (n + 1) / ((n + 1) * 0.4)
        est_n = residual_logdet_estimate(g, x, n_terms=n, n_probes=20000, generator=gen)
        assert (est_n - series).abs().max() < 0.03


def test_residual_logdet_estimate_on_an_iresnet_block() -> None:
    f = make("InvertibleResidualBlock", dim=3, lipschitz=0.5).double()
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    est = residual_logdet_estimate(f.g, x, n_terms=30, n_probes=20000,
                                   generator=torch.Generator().manual_seed(5))
    assert (est - f.log_abs_det_jacobian(x, f(x))).abs().max() < 0.03


def test_residual_logdet_estimate_bad_inputs() -> None:
    with pytest.raises(invlib.InvalidInputError, match="n_terms must be an integer >= 1, got 0"):
        residual_logdet_estimate(lambda v: v, torch.zeros(2, 3), n_terms=0, n_probes=1)
    with pytest.raises(invlib.InvalidInputError, match="n_probes must be an integer >= 1, got 2.5"):
        residual_logdet_estimate(lambda v: v, torch.zeros(2, 3), n_terms=1, n_probes=2.5)
    with pytest.raises(invlib.InvalidInputError, match=r"g must map \(\.\.\., D\) to \(\.\.\., D\)"):
        residual_logdet_estimate(lambda v: v[:, :2], torch.zeros(2, 3), n_terms=1, n_probes=1)
    with pytest.raises(invlib.InvalidInputError, match="1 NaN"):
        residual_logdet_estimate(lambda v: v, torch.tensor([[0.0, float("nan")]]), n_terms=1, n_probes=1)


# --- outsider findings --------------------------------------------------------------------------
_BLOCKS = [invlib.AdditiveCoupling, invlib.AffineCoupling, invlib.InvertibleResidualBlock,
           invlib.MaskedAutoregressiveAffine]


@pytest.mark.parametrize("cls", _BLOCKS)
def test_inverse_of_a_y_in_another_dtype_is_a_typed_error(cls: type) -> None:
    # a float32 y for a float64 block used to be a raw RuntimeError from inside the conditioner
    block = cls(6).double().eval()
    with pytest.raises(invlib.InvalidInputError, match=r"y has dtype torch.float32.*float64"):
        block.inverse(torch.randn(2, 6))
    with pytest.raises(invlib.InvalidInputError, match=r"x has dtype torch.float32.*float64"):
        block(torch.randn(2, 6))


@pytest.mark.parametrize("cls", [invlib.AdditiveCoupling, invlib.AffineCoupling, invlib.InvertibleResidualBlock])
def test_hidden_width_zero_is_refused(cls: type) -> None:
    # hidden=0 used to build a zero-width network (with torch's "zero-element tensors" warnings)
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        cls(4, hidden=0)


@pytest.mark.parametrize("dim", [0, -3])
def test_residual_block_needs_a_positive_dim(dim: int) -> None:
    with pytest.raises(ValueError, match="dim must be >= 1"):
        invlib.InvertibleResidualBlock(dim)
