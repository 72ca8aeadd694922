"""Linear, BatchNorm and Dropout inverses: exact, least-squares, and refusals."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import invlib


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def matrix_with_condition(n: int, kappa: float, seed: int) -> torch.Tensor:
    """U diag(s) V^T with singular values log-spaced from 1 down to 1/kappa (float64)."""
    u, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen(seed)))
    v, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen(seed + 100)))
    s = torch.logspace(0, -torch.log10(torch.tensor(kappa)).item(), n, dtype=torch.float64)
    return (u * s) @ v.T


def linear_from(w: torch.Tensor, dtype: torch.dtype, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(w.shape[1], w.shape[0], bias=bias).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(w)
        if bias:
            layer.bias.copy_(torch.randn(w.shape[0], generator=gen(7)))
    return layer


# A backward-stable solve has relative forward error <= c * kappa(W) * u with c = O(n) in the
# worst case; measured c <= 10 for n = 32 (both solvers, both dtypes), so the tolerance is
# 40 (1 + kappa) u relative to |x|, per row.
def rel_tol(kappa: float, dtype: torch.dtype) -> float:
    return 40 * (1 + kappa) * torch.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kappa", [1.0, 1e2, 1e4])
@pytest.mark.parametrize("solver", ["explicit", "lu"])
def test_square_linear_round_trip_scales_with_condition_number(dtype: torch.dtype, kappa: float,
                                                                solver: str) -> None:
    layer = linear_from(matrix_with_condition(32, kappa, seed=1), dtype)
    x = torch.randn(200, 32, dtype=dtype, generator=gen(2))
    inv = invlib.inverse(layer, solver=solver)
    with torch.no_grad():
        x_hat = inv(layer(x))
    rel = ((x_hat - x).norm(dim=1) / x.norm(dim=1)).max().item()
    assert rel <= rel_tol(kappa, dtype)


def test_linear_without_bias_and_batched_leading_dims() -> None:
    layer = linear_from(matrix_with_condition(6, 10.0, seed=3), torch.float64, bias=False)
    x = torch.randn(4, 5, 6, dtype=torch.float64, generator=gen(4))
    inv = invlib.inverse(layer)
    torch.testing.assert_close(inv(layer(x)), x, atol=1e-13, rtol=0)
    x_hat, logdet = inv.inverse_and_log_abs_det(layer(x))
    # 5 rows of 6 per sample: log|det J| = 5 log|det W|
    expected = -5 * torch.linalg.slogdet(layer.weight.detach()).logabsdet
    torch.testing.assert_close(logdet, expected.expand(4), atol=1e-12, rtol=0)


def test_explicit_solver_stores_inverse_once_and_does_not_resolve() -> None:
    layer = linear_from(matrix_with_condition(8, 10.0, seed=5), torch.float64)
    inv = invlib.inverse(layer)
    lin = inv.layers[0]
    before = lin.inv_t.clone()
    torch.testing.assert_close(lin.inv_t, torch.linalg.inv(layer.weight.detach()).T)
    inv(torch.randn(3, 8, dtype=torch.float64))
    assert torch.equal(lin.inv_t, before)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((3, 10), r"0: Linear is not invertible: narrowing: 10 -> 3 dims; 7 dimensions of the input are lost"),
        ((10, 3), r"widening: 3 -> 10 dims"),
    ],
)
def test_non_square_linear_is_refused_with_dims(shape: tuple[int, int], match: str) -> None:
    model = nn.Sequential(nn.Linear(*shape[::-1]))
    with pytest.raises(invlib.NotInvertibleError, match=match) as info:
        invlib.inverse(model)
    assert "least_squares=True" in str(info.value)
    assert info.value.path == "0" and info.value.layer == "Linear"


def test_rank_deficient_linear_reports_rank_found_and_needed() -> None:
    w = torch.randn(8, 7, dtype=torch.float64, generator=gen(8)) @ torch.randn(7, 8, dtype=torch.float64,
                                                                                 generator=gen(9))
    layer = linear_from(w, torch.float64)
    with pytest.raises(invlib.NotInvertibleError, match=r"rank 7 found, 8 needed \(smallest singular value"):
        invlib.inverse(layer)


def test_rcond_controls_the_rank_decision() -> None:
    layer = linear_from(matrix_with_condition(8, 1e4, seed=10), torch.float64)
    invlib.inverse(layer)  # kappa 1e4 is full rank at the default cutoff 8 * 2.2e-16
    with pytest.raises(invlib.NotInvertibleError, match=r"rank [1-7] found, 8 needed"):
        invlib.inverse(layer, rcond=1e-3)


def test_least_squares_narrowing_gives_the_minimum_norm_solution() -> None:
    layer = nn.Linear(10, 3).double()
    y = torch.randn(5, 3, dtype=torch.float64, generator=gen(11))
    x_hat = invlib.inverse(layer, least_squares=True)(y)
    w, b = layer.weight.detach(), layer.bias.detach()
    # it solves W x + b = y exactly (W has full row rank) ...
    torch.testing.assert_close(x_hat @ w.T + b, y, atol=1e-12, rtol=0)
    # ... and is the minimum-norm solution: orthogonal to the null space of W
    null = torch.linalg.svd(w).Vh[3:]
    torch.testing.assert_close(x_hat @ null.T, torch.zeros(5, 7, dtype=torch.float64), atol=1e-12, rtol=0)


def test_least_squares_widening_recovers_x_from_y_in_the_range() -> None:
    layer = nn.Linear(3, 10).double()
    x = torch.randn(6, 3, dtype=torch.float64, generator=gen(12))
    x_hat = invlib.inverse(layer, least_squares=True)(layer(x))
    torch.testing.assert_close(x_hat, x, atol=1e-12, rtol=0)


def test_least_squares_rank_deficient_matches_pinv() -> None:
    w = torch.randn(6, 4, dtype=torch.float64, generator=gen(13)) @ torch.randn(4, 6, dtype=torch.float64,
                                                                                  generator=gen(14))
    layer = linear_from(w, torch.float64)
    y = torch.randn(3, 6, dtype=torch.float64, generator=gen(15))
    expected = (y - layer.bias.detach()) @ torch.linalg.pinv(w).T
    torch.testing.assert_close(invlib.inverse(layer, least_squares=True)(y), expected, atol=1e-10, rtol=0)


def test_least_squares_has_no_log_det() -> None:
    inv = invlib.inverse(nn.Linear(4, 2), least_squares=True)
    with pytest.raises(invlib.NotInvertibleError, match="least-squares inverse has no Jacobian determinant"):
        inv.inverse_and_log_abs_det(torch.zeros(1, 2))


# -------------------------------------------------------------------------------------------
# BatchNorm, Dropout, Identity
# -------------------------------------------------------------------------------------------
def trained_bn(cls: type, c: int) -> nn.Module:
    bn = cls(c).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=gen(20)))
        bn.running_var.copy_(torch.rand(c, generator=gen(21)) + 0.5)
        bn.weight.copy_(torch.randn(c, generator=gen(22)))
        bn.bias.copy_(torch.randn(c, generator=gen(23)))
    return bn.eval()


@pytest.mark.parametrize(("cls", "shape"), [(nn.BatchNorm1d, (5, 4)), (nn.BatchNorm1d, (5, 4, 3)),
                                            (nn.BatchNorm2d, (5, 4, 3, 2))])
def test_batchnorm_eval_round_trip_and_log_det(cls: type, shape: tuple[int, ...]) -> None:
    bn = trained_bn(cls, 4)
    x = torch.randn(*shape, dtype=torch.float64)
    inv = invlib.inverse(bn)
    x_hat, logdet = inv.inverse_and_log_abs_det(bn(x))
    torch.testing.assert_close(x_hat, x, atol=1e-12, rtol=0)
    n = x[0].numel()
    jac = torch.autograd.functional.jacobian(lambda v: bn(v.reshape((1,) + shape[1:])).reshape(-1),
                                             x[0].reshape(-1)).reshape(n, n)
    assert logdet[0].item() == pytest.approx(-torch.linalg.slogdet(jac).logabsdet.item(), abs=1e-10)


def test_batchnorm_refusals() -> None:
    with pytest.raises(invlib.NotInvertibleError, match=r"0: BatchNorm2d is not invertible: batch-dependent.*call model.eval\(\)"):
        invlib.inverse(nn.Sequential(nn.BatchNorm2d(3)))
    bn = nn.BatchNorm1d(3, track_running_stats=False).eval()
    with pytest.raises(invlib.NotInvertibleError, match="track_running_stats=False"):
        invlib.inverse(bn)
    bn = trained_bn(nn.BatchNorm1d, 3)
    with torch.no_grad():
        bn.weight[1] = 0.0
    with pytest.raises(invlib.NotInvertibleError, match=r"rank 2 found, 3 needed.*channels \[1\]"):
        invlib.inverse(bn)
    # least squares: the dead channel maps back to its running mean
    x_hat = invlib.inverse(bn, least_squares=True)(torch.randn(2, 3, dtype=torch.float64))
    torch.testing.assert_close(x_hat[:, 1], bn.running_mean[1].expand(2))


def test_batchnorm_shape_check() -> None:
    inv = invlib.inverse(trained_bn(nn.BatchNorm2d, 4))
    with pytest.raises(invlib.InvalidInputError, match=r"4-D tensor \(N, 4, \.\.\.\).*got \(2, 4\)"):
        inv(torch.zeros(2, 4, dtype=torch.float64))


@pytest.mark.parametrize("cls", [nn.Dropout, nn.Dropout2d, nn.AlphaDropout])
def test_dropout_training_is_random_eval_is_identity(cls: type) -> None:
    with pytest.raises(invlib.NotInvertibleError, match=rf"0: {cls.__name__} is not invertible: random.*"
                       r"call model.eval\(\)"):
        invlib.inverse(nn.Sequential(cls(0.3)))
    y = torch.randn(2, 3, 4, 4)
    assert torch.equal(invlib.inverse(cls(0.3).eval())(y), y)
    assert torch.equal(invlib.inverse(cls(0.0))(y), y)  # p = 0 is the identity even in training


def test_identity() -> None:
    y = torch.randn(3, 2)
    assert torch.equal(invlib.inverse(nn.Identity())(y), y)


# --- outsider findings --------------------------------------------------------------------------
@pytest.mark.parametrize("var, eps", [(0.0, 0.0), (-0.5, 1e-5)])
def test_batchnorm_with_nonpositive_var_plus_eps_names_the_channel(var: float, eps: float) -> None:
    # running_var + eps = 0 used to be reported as "rank 0 found ... (numerically) 0 for channels
    # [0, 1, 2, 3]": every channel blamed, and a zero scale where the forward divides by zero
    bn = nn.BatchNorm1d(4, eps=eps).double().eval()
    with torch.no_grad():
        bn.running_var[1] = var
    with pytest.raises(invlib.NotInvertibleError, match=r"running_var \+ eps is <= 0 for channels \[1\]"):
        invlib.inverse(bn)


# --- rounding in y that the weights' conditioning does not show -------------------------------------
def _tiny_weights_layer() -> nn.Linear:
    torch.manual_seed(0)
    layer = nn.Linear(4, 4)
    with torch.no_grad():
        layer.weight.mul_(1e-30)  # well conditioned (kappa ~ 30), but W x ~ 1e-30 next to a bias ~ 0.3
    return layer


def test_float32_output_that_the_bias_swamps_warns_instead_of_returning_1e22() -> None:
    # used to return x ~ 1e23 for x ~ 1 with no warning: in float32, y = W x + b rounds to b
    layer = _tiny_weights_layer()
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = layer(x)
    with pytest.warns(invlib.PrecisionWarning, match=r"Linear: in torch\.float32.*up to about.* in 5 of 5 rows"):
        xr = invlib.inverse(layer)(y)
    assert float((xr - x).abs().max()) > 1.0  # the warning is not a false alarm: x is lost


def test_ordinary_float32_layers_and_exact_zero_inputs_do_not_warn() -> None:
    torch.manual_seed(1)
    layer = nn.Linear(64, 64)
    x = torch.cat([torch.randn(300, 64), torch.zeros(2, 64)])
    with torch.no_grad():
        y = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", invlib.PrecisionWarning)
        xr = invlib.inverse(layer)(y)
    torch.testing.assert_close(xr, x, rtol=0, atol=1e-4)


def test_the_rounding_check_is_skipped_without_validation() -> None:
    layer = _tiny_weights_layer()
    with torch.no_grad():
        y = layer(torch.randn(5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", invlib.PrecisionWarning)
        invlib.inverse(layer, validate=False)(y)
