r"""Inverses of layers that only move entries around (permutations of coordinates):
``Flatten``/``Unflatten``, ``PixelShuffle``/``PixelUnshuffle``, ``ChannelShuffle``, and invlib's
own :class:`Reshape` and :class:`Permute` modules (torch has none).

Each is a permutation matrix :math:`P`, so :math:`x = P^\top y` and :math:`\log|\det J| = 0`.
``Flatten`` and :class:`Reshape` forget the input's shape; its inverse needs it: pass
``example_input`` to :func:`invlib.inverse` (for ``nn.Flatten``), or run the model once
(:class:`Reshape` records the last input shape it saw).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invlib.compose import BuildOptions, InverseLayer
from invlib.errors import NotInvertibleError
from invlib.validation import format_shape

__all__ = [
    "Reshape",
    "Permute",
    "PermutationInverse",
    "FlattenInverse",
    "UnflattenInverse",
    "ReshapeInverse",
    "PermuteInverse",
    "PixelShuffleInverse",
    "ChannelShuffleInverse",
    "build_reshape",
    "RESHAPE_CLASSES",
]


class Reshape(nn.Module):
    r"""Reshape each sample: :math:`x \in \mathbb{R}^{N \times s_{in}} \mapsto
    x.\mathrm{reshape}(N, *\mathrm{shape})`; the batch dim is kept.

    It records the sample shape of the last input it saw in :attr:`in_shape`, which
    :func:`invlib.inverse` uses (a permutation of coordinates: :math:`\log|\det J| = 0`).

    Parameters
    ----------
    shape:
        The sample shape of the output: ``(N, *s_in) -> (N, *shape)``; same number of entries.
    in_shape:
        The sample shape ``s_in`` of the input, if known before the first call (else recorded then).
    """

    def __init__(self, *shape: int, in_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.in_shape: tuple[int, ...] | None = tuple(in_shape) if in_shape is not None else None

    def forward(self, x: Tensor) -> Tensor:
        self.in_shape = tuple(x.shape[1:])
        return x.reshape((x.shape[0],) + self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, in_shape={self.in_shape}"


class Permute(nn.Module):
    r"""Permute the sample dims: :math:`y = x.\mathrm{permute}(0, d_1 + 1, \dots)`; the batch dim
    stays first.

    Parameters
    ----------
    dims:
        :math:`d_1, \dots, d_k`, a permutation of ``range(k)`` for inputs of shape ``(N, s_1, ..., s_k)``
        (sample dims numbered from 0): the output has shape ``(N, s_{d_1}, ..., s_{d_k})``.
    """

    def __init__(self, *dims: int) -> None:
        super().__init__()
        if sorted(dims) != list(range(len(dims))):
            raise ValueError(f"dims must be a permutation of 0..{len(dims) - 1}, got {dims}")
        self.dims = tuple(dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute((0,) + tuple(d + 1 for d in self.dims))

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class PermutationInverse(InverseLayer):
    """Base of the coordinate-permutation inverses: :math:`\\log|\\det J| = 0`.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    """

    event_ndim = 0  # dim 0 is the batch: these inverses need a batched y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.zeros(y.shape[0] if y.ndim else 1, dtype=y.dtype, device=y.device)


class FlattenInverse(PermutationInverse):
    """Inverse of ``nn.Flatten(start_dim, end_dim)``: ``y.unflatten(start_dim, sizes)``.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    start:
        The forward layer's ``start_dim``, made non-negative.
    sizes:
        The sizes of the input dims ``start .. end`` that were flattened into one dim of ``y``.
    in_ndim:
        The number of dims of the forward input ``x`` (``y`` has ``in_ndim - len(sizes) + 1``).
    """

    def __init__(self, path: str, layer: str, start: int, sizes: tuple[int, ...], in_ndim: int) -> None:
        super().__init__(path, layer)
        self.start = start
        self.sizes = sizes
        self.out_ndim = in_ndim - len(sizes) + 1

    def check_shape(self, shape: torch.Size) -> torch.Size:
        n = math.prod(self.sizes)
        if len(shape) != self.out_ndim or shape[self.start] != n:
            raise self.shape_error(f"a {self.out_ndim}-D tensor with size {n} (= "
                                   f"{'*'.join(map(str, self.sizes))}) in dim {self.start}", shape)
        return torch.Size(shape[:self.start] + self.sizes + shape[self.start + 1:])

    def forward(self, y: Tensor) -> Tensor:
        return y.unflatten(self.start, self.sizes)


class UnflattenInverse(PermutationInverse):
    """Inverse of ``nn.Unflatten(dim, sizes)``: flatten those dims back into one.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    dim, sizes:
        The forward layer's ``dim`` and ``unflattened_size``: ``y`` has the dims ``sizes`` at ``dim``,
        ``x`` has their product there.
    """

    def __init__(self, path: str, layer: str, dim: int, sizes: tuple[int, ...]) -> None:
        super().__init__(path, layer)
        self.dim = dim
        self.sizes = tuple(sizes)

    def _start(self, ndim: int) -> int:
        k = len(self.sizes)
        return self.dim if self.dim >= 0 else self.dim + ndim - k + 1

    def check_shape(self, shape: torch.Size) -> torch.Size:
        k = len(self.sizes)
        s = self._start(len(shape))
        # a -1 in ``sizes`` (inferred by the forward) matches any size there
        if s < 0 or len(shape) < s + k or any(want not in (-1, got) for want, got in zip(self.sizes, shape[s:s + k])):
            raise self.shape_error(f"sizes {format_shape(self.sizes)} in dims {s}..{s + k - 1}", shape)
        return torch.Size(shape[:s] + (math.prod(shape[s:s + k]),) + shape[s + k:])

    def forward(self, y: Tensor) -> Tensor:
        s = self._start(y.ndim)
        return y.flatten(s, s + len(self.sizes) - 1)


class ReshapeInverse(PermutationInverse):
    """Inverse of :class:`Reshape`: ``y.reshape(N, *in_shape)``.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    shape:
        The sample shape of ``y`` (the forward :class:`Reshape`'s ``shape``).
    in_shape:
        The sample shape of ``x``: ``y`` of shape ``(N, *shape)`` maps to ``(N, *in_shape)``.
    """

    def __init__(self, path: str, layer: str, shape: tuple[int, ...], in_shape: tuple[int, ...]) -> None:
        super().__init__(path, layer)
        self.shape = shape
        self.in_shape = in_shape

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if math.prod(shape[1:]) != math.prod(self.in_shape) or len(shape) < 1:
            raise self.shape_error(f"(N, {', '.join(map(str, self.shape))})", shape)
        return torch.Size((shape[0],) + self.in_shape)

    def forward(self, y: Tensor) -> Tensor:
        return y.reshape((y.shape[0],) + self.in_shape)


class PermuteInverse(PermutationInverse):
    """Inverse of :class:`Permute`: permute by the inverse permutation.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    dims:
        The forward :class:`Permute`'s permutation of the sample dims.
    """

    def __init__(self, path: str, layer: str, dims: tuple[int, ...]) -> None:
        super().__init__(path, layer)
        inv = [0] * len(dims)
        for i, d in enumerate(dims):
            inv[d] = i
        self.inv_dims = (0,) + tuple(d + 1 for d in inv)

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) != len(self.inv_dims):
            raise self.shape_error(f"a {len(self.inv_dims)}-D tensor", shape)
        return torch.Size(shape[d] for d in self.inv_dims)

    def forward(self, y: Tensor) -> Tensor:
        return y.permute(self.inv_dims)


class PixelShuffleInverse(PermutationInverse):
    """Inverse of ``PixelShuffle(r)`` (``pixel_unshuffle``) or of ``PixelUnshuffle(r)`` (``pixel_shuffle``).

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    factor:
        The upscale (``PixelShuffle``) or downscale (``PixelUnshuffle``) factor :math:`r`.
    unshuffle:
        ``True`` when the forward layer was ``PixelUnshuffle``: ``y`` ``(..., C r^2, H, W)`` maps
        to ``(..., C, H r, W r)``; ``False`` the other way round.
    """

    def __init__(self, path: str, layer: str, factor: int, unshuffle: bool) -> None:
        super().__init__(path, layer)
        self.factor = factor
        self.unshuffle = unshuffle  # True: the forward layer was PixelUnshuffle

    def check_shape(self, shape: torch.Size) -> torch.Size:
        r = self.factor
        if len(shape) < 3:
            raise self.shape_error("(..., C, H, W)", shape)
        c, h, w = shape[-3:]
        if self.unshuffle:
            if c % (r * r):
                raise self.shape_error(f"(..., C, H, W) with C divisible by {r * r}", shape)
            return torch.Size(shape[:-3] + (c // (r * r), h * r, w * r))
        if h % r or w % r:
            raise self.shape_error(f"(..., C, H, W) with H and W divisible by {r}", shape)
        return torch.Size(shape[:-3] + (c * r * r, h // r, w // r))

    def forward(self, y: Tensor) -> Tensor:
        return F.pixel_shuffle(y, self.factor) if self.unshuffle else F.pixel_unshuffle(y, self.factor)


class ChannelShuffleInverse(PermutationInverse):
    r"""Inverse of ``ChannelShuffle(g)``: ``ChannelShuffle(C/g)``.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    groups:
        The forward layer's ``groups`` :math:`g`; ``y`` is ``(N, C, ...)`` with :math:`g \mid C`.
    """

    def __init__(self, path: str, layer: str, groups: int) -> None:
        super().__init__(path, layer)
        self.groups = groups

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) < 2 or shape[1] % self.groups:
            raise self.shape_error(f"(N, C, ...) with C divisible by {self.groups}", shape)
        return shape

    def forward(self, y: Tensor) -> Tensor:
        n, c = y.shape[:2]
        g = self.groups
        return y.reshape((n, c // g, g) + tuple(y.shape[2:])).transpose(1, 2).reshape(y.shape)


def _norm(dim: int, ndim: int) -> int:
    return dim if dim >= 0 else dim + ndim


def build_reshape(module: nn.Module, path: str, opts: BuildOptions,
                  in_shape: torch.Size | None = None) -> PermutationInverse:
    """The inverse of a coordinate-permuting layer; ``in_shape`` is the recorded input shape."""
    layer = type(module).__name__
    if isinstance(module, nn.Flatten):
        if in_shape is None:
            raise NotInvertibleError(
                path, layer, "the sizes of the flattened dims are not stored in nn.Flatten, so "
                "invlib cannot know how to unflatten",
                "pass example_input=x to invlib.inverse (one forward run records every layer's "
                "input shape), or use nn.Unflatten/invlib.reshape.Reshape")
        nd = len(in_shape)
        s, e = _norm(module.start_dim, nd), _norm(module.end_dim, nd)
        return FlattenInverse(path, layer, s, tuple(in_shape[s:e + 1]), nd)
    if isinstance(module, nn.Unflatten):
        return UnflattenInverse(path, layer, module.dim, tuple(module.unflattened_size))
    if isinstance(module, Reshape):
        shape = tuple(in_shape[1:]) if in_shape is not None else module.in_shape
        if shape is None:
            raise NotInvertibleError(path, layer, "the input shape is unknown until the layer has "
                                     "seen an input", "run the model once, or pass example_input=x")
        return ReshapeInverse(path, layer, module.shape, tuple(shape))
    if isinstance(module, Permute):
        return PermuteInverse(path, layer, module.dims)
    if isinstance(module, nn.PixelShuffle):
        return PixelShuffleInverse(path, layer, module.upscale_factor, unshuffle=False)
    if isinstance(module, nn.PixelUnshuffle):
        return PixelShuffleInverse(path, layer, module.downscale_factor, unshuffle=True)
    if isinstance(module, nn.ChannelShuffle):
        return ChannelShuffleInverse(path, layer, module.groups)
    raise TypeError(f"build_reshape got {layer}")  # pragma: no cover - dispatch bug


#: The coordinate-permuting classes :func:`invlib.inverse` inverts.
RESHAPE_CLASSES: tuple[type[nn.Module], ...] = (
    nn.Flatten, nn.Unflatten, Reshape, Permute, nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle,
)
