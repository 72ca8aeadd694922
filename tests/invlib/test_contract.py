"""The contract every supported layer keeps: round trip both ways, log-det against autograd, dtype, device.

The layers come from the library's own registry, :data:`invlib.inverse.LAYER_BUILDERS`: a class added
there without an entry in ``CASES`` below fails ``test_every_registered_layer_has_a_case``, so a new
layer cannot go unchecked. Each case builds small instances (a few per registered class where the
class has several inverses, e.g. 1x1, circular and patch convolutions) and an input ``x``.

Checks, for float32 and float64 on the CPU (and CUDA where present):

* ``inverse(f)(f(x)) == x`` and ``f(inverse(f)(y)) == y`` (``y`` a fresh point of the image: a
  standard normal draw where ``f`` is onto, ``f(x')`` otherwise);
* ``InverseModel.inverse_and_log_abs_det(y)`` returns ``-log|det J_f(x)|`` with ``J_f`` the autograd
  Jacobian (``torch.autograd.functional.jacobian`` on one sample, ``slogdet``), computed in float64 on
  a float64 copy of the layer; every per-layer inverse's ``log_abs_det_jacobian(x, y)`` has shape
  ``(batch,)``; a module that has its own ``log_abs_det_jacobian(x, y)`` gives the same value;
* the result keeps the input's dtype and device.

Tolerances (absolute + relative, on values of size ~1), measured worst cases in brackets:

* round trip: 1e-4 in float32 [2.9e-6, the patch convolution, whose 4x4 matrix has the largest
  condition number here], because the i-ResNet block may stop its fixed-point iteration once its error
  bound is 64 eps (1 + |y|) ~ 3e-5; 1e-9 in float64 [1.2e-12, the i-ResNet block, which stops at 1e-10];
* log-det: 2e-5 + 1e-5 |ref| in float32 [6.8e-7: a sum of up to 32 rounded logs], 1e-10 + 1e-10 |ref|
  in float64 [1.7e-14], except where torch's own backward is the less accurate side (``Case.ref_atol``:
  torch's CELU derivative is off by up to 1.4e-8 per entry in float64, central differences agree with
  invlib's exp(x/alpha)).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import nn

import invlib
from invlib.flows import MaskedAutoregressiveAffine
from invlib.inverse import LAYER_BUILDERS
from invlib.reshape import Permute, Reshape

ROUND_TRIP_TOL = {torch.float32: 1e-4, torch.float64: 1e-9}
LOGDET_TOL = {torch.float32: (2e-5, 1e-5), torch.float64: (1e-10, 1e-10)}  # (atol, rtol)


@dataclass
class Case:
    """One layer instance and an input shape; ``onto``: the layer maps onto all of R^n."""

    name: str
    make: Callable[[], nn.Module]
    shape: tuple[int, ...]
    onto: bool = True
    scale: float = 1.0  # x ~ scale * N(0, 1)
    ref_atol: float = 0.0  # added to the log-det atol: the error of torch's autograd reference itself


def _seeded(make: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return make().eval()
    return build


def _circular(d: int) -> Callable[[], nn.Module]:
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[d]

    def make() -> nn.Module:
        m = conv(2, 2, 3, padding=1, padding_mode="circular")
        with torch.no_grad():  # a dominant centre tap keeps every frequency block well conditioned
            m.weight.mul_(0.2)
            m.weight[(slice(None), slice(None)) + (1,) * d] += torch.eye(2)
        return m
    return make


def _batchnorm(cls: type[nn.Module], c: int) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        m = cls(c)
        with torch.no_grad():
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-1, 1)
        return m
    return make


def _iresnet() -> nn.Module:
    block = invlib.InvertibleResidualBlock(4, 16, lipschitz=0.7)
    with torch.no_grad():
        for layer in block.g_layers:
            layer.linear.weight.mul_(10)  # the spectral caps bind
    return block


def _linear() -> nn.Module:
    m = nn.Linear(4, 4)
    with torch.no_grad():
        m.weight.add_(torch.eye(4))
    return m


#: Builders per registered class (a key of LAYER_BUILDERS): the cases that exercise it.
CASES: dict[type[nn.Module], list[Case]] = {
    nn.Identity: [Case("Identity", nn.Identity, (3, 4))],
    nn.modules.dropout._DropoutNd: [
        Case("Dropout", lambda: nn.Dropout(0.3), (3, 4)),
        Case("Dropout2d", lambda: nn.Dropout2d(0.3), (3, 2, 2, 2)),
        Case("AlphaDropout", lambda: nn.AlphaDropout(0.3), (3, 4)),
    ],
    nn.LeakyReLU: [Case("LeakyReLU", lambda: nn.LeakyReLU(0.1), (3, 4))],
    nn.PReLU: [Case("PReLU", lambda: nn.PReLU(2, init=0.3), (3, 2, 3))],
    nn.RReLU: [Case("RReLU", nn.RReLU, (3, 4))],
    nn.ELU: [Case("ELU", nn.ELU, (3, 4), onto=False)],
    nn.CELU: [Case("CELU", lambda: nn.CELU(0.7), (3, 4), onto=False, ref_atol=1e-7)],
    nn.SELU: [Case("SELU", nn.SELU, (3, 4), onto=False)],
    nn.Softplus: [Case("Softplus", nn.Softplus, (3, 4), onto=False)],
    nn.Tanh: [Case("Tanh", nn.Tanh, (3, 4), onto=False)],
    nn.Sigmoid: [Case("Sigmoid", nn.Sigmoid, (3, 4), onto=False)],
    nn.LogSigmoid: [Case("LogSigmoid", nn.LogSigmoid, (3, 4), onto=False)],
    nn.Softsign: [Case("Softsign", nn.Softsign, (3, 4), onto=False)],
    nn.Linear: [Case("Linear", _linear, (3, 4))],
    nn.modules.conv._ConvNd: [
        Case("Conv2d-1x1", lambda: nn.Conv2d(3, 3, 1), (2, 3, 2, 2)),
        Case("Conv1d-1x1-groups", lambda: nn.Conv1d(4, 4, 1, groups=2), (2, 4, 3)),
        Case("Conv1d-circular", _circular(1), (2, 2, 6)),
        Case("Conv2d-circular", _circular(2), (2, 2, 4, 4)),
        Case("Conv3d-circular", _circular(3), (2, 2, 2, 2, 2)),
        Case("Conv2d-patch", lambda: nn.Conv2d(1, 4, 2, stride=2), (2, 1, 4, 4)),
    ],
    nn.modules.batchnorm._BatchNorm: [
        Case("BatchNorm1d", _batchnorm(nn.BatchNorm1d, 4), (3, 4)),
        Case("BatchNorm2d", _batchnorm(nn.BatchNorm2d, 2), (3, 2, 2, 2)),
        Case("BatchNorm3d", _batchnorm(nn.BatchNorm3d, 2), (3, 2, 1, 2, 2)),
    ],
    nn.Flatten: [Case("Flatten", nn.Flatten, (3, 2, 2, 2))],
    nn.Unflatten: [Case("Unflatten", lambda: nn.Unflatten(1, (2, 3)), (3, 6))],
    Reshape: [Case("Reshape", lambda: Reshape(3, 2), (3, 6))],
    Permute: [Case("Permute", lambda: Permute(1, 0), (3, 2, 3))],
    nn.PixelShuffle: [Case("PixelShuffle", lambda: nn.PixelShuffle(2), (2, 4, 2, 2))],
    nn.PixelUnshuffle: [Case("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), (2, 1, 4, 4))],
    nn.ChannelShuffle: [Case("ChannelShuffle", lambda: nn.ChannelShuffle(2), (2, 4, 2, 2))],
    invlib.AdditiveCoupling: [
        Case("AdditiveCoupling", lambda: invlib.AdditiveCoupling(5, 8), (3, 5)),
        Case("FunctionCoupling", lambda: invlib.FunctionCoupling(4, nn.Linear(2, 2), swap=True), (3, 4)),
    ],
    invlib.AffineCoupling: [Case("AffineCoupling", lambda: invlib.AffineCoupling(5, 8, swap=True), (3, 5))],
    invlib.InvertibleResidualBlock: [Case("InvertibleResidualBlock", _iresnet, (3, 4))],
    MaskedAutoregressiveAffine: [
        Case("MaskedAutoregressiveAffine", lambda: MaskedAutoregressiveAffine(4, 8), (3, 4)),
    ],
}


def registered_classes() -> list[type[nn.Module]]:
    return [cls for classes, _ in LAYER_BUILDERS for cls in classes]


ALL_CASES = [(cls, case) for cls in registered_classes() for case in CASES.get(cls, [])]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.cuda,
                                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]),
]
DTYPES = [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]


def test_every_registered_layer_has_a_case() -> None:
    registered = registered_classes()
    missing = [cls.__qualname__ for cls in registered if not CASES.get(cls)]
    assert not missing, f"registered in invlib.inverse.LAYER_BUILDERS but no case in this test: {missing}"
    stale = [cls.__qualname__ for cls in CASES if cls not in registered]
    assert not stale, f"cases for classes no longer registered: {stale}"


@pytest.mark.parametrize(("cls", "case"), ALL_CASES, ids=[c.name for _, c in ALL_CASES])
def test_case_builds_an_instance_of_its_registered_class(cls: type[nn.Module], case: Case) -> None:
    assert isinstance(case.make(), cls)


def _draw(shape: tuple[int, ...], seed: int, dtype: torch.dtype, device: str, scale: float) -> torch.Tensor:
    return (scale * torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
            ).to(dtype=dtype, device=device)


def _autograd_logdet(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``log|det J_f(x_i)|`` per sample from the full autograd Jacobian (float64)."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: f(v[None])[0], xi)
        jac = jac.reshape(f(xi[None])[0].numel(), xi.numel())
        out.append(torch.linalg.slogdet(jac).logabsdet)
    return torch.stack(out)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cls", "case"), ALL_CASES, ids=[c.name for _, c in ALL_CASES])
def test_layer_contract(cls: type[nn.Module], case: Case, dtype: torch.dtype, device: str) -> None:
    f = _seeded(case.make)().to(dtype=dtype, device=device)
    x = _draw(case.shape, 1, dtype, device, case.scale)
    with torch.no_grad():
        y = f(x)
        inv = invlib.inverse(f, example_input=x)

        # round trip x -> y -> x
        x_hat = inv(y)
        assert x_hat.dtype == dtype and x_hat.device == x.device and x_hat.shape == x.shape
        tol = ROUND_TRIP_TOL[dtype]
        torch.testing.assert_close(x_hat, x, atol=tol, rtol=tol)

        # round trip y -> x -> y, for a fresh y in the image
        y2 = _draw(y.shape, 2, dtype, device, 1.0) if case.onto else f(_draw(case.shape, 2, dtype, device, case.scale))
        torch.testing.assert_close(f(inv(y2)), y2, atol=tol, rtol=tol)

        # log|det| of the inverse = -log|det J_f(x)|, one value per sample, input's dtype and device
        x_ld, inv_logdet = inv.inverse_and_log_abs_det(y)
        assert inv_logdet.shape == (x.shape[0],)
        assert inv_logdet.dtype == dtype and inv_logdet.device == x.device
        for layer in inv.layers:
            assert layer.log_abs_det_jacobian(x_ld, y).shape == (x.shape[0],)
    f64 = copy.deepcopy(f).to(dtype=torch.float64, device="cpu")
    x64 = x.detach().to(dtype=torch.float64, device="cpu")
    reference = _autograd_logdet(f64, x64)
    atol, rtol = LOGDET_TOL[dtype]
    atol += case.ref_atol
    torch.testing.assert_close(-inv_logdet.cpu().to(torch.float64), reference, atol=atol, rtol=rtol)

    # a module's own log_abs_det_jacobian(x, y) follows the same convention
    own = getattr(f, "log_abs_det_jacobian", None)
    if own is not None:
        with torch.no_grad():
            value = own(x, y)
        assert value.dtype == dtype and value.device == x.device
        torch.testing.assert_close(value.cpu().to(torch.float64), reference, atol=atol, rtol=rtol)
