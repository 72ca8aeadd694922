r"""Invertible-by-design modules for the book: coupling layers and invertible residual blocks.

Each maps :math:`\mathbb{R}^{\dots \times D} \to \mathbb{R}^{\dots \times D}` (acting on the last
dim), has an ``inverse`` and a ``log_abs_det_jacobian(x, y)``: :math:`\log|\det \partial y/\partial x|`
of the forward map at ``x``, ``y = f(x)``, one value per row (shape ``x.shape[:-1]``), the convention
of ``torch.distributions.Transform`` and zuko, stated once in :mod:`invlib.compose`. They can sit
inside an ``nn.Sequential`` handed to :func:`invlib.inverse`.

* :class:`AdditiveCoupling` (NICE, Dinh et al. 2014): :math:`y_a = x_a + m(x_p)`, volume preserving.
* :class:`AffineCoupling` (RealNVP, Dinh et al. 2017): :math:`y_a = x_a \odot e^{s(x_p)} + t(x_p)`.
* :class:`InvertibleResidualBlock` (i-ResNet, Behrmann et al. 2019): :math:`y = x + g(x)` with
  :math:`\mathrm{Lip}(g) < 1`, inverted by the Banach fixed-point iteration.
* :class:`MaskedAutoregressiveAffine` (MAF, Papamakarios et al. 2017; IAF, Kingma et al. 2016):
  :math:`y_i = x_i e^{s_i(x_{<i})} + t_i(x_{<i})` with a MADE-masked conditioner (:func:`made_masks`);
  forward in one network call, inverse in ``dim`` sequential calls.
* :func:`residual_logdet_estimate`: :math:`\log\det(I + J_g)` of a residual block by the power series
  with a Hutchinson trace estimate (i-ResNet; Residual Flows, Chen et al. 2019).

In the couplings, :math:`x_p` (passive) is the first half of the last dim and :math:`x_a`
(active) the second, or the other way round with ``swap=True``; the passive half is copied,
:math:`y_p = x_p`. The conditioner networks need not be invertible.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invlib.errors import ConvergenceWarning, InvalidInputError, NotInvertibleError
from invlib.validation import check_dtype_device, check_finite, check_tensor, format_shape

__all__ = ["AdditiveCoupling", "AffineCoupling", "InvertibleResidualBlock", "MaskedAutoregressiveAffine",
           "MaskedLinear", "SpectralNormLinear", "made_masks", "residual_logdet_estimate"]


def _check_hidden(hidden: int) -> None:
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ValueError(f"hidden must be >= 1 (the width of the network's hidden layers), got {hidden!r}")


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    _check_hidden(hidden)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


def _check_last_dim(x: object, dim: int, who: str, name: str, finite: bool,
                    module: nn.Module | None = None) -> Tensor:
    """``x`` as a floating tensor of shape ``(..., dim)`` (finite if asked) on ``module``'s dtype and device."""
    x = check_tensor(x, name)
    if x.ndim < 1 or x.shape[-1] != dim:
        raise InvalidInputError(f"{who} expects {name} of shape (..., {dim}), got {format_shape(x.shape)}")
    weight = next(module.parameters(), None) if module is not None else None
    if weight is not None and not torch.is_autocast_enabled(x.device.type):  # autocast casts by itself
        check_dtype_device(x, weight.dtype, weight.device, name)
    if finite:
        check_finite(x, name)
    return x


def _check_pair(x: object, y: object, dim: int, who: str) -> Tensor:
    """Check the ``(x, y)`` of ``log_abs_det_jacobian``: tensors of the same shape ``(..., dim)``; returns ``x``."""
    x = _check_last_dim(x, dim, who, "x", finite=False)
    y = check_tensor(y, "y")
    if y.shape != x.shape:
        raise InvalidInputError(f"{who} expects y = f(x) of x's shape {format_shape(x.shape)}, got "
                                f"{format_shape(y.shape)}")
    return x


def _soft_bound(raw: Tensor, bound: float) -> Tensor:
    r""":math:`b \tanh(\text{raw}/b)`: the identity near 0, smoothly held inside :math:`(-b, b)` (log-scales of couplings)."""
    return bound * torch.tanh(raw / bound)


