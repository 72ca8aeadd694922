"""invlib.inverse: dispatch over (nested) Sequential models, refusals with paths and reasons,
random compositions (hypothesis) with conditioning-based tolerances, and log|det J| checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import invlib
from invlib import AdditiveCoupling, AffineCoupling, InvertibleResidualBlock


# -------------------------------------------------------------------------------------------
# Refusals: type, path, reason and suggestion
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (nn.ReLU(), r"2\.1: ReLU is not invertible: many-to-one: maps every negative input to 0\. "
                    r"Instead: replace it by LeakyReLU"),
        (nn.MaxPool2d(2), r"2\.1: MaxPool2d is not invertible: many-to-one: 2\*2 inputs -> 1 output; max pooling"),
        (nn.AvgPool2d(3), r"3\*3 inputs -> 1 output; pooling averages"),
        (nn.AdaptiveAvgPool2d(1), r"adaptive pooling to output size 1"),
        (nn.Dropout(0.1), r"2\.1: Dropout is not invertible: random.*call model\.eval\(\)"),
        (nn.BatchNorm1d(3), r"2\.1: BatchNorm1d is not invertible: batch-dependent.*call model\.eval\(\)"),
        (nn.Linear(10, 3), r"2\.1: Linear is not invertible: narrowing: 10 -> 3 dims.*least_squares=True"),
        (nn.Conv2d(3, 3, 3, padding=1), r"zero padding: .*padding_mode='circular'.*optimize_inverse"),
        (nn.GELU(), r"2\.1: GELU is not invertible: not monotone"),
        (nn.SiLU(), r"2\.1: SiLU is not invertible: not monotone: SiLU decreases for x < -1\.2785"),
        (nn.Mish(), r"not monotone"),
        (nn.Softmax(dim=-1), r"many-to-one: unchanged when the same constant is added"),
        (nn.LayerNorm(3), r"LayerNorm removes each sample's mean and scale"),
        (nn.GroupNorm(1, 3), r"GroupNorm removes the mean and scale of each of its 1 groups"),
        (nn.Hardtanh(), r"many-to-one: clamps every input to \[-1, 1\]"),
        (nn.ReLU6(), r"many-to-one"),
        (nn.Threshold(0.1, 0.0), r"replaces every input <= 0\.1 by 0"),
    ],
)
def test_refusals_name_path_reason_and_fix(layer: nn.Module, match: str) -> None:
    # LeakyReLU is onto R^3, so every refusal below is about inputs the layer does receive
    model = nn.Sequential(nn.Linear(3, 3), nn.LeakyReLU(0.5), nn.Sequential(nn.Identity(), layer))
    with pytest.raises(invlib.NotInvertibleError, match=match) as info:
        invlib.inverse(model)
    err = info.value
    assert err.path == "2.1" and err.layer == type(layer).__name__
    assert err.reason and err.suggestion
    assert isinstance(err, ValueError)


def test_unsupported_classes_are_named_with_the_supported_list() -> None:
    with pytest.raises(invlib.UnsupportedLayerError,
                       match=r"^1: LSTM: LSTM is not supported by invlib.inverse; supported: Linear, .*Tanh.*"
                             r"nested Sequential.*Instead: give LSTM an inverse\(y\) method") as info:
        invlib.inverse(nn.Sequential(nn.Identity(), nn.LSTM(3, 3)))
    assert isinstance(info.value, invlib.NotInvertibleError)

    class Block(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    with pytest.raises(invlib.UnsupportedLayerError, match=r"^Block: Block is not supported"):
        invlib.inverse(Block())


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="expects a torch.nn.Module, got function"):
        invlib.inverse(lambda x: x)
    with pytest.raises(ValueError, match="solver must be 'explicit' or 'lu', got 'qr'"):
        invlib.inverse(nn.Linear(2, 2), solver="qr")
    with pytest.raises(invlib.InvalidInputError, match="example_input must be a torch.Tensor"):
        invlib.inverse(nn.Linear(2, 2), example_input=[1.0, 2.0])


def test_trivial_pooling_window_is_the_identity() -> None:
    y = torch.randn(2, 3, 4, 4)
    assert torch.equal(invlib.inverse(nn.MaxPool2d(1, stride=1))(y), y)


def test_example_input_refuses_training_layers_without_touching_stats() -> None:
    bn = nn.BatchNorm1d(3)
    with pytest.raises(invlib.NotInvertibleError, match="batch-dependent"):
        invlib.inverse(nn.Sequential(nn.Linear(3, 3), bn), example_input=torch.randn(8, 3))
    assert bn.num_batches_tracked == 0


def test_custom_module_with_inverse_method_is_used_as_a_frozen_copy() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(torch.tensor(3.0))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a * x

        def inverse(self, y: torch.Tensor) -> torch.Tensor:
            return y / self.a

    s = Scale()
    inv = invlib.inverse(nn.Sequential(nn.Linear(2, 2), s))
    x = torch.randn(4, 2)
    y = nn.Sequential(inv.model[0], s)(x).detach()
    with torch.no_grad():
        s.a.fill_(5.0)
    with pytest.warns(invlib.StaleInverseWarning):
        torch.testing.assert_close(inv(y), x, atol=1e-5, rtol=0)
    assert inv.layers[0].module is not s


class _ScaleWithLogDet(nn.Module):
    """y = a x elementwise on (N, D), with the log-det in the (x, y) signature or an old (x) one."""

    def __init__(self, a: float, two_arguments: bool) -> None:
        super().__init__()
        self.a = a
        if two_arguments:
            self.log_abs_det_jacobian = lambda x, y: torch.full(x.shape[:-1], x.shape[-1] * math.log(self.a),
                                                                dtype=x.dtype)
        else:
            self.log_abs_det_jacobian = lambda x: torch.zeros(x.shape[:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y / self.a


def test_custom_module_log_det_follows_the_x_y_convention() -> None:
    x = torch.randn(4, 3, dtype=torch.float64)
    f = _ScaleWithLogDet(2.0, two_arguments=True)
    x_hat, logdet = invlib.inverse(f).inverse_and_log_abs_det(f(x))
    torch.testing.assert_close(x_hat, x)
    torch.testing.assert_close(logdet, torch.full((4,), -3 * math.log(2.0), dtype=torch.float64))
    old = _ScaleWithLogDet(2.0, two_arguments=False)
    with pytest.raises(TypeError, match=r"log_abs_det_jacobian must take \(x, y\).*takes \(x\)"):
        invlib.inverse(old).inverse_and_log_abs_det(old(x))


def test_same_module_used_twice_gets_two_paths() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(3, 3).double()
    model = nn.Sequential(lin, nn.Tanh(), lin)
    inv = invlib.inverse(model)
    assert [l.path for l in inv.layers] == ["2", "1", "0"]
    x = torch.randn(5, 3, dtype=torch.float64) * 0.5
    torch.testing.assert_close(inv(model(x)), x, atol=1e-12, rtol=0)


def test_conv_net_with_flatten_needs_example_input() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), nn.LeakyReLU(0.2),
        nn.Conv2d(2, 8, 2, stride=2), nn.Softplus(), nn.Flatten(), nn.Linear(32, 32)).double()
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    with pytest.raises(invlib.NotInvertibleError, match=r"4: Flatten is not invertible"):
        invlib.inverse(net)
    inv = invlib.inverse(net, example_input=x)
    x_hat, logdet = inv.inverse_and_log_abs_det(net(x))
    torch.testing.assert_close(x_hat, x, atol=1e-9, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda v: net(v.reshape(1, 2, 4, 4)).reshape(-1), x[0].reshape(-1))
    assert logdet[0].item() == pytest.approx(-torch.linalg.slogdet(jac).logabsdet.item(), abs=1e-8)


# -------------------------------------------------------------------------------------------
# Random compositions (hypothesis)
# -------------------------------------------------------------------------------------------
KINDS = ["linear", "leaky", "prelu", "elu", "softplus", "tanh", "sigmoid", "logsigmoid", "softsign",
         "bn", "identity", "dropout", "additive", "affine", "iresnet"]


def build_layer(kind: str, d: int, g: torch.Generator) -> nn.Module:
    if kind == "linear":
        # singular values in [0.6, 1.25]: values stay far from the activations' saturation
        u, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        s = 0.6 + 0.65 * torch.rand(d, generator=g, dtype=torch.float64)
        layer = nn.Linear(d, d).double()
        with torch.no_grad():
            layer.weight.copy_((u * s) @ v.T)
            layer.bias.uniform_(-0.5, 0.5, generator=g)
        return layer
    if kind == "bn":
        bn = nn.BatchNorm1d(d).double()
        with torch.no_grad():
            bn.running_mean.uniform_(-0.5, 0.5, generator=g)
            bn.running_var.uniform_(0.5, 2.0, generator=g)
            bn.weight.uniform_(0.5, 1.5, generator=g)
            bn.bias.uniform_(-0.5, 0.5, generator=g)
        return bn.eval()
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
    torch.manual_seed(seed)
    return {
        "leaky": lambda: nn.LeakyReLU(0.3),
        "prelu": lambda: nn.PReLU(d, init=0.5),
        "elu": lambda: nn.ELU(),
        "softplus": lambda: nn.Softplus(),
        "tanh": lambda: nn.Tanh(),
        "sigmoid": lambda: nn.Sigmoid(),
        "logsigmoid": lambda: nn.LogSigmoid(),
        "softsign": lambda: nn.Softsign(),
        "identity": lambda: nn.Identity(),
        "dropout": lambda: nn.Dropout(0.5).eval(),
        "additive": lambda: AdditiveCoupling(d, 8, swap=bool(seed % 2)),
        "affine": lambda: AffineCoupling(d, 8, swap=bool(seed % 2), scale_bound=0.5),
        "iresnet": lambda: InvertibleResidualBlock(d, 8, lipschitz=0.7).eval(),
    }[kind]().double()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(2, 5), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
       nested=st.booleans(), seed=st.integers(0, 2**16))
def test_random_compositions_round_trip_and_log_det(d: int, kinds: list[str], nested: bool, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    layers = [build_layer(k, d, g) for k in kinds]
    if nested and len(layers) > 1:
        layers = [layers[0], nn.Sequential(*layers[1:])]
    model = nn.Sequential(*layers)
    x = 2 * torch.rand(6, d, generator=g, dtype=torch.float64) - 1
    with torch.no_grad():
        y = model(x)
    inv = invlib.inverse(model)
    x_hat, logdet = inv.inverse_and_log_abs_det(y)
    # Tolerance from the conditioning: each layer's inverse amplifies the error it receives by
    # at most its condition number, so the chain's error is <= (local errors) * prod_l cond(J_l).
    # Local errors: ~u (1 + |x|) per layer (1e3 u covers the constants), plus the stopping
    # tolerance 1e-10 of each i-ResNet fixed-point iteration (InvertibleResidualBlock.inverse).
    diag = invlib.diagnose(model, x, sample=0)
    conds = [r.cond for r in diag.layers]
    kappa = math.prod(c for c in conds if c is not None)
    local = 1e3 * torch.finfo(torch.float64).eps * (1 + x.abs().max().item()) + 1e-10 * kinds.count("iresnet")
    tol = kappa * local
    err = (x_hat[0] - x[0]).abs().max().item()
    assert err <= tol, f"{kinds}: error {err:.3g} > tol {tol:.3g} (kappa {kappa:.3g})"
    torch.testing.assert_close(x_hat, x, atol=1e-7, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda v: model(v.unsqueeze(0)).squeeze(0), x[0])
    assert logdet[0].item() == pytest.approx(-torch.linalg.slogdet(jac).logabsdet.item(), abs=1e-8)


# -------------------------------------------------------------------------------------------
# CUDA
# -------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-3), (torch.float64, 1e-9)])
def test_mixed_model_round_trip_on_cuda(dtype: torch.dtype, tol: float) -> None:
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular"), nn.ELU(), nn.Conv2d(3, 3, 1),
        nn.BatchNorm2d(3).eval(), nn.Tanh(), nn.Flatten(), nn.Linear(48, 48), nn.LeakyReLU(0.1),
        AffineCoupling(48, 16, scale_bound=0.5)).to(device="cuda", dtype=dtype)
    with torch.no_grad():
        net[0].weight[:, :, 1, 1] += torch.eye(3, device="cuda", dtype=dtype)
    x = torch.randn(5, 3, 4, 4, device="cuda", dtype=dtype) * 0.5
    inv = invlib.inverse(net, example_input=x)
    with torch.no_grad():
        x_hat = inv(net(x))
    assert x_hat.device.type == "cuda"
    assert (x_hat - x).abs().max().item() < tol


# -------------------------------------------------------------------------------------------
# Layer by layer is sufficient, not necessary: range-aware inverses and CannotCertifyError
# -------------------------------------------------------------------------------------------
def plus_minus_identity(dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Linear(3, 6) with W = [I; -I], ReLU, Linear(6, 3) with [I, -I]: relu(x) - relu(-x) = x."""
    up, down = nn.Linear(3, 6, bias=False), nn.Linear(6, 3, bias=False)
    eye = torch.eye(3)
    with torch.no_grad():
        up.weight.copy_(torch.cat([eye, -eye]))
        down.weight.copy_(torch.cat([eye, -eye], dim=1))
    return nn.Sequential(up, nn.ReLU(), down).to(dtype)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_the_identity_built_from_a_relu_is_inverted_exactly(dtype: torch.dtype, tol: float) -> None:
    net = plus_minus_identity(dtype)
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0)).to(dtype)
    with torch.no_grad():
        y = net(x)
    torch.testing.assert_close(y, x, atol=0, rtol=0)
    inv = invlib.inverse(net)
    out = inv(y)
    assert out.dtype == dtype
    assert (out - x).abs().max().item() <= tol
    assert [l.where for l in inv.layers] == ["0: Linear -> 1: ReLU -> 2: Linear"]


