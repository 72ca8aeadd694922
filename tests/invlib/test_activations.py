"""Exact inverses of the monotone activations, their range checks, and the saturation study."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

import invlib
from invlib.activations import saturation_study

# Round-trip tolerances (max |x_hat - x|) on |x| <= 3, per layer, as (float32, float64).
# u = unit roundoff (6e-8 / 1.1e-16). The forward rounds y with relative error ~u, and the inverse
# multiplies that error by |(sigma^-1)'(y)| * |y|, the layer's conditioning on |x| <= 3:
TOL = {
    # one multiplication by a, one by 1/a: |error| <= 2u|x| <= 6u
    "LeakyReLU": (1e-6, 2e-15),
    "PReLU": (1e-6, 2e-15),
    "RReLU": (1e-6, 2e-15),
    # x < 0: d x/d y = 1/(y + alpha) = e^{-x}/alpha <= e^3 = 20 at x = -3: 20 * u
    "ELU": (5e-6, 1e-14),
    # CELU(0.5): d x/d y = e^{-x/alpha} = e^6 = 403 at x = -3, times |y| <= 0.5: 200 * u
    "CELU": (3e-5, 5e-14),
    # SELU: ELU's factor e^3 = 20, times the scale's extra rounding
    "SELU": (1e-5, 2e-14),
    # d x/d y = 1/sigmoid(x) <= 21, but |y| ~ e^x there: the product stays ~u (1 + |x|)
    "Softplus": (2e-6, 5e-15),
    # d x/d y = 1/(1 - y^2) = 101 at |x| = 3: 101 * u
    "Tanh": (2e-5, 4e-14),
    # d x/d y = 1/(y (1 - y)) = 22 at |x| = 3
    "Sigmoid": (5e-6, 1e-14),
    # d x/d y = 1/(1 - e^y) <= 21 with |y| <= 3: ~u (1 + |x|)
    "LogSigmoid": (2e-6, 5e-15),
    # d x/d y = 1/(1 - |y|)^2 = 16 at |x| = 3
    "Softsign": (5e-6, 1e-14),
}


def make(name: str) -> nn.Module:
    return {
        "LeakyReLU": lambda: nn.LeakyReLU(0.1),
        "PReLU": lambda: nn.PReLU(3, init=0.2),
        "RReLU": lambda: nn.RReLU(0.1, 0.3).eval(),
        "ELU": lambda: nn.ELU(),
        "CELU": lambda: nn.CELU(0.5),
        "SELU": lambda: nn.SELU(),
        "Softplus": lambda: nn.Softplus(),
        "Tanh": lambda: nn.Tanh(),
        "Sigmoid": lambda: nn.Sigmoid(),
        "LogSigmoid": lambda: nn.LogSigmoid(),
        "Softsign": lambda: nn.Softsign(),
    }[name]()


@pytest.fixture
def grid() -> torch.Tensor:
    """|x| <= 3, every sign, 3 channels (for PReLU): 6000 points, float64."""
    return torch.linspace(-3, 3, 6000, dtype=torch.float64).reshape(-1, 3)


@pytest.mark.parametrize("name", sorted(TOL))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_round_trip_within_tolerance(name: str, dtype: torch.dtype, grid: torch.Tensor) -> None:
    act = make(name).to(dtype)
    x = grid.to(dtype)
    inv = invlib.inverse(act)
    with torch.no_grad():
        err = (inv(act(x)) - x).abs().max().item()
    tol = TOL[name][0 if dtype == torch.float32 else 1]
    assert err <= tol, f"{name} {dtype}: max error {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("name", sorted(TOL))
def test_log_abs_det_matches_autograd(name: str) -> None:
    act = make(name).double()
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    inv = invlib.inverse(act)
    with torch.no_grad():
        x_hat, logdet = inv.inverse_and_log_abs_det(act(x))
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: act(v.unsqueeze(0)).squeeze(0), x[i])
        expected = -torch.linalg.slogdet(jac).logabsdet
        assert logdet[i].item() == pytest.approx(expected.item(), abs=1e-10)
    torch.testing.assert_close(x_hat, x, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("act", "bad", "interval"),
    [
        (nn.Tanh(), 1.5, r"\(-1, 1\)"),
        (nn.Sigmoid(), -0.25, r"\(0, 1\)"),
        (nn.Softplus(), -1.0, r"\(0, inf\)"),
        (nn.ELU(alpha=2.0), -3.0, r"\(-2, inf\)"),
        (nn.LogSigmoid(), 0.5, r"\(-inf, 0\)"),
        (nn.Softsign(), -1.0, r"\(-1, 1\)"),
        (nn.SELU(), -2.0, r"\(-1\.75\d*, inf\)"),
    ],
)
def test_out_of_range_raises_domain_error_with_count_interval_path(act: nn.Module, bad: float,
                                                                  interval: str) -> None:
    model = nn.Sequential(nn.Identity(), act)
    inv = invlib.inverse(model)
    y = torch.full((4, 128), 0.5 if not isinstance(act, nn.LogSigmoid) else -0.5)
    y[0, :3] = bad
    with pytest.raises(invlib.DomainError, match=rf"3 of 512 entries lie outside {interval}, the range "
                       rf"of {type(act).__name__} at path '1'.*clamp=True"):
        inv(y)


def test_domain_error_is_a_value_error() -> None:
    inv = invlib.inverse(nn.Tanh())
    with pytest.raises(ValueError, match="outside"):
        inv(torch.tensor([[2.0]]))


def test_saturated_forward_output_is_reported_not_returned_as_inf() -> None:
    # tanh(10) rounds to exactly 1.0 in float32: no finite preimage exists in float32.
    model = nn.Sequential(nn.Tanh())
    y = model(torch.tensor([[10.0, 0.0]]))
    assert y[0, 0].item() == 1.0
    with pytest.raises(invlib.DomainError, match=r"1 of 2 entries.*\(1 of them equal a bound: the forward pass "
                       r"saturates in torch.float32, try float64\)"):
        invlib.inverse(model)(y)


def test_clamp_warns_with_count_and_stays_finite_just_inside() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    inv = invlib.inverse(model, clamp=True)
    y = torch.tensor([[1.0, 0.2], [-3.0, 1.2], [0.1, 0.3]])
    with pytest.warns(invlib.SaturationWarning, match=r"clamped 3 of 6 entries of y into \(-1, 1\)"):
        x = inv(y)
    assert torch.isfinite(x).all()
    # The clamped entries map to the largest finite preimages, atanh(1 - 2^-24) ~ 8.66.
    with pytest.warns(invlib.SaturationWarning, match="clamped 2 of 2"):
        clamped = inv.layers[0](torch.tensor([[1.0, -1.0]]))
    assert clamped[0, 0].item() == pytest.approx(math.atanh(1 - 2**-24), rel=1e-5)
    assert clamped[0, 1].item() == pytest.approx(-math.atanh(1 - 2**-24), rel=1e-5)


def test_clamp_is_silent_when_nothing_is_out_of_range() -> None:
    inv = invlib.inverse(nn.Sigmoid(), clamp=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inv(torch.tensor([[0.2, 0.7]]))


def test_clamp_elu_bound_with_non_unit_alpha_is_finite() -> None:
    inv = invlib.inverse(nn.ELU(alpha=1.5), clamp=True)
    with pytest.warns(invlib.SaturationWarning):
        x = inv(torch.tensor([[-1.5, -7.0, 0.3]]))
    assert torch.isfinite(x).all()
    assert x[0, 0].item() < -10  # log of a tiny positive number


@pytest.mark.parametrize(
    ("act", "match"),
    [
        (nn.LeakyReLU(0.0), r"0: LeakyReLU is not invertible: many-to-one: negative_slope is 0"),
        (nn.LeakyReLU(-0.5), r"not monotone: negative_slope is negative"),
        (nn.PReLU(3, init=0.0), r"many-to-one: the PReLU weight is 0"),
        (nn.RReLU(), r"random: in training mode RReLU.*Instead: call model.eval\(\)"),
        (nn.ELU(alpha=0.0), r"alpha = 0.0 <= 0"),
        (nn.Softplus(beta=-1.0), r"beta = -1.0 <= 0"),
    ],
)
def test_degenerate_activations_are_refused(act: nn.Module, match: str) -> None:
    with pytest.raises(invlib.NotInvertibleError, match=match):
        invlib.inverse(nn.Sequential(act))


def test_prelu_per_channel_slopes_and_channel_check() -> None:
    act = nn.PReLU(4).double()
    with torch.no_grad():
        act.weight.copy_(torch.tensor([0.1, 0.5, 2.0, 1.0]))
    x = torch.randn(8, 4, 5, dtype=torch.float64)
    inv = invlib.inverse(act)
    torch.testing.assert_close(inv(act(x)), x, atol=1e-14, rtol=0)
    with pytest.raises(invlib.InvalidInputError, match=r"expected \(N, 4, \.\.\.\).*got \(8, 3, 5\)"):
        inv(torch.zeros(8, 3, 5, dtype=torch.float64))


def test_softplus_beta_and_linear_region() -> None:
    act = nn.Softplus(beta=2.0).double()  # linear above x = threshold/beta = 10
    x = torch.tensor([[-4.0, 0.0, 3.0, 9.0, 12.0]], dtype=torch.float64)
    torch.testing.assert_close(invlib.inverse(act)(act(x)), x, atol=1e-13, rtol=0)


@pytest.mark.parametrize("threshold", [0.5, 2.0, 5.0, -1.0])
def test_softplus_with_a_low_threshold_is_not_invertible(threshold: float) -> None:
    # threshold=0.5 used to invert y = 0.9 to the linear branch's 0.9 and hide the other preimage,
    # log(e^0.9 - 1) = 0.37 (softplus(0.37) = 0.9 too)
    act = nn.Softplus(beta=2.0, threshold=threshold)
    with pytest.raises(invlib.NotInvertibleError, match=r"two preimages.*threshold"):
        invlib.inverse(act)


def test_softplus_two_preimages_are_real_where_the_low_threshold_is_refused() -> None:
    act = nn.Softplus(beta=1.0, threshold=0.5).double()
    a, b = torch.tensor([0.9], dtype=torch.float64), torch.log(torch.expm1(torch.tensor([0.9], dtype=torch.float64)))
    torch.testing.assert_close(act(a), act(b), rtol=0, atol=1e-15)  # the refusal is not a false alarm
    assert float(a - b) > 0.5


def test_softplus_default_and_high_thresholds_stay_invertible() -> None:
    for threshold in (20.0, 15.0):  # the sliver with two preimages is below 1e-6 wide
        act = nn.Softplus(beta=1.0, threshold=threshold).double()
        x = torch.linspace(-5, 30, 71, dtype=torch.float64)[None]
        torch.testing.assert_close(invlib.inverse(act)(act(x)), x, atol=1e-6, rtol=0)


# -------------------------------------------------------------------------------------------
# Saturation study: float32 vs float64 (feeds the non-linearity chapter)
# -------------------------------------------------------------------------------------------
XS = torch.linspace(0, 40, 4001, dtype=torch.float64)


def test_tanh_round_trip_saturates_near_9_in_float32_and_19_in_float64() -> None:
    r32 = saturation_study("tanh", XS, torch.float32)
    r64 = saturation_study("tanh", XS, torch.float64)
    # measured, not assumed: tanh(x) rounds to 1 once 2 e^{-2x} < ulp(1)/2
    assert 8.0 < r32["saturation_x"] < 10.0
    assert 18.0 < r64["saturation_x"] < 20.0
    # loss of accuracy precedes exact saturation
    assert r32["breakdown_x"] <= r32["saturation_x"]
    assert r64["breakdown_x"] <= r64["saturation_x"]
    # and below it the error follows u / (1 - y^2): small at x = 2, large at x = 8 (float32)
    at = lambda r, v: r["abs_error"][int(v * 100)].item()  # noqa: E731 - grid step 0.01
    assert at(r32, 2.0) < 1e-5 < at(r32, 8.0)
    assert at(r64, 8.0) < 1e-8


def test_sigmoid_saturates_later_than_tanh() -> None:
    r32 = saturation_study("sigmoid", XS, torch.float32)
    r64 = saturation_study("sigmoid", XS, torch.float64)
    # 1 - sigmoid(x) ~ e^{-x} (vs 2 e^{-2x} for tanh): about twice as far out
    assert 15.0 < r32["saturation_x"] < 18.0
    assert 35.0 < r64["saturation_x"] < 38.0
    assert r32["saturated"].dtype == torch.bool
    assert set(r32) >= {"x", "y", "x_hat", "abs_error", "rel_error", "saturated", "saturation_x", "breakdown_x"}


def test_saturation_study_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        saturation_study("relu", XS)


# --- outsider findings --------------------------------------------------------------------------
@pytest.mark.parametrize("layer, name", [
    (nn.LeakyReLU(float("nan")), "negative_slope"),
    (nn.ELU(alpha=float("nan")), "alpha"),
    (nn.CELU(alpha=float("inf")), "alpha"),
    (nn.Softplus(beta=float("nan")), "beta"),
    (nn.Softplus(threshold=float("nan")), "threshold"),
    (nn.RReLU(float("nan"), 0.3).eval(), "lower"),
])
def test_non_finite_hyperparameters_are_refused_when_the_inverse_is_built(layer: nn.Module, name: str) -> None:
    # a NaN slope/alpha/beta used to build an inverse; the failure surfaced later as "y contains NaN"
    with pytest.raises(invlib.NotInvertibleError, match=rf"{name} = (nan|inf) is not a finite number"):
        invlib.inverse(nn.Sequential(nn.Linear(3, 3), layer))


def test_saturation_warning_names_the_callers_line() -> None:
    # it used to name torch/nn/modules/module.py, a line inside torch
    inv = invlib.inverse(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), clamp=True)
    with pytest.warns(invlib.SaturationWarning) as caught:
        inv(torch.full((2, 3), 1.5))
    assert caught[0].filename == __file__
