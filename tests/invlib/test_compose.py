"""InverseModel: the chain, its input validation, snapshot semantics and non-finite results; iter_layers."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import invlib
from invlib.compose import InverseModel, iter_layers


def mlp(dtype: torch.dtype = torch.float64) -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(0.2), nn.Sequential(nn.Linear(4, 4), nn.Tanh()))
    return model.to(dtype)


def test_structure_model_reference_and_inverse_order() -> None:
    model = mlp()
    inv = invlib.inverse(model)
    assert isinstance(inv, InverseModel) and isinstance(inv, nn.Module)
    assert inv.model is model
    assert [l.path for l in inv.layers] == ["2.1", "2.0", "1", "0"]
    assert [l.layer for l in inv.layers] == ["Tanh", "Linear", "LeakyReLU", "Linear"]
    # the forward model is referenced, not registered: moving/converting the inverse leaves it alone
    assert not any(p is model[0].weight for p in inv.parameters())
    assert "model" not in dict(inv.named_children())


def test_snapshot_ignores_later_weight_changes_and_warns_once() -> None:
    model = mlp()
    x = torch.randn(5, 4, dtype=torch.float64)
    y = model(x).detach()
    inv = invlib.inverse(model)
    with torch.no_grad():
        model[0].weight.mul_(2.0)
    with pytest.warns(invlib.StaleInverseWarning, match=r"call invlib.inverse\(model\) again"):
        x_old = inv(y)
    torch.testing.assert_close(x_old, x, atol=1e-12, rtol=0)  # still inverts the old weights
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inv(y)  # warned once only
        fresh = invlib.inverse(model)
        torch.testing.assert_close(fresh(model(x)), x, atol=1e-12, rtol=0)


def test_no_warning_without_changes_and_under_inference_mode() -> None:
    model = mlp()
    inv = invlib.inverse(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.inference_mode():
            y = model(torch.randn(3, 4, dtype=torch.float64))
            inv(y)


def test_dtype_conversion_of_the_inverse() -> None:
    model = mlp(torch.float32)
    inv = invlib.inverse(model)
    with pytest.raises(invlib.InvalidInputError,
                       match=r"y has dtype torch.float64 but the inverse's weights are torch.float32"):
        inv(torch.zeros(2, 4, dtype=torch.float64))
    inv.double()
    out = inv(torch.zeros(2, 4, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert model[0].weight.dtype == torch.float32  # untouched


@pytest.mark.parametrize(
    ("y", "err", "match"),
    [
        (torch.tensor([[0.1, float("nan"), float("inf"), 0.0]]), invlib.InvalidInputError,
         r"y contains 1 NaN and 1 inf entries \(of 4\)"),
        (torch.zeros(3, 5), invlib.InvalidInputError,
         r"wrong shape at the inverse of 2.0: Linear: expected \(\.\.\., 4\).*got \(3, 5\)"),
        (torch.zeros(3, 4, dtype=torch.int64), invlib.InvalidInputError, r"dtype torch.int64.*floating-point"),
        ([[0.0] * 4], invlib.InvalidInputError, r"y must be a torch.Tensor, got list"),
    ],
)
def test_bad_y(y: object, err: type, match: str) -> None:
    inv = invlib.inverse(mlp(torch.float32))
    with pytest.raises(err, match=match):
        inv(y)


def test_shape_is_checked_before_any_arithmetic() -> None:
    # the Tanh range check would fail too (2.0 is out of range); the shape error comes first
    inv = invlib.inverse(mlp(torch.float32))
    with pytest.raises(invlib.InvalidInputError, match="wrong shape"):
        inv(torch.full((2, 3), 2.0))
    assert inv.expected_input_shape((7, 4)) == (7, 4)


def test_overflow_is_a_typed_error_naming_the_layer() -> None:
    # a well-conditioned but tiny layer: its inverse multiplies by 1e30 and overflows float32
    layer = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(3) * 1e-30)
    model = nn.Sequential(nn.Identity(), layer)
    inv = invlib.inverse(model)
    with pytest.raises(invlib.NonFiniteResultError, match=r"the inverse of 1: Linear produced 3 non-finite"):
        inv(torch.full((1, 3), 1e10))
    with pytest.raises(invlib.DomainError):  # NonFiniteResultError is a DomainError
        inv(torch.full((1, 3), 1e10))


def test_errors_are_value_errors() -> None:
    for cls in (invlib.NotInvertibleError, invlib.DomainError, invlib.InvalidInputError,
                invlib.UnsupportedLayerError, invlib.NonFiniteResultError):
        assert issubclass(cls, ValueError)
    assert issubclass(invlib.UnsupportedLayerError, invlib.NotInvertibleError)
    for cls in (invlib.SaturationWarning, invlib.StaleInverseWarning, invlib.ConvergenceWarning,
                invlib.TrainingModeWarning):
        assert issubclass(cls, UserWarning)


def test_inverse_is_differentiable() -> None:
    model = mlp()
    inv = invlib.inverse(model)
    y = model(torch.randn(2, 4, dtype=torch.float64)).detach().requires_grad_(True)
    inv(y).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_mismatch_names_both_devices() -> None:
    inv = invlib.inverse(mlp(torch.float32))
    with pytest.raises(invlib.InvalidInputError, match=r"y is on device cuda:0 but the inverse's weights are on cpu"):
        inv(torch.zeros(2, 4, device="cuda"))
    inv.cuda()
    model = mlp(torch.float32).cuda()
    x = torch.randn(8, 4, device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(inv(model(x)), x, atol=1e-4, rtol=0)


# ------------------------------------------------------------------------------------------------
# Staleness by content, and validate=False for torch's transforms (issue 17)
# ------------------------------------------------------------------------------------------------


def _tanh_model() -> "torch.nn.Sequential":
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4)).double()


def test_a_copied_inverse_with_the_same_weights_is_not_stale():
    import copy
    import io
    import warnings

    model = _tanh_model()
    inv = invlib.inverse(model)
    y = model(torch.randn(3, 4, dtype=torch.float64)).detach()
    buf = io.BytesIO()
    torch.save(inv, buf)
    buf.seek(0)
    for other in (copy.deepcopy(inv), torch.load(buf, weights_only=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", invlib.StaleInverseWarning)
            other(y)


def test_weights_replaced_through_data_make_the_inverse_stale():
    model = _tanh_model()
    inv = invlib.inverse(model)
    y = model(torch.randn(3, 4, dtype=torch.float64)).detach()
    model[0].weight.data = model[0].weight.data + 0.1
    with pytest.warns(invlib.StaleInverseWarning):
        inv(y)


def test_validate_false_composes_with_vmap_export_and_compile():
    model = _tanh_model()
    x = torch.randn(5, 4, dtype=torch.float64)
    y = model(x).detach()
    inv = invlib.inverse(model, validate=False)
    assert inv.validate is False
    assert torch.allclose(torch.func.vmap(inv)(y[:, None, :])[:, 0], x, rtol=0, atol=1e-10)
    exported = torch.export.export(inv, (y,))
    assert torch.allclose(exported.module()(y), x, rtol=0, atol=1e-10)
    compiled = torch.compile(inv, backend="eager", fullgraph=True)
    assert torch.allclose(compiled(y), x, rtol=0, atol=1e-10)
    # switched back on, the typed checks return
    inv.validate = True
    with pytest.raises(invlib.DomainError):
        inv(torch.full((1, 4), 10.0, dtype=torch.float64))


def test_iter_layers_expands_nested_sequentials_in_forward_order_with_their_paths() -> None:
    model = mlp()
    model.add_module("skip", None)  # an empty slot of a Sequential is not a layer
    got = [(path, type(m).__name__) for path, m in iter_layers(model)]
    assert got == [("0", "Linear"), ("1", "LeakyReLU"), ("2.0", "Linear"), ("2.1", "Tanh")]
    assert dict(model.named_modules())["2.1"] is dict(iter_layers(model))["2.1"]
    leaf = nn.Linear(2, 2)
    assert list(iter_layers(leaf)) == [("", leaf)]


# --- outsider findings --------------------------------------------------------------------------
def test_log_det_of_a_non_square_block_is_a_typed_error() -> None:
    # a widening Linear + ReLU (inverted range-aware) used to raise a bare NotImplementedError
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU()).double()
    with torch.no_grad():
        model[0].bias.fill_(10.0)   # every unit active: every sample recoverable
    inv = invlib.inverse(model)
    y = model(torch.randn(4, 3, dtype=torch.float64)).detach()
    torch.testing.assert_close(model(inv(y)), y)
    with pytest.raises(invlib.NotInvertibleError, match=r"log\|det J\| is not defined"):
        inv.inverse_and_log_abs_det(y)


def test_stale_warning_points_at_the_callers_line_so_each_stale_inverse_warns() -> None:
    # the warning's location used to be compose.py's own line, so under Python's default filter
    # (once per location) only the first stale inverse of a session ever warned
    def stale_pair() -> tuple[InverseModel, torch.Tensor]:
        model = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
        inv = invlib.inverse(model)
        with torch.no_grad():
            model[0].weight.mul_(2.0)
        return inv, torch.zeros(2, 3)

    (inv_a, y_a), (inv_b, y_b) = stale_pair(), stale_pair()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        inv_a(y_a)
        inv_b(y_b)
        inv_b.inverse_and_log_abs_det(y_b)      # the same inverse warns once
    stale = [w for w in caught if issubclass(w.category, invlib.StaleInverseWarning)]
    assert len(stale) == 2
    assert all(w.filename == __file__ for w in stale), [w.filename for w in stale]