def test_strict_mode_still_decides_layer_by_layer() -> None:
    with pytest.raises(invlib.NotInvertibleError, match=r"0: Linear is not invertible: widening: 3 -> 6"):
        invlib.inverse(plus_minus_identity(), range_aware=False)


def random_linear(n: int, m: int, g: torch.Generator, bias: float = 0.1) -> nn.Linear:
    lin = nn.Linear(n, m).double()
    with torch.no_grad():
        lin.weight.copy_(torch.randn(m, n, generator=g, dtype=torch.float64))
        lin.bias.copy_(bias * torch.randn(m, generator=g, dtype=torch.float64))
    return lin


def test_random_widening_linear_relu_is_inverted_where_the_active_rows_span() -> None:
    g = torch.Generator().manual_seed(3)
    net = nn.Sequential(random_linear(3, 6, g), nn.ReLU())
    x = torch.randn(400, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        z = net(x)
    w = net[0].weight.detach()
    spans = torch.linalg.matrix_rank(w.unsqueeze(0) * (z > 0).unsqueeze(-1)) == 3
    assert 0 < int((~spans).sum()) < 200  # with 6 rows some samples have < 3 independent active rows
    inv = invlib.inverse(net)
    assert (inv(z[spans]) - x[spans]).abs().max().item() <= 1e-10
    with pytest.raises(invlib.UnrecoverableSamplesError, match=r"cannot recover samples \[") as info:
        inv(z)
    assert info.value.samples == torch.nonzero(~spans).flatten().tolist()[:len(info.value.samples)]


@pytest.mark.parametrize("seed", range(5))
def test_random_wide_nets_round_trip_or_name_the_samples(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(random_linear(3, 10, g), nn.ReLU(), random_linear(10, 10, g), nn.Tanh())
    with torch.no_grad():
        net[2].weight.mul_(0.1)  # keep tanh away from saturation
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = net(x)
    inv = invlib.inverse(net)
    z = torch.relu(net[0](x)).detach()
    spans = torch.linalg.matrix_rank(net[0].weight.detach().unsqueeze(0) * (z > 0).unsqueeze(-1)) == 3
    assert (inv(y[spans]) - x[spans]).abs().max().item() <= 1e-8
    if (~spans).any():
        with pytest.raises(invlib.UnrecoverableSamplesError):
            inv(y)


def test_random_triples_recover_every_accepted_sample() -> None:
    g = torch.Generator().manual_seed(7)
    net = nn.Sequential(random_linear(2, 6, g), nn.ReLU(), random_linear(6, 3, g))
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = net(x)
    inv = invlib.inverse(net)
    recovered = 0
    for i in range(len(x)):
        try:
            x_hat = inv(y[i:i + 1])
        except invlib.UnrecoverableSamplesError as err:
            assert err.samples == [0]
            continue
        assert (x_hat - x[i]).abs().max().item() <= 1e-9
        recovered += 1
    assert recovered >= 50


def test_cannot_certify_names_the_layer_the_culprits_and_the_remedy() -> None:
    g = torch.Generator().manual_seed(4)
    net = nn.Sequential(random_linear(3, 6, g), nn.ReLU(), random_linear(6, 6, g), nn.ReLU())
    with pytest.raises(invlib.CannotCertifyError) as info:
        invlib.inverse(net)
    err = info.value
    assert isinstance(err, invlib.NotInvertibleError) and isinstance(err, ValueError)
    assert err.path == "3" and err.layer == "ReLU"
    assert err.culprits == ["0: Linear -> 1: ReLU"]
    msg = str(err)
    assert msg.startswith("cannot certify layer by layer")
    for part in ("3: ReLU is not injective on its whole input space", "0: Linear -> 1: ReLU",
                 "optimize_inverse", "Jacobian", "range-aware"):
        assert part in msg, part


def test_a_narrowing_linear_after_a_too_wide_pair_cannot_be_certified() -> None:
    g = torch.Generator().manual_seed(5)
    from invlib.range_aware import MAX_TRIPLE_WIDTH
    m = MAX_TRIPLE_WIDTH + 4
    net = nn.Sequential(random_linear(3, m, g), nn.ReLU(), random_linear(m, 3, g))
    with pytest.raises(invlib.CannotCertifyError, match=r"2: Linear is not injective on its whole input "
                                                        r"space \(narrowing: 16 -> 3 dims"):
        invlib.inverse(net)


def test_a_custom_invertible_module_is_not_known_to_be_onto() -> None:
    class Exp(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.exp(x)

        def inverse(self, y: torch.Tensor) -> torch.Tensor:
            return torch.log(y)

    with pytest.raises(invlib.CannotCertifyError, match=r"1: ReLU.*its inputs come through 0: Exp"):
        invlib.inverse(nn.Sequential(Exp(), nn.ReLU()))


@pytest.mark.parametrize(
    ("layers", "path"),
    [
        ([nn.ReLU()], "0"),                                          # a ReLU on the raw input
        ([nn.Linear(3, 3), nn.ReLU()], "1"),                         # a square Linear is onto
        ([nn.Linear(4, 4), nn.LeakyReLU(0.1), nn.Linear(4, 2)], "2"),  # narrowing, image all of R^4
        ([nn.Linear(3, 3), nn.Tanh(), nn.ReLU()], "2"),              # ReLU is many-to-one on (-1, 1)
        ([nn.Tanh(), nn.Linear(3, 3), nn.Linear(3, 2)], "2"),         # narrowing on an open set
        ([nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 6), nn.ReLU()], "0"),  # widening, not followed by ReLU
    ],
)
def test_layers_that_lose_information_on_the_inputs_they_receive_stay_plain_errors(
        layers: list[nn.Module], path: str) -> None:
    with pytest.raises(invlib.NotInvertibleError) as info:
        invlib.inverse(nn.Sequential(*layers))
    assert type(info.value) is invlib.NotInvertibleError
    assert info.value.path == path


def test_an_open_image_of_unknown_shape_cannot_be_certified_for_a_relu() -> None:
    # Tanh's image is (-1, 1)^3; the Linear moves it anywhere (here into the positive orthant)
    with pytest.raises(invlib.CannotCertifyError, match=r"2: ReLU.*come through 0: Tanh"):
        invlib.inverse(nn.Sequential(nn.Tanh(), nn.Linear(3, 3), nn.ReLU()))


def test_a_relu_that_only_sees_positive_inputs_is_the_identity() -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.ReLU()).double()
    x = torch.randn(50, 3, dtype=torch.float64)
    with torch.no_grad():
        y = net(x)
    inv = invlib.inverse(net)
    assert (inv(y) - x).abs().max().item() <= 1e-10
    with pytest.raises(invlib.DomainError):
        inv(-y)  # negative values are outside the image


def test_an_activation_injective_on_the_box_it_sees_is_not_called_lossy() -> None:
    # SiLU folds only below -1.28; after Tanh its inputs lie in (-1, 1), where it is increasing
    with pytest.raises(invlib.CannotCertifyError, match=r"2: SiLU.*it is injective on \(-1, 1\)"):
        invlib.inverse(nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.SiLU()))
    # GELU folds at -0.75, inside (-1, 1): many-to-one on inputs it receives
    with pytest.raises(invlib.NotInvertibleError, match=r"2: GELU is not invertible") as info:
        invlib.inverse(nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.GELU()))
    assert type(info.value) is invlib.NotInvertibleError


