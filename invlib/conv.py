r"""Exact inverses of convolutions: 1x1 ``ConvNd`` (a channel-mixing matrix), circular ``ConvNd``
via the FFT, and patch convolutions (kernel = stride).

**1x1 convolution.** Kernel 1, stride 1, no padding: the same :math:`C_{out} \times C_{in}` matrix
:math:`M` mixes the channels at every position, :math:`y_{:,p} = M x_{:,p} + b`, so the inverse is
the 1x1 convolution with kernel :math:`M^{-1}` (or the pseudo-inverse :math:`M^{+}` under
``least_squares=True``), and :math:`\log|\det J| = (\#\text{positions})\log|\det M|`. The
matrix is inverted by :func:`invlib.linear.matrix_inverse`, as for ``nn.Linear``.

**Circular convolution.** With ``padding_mode="circular"``, stride 1 and a padding that keeps
the size, torch computes (cross-correlation, left padding :math:`l`, dilation :math:`d`)

.. math:: y_{o}[i] = b_o + \sum_{c}\sum_{a} w_{o c}[a]\, x_c[(i + a d - l) \bmod n].

The discrete Fourier transform turns the shift into a phase, so at every frequency
:math:`\omega` the channels mix by one :math:`C_{out} \times C_{in}` complex matrix

.. math:: Y(\omega) = K(\omega)\, X(\omega), \qquad
          K_{oc}(\omega) = \sum_a w_{oc}[a]\, e^{+2\pi i\, \omega (a d - l)/n}

(plus :math:`b` at :math:`\omega = 0`). The convolution is invertible iff every block
:math:`K(\omega)` is, and then :math:`X(\omega) = K(\omega)^{-1}(Y(\omega) - B(\omega))`. The
blocks depend on the spatial size :math:`n`; they are formed and inverted (in float64) once per
size, cached, and each call costs ``rfftn -> batched matmul -> irfftn``.
:math:`\log|\det J| = \sum_\omega \log|\det K(\omega)|` over the full frequency grid.

**Patch convolution.** With kernel = stride and no padding, each output position sees its own
non-overlapping patch, :math:`y_{:,p} = M\,\mathrm{vec}(x_{\text{patch } p}) + b` with
:math:`M \in \mathbb{R}^{C_{out}\times C_{in}k^d}`; if :math:`M` is square and full rank,
:math:`x = ` ``conv_transpose`` of :math:`y - b` with kernel :math:`M^{-1}` (a learnable
"squeeze", as in Glow). Input sizes must be multiples of the kernel, else the remainder is lost.
"""

from __future__ import annotations

import itertools
import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invlib.compose import BuildOptions, InverseLayer, constant_per_sample
from invlib.errors import NotInvertibleError
from invlib.linear import LS_SUGGESTION, matrix_inverse
from invlib.validation import default_rcond

__all__ = [
    "ChannelMixInverse",
    "CircularConvInverse",
    "PatchConvInverse",
    "build_conv",
    "build_conv1x1",
    "conv_channel_matrix",
    "frequency_response",
    "DEFAULT_CHECK_SIZE",
]

#: Without ``example_input``, a circular conv's blocks are checked on this grid per spatial dim
#: at build time (it contains the frequencies of every size dividing it: 1, 2, 4, ..., 32).
DEFAULT_CHECK_SIZE = 32