class _Coupling(nn.Module):
    """Shared split/merge logic of the coupling layers."""

    def __init__(self, dim: int, swap: bool) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling layer needs dim >= 2 to split, got dim={dim}")
        self.dim = dim
        self.swap = swap
        first = dim // 2
        self.n_passive = dim - first if swap else first
        self.n_active = dim - self.n_passive

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(passive, active)`` halves of the last dim."""
        first = self.dim // 2
        a, b = x[..., :first], x[..., first:]
        return (b, a) if self.swap else (a, b)

    def merge(self, passive: Tensor, active: Tensor) -> Tensor:
        return torch.cat((active, passive) if self.swap else (passive, active), dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, swap={self.swap}"


class AdditiveCoupling(_Coupling):
    r"""NICE additive coupling (Dinh et al. 2014):

    .. math:: y_p = x_p, \qquad y_a = x_a + m(x_p), \qquad
              x_a = y_a - m(y_p), \qquad \log|\det J| = 0,

    with :math:`m` an MLP (``Linear-ReLU-Linear-ReLU-Linear``, width ``hidden``). The inverse is
    exact up to one rounding of the addition.

    Parameters
    ----------
    dim:
        :math:`D \ge 2`, the size of the last dim; inputs ``x`` and outputs ``y`` have shape
        ``(..., D)`` (any leading dims), and ``log_abs_det_jacobian(x, y)`` has shape ``(...)``.
    hidden:
        Width of the two hidden layers of :math:`m`, which maps ``(..., n_p) -> (..., n_a)``.
    swap:
        Which half is passive: ``False`` the first :math:`n_p = \lfloor D/2 \rfloor` entries,
        ``True`` the last :math:`n_p = D - \lfloor D/2 \rfloor`; the other :math:`n_a = D - n_p`
        are active. Alternate it between layers so that every coordinate gets updated.
    """

    def __init__(self, dim: int, hidden: int = 64, *, swap: bool = False) -> None:
        super().__init__(dim, swap)
        self.m = _mlp(self.n_passive, hidden, self.n_active)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_last_dim(x, self.dim, "AdditiveCoupling", "x", finite=False, module=self)
        xp, xa = self.split(x)
        return self.merge(xp, xa + self.m(xp))

    def inverse(self, y: Tensor) -> Tensor:
        r""":math:`x_p = y_p,\ x_a = y_a - m(y_p)`."""
        y = _check_last_dim(y, self.dim, "AdditiveCoupling.inverse", "y", finite=True, module=self)
        yp, ya = self.split(y)
        return self.merge(yp, ya - self.m(yp))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\log|\det J| = 0` (the Jacobian is unit triangular); shape ``x.shape[:-1]``."""
        x = _check_pair(x, y, self.dim, f"{type(self).__name__}.log_abs_det_jacobian")
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)