def test_a_block_through_fewer_dims_than_the_input_is_a_plain_refusal() -> None:
    # Linear(8, 16) -> ReLU -> Linear(16, 4): R^8 -> R^4 cannot be one-to-one (invariance of domain)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    with pytest.raises(invlib.NotInvertibleError,
                       match=r"2: Linear is not invertible: narrowing: 16 -> 4 dims.*its rank 4 is below "
                             r"the model's input dimension 8") as info:
        invlib.inverse(net)
    assert type(info.value) is invlib.NotInvertibleError


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (nn.Hardtanh(), "identity"),           # clamps to [-1, 1]: nothing to clamp in (0, 1)
        (nn.ReLU6(), "identity"),
        (nn.LeakyReLU(-0.5), "identity"),      # not monotone on R, the identity on (0, 1)
        (nn.Threshold(0.1, 0.0), "plain"),     # every input <= 0.1 in (0, 1) maps to 0
        (nn.PReLU(3, init=0.0), "cannot"),     # per-channel weights: not evaluated on the box
    ],
)
def test_elementwise_layers_after_a_sigmoid_are_judged_on_its_image(layer: nn.Module, expected: str) -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), layer).double()
    if expected == "identity":
        x = torch.randn(20, 3, dtype=torch.float64)
        with torch.no_grad():
            assert (invlib.inverse(net)(net(x)) - x).abs().max().item() <= 1e-10
        return
    with pytest.raises(invlib.NotInvertibleError) as info:
        invlib.inverse(net)
    assert (type(info.value) is invlib.NotInvertibleError) == (expected == "plain")
    assert isinstance(info.value, invlib.CannotCertifyError) == (expected == "cannot")