def _tuple(v: int | tuple[int, ...], d: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


def full_weight(weight: Tensor, groups: int) -> Tensor:
    """Expand a grouped kernel ``(C_out, C_in/g, *k)`` to the dense ``(C_out, C_in, *k)`` one."""
    if groups == 1:
        return weight
    c_out, c_in_g = weight.shape[:2]
    out_g = c_out // groups
    full = weight.new_zeros((c_out, c_in_g * groups) + tuple(weight.shape[2:]))
    for g in range(groups):
        full[g * out_g:(g + 1) * out_g, g * c_in_g:(g + 1) * c_in_g] = weight[g * out_g:(g + 1) * out_g]
    return full


def frequency_response(weight: Tensor, size: tuple[int, ...], dilation: tuple[int, ...],
                       left_pad: tuple[int, ...], *, onesided: bool = True) -> Tensor:
    r"""The blocks :math:`K(\omega)` of a circular convolution on a grid of spatial ``size``.

    ``weight`` is the dense ``(C_out, C_in, *k)`` kernel. Returns a complex128 tensor of shape
    ``(*freq, C_out, C_in)``, ``freq`` being the ``rfftn`` grid (``onesided``) or the full one.
    """
    d = len(size)
    c_out, c_in = weight.shape[:2]
    k = weight.shape[2:]
    w = weight.detach().to(torch.float64)
    arr = torch.zeros((c_out, c_in, math.prod(size)), dtype=torch.float64, device=w.device)
    strides = [math.prod(size[i + 1:]) for i in range(d)]
    lin = []
    for idx in itertools.product(*[range(kk) for kk in k]):
        pos = 0
        for i in range(d):
            pos += ((idx[i] * dilation[i] - left_pad[i]) % size[i]) * strides[i]
        lin.append(pos)
    lin_t = torch.tensor(lin, dtype=torch.long, device=w.device)
    arr.index_add_(2, lin_t, w.reshape(c_out, c_in, -1))
    arr = arr.reshape((c_out, c_in) + tuple(size))
    dims = tuple(range(2, 2 + d))
    spec = torch.fft.rfftn(arr, dim=dims) if onesided else torch.fft.fftn(arr, dim=dims)
    spec = spec.conj()
    return spec.permute(tuple(range(2, 2 + d)) + (0, 1))


# ---------------------------------------------------------------------------------------------
# 1x1 convolutions: a channel-mixing matrix applied at every position
# ---------------------------------------------------------------------------------------------
def conv_channel_matrix(weight: Tensor, groups: int) -> Tensor:
    r"""The :math:`C_{out} \times C_{in}` matrix of a 1x1 convolution (block diagonal for groups)."""
    c_out, c_in_g = weight.shape[:2]
    w = weight.detach().reshape(c_out, c_in_g)
    if groups == 1:
        return w
    out_g = c_out // groups
    return torch.block_diag(*[w[g * out_g:(g + 1) * out_g] for g in range(groups)])


def _accepts_unbatched(forward):
    """Let a conv inverse's ``forward(y)`` take an unbatched ``(C, *spatial)`` ``y``, as torch's convs do."""
    @functools.wraps(forward)
    def wrapper(self, y: Tensor) -> Tensor:
        if y.ndim == self.n_spatial + 1:
            return forward(self, y.unsqueeze(0)).squeeze(0)
        return forward(self, y)
    return wrapper


class ChannelMixInverse(InverseLayer):
    r"""Inverse of a 1x1 ``ConvNd`` (kernel 1, stride 1, padding 0): at every position
    :math:`y_{:,p} = M x_{:,p} + b`, so :math:`x_{:,p} = M^{-1}(y_{:,p} - b)` (or :math:`M^{+}`),
    computed as a 1x1 convolution with kernel :math:`M^{-1}` and bias :math:`-M^{-1}b`.
    :math:`\log|\det J| = (\#\text{positions})\cdot\log|\det M|`.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    matrix:
        :math:`M`, shape ``(C_out, C_in)`` (see :func:`conv_channel_matrix`).
    bias:
        :math:`b`, shape ``(C_out,)``, or ``None``.
    n_spatial:
        1, 2 or 3: ``y`` ``(N, C_out, *spatial)`` maps to ``x`` ``(N, C_in, *spatial)``.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse` (``least_squares``,
        ``rcond``, ``solver``).
    """

    @property
    def event_ndim(self) -> int:
        return self.n_spatial + 1

    def __init__(self, path: str, layer: str, matrix: Tensor, bias: Tensor | None, n_spatial: int,
                 opts: BuildOptions) -> None:
        super().__init__(path, layer)
        self.c_out, self.c_in = matrix.shape
        self.n_spatial = n_spatial
        mi = matrix_inverse(matrix, path, layer, opts, unit="channels")
        self.exact = mi.exact
        self.log_abs_det_m = mi.log_abs_det
        dtype = matrix.dtype
        shift = mi.inv @ bias.detach().to(torch.float64) if bias is not None else None
        self.register_buffer("kernel", mi.inv.reshape((self.c_in, self.c_out) + (1,) * n_spatial).to(dtype))
        self.register_buffer("neg_shift", None if shift is None else (-shift).to(dtype))
        self._conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n_spatial]

    def check_shape(self, shape: torch.Size) -> torch.Size:
        return self.channels_first_shape(shape, self.c_out, self.c_in, self.n_spatial)

    @_accepts_unbatched
    def forward(self, y: Tensor) -> Tensor:
        return self._conv(y, self.kernel, self.neg_shift)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if self.log_abs_det_m is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant", "use square full-rank layers for densities")
        return constant_per_sample(self.log_abs_det_m, y, math.prod(y.shape[2:]))