class AffineCoupling(_Coupling):
    r"""RealNVP affine coupling (Dinh et al. 2017):

    .. math:: y_p = x_p, \qquad y_a = x_a \odot e^{s(x_p)} + t(x_p), \qquad
              x_a = (y_a - t(y_p)) \odot e^{-s(y_p)},

    .. math:: \log|\det J| = \textstyle\sum_i s_i(x_p),

    where :math:`(\tilde s, t)` come from one MLP and :math:`s = b \tanh(\tilde s / b)` is bounded
    by ``scale_bound`` :math:`b` (so :math:`e^{\pm s}` can neither overflow nor vanish: the
    inverse's conditioning is at most :math:`e^{2b}`).

    Parameters
    ----------
    dim:
        :math:`D \ge 2`, the size of the last dim; ``x`` and ``y`` have shape ``(..., D)``, and
        ``log_abs_det_jacobian(x, y)`` has shape ``(...)``.
    hidden:
        Width of the two hidden layers of the MLP ``(..., n_p) -> (..., 2 n_a)`` that outputs
        :math:`(\tilde s, t)`, each of shape ``(..., n_a)``.
    swap:
        Which half is passive: ``False`` the first :math:`n_p = \lfloor D/2 \rfloor` entries,
        ``True`` the last :math:`n_p = D - \lfloor D/2 \rfloor`; the other :math:`n_a = D - n_p`
        are active (scaled and shifted).
    scale_bound:
        :math:`b > 0`, the bound on :math:`|s_i|`.
    """

    def __init__(self, dim: int, hidden: int = 64, *, swap: bool = False, scale_bound: float = 2.0) -> None:
        super().__init__(dim, swap)
        if scale_bound <= 0:
            raise ValueError(f"scale_bound must be > 0, got {scale_bound}")
        self.scale_bound = float(scale_bound)
        self.net = _mlp(self.n_passive, hidden, 2 * self.n_active)

    def scale_shift(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(s, t)`` for the passive half, with :math:`|s| \le` ``scale_bound``."""
        raw_s, t = self.net(xp).chunk(2, dim=-1)
        return _soft_bound(raw_s, self.scale_bound), t

    def forward(self, x: Tensor) -> Tensor:
        x = _check_last_dim(x, self.dim, "AffineCoupling", "x", finite=False, module=self)
        xp, xa = self.split(x)
        s, t = self.scale_shift(xp)
        return self.merge(xp, xa * torch.exp(s) + t)

    def inverse(self, y: Tensor) -> Tensor:
        r""":math:`x_p = y_p,\ x_a = (y_a - t(y_p))\, e^{-s(y_p)}`."""
        y = _check_last_dim(y, self.dim, "AffineCoupling.inverse", "y", finite=True, module=self)
        yp, ya = self.split(y)
        s, t = self.scale_shift(yp)
        return self.merge(yp, (ya - t) * torch.exp(-s))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\sum_i s_i(x_p)` at the input ``x`` (``y = f(x)`` is checked, not used); shape ``x.shape[:-1]``."""
        x = _check_pair(x, y, self.dim, "AffineCoupling.log_abs_det_jacobian")
        s, _ = self.scale_shift(self.split(x)[0])
        return s.sum(dim=-1)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", scale_bound={self.scale_bound:g}"


class SpectralNormLinear(nn.Module):
    r"""A linear layer whose spectral norm is capped: :math:`W_{\mathrm{eff}} = W\cdot
    \min(1, c/\sigma)`, so :math:`\|W_{\mathrm{eff}}\|_2 \le c`.

    :math:`\sigma` is :math:`\|W\|_2` estimated by power iteration in training mode (``n_power_iterations``
    steps per forward, warm-started, as in Miyato et al. 2018 and i-ResNet) and computed exactly
    (SVD, cached per weight version) in eval mode, so the eval-mode bound is guaranteed. The
    power-iteration estimate :math:`\hat\sigma \le \sigma` can lag behind fast-changing weights
    (measured: after 200 Adam steps at lr 1e-2 the training-mode bound of a block with
    ``lipschitz=0.9`` reached 1.13, while eval mode gave 0.89998); ``n_power_iterations=0``
    uses the exact, differentiable :math:`\|W\|_2` in training mode too (three small SVDs per
    forward). The cap :math:`c` carries a relative margin of :math:`64\varepsilon` for rounding.

    Parameters
    ----------
    n_in, n_out:
        Input and output sizes: maps ``(..., n_in) -> (..., n_out)``; :math:`W` is ``(n_out, n_in)``.
    cap:
        :math:`c > 0`, the bound on :math:`\|W_{\mathrm{eff}}\|_2`.
    n_power_iterations:
        Power-iteration steps per training-mode forward (``>= 0``; ``0``: exact SVD norm).
    """

    def __init__(self, n_in: int, n_out: int, cap: float, n_power_iterations: int = 5) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.cap = float(cap)
        if n_power_iterations < 0:
            raise ValueError(f"n_power_iterations must be >= 0, got {n_power_iterations}")
        self.n_power_iterations = int(n_power_iterations)
        g = torch.Generator().manual_seed(0)
        self.register_buffer("u", F.normalize(torch.randn(n_out, generator=g), dim=0))
        self.register_buffer("v", F.normalize(torch.randn(n_in, generator=g), dim=0))
        self._exact: tuple[tuple[int, int, torch.dtype, torch.device], Tensor] | None = None
        self.power_iterate(50)

    @torch.no_grad()
    def power_iterate(self, n: int) -> None:
        """``n`` power-iteration steps on :math:`W^\\top W`, updating the buffers ``u``, ``v``."""
        w = self.linear.weight
        u, v = self.u.to(w.dtype), self.v.to(w.dtype)
        for _ in range(n):
            v = F.normalize(w.mT @ u, dim=0, eps=1e-12)
            u = F.normalize(w @ v, dim=0, eps=1e-12)
        self.u.copy_(u)
        self.v.copy_(v)

    def sigma(self, update: bool) -> Tensor:
        r"""The :math:`\sigma` used to cap :math:`W` (differentiable in training mode)."""
        w = self.linear.weight
        if self.training:
            if self.n_power_iterations == 0:  # exact (and differentiable) in training too
                return torch.linalg.matrix_norm(w, ord=2)
            if update:
                self.power_iterate(self.n_power_iterations)
            return torch.dot(self.u.to(w.dtype), w @ self.v.to(w.dtype))
        try:
            key = (id(w), w._version, w.dtype, w.device)
        except RuntimeError:  # inference tensor: no version counter
            key = None
        if key is not None and self._exact is not None and self._exact[0] == key:
            return self._exact[1]
        s = torch.linalg.matrix_norm(w.detach().to(torch.float64), ord=2).to(w.dtype)
        if key is not None:
            self._exact = (key, s)
        return s

    def weight_eff(self, update: bool = False) -> Tensor:
        r""":math:`W_{\mathrm{eff}} = W \min(1, c'/\sigma)`, :math:`c' = c(1 - 64\varepsilon)`."""
        w = self.linear.weight
        cap = self.cap * (1 - 64 * torch.finfo(w.dtype).eps)
        sigma = self.sigma(update)
        factor = torch.clamp(cap / sigma.clamp_min(1e-30), max=1.0)
        return w * factor

    def forward(self, x: Tensor, update: bool = True) -> Tensor:
        return F.linear(x, self.weight_eff(update), self.linear.bias)

    def extra_repr(self) -> str:
        return f"cap={self.cap:.4g}, n_power_iterations={self.n_power_iterations}"


class InvertibleResidualBlock(nn.Module):
    r"""i-ResNet block (Behrmann et al. 2019): :math:`y = x + g(x)` with :math:`\mathrm{Lip}(g) < 1`.

    :math:`g = L_3 \circ \mathrm{ELU} \circ L_2 \circ \mathrm{ELU} \circ L_1`, each :math:`L_k` a
    ``SpectralNormLinear`` with :math:`\|W_k\|_2 \le c = \text{lipschitz}^{1/3}`; ELU is
    1-Lipschitz, so :math:`\mathrm{Lip}(g) \le \prod_k \|W_k\|_2 \le` ``lipschitz``: exactly in
    eval mode, up to the power iteration's lag in training mode (``n_power_iterations=0``: exact
    in training too; see ``SpectralNormLinear``).

    **Inverse.** :math:`x = y - g(x)` is a fixed point of the contraction
    :math:`T(x) = y - g(x)` (Lipschitz constant :math:`L = \mathrm{Lip}(g)`); iterating from
    :math:`x_0 = y`, Banach's theorem gives :math:`\|x_k - x^*\| \le \frac{L^k}{1 - L}\|x_1 - x_0\|`
    and the a-posteriori bound :math:`\|x_k - x^*\| \le \frac{L}{1 - L}\|x_k - x_{k-1}\|`, which
    :meth:`inverse` uses to stop. :math:`y \mapsto x` exists and is unique for every :math:`y`.

    **log|det J|** is computed exactly, :math:`\log|\det(I + J_g(x))|` from the autograd Jacobian
    (``torch.func.jacrev`` + ``vmap``) and ``slogdet``: :math:`O(N D^2)` memory and
    :math:`O(N D^3)` time for :math:`N` rows of dimension :math:`D`, fine for the book's small
    :math:`D`; large models use :func:`residual_logdet_estimate` instead.

    Parameters
    ----------
    dim:
        :math:`D`, the size of the last dim; ``x`` and ``y`` have shape ``(..., D)``, and
        ``log_abs_det_jacobian(x, y)`` has shape ``(...)``.
    hidden:
        Width of the two hidden layers of :math:`g`: ``D -> hidden -> hidden -> D``.
    lipschitz:
        The bound on :math:`\mathrm{Lip}(g)`, in :math:`(0, 1)`; the inverse iteration converges
        like :math:`L^k`, so values near 1 need many steps.
    n_power_iterations:
        Power-iteration steps per training-mode forward of each ``SpectralNormLinear``
        (``0``: exact spectral norms in training too).
    """

    def __init__(self, dim: int, hidden: int = 64, *, lipschitz: float = 0.9,
                 n_power_iterations: int = 5) -> None:
        super().__init__()
        if not 0 < lipschitz < 1:
            raise ValueError(f"lipschitz must lie in (0, 1) for an invertible block, got {lipschitz}")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be >= 1 (the size of the last dim), got {dim!r}")
        _check_hidden(hidden)
        self.dim = dim
        self.lipschitz = float(lipschitz)
        cap = self.lipschitz ** (1 / 3)
        self.g_layers = nn.ModuleList([
            SpectralNormLinear(dim, hidden, cap, n_power_iterations),
            SpectralNormLinear(hidden, hidden, cap, n_power_iterations),
            SpectralNormLinear(hidden, dim, cap, n_power_iterations),
        ])
        self.last_inverse_iterations: int = 0
        self._bound: tuple[tuple, float] | None = None

    def g(self, x: Tensor, update: bool = False) -> Tensor:
        """The residual branch :math:`g(x)`; ``update`` runs power iterations (training only)."""
        h = x
        for i, layer in enumerate(self.g_layers):
            h = layer(h, update)
            if i < len(self.g_layers) - 1:
                h = F.elu(h)
        return h

    def forward(self, x: Tensor) -> Tensor:
        x = _check_last_dim(x, self.dim, "InvertibleResidualBlock", "x", finite=False, module=self)
        return x + self.g(x, update=self.training)

    def lipschitz_bound(self) -> float:
        r""":math:`\prod_k \|W_{k,\mathrm{eff}}\|_2` (exact SVDs, float64): an upper bound on
        :math:`\mathrm{Lip}(g)` (ELU is 1-Lipschitz). In eval mode it is :math:`\le` ``lipschitz``
        (the caps use exact spectral norms); in training mode the caps use the power-iteration
        estimate :math:`\hat\sigma \le \sigma`, so it may exceed ``lipschitz`` by that estimate's
        relative error (tiny once the warm-started iteration has converged)."""
        key = tuple((id(l.linear.weight), self._version_of(l.linear.weight),
                     self._version_of(l.u), l.training) for l in self.g_layers)
        if self._bound is not None and self._bound[0] == key and None not in sum(key, ()):
            return self._bound[1]
        with torch.no_grad():
            bound = 1.0
            for layer in self.g_layers:
                w = layer.weight_eff(update=False).to(torch.float64)
                bound *= float(torch.linalg.matrix_norm(w, ord=2))
        self._bound = (key, bound)
        return bound

    @staticmethod
    def _version_of(t: Tensor) -> int | None:
        try:
            return t._version
        except RuntimeError:
            return None

    def inverse(self, y: Tensor, *, tol: float = 1e-10, max_iter: int = 200) -> Tensor:
        r"""Solve :math:`x + g(x) = y` by :math:`x_{k+1} = y - g(x_k)`, :math:`x_0 = y`.

        Stops when the Banach a-posteriori bound :math:`\frac{L}{1-L}\|x_k - x_{k-1}\|_2 \le`
        ``tol_eff`` for every row, with ``tol_eff = max(tol, 64 eps (1 + ||y||))`` (dtype-aware:
        rounding makes smaller steps meaningless), or after ``max_iter`` steps with a
        :class:`~invlib.errors.ConvergenceWarning`. Sets ``last_inverse_iterations``.

        Raises :class:`~invlib.NotInvertibleError` if :meth:`lipschitz_bound` is :math:`\ge 1`.
        """
        y = _check_last_dim(y, self.dim, "InvertibleResidualBlock.inverse", "y", finite=True, module=self)
        lip = self.lipschitz_bound()
        if lip >= 1:
            raise NotInvertibleError(
                "", type(self).__name__, f"the Lipschitz bound of g is {lip:.4g} >= 1, so x + g(x) may "
                "be many-to-one and the fixed-point iteration need not converge",
                "call model.eval() (eval mode caps the spectral norms exactly) or lower `lipschitz`")
        eps = torch.finfo(y.dtype).eps
        y_norm = torch.linalg.vector_norm(y.detach(), dim=-1)
        tol_eff = torch.clamp(64 * eps * (1 + y_norm), min=tol)
        factor = lip / (1 - lip)
        x = y
        k = 0
        for k in range(1, max_iter + 1):
            x_new = y - self.g(x, update=False)
            step = torch.linalg.vector_norm((x_new - x).detach(), dim=-1)
            x = x_new
            if bool((factor * step <= tol_eff).all()):
                break
        else:
            warnings.warn(
                f"InvertibleResidualBlock.inverse stopped after max_iter={max_iter} steps with error "
                f"bound {float((factor * step).max()):.3g} > tol {float(tol_eff.max()):.3g} "
                f"(Lipschitz bound {lip:.3g}); raise max_iter",
                ConvergenceWarning, stacklevel=2)
        self.last_inverse_iterations = k
        return x

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\log|\det(I + J_g(x))|` per row at the input ``x``, exact via autograd (``y = f(x)``
        is checked, not used); shape ``x.shape[:-1]``."""
        x = _check_pair(x, y, self.dim, "InvertibleResidualBlock.log_abs_det_jacobian")
        flat = x.reshape(-1, self.dim)
        jac = torch.func.vmap(torch.func.jacrev(lambda v: self.g(v, update=False)))(flat)
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return torch.linalg.slogdet(eye + jac).logabsdet.reshape(x.shape[:-1])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, lipschitz={self.lipschitz:g}"



# -------------------------------------------------------------------------------------------
# Autoregressive flows (MADE masks; MAF and IAF use the same layer in opposite directions)
# -------------------------------------------------------------------------------------------
def made_masks(dim: int, hidden: int, n_hidden_layers: int = 2, *,
               reverse: bool = False) -> list[Tensor]:
    r"""MADE masks (Germain et al. 2015) for an MLP ``dim -> hidden (x n_hidden_layers) -> dim``.

    Input :math:`i` gets degree :math:`m(i) = i` (``1..dim``, or ``dim..1`` with ``reverse``), hidden
    unit :math:`k` the degree :math:`1 + (k \bmod (\mathrm{dim} - 1))`. A hidden unit sees the inputs
    and units of degree :math:`\le` its own; output :math:`i` sees the last hidden units of degree
    :math:`< m(i)`. So output :math:`i` depends only on the inputs that come before it in the order,
    :math:`x_{<i}`. Returns one ``(n_out, n_in)`` 0/1 float mask per linear layer (``n_hidden_layers +
    1`` of them), to multiply the weights with.
    """
    if dim < 2:
        raise ValueError(f"an autoregressive layer needs dim >= 2, got dim={dim}")
    if hidden < dim - 1:
        raise ValueError(f"hidden must be >= dim - 1 = {dim - 1} so that every degree has a unit, "
                         f"got hidden={hidden}")
    if n_hidden_layers < 1:
        raise ValueError(f"n_hidden_layers must be >= 1, got {n_hidden_layers}")
    d_in = torch.arange(1, dim + 1)
    if reverse:
        d_in = d_in.flip(0)
    d_hidden = 1 + torch.arange(hidden) % (dim - 1)
    masks = [(d_hidden[:, None] >= d_in[None, :]).float()]
    for _ in range(n_hidden_layers - 1):
        masks.append((d_hidden[:, None] >= d_hidden[None, :]).float())
    masks.append((d_in[:, None] > d_hidden[None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (a buffer) at every call.

    Parameters
    ----------
    mask:
        0/1 float tensor of shape ``(n_out, n_in)`` (one of :func:`made_masks`); the layer maps
        ``(..., n_in) -> (..., n_out)``.
    bias:
        Whether the layer has a bias (shape ``(n_out,)``), as in ``nn.Linear``.
    """

    def __init__(self, mask: Tensor, bias: bool = True) -> None:
        super().__init__(mask.shape[1], mask.shape[0], bias=bias)
        self.register_buffer("mask", mask.clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask.to(self.weight.dtype), self.bias)


class MaskedAutoregressiveAffine(nn.Module):
    r"""Affine autoregressive layer with a MADE conditioner (MAF: Papamakarios et al. 2017; IAF:
    Kingma et al. 2016):

    .. math:: y_i = x_i\, e^{s_i(x_{<i})} + t_i(x_{<i}), \qquad
              \log|\det J| = \textstyle\sum_i s_i(x_{<i}),

    with :math:`s = b\tanh(\tilde s/b)` bounded by ``scale_bound`` :math:`b`, as in
    :class:`AffineCoupling`. The Jacobian is triangular (in the layer's order), so the log-determinant
    is a sum.

    **Cost.** :meth:`forward` computes every :math:`(s_i, t_i)` from its input in *one* call of the
    masked network. :meth:`inverse` cannot: :math:`x_i = (y_i - t_i(x_{<i}))\, e^{-s_i(x_{<i})}` needs
    the earlier :math:`x_{<i}` first. It iterates :math:`x^{(k+1)} = (y - t(x^{(k)}))\, e^{-s(x^{(k)})}`
    from :math:`x^{(0)} = 0`; after :math:`k` calls the first :math:`k` coordinates (in order) are exact,
    so it stops after exactly ``dim`` calls. MAF uses :meth:`forward` as data :math:`\to` noise
    (one-pass density, ``dim``-pass sampling); IAF uses it as noise :math:`\to` data (one-pass
    sampling, ``dim``-pass density of an arbitrary point). ``conditioner_calls`` counts the network
    evaluations.

    Parameters
    ----------
    dim:
        :math:`D \ge 2`, the size of the last dim; ``x`` and ``y`` have shape ``(..., D)``, and
        ``log_abs_det_jacobian(x, y)`` has shape ``(...)``.
    hidden:
        Width of each hidden layer of the MADE network ``D -> hidden (x n_hidden_layers) -> 2D``
        (outputs :math:`\tilde s` and :math:`t`, each ``(..., D)``); at least ``D - 1``.
    n_hidden_layers:
        Number of hidden layers, ``>= 1``.
    reverse:
        Autoregressive order :math:`D, \dots, 1` instead of :math:`1, \dots, D` (alternate it
        between stacked layers).
    scale_bound:
        :math:`b > 0`, the bound on :math:`|s_i|`.
    """

    def __init__(self, dim: int, hidden: int = 64, *, n_hidden_layers: int = 2, reverse: bool = False,
                 scale_bound: float = 2.0) -> None:
        super().__init__()
        if scale_bound <= 0:
            raise ValueError(f"scale_bound must be > 0, got {scale_bound}")
        masks = made_masks(dim, hidden, n_hidden_layers, reverse=reverse)
        masks[-1] = torch.cat([masks[-1], masks[-1]])  # outputs: s (dim) then t (dim), same degrees
        layers: list[nn.Module] = []
        for i, mask in enumerate(masks):
            layers.append(MaskedLinear(mask))
            if i < len(masks) - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.dim = dim
        self.reverse = reverse
        self.scale_bound = float(scale_bound)
        self.conditioner_calls = 0

    def scale_shift(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(s, t)`` with :math:`s_i, t_i` functions of :math:`x_{<i}` only; one network call."""
        self.conditioner_calls += 1
        raw_s, t = self.net(x).chunk(2, dim=-1)
        return _soft_bound(raw_s, self.scale_bound), t

    def forward(self, x: Tensor) -> Tensor:
        x = _check_last_dim(x, self.dim, "MaskedAutoregressiveAffine", "x", finite=False, module=self)
        s, t = self.scale_shift(x)
        return x * torch.exp(s) + t

    def inverse(self, y: Tensor) -> Tensor:
        r"""``dim`` sequential calls of the network: :math:`x^{(k+1)} = (y - t(x^{(k)}))e^{-s(x^{(k)})}`."""
        y = _check_last_dim(y, self.dim, "MaskedAutoregressiveAffine.inverse", "y", finite=True, module=self)
        x = torch.zeros_like(y)
        for _ in range(self.dim):
            s, t = self.scale_shift(x)
            x = (y - t) * torch.exp(-s)
        return x

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\sum_i s_i(x_{<i})` at the input ``x`` (``y = f(x)`` is checked, not used); shape
        ``x.shape[:-1]``; one network call."""
        x = _check_pair(x, y, self.dim, "MaskedAutoregressiveAffine.log_abs_det_jacobian")
        s, _ = self.scale_shift(x)
        return s.sum(dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, reverse={self.reverse}, scale_bound={self.scale_bound:g}"


# -------------------------------------------------------------------------------------------
# Residual-flow log-determinant: power series with a Hutchinson trace estimate
# -------------------------------------------------------------------------------------------
def residual_logdet_estimate(g: Callable[[Tensor], Tensor], x: Tensor, *, n_terms: int, n_probes: int,
                             generator: torch.Generator | None = None,
                             per_probe: bool = False) -> Tensor:
    r"""Estimate :math:`\log\det(I + J_g(x))` per row by the truncated power series with a
    Hutchinson trace estimate (i-ResNet, Behrmann et al. 2019; Residual Flows, Chen et al. 2019):

    .. math:: \log\det(I + J) = \sum_{k=1}^{\infty} \frac{(-1)^{k+1}}{k}\operatorname{tr}(J^k)
              \approx \frac{1}{P}\sum_{p=1}^{P}\ \sum_{k=1}^{n} \frac{(-1)^{k+1}}{k}\, v_p^\top J^k v_p,

    :math:`v_p` Rademacher (:math:`\pm 1` entries), so :math:`\mathbb{E}[v^\top A v] = \operatorname{tr} A`.
    The series converges when :math:`\|J_g\|_2 < 1` (e.g. :math:`\mathrm{Lip}(g) < 1`); truncating
    after :math:`n` terms leaves a bias of at most
    :math:`D\sum_{k>n} L^k/k \le D\,L^{n+1}/((n+1)(1-L))`. Cost: one forward of :math:`g` on the
    :math:`P` copies of the batch and :math:`n` vector-Jacobian products; no :math:`D \times D`
    Jacobian is formed. The estimate is returned detached (a measurement, not a training loss: training
    a residual flow also needs the estimator's gradient, e.g. Chen et al.'s Neumann-series gradient).

    Parameters
    ----------
    g:
        Row-wise map ``(..., D) -> (..., D)`` (each row's output depends on that row only).
    x:
        Points, shape ``(..., D)``.
    n_terms, n_probes:
        Series terms :math:`n \ge 1` and probe vectors :math:`P \ge 1`.
    generator:
        Draws the probes (for reproducibility).
    per_probe:
        Return the ``(n_probes, ...)`` single-probe estimates instead of their mean (shape ``x.shape[:-1]``).
    """
    x = check_tensor(x, "x")
    for name, value in (("n_terms", n_terms), ("n_probes", n_probes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"residual_logdet_estimate: {name} must be an integer >= 1, "
                                    f"got {value!r}")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise InvalidInputError(f"residual_logdet_estimate expects x of shape (..., D), got "
                                f"{format_shape(x.shape)}")
    check_finite(x, "x")
    batch_shape = x.shape[:-1]
    xs = x.detach().reshape(1, -1, x.shape[-1]).expand(n_probes, -1, -1).reshape(-1, x.shape[-1])
    v = torch.randint(0, 2, xs.shape, generator=generator, device="cpu")
    v = v.to(dtype=x.dtype, device=x.device) * 2 - 1  # Rademacher probes
    with torch.enable_grad():
        xs = xs.clone().requires_grad_(True)
        out = g(xs)
        if out.shape != xs.shape:
            raise InvalidInputError(f"residual_logdet_estimate: g must map (..., D) to (..., D), got "
                                    f"{format_shape(xs.shape)} -> {format_shape(out.shape)}")
        w = v
        total = torch.zeros(xs.shape[0], dtype=x.dtype, device=x.device)
        for k in range(1, n_terms + 1):
            (w,) = torch.autograd.grad(out, xs, grad_outputs=w, retain_graph=k < n_terms)
            # v^T J^k v = ((J^T)^k v) . v
            total = total + (-1) ** (k + 1) / k * (w * v).sum(dim=-1)
    estimates = total.detach().reshape(n_probes, *batch_shape)
    return estimates if per_probe else estimates.mean(dim=0)