def test_float32_inverse_of_ill_conditioned_weights_warns_and_float64_does_not():
    """The exact inverse has no residual to check: the weights' conditioning says what the dtype can deliver."""
    import warnings

    gen = torch.Generator().manual_seed(40)
    q1, _ = torch.linalg.qr(torch.randn(16, 16, generator=gen, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(16, 16, generator=gen, dtype=torch.float64))
    w = q1 @ torch.diag(torch.logspace(0, -5, 16, dtype=torch.float64)) @ q2.T  # condition number 1e5
    model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16))
    with torch.no_grad():
        model[0].weight.copy_(w)
        model[2].weight.copy_(w)
    with pytest.warns(invlib.PrecisionWarning, match=r"condition numbers is 1e\+10.*float64"):
        invlib.inverse(model)  # float32: 1e10 x 1.2e-7 >> 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", invlib.PrecisionWarning)
        invlib.inverse(model.double())  # 1e10 x 2.2e-16 = 2.2e-6


def test_least_squares_inverse_of_a_rank_deficient_layer_raises_no_precision_false_alarm():
    import warnings

    lin = torch.nn.Linear(6, 4)
    with torch.no_grad():
        lin.weight[3] = lin.weight[2]  # rank 3: the pseudo-inverse drops the zero singular value
    with warnings.catch_warnings():
        warnings.simplefilter("error", invlib.PrecisionWarning)
        invlib.inverse(lin, least_squares=True)