def build_conv1x1(module: nn.modules.conv._ConvNd, path: str, opts: BuildOptions) -> ChannelMixInverse:
    """The inverse of a 1x1 ``Conv1d/2d/3d`` with stride 1 and padding 0."""
    m = conv_channel_matrix(module.weight, module.groups)
    return ChannelMixInverse(path, type(module).__name__, m, module.bias, module.weight.ndim - 2, opts)


# ---------------------------------------------------------------------------------------------
# Circular convolutions: block-diagonal in the Fourier domain
# ---------------------------------------------------------------------------------------------
class CircularConvInverse(InverseLayer):
    r"""Inverse of a circular, size-preserving ``Conv1d/2d/3d`` via per-frequency channel blocks.

    :math:`X(\omega) = K(\omega)^{-1}\,(Y(\omega) - B(\omega))` (or the pseudo-inverse
    :math:`K(\omega)^{+}` under ``least_squares=True``), with the blocks inverted once per
    spatial size and cached. Raises :class:`~invlib.NotInvertibleError` (naming the frequency and
    the smallest singular value) when a block is singular.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    weight:
        The dense kernel, shape ``(C_out, C_in, *k)`` (``groups`` expanded); ``y`` is
        ``(N, C_out, *spatial)`` and ``x`` ``(N, C_in, *spatial)``, same spatial size.
    bias:
        Shape ``(C_out,)``, or ``None``.
    dilation, left_pad:
        Per spatial dim, the dilation :math:`d` and the left padding :math:`l` of the forward conv.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse` (``least_squares``,
        ``rcond``, ``solver``).
    check_size:
        The spatial size to check (and cache) the blocks for at build time, if known; else a
        ``DEFAULT_CHECK_SIZE`` grid per dim.
    """

    @property
    def event_ndim(self) -> int:
        return self.n_spatial + 1

    def __init__(self, path: str, layer: str, weight: Tensor, bias: Tensor | None,
                 dilation: tuple[int, ...], left_pad: tuple[int, ...], opts: BuildOptions,
                 check_size: tuple[int, ...] | None = None) -> None:
        super().__init__(path, layer)
        self.n_spatial = weight.ndim - 2
        self.c_out, self.c_in = weight.shape[:2]
        self.dilation = dilation
        self.left_pad = left_pad
        self.least_squares = opts.least_squares
        self.rcond = opts.rcond
        self.register_buffer("weight", weight.detach().clone())
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self._cache: dict[tuple, tuple[Tensor, float | None]] = {}
        if self.c_out != self.c_in and not opts.least_squares:
            kind = "narrowing" if self.c_out < self.c_in else "widening"
            raise NotInvertibleError(path, layer, f"{kind}: {self.c_in} -> {self.c_out} channels at "
                                     "every position", LS_SUGGESTION)
        # Check (and cache) now, on the known input size or on the default grid.
        size = check_size or (DEFAULT_CHECK_SIZE,) * self.n_spatial
        self._factor(size, weight.dtype, weight.device, known=check_size is not None)

    def _factor(self, size: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                known: bool = True) -> tuple[Tensor, float | None]:
        key = (size, dtype, device)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        k = frequency_response(self.weight.to(device), size, self.dilation, self.left_pad)
        s = torch.linalg.svdvals(k)                      # (*freq, min(C_out, C_in))
        s_max = float(s.max()) if s.numel() else 0.0
        rcond = self.rcond if self.rcond is not None else default_rcond(self.c_out, self.c_in, dtype)
        tol = rcond * s_max
        s_min_per_freq = s[..., -1]
        worst = int(torch.argmin(s_min_per_freq.reshape(-1)))
        s_min = float(s_min_per_freq.reshape(-1)[worst])
        singular = s_min <= tol
        if singular and not self.least_squares:
            freq = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), s_min_per_freq.shape))
            grid = "x".join(str(n) for n in size)
            note = "" if known else (f" (checked on the default {grid} grid; pass example_input to "
                                     "invlib.inverse to check your input size)")
            raise NotInvertibleError(
                self.path, self.layer,
                f"singular: the {self.c_out}x{self.c_in} channel block of the kernel's frequency "
                f"response at frequency {freq} of the {grid} grid has smallest singular value "
                f"{s_min:.3g} (largest over all frequencies {s_max:.3g}, cutoff {tol:.3g}){note}",
                LS_SUGGESTION)
        if self.c_out == self.c_in and not singular:
            kinv = torch.linalg.inv(k)
            full = frequency_response(self.weight.to(device), size, self.dilation, self.left_pad,
                                      onesided=False)
            logdet = float(torch.linalg.slogdet(full).logabsdet.sum())
        else:
            kinv = torch.linalg.pinv(k, atol=tol, rtol=0.0)
            logdet = None
        cdtype = torch.complex64 if dtype in (torch.float32, torch.float16, torch.bfloat16) else torch.complex128
        out = (kinv.reshape(-1, self.c_in, self.c_out).to(cdtype), logdet)
        self._cache[key] = out
        return out

    def _apply(self, fn, recurse=True):  # noqa: ANN001 - nn.Module's signature
        self._cache = {}
        return super()._apply(fn, recurse)

    def check_shape(self, shape: torch.Size) -> torch.Size:
        return self.channels_first_shape(shape, self.c_out, self.c_in, self.n_spatial)

    @_accepts_unbatched
    def forward(self, y: Tensor) -> Tensor:
        size = tuple(y.shape[2:])
        kinv, _ = self._factor(size, y.dtype, y.device)
        d = self.n_spatial
        dims = tuple(range(2, 2 + d))
        if self.bias is not None:
            y = y - self.bias.reshape((1, -1) + (1,) * d)
        yf = torch.fft.rfftn(y, dim=dims)                            # (N, C_out, *freq)
        n = y.shape[0]
        freq = yf.shape[2:]
        # batched (F, C_in, C_out) @ (F, C_out, N); contiguous operands keep matmul on the fast
        # batched-GEMM path (a strided complex operand is ~10x slower on CPU)
        yf = yf.reshape(n, self.c_out, -1).permute(2, 1, 0).contiguous()   # (F, C_out, N)
        xf = torch.matmul(kinv, yf)                                          # (F, C_in, N)
        xf = xf.permute(2, 1, 0).contiguous().reshape((n, self.c_in) + tuple(freq))
        return torch.fft.irfftn(xf, s=size, dim=dims)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        _, logdet = self._factor(tuple(y.shape[2:]), y.dtype, y.device)
        if logdet is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant", "use invertible layers for densities")
        return constant_per_sample(logdet, y)


