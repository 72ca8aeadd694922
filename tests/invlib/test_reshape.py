"""Inverses of the coordinate permutations: Flatten/Unflatten, Reshape/Permute, pixel and channel shuffles.

They move entries without arithmetic, so every round trip is bit-exact (tolerance 0).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib
from invlib.reshape import Permute, Reshape


def exact(model: nn.Module, x: torch.Tensor, **kw) -> invlib.InverseModel:
    inv = invlib.inverse(model, **kw)
    x_hat, logdet = inv.inverse_and_log_abs_det(model(x))
    assert torch.equal(x_hat, x)
    assert torch.equal(logdet, torch.zeros(x.shape[0]))
    return inv


def test_flatten_needs_the_shape_and_gets_it_from_example_input() -> None:
    x = torch.randn(2, 3, 4, 5)
    model = nn.Sequential(nn.Identity(), nn.Flatten())
    with pytest.raises(invlib.NotInvertibleError, match=r"1: Flatten is not invertible: .*example_input=x"):
        invlib.inverse(model)
    inv = exact(model, x, example_input=x)
    # another batch size works: only the flattened dims were recorded
    y = torch.randn(7, 60)
    assert inv(y).shape == (7, 3, 4, 5)
    with pytest.raises(invlib.InvalidInputError, match=r"size 60 \(= 3\*4\*5\) in dim 1, got \(7, 61\)"):
        inv(torch.randn(7, 61))


def test_flatten_middle_dims() -> None:
    x = torch.randn(2, 3, 4, 5)
    exact(nn.Flatten(1, 2), x, example_input=x)


@pytest.mark.parametrize(("dim", "sizes"), [(1, (3, 4)), (-1, (2, 6))])
def test_unflatten(dim: int, sizes: tuple[int, int]) -> None:
    x = torch.randn(2, 5, 12) if dim == -1 else torch.randn(2, 12, 5)
    inv = exact(nn.Unflatten(dim, sizes), x)
    with pytest.raises(invlib.InvalidInputError, match="expected sizes"):
        inv(torch.randn(2, 12, 5, 1) if dim == 1 else torch.randn(2, 5, 3, 4))


def test_reshape_records_its_input_shape() -> None:
    layer = Reshape(4, 6)
    with pytest.raises(invlib.NotInvertibleError, match="input shape is unknown"):
        invlib.inverse(layer)
    x = torch.randn(3, 2, 12)
    assert layer(x).shape == (3, 4, 6)
    assert layer.in_shape == (2, 12)
    exact(layer, x)
    # example_input overrides a stale recording
    x2 = torch.randn(3, 24)
    exact(layer, x2, example_input=x2)


def test_permute() -> None:
    x = torch.randn(2, 3, 4, 5)
    inv = exact(Permute(2, 0, 1), x)
    with pytest.raises(invlib.InvalidInputError, match="a 4-D tensor"):
        inv(torch.randn(2, 3))
    with pytest.raises(ValueError, match="permutation"):
        Permute(0, 0, 1)


@pytest.mark.parametrize("layer", [nn.PixelShuffle(2), nn.PixelUnshuffle(2), nn.ChannelShuffle(2)])
def test_pixel_and_channel_shuffles(layer: nn.Module) -> None:
    x = torch.randn(2, 8, 4, 6)
    exact(layer, x)


def test_shuffle_shape_checks() -> None:
    with pytest.raises(invlib.InvalidInputError, match="H and W divisible by 2"):
        invlib.inverse(nn.PixelShuffle(2))(torch.randn(1, 2, 3, 4))
    with pytest.raises(invlib.InvalidInputError, match="C divisible by 4"):
        invlib.inverse(nn.PixelUnshuffle(2))(torch.randn(1, 6, 3, 4))
    with pytest.raises(invlib.InvalidInputError, match="C divisible by 3"):
        invlib.inverse(nn.ChannelShuffle(3))(torch.randn(1, 4, 3, 4))


# --- outsider findings --------------------------------------------------------------------------
@pytest.mark.parametrize("sizes, y_shape", [((4, -1), (2, 4, 16)), ((-1, 8), (2, 8, 8)), ((2, -1, 4), (2, 2, 8, 4))])
def test_unflatten_with_an_inferred_size_round_trips(sizes: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    # nn.Unflatten(1, (4, -1)) used to refuse every y: "expected sizes (4, -1) in dims 1..2"
    layer = nn.Unflatten(1, sizes)
    x = torch.randn(2, 64)
    y = layer(x)
    assert tuple(y.shape) == y_shape
    inv = invlib.inverse(layer)
    torch.testing.assert_close(inv(y), x, rtol=0, atol=0)
    with pytest.raises(invlib.InvalidInputError, match="wrong shape"):
        inv(torch.randn(2, 3, 3, 3) if len(sizes) == 2 else torch.randn(2, 3, 8, 4))
