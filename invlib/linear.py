r"""Exact (and least-squares) inverses of the affine layers: Linear, BatchNorm in eval mode, and
the identity-in-eval layers (Identity, Dropout); :func:`matrix_inverse` is shared with the 1x1
convolutions of :mod:`invlib.conv`.

Every affine layer is :math:`y = Wx + b` for a matrix :math:`W \in \mathbb{R}^{m \times n}`.
At build time its singular values :math:`\sigma_1 \ge \dots \ge \sigma_{\min(m,n)}` are computed
(float64) and its numerical rank is :math:`r = \#\{\sigma_i > \mathrm{rcond}\cdot\sigma_1\}`:

* :math:`m = n = r`: the exact inverse :math:`x = W^{-1}(y - b)`;
* otherwise :class:`~invlib.NotInvertibleError` ("narrowing: 10 -> 3 dims", "rank 7 found, 8
  needed"), unless ``least_squares=True``: then :math:`x = W^{+}(y - b)` with the
  pseudo-inverse :math:`W^{+} = V \Sigma_r^{-1} U^\top` (truncated SVD), the minimum-norm
  minimizer of :math:`\|Wx + b - y\|_2`.

**Cost and accuracy.** Both are computed once. The default ``solver="explicit"`` stores
:math:`W^{-1}` (computed in float64 and rounded once to the layer's dtype) and folds the bias
into one GEMM, :math:`x = y W^{-\top} - W^{-1}b`, so a call costs what the forward pass costs.
``solver="lu"`` stores LU factors and does two triangular solves per call
(``torch.linalg.lu_solve``): backward stable, but slower on CPU (see ``benchmarks/bench_exact.py``).
Both have forward error :math:`\lesssim c\,\kappa(W)\,\varepsilon` relative to :math:`\|x\|`.
Because :math:`W^{-1}` is formed in float64 and rounded once, the explicit inverse was the more
accurate of the two in float32 in our measurements (orthogonal 256x256 :math:`W`, batch 4096:
max error 2.9e-6 explicit vs 2.2e-5 LU) as well as the faster (inverse/forward time 1.1-1.2 vs
2.4-2.5), hence the default. Use ``"lu"`` when you prefer the textbook backward-stable solve.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invlib.compose import BuildOptions, IdentityInverse, InverseLayer, constant_per_sample
from invlib.errors import NotInvertibleError, PrecisionWarning
from invlib.validation import PRECISION_LIMIT, default_rcond

__all__ = [
    "MatrixInverse",
    "matrix_inverse",
    "LinearInverse",
    "BatchNormInverse",
    "build_linear",
    "build_batchnorm",
    "build_dropout",
    "build_identity",
    "LS_SUGGESTION",
]

LS_SUGGESTION = ("pass least_squares=True to invlib.inverse for the minimum-norm least-squares "
                 "inverse (pseudo-inverse), use invlib.optimize_inverse, or train a decoder")


class MatrixInverse:
    r"""The result of :func:`matrix_inverse`: :math:`W^{-1}` or :math:`W^{+}` (float64) and facts.

    Attributes
    ----------
    inv:
        :math:`n \times m` float64 matrix, :math:`W^{-1}` or the pseudo-inverse :math:`W^{+}`.
    singular_values:
        :math:`\sigma_1 \ge \dots` of :math:`W` (float64).
    rank:
        The numerical rank.
    exact:
        ``True`` when :math:`W` is square and full rank (``inv`` is :math:`W^{-1}`).
    log_abs_det:
        :math:`\log|\det W|` when exact, else ``None``.
    """

    def __init__(self, inv: Tensor, singular_values: Tensor, rank: int, exact: bool,
                 log_abs_det: float | None) -> None:
        self.inv = inv
        self.singular_values = singular_values
        self.rank = rank
        self.exact = exact
        self.log_abs_det = log_abs_det


def matrix_inverse(w: Tensor, path: str, layer: str, opts: BuildOptions, *,
                   unit: str = "dims") -> MatrixInverse:
    r"""Invert the :math:`m \times n` matrix ``w`` of an affine layer, or say why it cannot be.

    Raises :class:`~invlib.NotInvertibleError` for a non-square or rank-deficient ``w`` unless
    ``opts.least_squares``; then returns the truncated-SVD pseudo-inverse.
    """
    m, n = w.shape
    w64 = w.detach().to(torch.float64)
    if m != n and not opts.least_squares:
        if m < n:
            reason = f"narrowing: {n} -> {m} {unit}; {n - m} dimensions of the input are lost"
        else:
            reason = (f"widening: {n} -> {m} {unit}; the outputs fill at most a {n}-dim subspace of "
                      f"the {m}-dim output space, so most y have no preimage")
        raise NotInvertibleError(path, layer, reason, LS_SUGGESTION)
    u, s, vh = torch.linalg.svd(w64, full_matrices=False)
    rcond = opts.rcond if opts.rcond is not None else default_rcond(m, n, w.dtype)
    s_max = float(s[0]) if s.numel() else 0.0
    tol = rcond * s_max
    rank = int((s > tol).sum()) if s_max > 0 else 0
    if m == n and rank == n:
        inv = torch.linalg.inv(w64)
        logdet = float(torch.linalg.slogdet(w64).logabsdet)
        return MatrixInverse(inv, s, rank, True, logdet)
    if not opts.least_squares:
        s_min = float(s[-1]) if s.numel() else 0.0
        raise NotInvertibleError(
            path, layer,
            f"rank {rank} found, {n} needed (smallest singular value {s_min:.3g}, largest "
            f"{s_max:.3g}, cutoff rcond*largest = {tol:.3g})", LS_SUGGESTION)
    keep = s > tol
    s_inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    pinv = vh.mT @ (s_inv[:, None] * u.mT)
    return MatrixInverse(pinv, s, rank, False, None)


class LinearInverse(InverseLayer):
    r"""Inverse of ``nn.Linear``: :math:`x = W^{-1}(y - b)`, or :math:`x = W^{+}(y - b)`
    (minimum-norm least squares) under ``least_squares=True``.

    ``solver="explicit"``: one ``addmm`` with the cached :math:`W^{-\top}` and :math:`-W^{-1}b`.
    ``solver="lu"``: ``lu_solve`` with cached LU factors of :math:`W^\top` (square layers only).
    :math:`\log|\det J| = \log|\det W|` per row.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    weight:
        :math:`W`, shape ``(m, n)`` (``out_features, in_features``): ``y`` ``(..., m)`` maps to
        ``x`` ``(..., n)``. Inverted once, in float64.
    bias:
        :math:`b`, shape ``(m,)``, or ``None``.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse` (``least_squares``,
        ``rcond``, ``solver``).
    """

    event_ndim = 1

    def __init__(self, path: str, layer: str, weight: Tensor, bias: Tensor | None,
                 opts: BuildOptions) -> None:
        super().__init__(path, layer)
        self.out_features, self.in_features = weight.shape
        mi = matrix_inverse(weight, path, layer, opts)
        self.exact = mi.exact
        self.rank = mi.rank
        self.log_abs_det_w = mi.log_abs_det
        # ||W^{-1}||_2 (or ||W^+||_2): how much a rounding error in y can grow in x
        self.inv_norm = 1.0 / float(mi.singular_values[mi.rank - 1]) if mi.rank else 0.0
        dtype = weight.dtype
        b64 = bias.detach().to(torch.float64) if bias is not None else None
        dev = weight.device
        shift = mi.inv @ b64 if b64 is not None else torch.zeros(self.in_features, dtype=torch.float64, device=dev)
        self.solver = opts.solver if mi.exact else "explicit"
        if self.solver == "lu":
            lu, piv = torch.linalg.lu_factor(weight.detach().to(torch.float64).mT)
            self.register_buffer("lu", lu.to(dtype))
            self.register_buffer("pivots", piv)
            self.register_buffer("bias", (b64 if b64 is not None else
                                          torch.zeros(self.out_features, dtype=torch.float64, device=dev)).to(dtype))
        elif self.solver == "explicit":
            self.register_buffer("inv_t", mi.inv.mT.contiguous().to(dtype))  # (m, n) = W^{-T}
            self.register_buffer("neg_shift", (-shift).to(dtype))            # -W^{-1} b
        else:
            raise ValueError(f"solver must be 'explicit' or 'lu', got {opts.solver!r}")

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) < 1 or shape[-1] != self.out_features:
            raise self.shape_error(
                f"(..., {self.out_features}), the output shape of {self.where}"
                f"({self.in_features} -> {self.out_features})", shape)
        return shape[:-1] + (self.in_features,)

    def forward(self, y: Tensor) -> Tensor:
        if self.solver == "lu":
            z = (y - self.bias).reshape(-1, self.out_features)
            x = torch.linalg.lu_solve(self.lu, self.pivots, z, left=False).reshape(y.shape[:-1] + (self.in_features,))
        elif y.ndim == 2:
            x = torch.addmm(self.neg_shift, y, self.inv_t)
        else:
            x = y @ self.inv_t + self.neg_shift
        if self.validate and x.numel():
            self._warn_if_rounding_dominates(y, x)
        return x

    def _warn_if_rounding_dominates(self, y: Tensor, x: Tensor) -> None:
        r""":class:`~invlib.errors.PrecisionWarning` for rows whose ``x`` rounding in ``y`` may have swamped.

        ``y`` carries a rounding error of about :math:`\varepsilon\|y\|` (the forward's last rounding),
        which the inverse maps to :math:`\|W^{-1}\|_2\,\varepsilon\|y\|` in ``x``; with
        :math:`\|y\|_2 \le \sqrt m\,\|y\|_\infty` (max-norms cannot overflow), relative to the returned
        :math:`\hat x` where it is large and absolute where :math:`|\hat x| < 1` (rows near :math:`x = 0`,
        ``y`` near ``b``, are accurate in absolute terms, which is what such an ``x`` can offer):

        .. math:: \text{est} = \varepsilon\,\|W^{-1}\|_2\,\sqrt m\,\|y\|_\infty / \max(\|\hat x\|_\infty, 1).

        The weights' condition number does not show this: a bias much larger than :math:`Wx` (tiny
        weights) cancels in :math:`y - b`. One host sync per call.
        """
        eps = torch.finfo(y.dtype).eps
        y_max = y.detach().abs().reshape(-1, self.out_features).amax(dim=1)
        x_max = x.detach().abs().reshape(-1, self.in_features).amax(dim=1)
        est = (eps * self.inv_norm * math.sqrt(self.out_features)) * y_max / x_max.clamp(min=1.0)
        bad = est > PRECISION_LIMIT
        n_bad = int(bad.sum())
        if n_bad:
            warnings.warn(
                f"the inverse of {self.where}: in {y.dtype} (eps = {eps:.2g}) rounding in y can change x by up "
                f"to about {float(est.max()):.3g} (relative, or absolute where |x| < 1) in {n_bad} of {est.numel()} rows: y is dominated by "
                "the bias (W x is small next to b, so y - b cancels); compute in float64 (model.double(), "
                "y.double()) or treat those rows' x as approximate",
                PrecisionWarning,
                stacklevel=3,
            )

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if self.log_abs_det_w is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant (the layer is not square/full rank)",
                                     "use only square full-rank layers for densities")
        rows = y.numel() // max(1, (y.shape[0] if y.ndim > 1 else 1) * self.out_features)
        return constant_per_sample(self.log_abs_det_w, y, rows)

    def extra_repr(self) -> str:
        kind = "exact" if self.exact else f"least-squares (rank {self.rank})"
        return super().extra_repr() + f", {self.out_features} -> {self.in_features}, {kind}, solver={self.solver}"


def build_linear(module: nn.Linear, path: str, opts: BuildOptions) -> LinearInverse:
    """The inverse of ``nn.Linear`` (see :class:`LinearInverse`)."""
    return LinearInverse(path, type(module).__name__, module.weight, module.bias, opts)


# ---------------------------------------------------------------------------------------------
# BatchNorm in eval mode: a per-channel affine map
# ---------------------------------------------------------------------------------------------
class BatchNormInverse(InverseLayer):
    r"""Inverse of ``BatchNorm1d/2d/3d`` in eval mode, the per-channel affine map
    :math:`y_c = s_c (x_c - \mu_c) + \beta_c` with :math:`s_c = \gamma_c/\sqrt{\sigma_c^2 + \epsilon}`:

    .. math:: x_c = \mu_c + (y_c - \beta_c)/s_c

    (channel dim 1). With ``least_squares=True`` a channel with :math:`s_c \approx 0` maps back
    to :math:`x_c = \mu_c` (the pseudo-inverse). :math:`\log|\det J| = \sum_c \log|s_c|` per position.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    scale:
        :math:`s_c = \gamma_c/\sqrt{\sigma_c^2 + \epsilon}`, shape ``(C,)``.
    mean:
        The running mean :math:`\mu_c`, shape ``(C,)``.
    beta:
        The shift :math:`\beta_c`, shape ``(C,)``.
    ndims:
        The accepted numbers of dims of ``y`` (``(2, 3)`` for ``BatchNorm1d``: ``(N, C)`` or
        ``(N, C, L)``); ``x`` has ``y``'s shape.
    opts:
        The ``invlib.compose.BuildOptions`` of :func:`invlib.inverse` (``least_squares``,
        ``rcond``, ``solver``).
    """

    event_ndim = 0  # dim 0 is the batch (torch's batch norm needs one)

    def __init__(self, path: str, layer: str, scale: Tensor, mean: Tensor, beta: Tensor,
                 ndims: tuple[int, ...], opts: BuildOptions) -> None:
        super().__init__(path, layer)
        s = scale.to(torch.float64)
        c = s.numel()
        rcond = opts.rcond if opts.rcond is not None else default_rcond(c, c, scale.dtype)
        s_max = float(s.abs().max()) if c else 0.0
        keep = s.abs() > rcond * s_max
        rank = int(keep.sum())
        if rank < c and not opts.least_squares:
            zero = torch.nonzero(~keep).flatten().tolist()
            raise NotInvertibleError(
                path, layer, f"rank {rank} found, {c} needed: gamma/sqrt(var + eps) is (numerically) "
                f"0 for channels {zero[:10]}, which map every input to beta", LS_SUGGESTION)
        a = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
        shift = mean.to(torch.float64) - beta.to(torch.float64) * a
        self.exact = rank == c
        self.num_features = c
        self.ndims = ndims
        self.log_abs_det_s = float(torch.log(s.abs()).sum()) if self.exact else None
        self.register_buffer("a", a.to(scale.dtype))
        self.register_buffer("shift", shift.to(scale.dtype))

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) not in self.ndims or shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self.ndims)
            raise self.shape_error(f"a {dims} tensor (N, {self.num_features}, ...)", shape)
        return shape

    def forward(self, y: Tensor) -> Tensor:
        view = (1, -1) + (1,) * (y.ndim - 2)
        return torch.addcmul(self.shift.reshape(view), y, self.a.reshape(view))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        if self.log_abs_det_s is None:
            raise NotInvertibleError(self.path, self.layer, "a least-squares inverse has no "
                                     "Jacobian determinant", "use full-rank layers for densities")
        return constant_per_sample(self.log_abs_det_s, y, math.prod(y.shape[2:]))


_BN_NDIMS = {nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,), nn.BatchNorm3d: (5,)}


def build_batchnorm(module: nn.modules.batchnorm._BatchNorm, path: str, opts: BuildOptions) -> BatchNormInverse:
    """The inverse of an eval-mode BatchNorm; training mode and batch statistics are refused."""
    layer = type(module).__name__
    if module.training:
        raise NotInvertibleError(
            path, layer, "batch-dependent: in training mode BatchNorm normalizes with the statistics "
            "of the current batch, so one sample's output depends on the others", "call model.eval() first")
    if module.running_mean is None or module.running_var is None:
        raise NotInvertibleError(
            path, layer, "batch-dependent: track_running_stats=False uses the statistics of each batch "
            "even in eval mode", "rebuild the layer with track_running_stats=True, or use optimize_inverse")
    mean = module.running_mean.detach()
    var = module.running_var.detach()
    gamma = module.weight.detach() if module.weight is not None else torch.ones_like(mean)
    beta = module.bias.detach() if module.bias is not None else torch.zeros_like(mean)
    bad = (~(var + module.eps > 0)).nonzero().flatten().tolist()
    if bad:
        raise NotInvertibleError(
            path, layer, f"running_var + eps is <= 0 for channels {bad[:10]}{' ...' if len(bad) > 10 else ''}: "
            "the forward divides by zero or takes the square root of a negative number there, so those "
            "outputs are inf or NaN", "fix or re-estimate the running statistics (a positive eps keeps "
            "var + eps > 0 for every var >= 0)")
    scale = gamma / torch.sqrt(var + module.eps)
    ndims = next((v for k, v in _BN_NDIMS.items() if isinstance(module, k)), (2, 3, 4, 5))
    return BatchNormInverse(path, layer, scale, mean, beta, ndims, opts)


# ---------------------------------------------------------------------------------------------
# Identity-like layers
# ---------------------------------------------------------------------------------------------
def build_dropout(module: nn.modules.dropout._DropoutNd, path: str, opts: BuildOptions) -> IdentityInverse:
    """Eval-mode (or ``p = 0``) dropout is the identity; training-mode dropout is random."""
    layer = type(module).__name__
    if module.training and module.p > 0:
        raise NotInvertibleError(
            path, layer, f"random: in training mode {layer} zeroes each entry with probability "
            f"p={module.p} (and rescales the rest), a different map on every call",
            "call model.eval() first (in eval mode dropout is the identity)")
    return IdentityInverse(path, layer)


def build_identity(module: nn.Module, path: str, opts: BuildOptions) -> IdentityInverse:
    """``nn.Identity`` is its own inverse."""
    return IdentityInverse(path, type(module).__name__)