class PatchConvInverse(InverseLayer):
    r"""Inverse of a ``ConvNd`` with kernel = stride, no padding, dilation 1: the same matrix
    :math:`M` maps every non-overlapping patch, so :math:`x = \mathrm{conv\_transpose}(y - b,
    M^{-1})`. :math:`\log|\det J| = (\#\text{patches})\log|\det M|`.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    weight:
        The kernel, shape ``(C_out, C_in/groups, *k)``, with stride = ``k``; :math:`M` is
        ``(C_out, C_in prod(k))`` and must be square.
    bias:
        Shape ``(C_out,)``, or ``None``.
    groups:
        The forward conv's ``groups``.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse` (``least_squares``,
        ``rcond``, ``solver``).
    in_size:
        The spatial size of ``x``, if known (checked to be a multiple of ``k``): ``y`` is
        ``(N, C_out, *in_size/k)`` and ``x`` ``(N, C_in, *in_size)``.
    """

    @property
    def event_ndim(self) -> int:
        return self.n_spatial + 1

    def __init__(self, path: str, layer: str, weight: Tensor, bias: Tensor | None, groups: int,
                 opts: BuildOptions, in_size: tuple[int, ...] | None = None) -> None:
        super().__init__(path, layer)
        full = full_weight(weight.detach(), groups)
        self.c_out, self.c_in = full.shape[:2]
        self.kernel_size = tuple(full.shape[2:])
        self.n_spatial = len(self.kernel_size)
        patch = math.prod(self.kernel_size)
        k_str = "x".join(map(str, self.kernel_size))
        if in_size is not None and any(n % k for n, k in zip(in_size, self.kernel_size)):
            raise NotInvertibleError(
                path, layer, f"the input size {in_size} is not a multiple of the {k_str} kernel/stride, "
                "so the remainder rows/columns never reach the output", "crop or pad the input first")
        m = full.reshape(self.c_out, self.c_in * patch)
        mi = matrix_inverse(m, path, layer, opts,
                            unit=f"dims per {k_str} patch ({self.c_in} channels x {patch} positions in, "
                                 f"{self.c_out} channels out)")
        self.log_abs_det_m = mi.log_abs_det
        # conv_transpose weight (C_out, C_in, *k): W_t[o, c, a] = M^{-1}[c*patch + a, o]
        wt = mi.inv.reshape(self.c_in, patch, self.c_out).permute(2, 0, 1)
        self.register_buffer("kernel", wt.reshape((self.c_out, self.c_in) + self.kernel_size).to(weight.dtype))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self._convt = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[self.n_spatial]

    def check_shape(self, shape: torch.Size) -> torch.Size:
        x_shape = self.channels_first_shape(shape, self.c_out, self.c_in, self.n_spatial)
        d = self.n_spatial
        return x_shape[:-d] + torch.Size(n * k for n, k in zip(shape[-d:], self.kernel_size))

    @_accepts_unbatched
    def forward(self, y: Tensor) -> Tensor:
        if self.bias is not None:
            y = y - self.bias.reshape((1, -1) + (1,) * self.n_spatial)
        return self._convt(y, self.kernel, stride=self.kernel_size)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if self.log_abs_det_m is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant", "use invertible layers for densities")
        return constant_per_sample(self.log_abs_det_m, y, math.prod(y.shape[2:]))