# --- outsider findings: arguments and models a PyTorch user brings -----------------------------
@pytest.mark.parametrize("rcond", [-1.0, float("nan"), float("inf"), 1.0, 2.0, "x"])
def test_rcond_outside_zero_one_is_a_typed_error(rcond: object) -> None:
    # rcond=nan used to report "rank 0 found" for a well-conditioned layer; rcond="x" a raw TypeError
    with pytest.raises(invlib.InvalidInputError, match=r"rcond must be .*\[0, 1\)"):
        invlib.inverse(nn.Linear(4, 4), rcond=rcond)


def test_unknown_solver_is_a_typed_error_listing_the_valid_ones() -> None:
    with pytest.raises(invlib.InvalidInputError, match="'explicit' or 'lu'"):
        invlib.inverse(nn.Linear(4, 4), solver="qr")


def test_model_on_the_meta_device_is_a_typed_error() -> None:
    # used to be a raw RuntimeError "Tensor.item() cannot be called on meta tensors"
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh()).to("meta")
    with pytest.raises(invlib.InvalidInputError, match=r"'0\.weight'.*meta.*to_empty"):
        invlib.inverse(model)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_a_typed_error_naming_the_parameter(bad: float) -> None:
    # used to be a raw torch._C._LinAlgError from inside the SVD
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
    with torch.no_grad():
        model[2].weight[1, 3] = bad
    with pytest.raises(invlib.InvalidInputError, match=r"'2\.weight'.*1 NaN or inf"):
        invlib.inverse(model)


