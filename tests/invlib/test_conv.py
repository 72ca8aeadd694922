"""1x1 convolutions (a channel-mixing matrix), circular convolutions (FFT, per-frequency channel blocks) and patch convolutions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import invlib
from invlib.conv import frequency_response


def circ(c_in: int, c_out: int, k: int, seed: int, **kw) -> nn.Conv2d:
    torch.manual_seed(seed)
    pad = kw.pop("padding", (k - 1) // 2 * kw.get("dilation", 1))
    conv = nn.Conv2d(c_in, c_out, k, padding=pad, padding_mode="circular", **kw).double()
    with torch.no_grad():  # identity plus a perturbation: well conditioned at every frequency
        conv.weight.mul_(0.3)
        centre = tuple(s // 2 for s in conv.weight.shape[2:])
        for c in range(min(c_in // kw.get("groups", 1), c_out)):
            conv.weight[(c, c % (c_in // kw.get("groups", 1))) + centre] += 1.0
    return conv


def max_block_condition(conv: nn.Conv2d, size: tuple[int, int]) -> float:
    w = invlib.conv.full_weight(conv.weight.detach(), conv.groups)
    k = frequency_response(w, size, conv.dilation, tuple(p for p in conv.padding))
    s = torch.linalg.svdvals(k)
    return (s[..., 0] / s[..., -1]).max().item()


# Per frequency the inverse solves a C x C system: error <= c * kappa_max * u relative to |x|
# (plus the FFTs' O(u log n)); tolerance 50 (1 + kappa_max) u * max|x|.
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("size", "kw"), [((8, 8), {}), ((7, 9), {}), ((8, 8), {"dilation": 2}),
                                          ((6, 6), {"groups": 2})])
def test_circular_conv_round_trip(dtype: torch.dtype, size: tuple[int, int], kw: dict) -> None:
    conv = circ(4, 4, 3, seed=0, **kw)
    kappa = max_block_condition(conv, size)
    conv = conv.to(dtype)
    x = torch.randn((3, 4) + size, dtype=dtype, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        err = (invlib.inverse(conv)(conv(x)) - x).abs().max().item()
    assert err <= 50 * (1 + kappa) * torch.finfo(dtype).eps * x.abs().max().item()


def test_padding_same_even_kernel_and_conv1d() -> None:
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 2, 4, padding="same", padding_mode="circular").double()
    with torch.no_grad():
        conv.weight[0, 0, 2, 2] += 2.0
        conv.weight[1, 1, 2, 2] += 2.0
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(invlib.inverse(conv)(conv(x)), x, atol=1e-10, rtol=0)
    conv1 = nn.Conv1d(3, 3, 5, padding=2, padding_mode="circular").double()
    with torch.no_grad():
        conv1.weight[:, :, 2] += 2 * torch.eye(3, dtype=torch.float64)
    x1 = torch.randn(2, 3, 11, dtype=torch.float64)
    torch.testing.assert_close(invlib.inverse(conv1)(conv1(x1)), x1, atol=1e-10, rtol=0)


def test_log_det_matches_autograd() -> None:
    conv = circ(2, 2, 3, seed=3)
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    x_hat, logdet = invlib.inverse(conv).inverse_and_log_abs_det(conv(x))
    jac = torch.autograd.functional.jacobian(lambda v: conv(v.reshape(1, 2, 5, 5)).reshape(-1),
                                             x[0].reshape(-1))
    assert logdet[0].item() == pytest.approx(-torch.linalg.slogdet(jac).logabsdet.item(), abs=1e-9)
    assert logdet[1].item() == logdet[0].item()  # a linear map: the same for every sample


def test_frequency_blocks_are_cached_per_size() -> None:
    conv = circ(3, 3, 3, seed=4)
    inv = invlib.inverse(conv)
    layer = inv.layers[0]
    n_built = len(layer._cache)  # the default 32x32 check grid
    for _ in range(3):
        inv(torch.randn(1, 3, 8, 8, dtype=torch.float64))
    assert len(layer._cache) == n_built + 1
    cached = next(v for k, v in layer._cache.items() if k[0] == (8, 8))[0]
    inv(torch.randn(2, 3, 8, 8, dtype=torch.float64))
    assert next(v for k, v in layer._cache.items() if k[0] == (8, 8))[0] is cached
    inv(torch.randn(1, 3, 6, 6, dtype=torch.float64))
    assert len(layer._cache) == n_built + 2


def test_singular_kernel_reports_smallest_singular_value() -> None:
    # two identical output channels: every frequency block has rank 1
    conv = circ(2, 2, 3, seed=5)
    with torch.no_grad():
        conv.weight[1] = conv.weight[0]
    with pytest.raises(invlib.NotInvertibleError,
                       match=r"0: Conv2d is not invertible: singular: the 2x2 channel block .* at frequency "
                             r"\(\d+, \d+\) .* smallest singular value [0-9.e+-]+ \(largest"):
        invlib.inverse(nn.Sequential(conv))


def test_size_dependent_singularity_is_found_for_the_actual_size() -> None:
    # A 3x3 box filter: response (1 + 2cos(2 pi k/n))^2 / 9 vanishes iff 3 divides n.
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1 / 9)
    inv = invlib.inverse(conv)  # fine on the default 32x32 grid (3 does not divide 32)
    x8 = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(inv(conv(x8)), x8, atol=1e-8, rtol=0)
    with pytest.raises(invlib.NotInvertibleError, match=r"singular: .* of the 6x6 grid"):
        inv(torch.zeros(1, 1, 6, 6, dtype=torch.float64))
    with pytest.raises(invlib.NotInvertibleError, match=r"of the 9x9 grid"):
        invlib.inverse(conv, example_input=torch.zeros(1, 1, 9, 9, dtype=torch.float64))
    # least squares: the minimum-norm solution on the nonsingular frequencies
    y = conv(torch.randn(1, 1, 6, 6, dtype=torch.float64))
    x_ls = invlib.inverse(conv, least_squares=True)(y)
    torch.testing.assert_close(conv(x_ls), y, atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    ("conv", "match"),
    [
        (nn.Conv2d(3, 3, 3, padding=1), r"zero padding: .*padding_mode='circular'.*optimize_inverse"),
        (nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), r"reflect padding: use padding_mode='circular' or optimize_inverse \(with padding_mode='reflect'"),
        (nn.Conv2d(3, 3, 3, stride=2, padding=1, padding_mode="circular"), r"stride \(2, 2\) .* downsamples"),
        (nn.Conv2d(3, 3, 3, padding=0, padding_mode="circular"), r"padding \(0, 0\) .* shrinks each spatial size by \(2, 2\)"),
        (nn.Conv2d(3, 3, 3, padding=2, padding_mode="circular"), r"padding \(2, 2\) .* changes the spatial size"),
        (nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular"), r"widening: 3 -> 5 channels"),
        # (a 1x1 ConvTranspose2d is an invertible channel mix: see the transposed-conv tests below)
        (nn.ConvTranspose2d(3, 3, 3, stride=2), r"kernel \(3, 3\) and stride \(2, 2\) differ"),
    ],
)
def test_refusals(conv: nn.Module, match: str) -> None:
    with pytest.raises(invlib.NotInvertibleError, match="0: " + type(conv).__name__ + " is not invertible: " + match):
        invlib.inverse(nn.Sequential(conv))


def test_circular_widening_least_squares_recovers_x() -> None:
    torch.manual_seed(6)
    conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular").double()
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(invlib.inverse(conv, least_squares=True)(conv(x)), x, atol=1e-9, rtol=0)


# -------------------------------------------------------------------------------------------
# Patch convolutions (kernel = stride): a learnable squeeze
# -------------------------------------------------------------------------------------------
def test_patch_conv_round_trip_and_log_det() -> None:
    torch.manual_seed(7)
    conv = nn.Conv2d(2, 8, 2, stride=2).double()
    x = torch.randn(3, 2, 4, 6, dtype=torch.float64)
    inv = invlib.inverse(conv)
    x_hat, logdet = inv.inverse_and_log_abs_det(conv(x))
    torch.testing.assert_close(x_hat, x, atol=1e-10, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda v: conv(v.reshape(1, 2, 4, 6)).reshape(-1),
                                             x[0].reshape(-1))
    assert logdet[0].item() == pytest.approx(-torch.linalg.slogdet(jac).logabsdet.item(), abs=1e-9)


def test_patch_conv_refusals() -> None:
    with pytest.raises(invlib.NotInvertibleError, match=r"narrowing: 12 -> 3 dims per 2x2 patch"):
        invlib.inverse(nn.Conv2d(3, 3, 2, stride=2))
    conv = nn.Conv2d(1, 4, 2, stride=2)
    with pytest.raises(invlib.NotInvertibleError, match=r"input size \(5, 4\) is not a multiple of the 2x2"):
        invlib.inverse(conv, example_input=torch.zeros(1, 1, 5, 4))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_circular_conv_on_cuda() -> None:
    conv = circ(4, 4, 3, seed=8).float().cuda()
    x = torch.randn(2, 4, 16, 16, device="cuda")
    with torch.no_grad():
        err = (invlib.inverse(conv)(conv(x)) - x).abs().max().item()
    assert err < 1e-4


def test_a_size_shrinking_conv_is_refused_for_its_size_not_its_padding_mode():
    conv = torch.nn.Conv2d(1, 1, 3, padding=0)
    with pytest.raises(invlib.NotInvertibleError, match=r"shrinks each spatial size by \(2, 2\) \(8x8 -> 6x6\)"):
        invlib.inverse(conv, example_input=torch.randn(1, 1, 8, 8))
    with pytest.raises(invlib.NotInvertibleError, match="fewer outputs than inputs") as err:
        invlib.inverse(torch.nn.Conv1d(2, 2, 5, padding=1))
    assert "zero padding" not in str(err.value)


# -------------------------------------------------------------------------------------------
# 1x1 convolutions
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("groups", [1, 2])
def test_conv1x1_round_trip_and_log_det(groups: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 4, 1, groups=groups).double()
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    inv = invlib.inverse(conv)
    x_hat, logdet = inv.inverse_and_log_abs_det(conv(x))
    torch.testing.assert_close(x_hat, x, atol=1e-11, rtol=0)
    m = invlib.conv.conv_channel_matrix(conv.weight, groups)
    torch.testing.assert_close(logdet, (-30 * torch.linalg.slogdet(m).logabsdet).expand(3), atol=1e-10, rtol=0)


def test_conv1d_1x1_float32() -> None:
    torch.manual_seed(1)
    conv = nn.Conv1d(3, 3, 1)
    x = torch.randn(2, 3, 7)
    # the default init gives kappa(M) < 30 here; tolerance 40 (1 + kappa) u |x| as for Linear
    kappa = torch.linalg.cond(conv.weight.detach().reshape(3, 3).double()).item()
    err = (invlib.inverse(conv)(conv(x)) - x).abs().max().item()
    assert err <= 40 * (1 + kappa) * 1.2e-7 * x.abs().max().item()


def test_conv1x1_narrowing_refused_and_least_squares() -> None:
    conv = nn.Conv2d(4, 2, 1).double()
    with pytest.raises(invlib.NotInvertibleError, match="narrowing: 4 -> 2 channels"):
        invlib.inverse(conv)
    y = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    x_hat = invlib.inverse(conv, least_squares=True)(y)
    torch.testing.assert_close(conv(x_hat), y, atol=1e-12, rtol=0)


def test_conv1x1_shape_check() -> None:
    inv = invlib.inverse(nn.Conv2d(3, 3, 1))
    with pytest.raises(invlib.InvalidInputError, match=r"expected \(N, 3, \.\.\., \.\.\.\).*got \(2, 4, 5, 5\)"):
        inv(torch.zeros(2, 4, 5, 5))


# --- outsider findings: transposed convolutions -------------------------------------------------
@pytest.mark.parametrize("make, x_shape", [
    (lambda: nn.ConvTranspose2d(16, 4, 2, stride=2), (3, 16, 4, 5)),   # 16 -> 4 x 2x2 per position
    (lambda: nn.ConvTranspose2d(4, 4, 1), (2, 4, 5, 5)),               # a channel mix
    (lambda: nn.ConvTranspose1d(6, 2, 3, stride=3, bias=False), (2, 6, 7)),
    (lambda: nn.ConvTranspose3d(8, 1, 2, stride=2), (2, 8, 2, 3, 2)),
])
def test_transposed_conv_with_kernel_equal_to_stride_round_trips(make, x_shape) -> None:
    # used to raise NotInvertibleError("transposed convolutions are not supported") although
    # each input position maps to its own output patch through one square matrix
    torch.manual_seed(0)
    layer = make().double()
    x = torch.randn(x_shape, dtype=torch.float64)
    inv = invlib.inverse(layer)
    with torch.no_grad():
        y = layer(x)
        torch.testing.assert_close(inv(y), x, rtol=0, atol=1e-10)
        # log|det|: one square matrix per input position
        m = layer.weight.reshape(layer.in_channels, -1).T
        expected = torch.linalg.slogdet(m).logabsdet * math.prod(x_shape[2:])
        torch.testing.assert_close(inv.layers[0].log_abs_det_jacobian(x, y),
                                   expected.expand(x_shape[0]), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layer, match", [
    (nn.ConvTranspose2d(4, 4, 2, stride=2), r"widening: 4 -> 16"),
    (nn.ConvTranspose2d(16, 4, 3, stride=2), r"kernel \(3, 3\) and stride \(2, 2\)"),
    (nn.ConvTranspose2d(16, 4, 2, stride=2, padding=1), "padding"),
    (nn.ConvTranspose2d(16, 4, 2, stride=2, groups=2), "groups"),
])
def test_transposed_conv_refusals_say_why(layer: nn.Module, match: str) -> None:
    with pytest.raises(invlib.NotInvertibleError, match=match):
        invlib.inverse(layer)


# --- outsider findings: unbatched inputs, as torch's convolutions accept them -------------------
@pytest.mark.parametrize("make, x_shape", [
    (lambda: nn.Conv1d(4, 4, 3, padding=1, padding_mode="circular"), (4, 10)),
    (lambda: nn.Conv2d(4, 4, 1), (4, 5, 5)),
    (lambda: nn.Conv2d(4, 16, 2, stride=2), (4, 6, 4)),
    (lambda: nn.ConvTranspose2d(16, 4, 2, stride=2), (16, 3, 2)),
])
def test_unbatched_conv_input_round_trips(make, x_shape) -> None:
    # the forward accepts (C, *spatial); the inverse used to refuse its output: "expected (N, 4, ...)"
    torch.manual_seed(0)
    layer = make().double()
    x = torch.randn(x_shape, dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)
    out = invlib.inverse(layer)(y)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, rtol=0, atol=1e-10)