class TransposedPatchConvInverse(InverseLayer):
    r"""Inverse of a ``ConvTranspose1d/2d/3d`` with kernel = stride, no padding, no output padding,
    dilation 1 and ``groups=1``: every input position :math:`i` is mapped to its own output patch by
    one matrix, :math:`y_{	ext{patch}(i)} = M x_i + b` with
    :math:`M_{(o, a), c} = W_{c, o, a}` (``C_out prod(k)`` rows, ``C_in`` columns), so
    :math:`x = \mathrm{conv}(y - b, M^{-1}, 	ext{stride}=k)` and
    :math:`\log|\det J| = (\#	ext{positions})\log|\det M|`.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name.
    weight:
        The transposed kernel, shape ``(C_in, C_out, *k)``; :math:`M` must be square
        (``C_in = C_out prod(k)``) unless ``least_squares``.
    bias:
        Shape ``(C_out,)``, or ``None``.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse`.
    """

    @property
    def event_ndim(self) -> int:
        return self.n_spatial + 1

    def __init__(self, path: str, layer: str, weight: Tensor, bias: Tensor | None, opts: BuildOptions) -> None:
        super().__init__(path, layer)
        w = weight.detach()
        self.c_in, self.c_out = w.shape[:2]
        self.kernel_size = tuple(w.shape[2:])
        self.n_spatial = len(self.kernel_size)
        patch = math.prod(self.kernel_size)
        k_str = "x".join(map(str, self.kernel_size))
        m = w.reshape(self.c_in, self.c_out * patch).T
        mi = matrix_inverse(m, path, layer, opts,
                            unit=f"dims per input position ({self.c_in} channels in, {self.c_out} channels x "
                                 f"a {k_str} patch out)")
        self.exact = mi.exact
        self.log_abs_det_m = mi.log_abs_det
        # conv weight (C_in, C_out, *k): K[c, o, a] = M^{-1}[c, o*patch + a]
        self.register_buffer("kernel", mi.inv.reshape((self.c_in, self.c_out) + self.kernel_size).to(w.dtype))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self._conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[self.n_spatial]

    def check_shape(self, shape: torch.Size) -> torch.Size:
        x_shape = self.channels_first_shape(shape, self.c_out, self.c_in, self.n_spatial)
        d = self.n_spatial
        if any(n % k for n, k in zip(shape[-d:], self.kernel_size)):
            raise self.shape_error(
                f"(N, {self.c_out}, ...) with every spatial size a multiple of the kernel/stride "
                f"{self.kernel_size}", shape)
        return x_shape[:-d] + torch.Size(n // k for n, k in zip(shape[-d:], self.kernel_size))

    @_accepts_unbatched
    def forward(self, y: Tensor) -> Tensor:
        if self.bias is not None:
            y = y - self.bias.reshape((1, -1) + (1,) * self.n_spatial)
        return self._conv(y, self.kernel, stride=self.kernel_size)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if self.log_abs_det_m is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant", "use invertible layers for densities")
        return constant_per_sample(self.log_abs_det_m, y, math.prod(x.shape[2:]))


def build_conv_transpose(module: nn.modules.conv._ConvTransposeNd, path: str,
                         opts: BuildOptions) -> TransposedPatchConvInverse:
    """The inverse of a ``ConvTranspose1d/2d/3d`` whose kernel equals its stride, or say why there is none."""
    layer = type(module).__name__
    d = module.weight.ndim - 2
    k = tuple(module.kernel_size)
    stride = _tuple(module.stride, d)
    suggestion = ("use kernel_size = stride with in_channels = out_channels * prod(kernel_size) (exactly "
                  "invertible), nn.PixelShuffle, or invlib.optimize_inverse")
    if stride != k:
        overlap = "overlap" if any(kk > s for kk, s in zip(k, stride)) else "leave gaps between them"
        raise NotInvertibleError(
            path, layer, f"kernel {k} and stride {stride} differ: the output patches of neighbouring inputs "
            f"{overlap}, and invlib only inverts a transposed convolution whose kernel equals its stride",
            suggestion)
    for name, value in (("padding", module.padding), ("output_padding", module.output_padding),
                        ("dilation", tuple(v - 1 for v in _tuple(module.dilation, d)))):
        if any(v != 0 for v in _tuple(value, d)):
            raise NotInvertibleError(
                path, layer, f"{name}={getattr(module, name)} is not supported (padding crops the output "
                "patches, output_padding and dilation add entries no input reaches)", suggestion)
    if module.groups != 1:
        raise NotInvertibleError(path, layer, f"groups={module.groups} is not supported for transposed "
                                 "convolutions (only groups=1)", suggestion)
    return TransposedPatchConvInverse(path, layer, module.weight, module.bias, opts)


_ZERO_PAD_SUGGESTION = ("use padding_mode='circular' (exactly invertible via the FFT), or "
                        "invlib.optimize_inverse")


def build_conv(module: nn.modules.conv._ConvNd, path: str, opts: BuildOptions,
               in_shape: torch.Size | None = None) -> InverseLayer:
    """The inverse of a ``Conv1d/2d/3d``: 1x1, patch (kernel = stride) or circular size-preserving."""
    layer = type(module).__name__
    d = module.weight.ndim - 2
    k = tuple(module.kernel_size)
    stride = _tuple(module.stride, d)
    dilation = _tuple(module.dilation, d)
    padding = module.padding
    in_size = tuple(in_shape[-d:]) if in_shape is not None else None
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return build_conv_transpose(module, path, opts)
    zero_pad = padding == "valid" or (not isinstance(padding, str) and all(p == 0 for p in _tuple(padding, d)))
    if all(kk == 1 for kk in k) and all(s == 1 for s in stride) and zero_pad:
        return build_conv1x1(module, path, opts)
    if zero_pad and stride == k and all(dd == 1 for dd in dilation):
        return PatchConvInverse(path, layer, module.weight, module.bias, module.groups, opts, in_size)
    if any(s != 1 for s in stride):
        raise NotInvertibleError(
            path, layer, f"stride {stride} with kernel {k} downsamples: each output position skips "
            f"or overlaps inputs (only kernel = stride with no padding, or stride 1, is supported)",
            "use stride 1 with padding_mode='circular', kernel = stride with C_out = C_in*k^d, "
            "or invlib.optimize_inverse")
    # stride 1 from here on: with less padding than dilation*(kernel-1) the output is smaller than the input
    pad_total = None if isinstance(padding, str) else [2 * p for p in _tuple(padding, d)]
    if padding == "valid":
        pad_total = [0] * d
    shrink = None if pad_total is None else [dd * (kk - 1) - p for dd, kk, p in zip(dilation, k, pad_total)]
    if shrink is not None and any(sh > 0 for sh in shrink):
        sizes = ""
        if in_size is not None:
            out_size = tuple(n - sh for n, sh in zip(in_size, shrink))
            sizes = f" ({'x'.join(map(str, in_size))} -> {'x'.join(map(str, out_size))})"
        raise NotInvertibleError(
            path, layer, f"padding {tuple(p // 2 for p in pad_total)} with kernel {k} shrinks each "
            f"spatial size by {tuple(shrink)}{sizes}: fewer outputs than inputs, so different inputs share "
            f"an output",
            "keep the size (padding = dilation*(kernel-1)/2 with padding_mode='circular'), or use "
            "invlib.optimize_inverse with a prior to choose one preimage")
    if module.padding_mode != "circular":
        raise NotInvertibleError(
            path, layer, f"{'zero' if module.padding_mode == 'zeros' else module.padding_mode} padding: "
            "use padding_mode='circular' or optimize_inverse (with "
            f"padding_mode={module.padding_mode!r} and kernel {k} the border outputs mix the input "
            "with the padding, and the map has no exact inverse that invlib can factor)",
            _ZERO_PAD_SUGGESTION)
    # circular, stride 1: the output keeps the size iff total padding == d*(k-1) per dim
    total = [dd * (kk - 1) for dd, kk in zip(dilation, k)]
    if isinstance(padding, str):  # "same" ("valid" with k > 1 changes the size)
        if padding != "same":
            raise NotInvertibleError(path, layer, f"padding={padding!r} changes the spatial size",
                                     "use padding='same' or padding = dilation*(kernel-1)/2")
        left = tuple(t // 2 for t in total)
    else:
        pad = _tuple(padding, d)
        if any(2 * p != t for p, t in zip(pad, total)):
            raise NotInvertibleError(
                path, layer, f"padding {pad} with kernel {k} and dilation {dilation} changes the "
                "spatial size (a circular conv is only invertible when it keeps the size)",
                "use padding = dilation*(kernel-1)/2 (or padding='same')")
        left = pad
    w = full_weight(module.weight.detach(), module.groups)
    return CircularConvInverse(path, layer, w, module.bias, dilation, left, opts, in_size)