def test_model_with_mixed_dtypes_is_a_typed_error_naming_both_parameters() -> None:
    # used to build an inverse of a model whose own forward fails ("mat1 and mat2 must have the same dtype")
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3).double())
    with pytest.raises(invlib.InvalidInputError, match=r"'0\.weight' is torch\.float32.*'2\.weight' is torch\.float64.*model\.double\(\)"):
        invlib.inverse(model)


@pytest.mark.parametrize("flag", ["least_squares", "clamp", "range_aware", "validate"])
@pytest.mark.parametrize("value", ["no", 1, None, 0.0])
def test_switches_that_are_not_bools_are_a_typed_error(flag: str, value: object) -> None:
    # clamp="no" used to switch clamping ON (a non-empty string is truthy)
    with pytest.raises(invlib.InvalidInputError, match=rf"{flag} must be True or False, got {value!r}"):
        invlib.inverse(nn.Linear(3, 3), **{flag: value})


@pytest.mark.parametrize("model, x", [
    (nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(0.1), nn.Linear(4, 4)), torch.randn(4)),
    (nn.Sequential(nn.Linear(4, 4), nn.Tanh()), torch.randn(4) * 0.3),
    (nn.Sequential(nn.Conv2d(3, 3, 1), nn.LeakyReLU(0.2)), torch.randn(3, 5, 4)),
])
def test_log_det_of_an_unbatched_sample_is_one_value(model: nn.Module, x: torch.Tensor) -> None:
    # a (4,) y used to be read as a batch of four scalars: a (4,) log-det of wrong values
    torch.manual_seed(0)
    model = model.double()
    x = x.double()
    inv = invlib.inverse(model)
    xr, logdet = inv.inverse_and_log_abs_det(model(x))
    x1, logdet1 = inv.inverse_and_log_abs_det(model(x.unsqueeze(0)))
    assert xr.shape == x.shape and logdet.shape == ()
    torch.testing.assert_close(xr, x1[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(logdet, logdet1[0], rtol=1e-12, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda v: model(v.reshape(x.shape)).reshape(-1), x.reshape(-1))
    torch.testing.assert_close(logdet, -torch.linalg.slogdet(jac)[1], rtol=1e-10, atol=1e-10)


def test_example_input_the_model_cannot_run_is_a_typed_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 16)).double()
    with pytest.raises(invlib.InvalidInputError, match=r"example_input.*shape \(2, 1, 4, 5\).*float64"):
        invlib.inverse(model, example_input=torch.randn(2, 1, 4, 5, dtype=torch.float64))
    with pytest.raises(invlib.InvalidInputError, match=r"example_input.*float32.*float64"):
        invlib.inverse(model, example_input=torch.randn(2, 1, 4, 4))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch._dynamo's own import
def test_compiled_model_is_inverted_through_its_original_module() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6)).double()
    compiled = torch.compile(model)
    inv = invlib.inverse(compiled)  # used to raise UnsupportedLayerError: OptimizedModule
    assert len(inv.layers) == 3
    x = torch.randn(5, 6, dtype=torch.float64)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(inv(y), x, rtol=0, atol=1e-10)


def test_custom_wrapper_around_a_sequential_points_at_the_sequential() -> None:
    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 4), nn.Tanh())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    with pytest.raises(invlib.UnsupportedLayerError, match=r"invlib\.inverse\(model\.net\)"):
        invlib.inverse(Wrapper())
