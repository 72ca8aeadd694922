r"""Exact inverses of strictly monotone activations, with range checks, and a saturation study.

A scalar activation :math:`\sigma` applied elementwise is invertible exactly when it is strictly
monotone; its inverse is defined on its range only. Each inverse here checks the range first:

=============  =========================================  =====================================================
layer          forward :math:`y = \sigma(x)`              inverse :math:`x = \sigma^{-1}(y)`, range of y
=============  =========================================  =====================================================
LeakyReLU(a)   :math:`x` if :math:`x \ge 0` else           :math:`y` if :math:`y \ge 0` else :math:`y/a`;
               :math:`a x` (needs :math:`a > 0`)           :math:`\mathbb{R}`
PReLU          as LeakyReLU, :math:`a` per channel         as LeakyReLU; :math:`\mathbb{R}`
ELU(α)         :math:`x` or :math:`α(e^x - 1)`             :math:`y` or :math:`\log(1 + y/α)`; :math:`(-α, ∞)`
CELU(α)        :math:`x` or :math:`α(e^{x/α} - 1)`         :math:`y` or :math:`α\log(1 + y/α)`; :math:`(-α, ∞)`
SELU           :math:`λ\,\mathrm{ELU}_α(x)`                :math:`\mathrm{ELU}_α^{-1}(y/λ)`; :math:`(-λα, ∞)`
Softplus(β)    :math:`\frac1β\log(1 + e^{βx})`            :math:`y + \frac1β\log(1 - e^{-βy})`; :math:`(0, ∞)`
Tanh           :math:`\tanh x`                             :math:`\operatorname{atanh} y`; :math:`(-1, 1)`
Sigmoid        :math:`1/(1 + e^{-x})`                      :math:`\log y - \log(1 - y)`; :math:`(0, 1)`
LogSigmoid     :math:`-\log(1 + e^{-x})`                   :math:`y - \log(1 - e^{y})`; :math:`(-∞, 0)`
Softsign       :math:`x / (1 + |x|)`                       :math:`y / (1 - |y|)`; :math:`(-1, 1)`
=============  =========================================  =====================================================

A value outside the range has no preimage: the inverse raises :class:`~invlib.DomainError`
saying how many entries are outside and the valid interval, or, with ``clamp=True``, clamps them
just inside the interval and warns (:class:`~invlib.errors.SaturationWarning`).

**Saturation.** In floating point, :math:`\tanh x` rounds to exactly 1 once :math:`1 - \tanh x
\approx 2e^{-2x}` drops below half an ulp of 1, and before that the round trip loses accuracy:
the inverse's derivative is :math:`1/(1 - y^2)`, so a rounding error :math:`\varepsilon` in
:math:`y` becomes :math:`\approx \varepsilon/(1 - y^2)` in :math:`x`. :func:`saturation_study`
measures where this happens for each dtype.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invlib.compose import BuildOptions, InverseLayer, _caller_stacklevel, per_sample_sum
from invlib.errors import DomainError, NotInvertibleError, SaturationWarning

__all__ = [
    "ActivationInverse",
    "LeakyReLUInverse",
    "PReLUInverse",
    "ELUInverse",
    "CELUInverse",
    "SELUInverse",
    "SoftplusInverse",
    "TanhInverse",
    "SigmoidInverse",
    "LogSigmoidInverse",
    "SoftsignInverse",
    "build_activation",
    "ACTIVATION_CLASSES",
    "saturation_study",
    "inv_tanh",
    "inv_sigmoid",
    "inv_softplus",
    "inv_logsigmoid",
    "inv_softsign",
    "inv_elu",
]

# SELU's fixed constants (Klambauer et al. 2017), as in torch.nn.SELU.
SELU_ALPHA = 1.6732632423543772848170429916717
# the widest relative sliver of two preimages a Softplus threshold may leave (see SoftplusInverse)
SOFTPLUS_MAX_SLIVER = 1e-6
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------------------------
# Functional inverses (no range checks: callers check first)
# ---------------------------------------------------------------------------------------------
def inv_tanh(y: Tensor) -> Tensor:
    r""":math:`\operatorname{atanh} y = \tfrac12 \log\frac{1 + y}{1 - y}` for :math:`|y| < 1`."""
    return torch.atanh(y)


def inv_sigmoid(y: Tensor) -> Tensor:
    r""":math:`\operatorname{logit} y = \log y - \log(1 - y)` for :math:`0 < y < 1`."""
    return torch.logit(y)


def inv_softplus(y: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""Inverse of torch's ``Softplus(beta, threshold)`` for :math:`y > 0`.

    :math:`x = y + \frac1\beta \log\!\left(1 - e^{-\beta y}\right)` (written with ``expm1`` so it is
    accurate for small and large :math:`y`), and :math:`x = y` where :math:`\beta y >` threshold,
    the region where torch's softplus is the identity.
    """
    z = beta * y
    return torch.where(z > threshold, y, y + torch.log(-torch.expm1(-z)) / beta)


def inv_logsigmoid(y: Tensor) -> Tensor:
    r""":math:`x = y - \log(1 - e^{y})` for :math:`y < 0` (the inverse of :math:`\log\sigma(x)`)."""
    return y - torch.log(-torch.expm1(y))


def inv_softsign(y: Tensor) -> Tensor:
    r""":math:`x = y / (1 - |y|)` for :math:`|y| < 1`."""
    return y / (1 - y.abs())


def _log1p_ratio(y: Tensor, alpha: float) -> Tensor:
    r""":math:`\log(1 + y/\alpha)` for :math:`-\alpha < y \le 0`, accurate at both ends.

    Near :math:`y = -\alpha`, :math:`y + \alpha` is exact (Sterbenz) while :math:`y/\alpha` would
    round to -1; near 0, ``log1p`` keeps the relative accuracy.
    """
    near_bound = torch.log((y + alpha) / alpha)
    near_zero = torch.log1p(y / alpha)
    return torch.where(y < -0.5 * alpha, near_bound, near_zero)


def inv_elu(y: Tensor, alpha: float = 1.0) -> Tensor:
    r""":math:`x = y` for :math:`y > 0`, :math:`\log(1 + y/\alpha)` for :math:`-\alpha < y \le 0`."""
    return torch.where(y > 0, y, _log1p_ratio(y, alpha))


# ---------------------------------------------------------------------------------------------
# Inverse layers
# ---------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


class ActivationInverse(InverseLayer):
    r"""Base of the elementwise inverses :math:`x = \sigma^{-1}(y)` on the open range
    :math:`(\mathrm{lower}, \mathrm{upper})` of :math:`\sigma`.

    Subclasses set :attr:`lower`/:attr:`upper` and implement :meth:`inverse_fn` and
    :meth:`log_derivative` (:math:`\log \sigma'(x)`, elementwise).

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    clamp:
        Clamp ``y`` just inside the open range (with a :class:`~invlib.SaturationWarning`) instead of
        raising :class:`~invlib.DomainError` for values on or outside it.
    """

    lower: float = -math.inf
    upper: float = math.inf

    def __init__(self, path: str, layer: str, *, clamp: bool = False) -> None:
        super().__init__(path, layer)
        self.clamp = clamp

    @property
    def interval(self) -> str:
        """The open range of the forward activation, e.g. ``"(-1, 1)"``."""
        return f"({_fmt(self.lower)}, {_fmt(self.upper)})"

    def _outside(self, y: Tensor) -> Tensor:
        bad = torch.zeros_like(y, dtype=torch.bool)
        if self.lower > -math.inf:
            bad |= y <= self.lower
        if self.upper < math.inf:
            bad |= y >= self.upper
        return bad

    def check_range(self, y: Tensor) -> Tensor:
        """Return ``y`` if it lies in the range; clamp it (``clamp=True``) or raise otherwise."""
        if self.lower == -math.inf and self.upper == math.inf:
            return y
        if y.numel() == 0:
            return y
        if not self.validate:  # no host reads: clamp without looking, or leave out-of-range y to give NaN
            return torch.clamp(y, min=self._inside(self.lower, y, 1), max=self._inside(self.upper, y, -1)) \
                if self.clamp else y
        lo, hi = torch.aminmax(y.detach())
        lo_ok = self.lower == -math.inf or bool(lo > self.lower)
        hi_ok = self.upper == math.inf or bool(hi < self.upper)
        if lo_ok and hi_ok:
            return y
        n_bad = int(self._outside(y).sum())
        at = f" at path '{self.path}'" if self.path else ""
        if not self.clamp:
            n_at = 0
            for bound in (self.lower, self.upper):
                if math.isfinite(bound):
                    n_at += int((y == bound).sum())
            hint = ""
            if n_at:
                hint = (f" ({n_at} of them equal a bound: the forward pass saturates in {y.dtype}"
                        + (", try float64" if y.dtype != torch.float64 else "") + ")")
            raise DomainError(
                f"{n_bad} of {y.numel()} entries lie outside {self.interval}, the range of "
                f"{self.layer}{at}; they have no preimage{hint}. Instead, pass clamp=True to "
                "invlib.inverse to clamp them just inside the range (their preimages are then only "
                "bounds), or use invlib.optimize_inverse for the closest x"
            )
        finfo = torch.finfo(y.dtype)
        lo_in = hi_in = None
        if self.lower > -math.inf:
            b = torch.tensor(self.lower, dtype=y.dtype, device=y.device)
            lo_in = torch.nextafter(b, torch.tensor(finfo.max, dtype=y.dtype, device=y.device))
            if lo_in.item() <= self.lower:  # the bound rounded down in this dtype
                lo_in = torch.nextafter(lo_in, torch.tensor(finfo.max, dtype=y.dtype, device=y.device))
        if self.upper < math.inf:
            b = torch.tensor(self.upper, dtype=y.dtype, device=y.device)
            hi_in = torch.nextafter(b, torch.tensor(-finfo.max, dtype=y.dtype, device=y.device))
            if hi_in.item() >= self.upper:
                hi_in = torch.nextafter(hi_in, torch.tensor(-finfo.max, dtype=y.dtype, device=y.device))
        warnings.warn(
            f"clamped {n_bad} of {y.numel()} entries of y into {self.interval}, the range of "
            f"{self.layer}{at}; their preimages are bounds, not true preimages",
            SaturationWarning,
            stacklevel=_caller_stacklevel(),
        )
        return torch.clamp(y, min=lo_in, max=hi_in)

    @staticmethod
    def _inside(bound: float, y: Tensor, direction: int) -> Tensor | None:
        """Two representable steps inside a finite ``bound`` (towards ``direction``), as a tensor; None if infinite."""
        if not math.isfinite(bound):
            return None
        b = torch.tensor(bound, dtype=y.dtype, device=y.device)
        far = torch.tensor(direction * torch.finfo(y.dtype).max, dtype=y.dtype, device=y.device)
        return torch.nextafter(torch.nextafter(b, far), far)

    def inverse_fn(self, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, y: Tensor) -> Tensor:
        return self.inverse_fn(self.check_range(y))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\sum_i \log \sigma'(x_i)` per sample."""
        return per_sample_sum(self.log_derivative(x, y))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", range={self.interval}"


class LeakyReLUInverse(ActivationInverse):
    r""":math:`x = y` for :math:`y \ge 0`, :math:`x = y / a` for :math:`y < 0` (slope :math:`a > 0`).

    Computed as ``leaky_relu(y, 1/a)``: the same cost as the forward pass.
    :math:`\log\sigma'(x) = \log a` for :math:`x < 0`, else 0.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    slope:
        :math:`a > 0`, the forward layer's ``negative_slope``.
    """

    def __init__(self, path: str, layer: str, slope: float, *, clamp: bool = False) -> None:
        super().__init__(path, layer, clamp=clamp)
        self.slope = float(slope)

    def inverse_fn(self, y: Tensor) -> Tensor:
        return F.leaky_relu(y, 1.0 / self.slope)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        return torch.where(x < 0, zero + math.log(self.slope), zero)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", slope={self.slope:g}"


class PReLUInverse(ActivationInverse):
    r""":math:`x = y` for :math:`y \ge 0`, :math:`x = y / a_c` for :math:`y < 0`, with the slope
    :math:`a_c > 0` of channel :math:`c` (dim 1, as ``torch.nn.PReLU``); a copy of the weights.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    weight:
        The slopes :math:`a_c > 0`, shape ``(1,)`` (one shared slope: ``y`` of any shape) or ``(C,)``
        (one per channel: ``y`` of shape ``(N, C, ...)``); copied.
    """

    def __init__(self, path: str, layer: str, weight: Tensor, *, clamp: bool = False) -> None:
        super().__init__(path, layer, clamp=clamp)
        self.register_buffer("weight", weight.detach().clone())

    def check_shape(self, shape: torch.Size) -> torch.Size:
        n = self.weight.numel()
        if n > 1 and (len(shape) < 2 or shape[1] != n):
            raise self.shape_error(f"(N, {n}, ...) ({n} PReLU channels in dim 1)", shape)
        return shape

    def inverse_fn(self, y: Tensor) -> Tensor:
        return F.prelu(y, 1.0 / self.weight)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        w = self.weight
        if w.numel() > 1:
            w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
        return torch.where(x < 0, torch.log(w).to(x.dtype).expand_as(x), torch.zeros_like(x))


class ELUInverse(ActivationInverse):
    r""":math:`x = y` for :math:`y > 0`, :math:`x = \log(1 + y/\alpha)` for :math:`-\alpha < y \le 0`.

    :math:`\log\sigma'(x) = \log(y + \alpha)` for :math:`x \le 0`, else 0.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    alpha:
        :math:`\alpha > 0`, the forward layer's ``alpha``; the range is :math:`(-\alpha, \infty)`.
    """

    def __init__(self, path: str, layer: str, alpha: float, *, clamp: bool = False) -> None:
        super().__init__(path, layer, clamp=clamp)
        self.alpha = float(alpha)
        self.lower = -self.alpha

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_elu(y, self.alpha)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.where(x > 0, torch.zeros_like(x), torch.log(y + self.alpha))


class CELUInverse(ActivationInverse):
    r""":math:`x = y` for :math:`y > 0`, :math:`x = \alpha\log(1 + y/\alpha)` for
    :math:`-\alpha < y \le 0`. :math:`\log\sigma'(x) = x/\alpha` for :math:`x \le 0`, else 0.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    alpha:
        :math:`\alpha > 0`, the forward layer's ``alpha``; the range is :math:`(-\alpha, \infty)`.
    """

    def __init__(self, path: str, layer: str, alpha: float, *, clamp: bool = False) -> None:
        super().__init__(path, layer, clamp=clamp)
        self.alpha = float(alpha)
        self.lower = -self.alpha

    def inverse_fn(self, y: Tensor) -> Tensor:
        return torch.where(y > 0, y, self.alpha * _log1p_ratio(y, self.alpha))

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.where(x > 0, torch.zeros_like(x), x / self.alpha)


class SELUInverse(ActivationInverse):
    r""":math:`x = \mathrm{ELU}_\alpha^{-1}(y/\lambda)` on :math:`(-\lambda\alpha, \infty)`, with
    torch's fixed :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733`.
    :math:`\log\sigma'(x) = \log\lambda` for :math:`x > 0`, :math:`\log(\lambda\alpha) + x` else.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    """

    lower = -SELU_SCALE * SELU_ALPHA

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_elu(y / SELU_SCALE, SELU_ALPHA)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.where(x > 0, torch.full_like(x, math.log(SELU_SCALE)),
                           math.log(SELU_SCALE * SELU_ALPHA) + x)


class SoftplusInverse(ActivationInverse):
    r""":math:`x = y + \frac1\beta\log(1 - e^{-\beta y})` on :math:`(0, \infty)` (and :math:`x = y`
    above torch's linear ``threshold``). :math:`\log\sigma'(x) = \log(1 - e^{-\beta y})`.

    Caveat: torch's ``Softplus`` switches to the identity for :math:`\beta x >` ``threshold``
    (:math:`t`), where :math:`\frac1\beta\log(1 + e^{\beta x})` still exceeds :math:`x` by
    :math:`w = \log(1 + e^{-t})/\beta`; outputs in that sliver :math:`(t/\beta, t/\beta + w]`
    have two preimages, and this inverse returns the linear-branch one. For the default
    threshold 20 the sliver is :math:`2\cdot 10^{-9}/\beta` wide (invisible in float32), at most
    that far from the other preimage. A threshold whose sliver is wider than
    :data:`SOFTPLUS_MAX_SLIVER` relative (:math:`t \lesssim 12`: at 5 the two preimages are up to
    :math:`6.7\cdot 10^{-3}/\beta` apart) makes the layer non-injective in earnest and is refused
    by :func:`build_activation` with a :class:`NotInvertibleError`.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    beta, threshold:
        The forward layer's ``beta`` (:math:`> 0`) and ``threshold``.
    """

    lower = 0.0

    def __init__(self, path: str, layer: str, beta: float, threshold: float, *,
                 clamp: bool = False) -> None:
        super().__init__(path, layer, clamp=clamp)
        self.beta = float(beta)
        self.threshold = float(threshold)

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_softplus(y, self.beta, self.threshold)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        z = self.beta * y
        return torch.where(self.beta * x > self.threshold, torch.zeros_like(x),
                           torch.log(-torch.expm1(-z)))


class TanhInverse(ActivationInverse):
    r""":math:`x = \operatorname{atanh} y` on :math:`(-1, 1)`;
    :math:`\log\sigma'(x) = \log(1 - y^2) = \log(1 - y) + \log(1 + y)`.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    """

    lower, upper = -1.0, 1.0

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_tanh(y)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.log1p(-y) + torch.log1p(y)


class SigmoidInverse(ActivationInverse):
    r""":math:`x = \log y - \log(1 - y)` on :math:`(0, 1)`;
    :math:`\log\sigma'(x) = \log y + \log(1 - y)`.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    """

    lower, upper = 0.0, 1.0

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_sigmoid(y)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.log(y) + torch.log1p(-y)


class LogSigmoidInverse(ActivationInverse):
    r""":math:`x = y - \log(1 - e^{y})` on :math:`(-\infty, 0)`;
    :math:`\log\sigma'(x) = \log\sigma(-x) = \log(1 - e^{y})`.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    """

    upper = 0.0

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_logsigmoid(y)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.log(-torch.expm1(y))


class SoftsignInverse(ActivationInverse):
    r""":math:`x = y/(1 - |y|)` on :math:`(-1, 1)`; :math:`\log\sigma'(x) = 2\log(1 - |y|)`.

    Parameters
    ----------
    path, layer, clamp:
        As for :class:`ActivationInverse`. The inverse is elementwise: ``y`` of any shape, ``x`` of the same.
    """

    lower, upper = -1.0, 1.0

    def inverse_fn(self, y: Tensor) -> Tensor:
        return inv_softsign(y)

    def log_derivative(self, x: Tensor, y: Tensor) -> Tensor:
        return 2 * torch.log1p(-y.abs())


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------
_SUGGEST = ("use LeakyReLU with a positive slope (exactly invertible), or invlib.optimize_inverse "
            "to find one preimage")


def _slope_check(path: str, layer: str, slope: Tensor | float, what: str) -> None:
    s = torch.as_tensor(slope, dtype=torch.float64)
    if bool((s == 0).any()):
        raise NotInvertibleError(path, layer, f"many-to-one: {what} is 0, so it maps every negative "
                                 "input to 0", _SUGGEST)
    if bool((s < 0).any()):
        n = int((s < 0).sum())
        raise NotInvertibleError(path, layer, f"not monotone: {what} is negative ({n} of "
                                 f"{s.numel()}), so negative and positive inputs share outputs",
                                 _SUGGEST)


_HYPERPARAMETERS = ("negative_slope", "alpha", "beta", "threshold", "lower", "upper")


def _check_finite_hyperparameters(module: nn.Module, path: str, layer: str) -> None:
    """:class:`~invlib.NotInvertibleError` when a float hyperparameter (slope, alpha, ...) is NaN or inf."""
    for name in _HYPERPARAMETERS:
        value = getattr(module, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
            raise NotInvertibleError(path, layer, f"{name} = {value} is not a finite number, so the forward "
                                     "outputs NaN or inf", f"rebuild the layer with a finite {name}")


def build_activation(module: nn.Module, path: str, opts: BuildOptions) -> ActivationInverse:
    """The inverse of one supported activation module (see :data:`ACTIVATION_CLASSES`)."""
    layer = type(module).__name__
    clamp = opts.clamp
    _check_finite_hyperparameters(module, path, layer)
    if isinstance(module, nn.LeakyReLU):
        _slope_check(path, layer, module.negative_slope, "negative_slope")
        return LeakyReLUInverse(path, layer, module.negative_slope, clamp=clamp)
    if isinstance(module, nn.PReLU):
        _slope_check(path, layer, module.weight.detach(), "the PReLU weight")
        return PReLUInverse(path, layer, module.weight, clamp=clamp)
    if isinstance(module, nn.RReLU):
        if module.training:
            raise NotInvertibleError(path, layer, "random: in training mode RReLU draws a random "
                                     "slope for every entry", "call model.eval() first")
        slope = (module.lower + module.upper) / 2
        _slope_check(path, layer, slope, "the eval slope (lower + upper)/2")
        return LeakyReLUInverse(path, layer, slope, clamp=clamp)
    if isinstance(module, nn.ELU):
        if module.alpha <= 0:
            raise NotInvertibleError(path, layer, f"alpha = {module.alpha} <= 0: the negative "
                                     "branch is constant or decreasing", _SUGGEST)
        return ELUInverse(path, layer, module.alpha, clamp=clamp)
    if isinstance(module, nn.CELU):
        if module.alpha <= 0:
            raise NotInvertibleError(path, layer, f"alpha = {module.alpha} <= 0", _SUGGEST)
        return CELUInverse(path, layer, module.alpha, clamp=clamp)
    if isinstance(module, nn.SELU):
        return SELUInverse(path, layer, clamp=clamp)
    if isinstance(module, nn.Softplus):
        if module.beta <= 0:
            raise NotInvertibleError(path, layer, f"beta = {module.beta} <= 0", _SUGGEST)
        t = float(module.threshold)
        sliver = math.log1p(math.exp(-t)) if t > -700 else -t  # log(1 + e^-t), overflow-safe
        if sliver > SOFTPLUS_MAX_SLIVER * max(abs(t), 1.0):
            raise NotInvertibleError(
                path, layer,
                f"threshold = {t:g} makes it non-injective: torch's Softplus is the identity above x = "
                f"threshold/beta = {t / module.beta:g}, yet the curve below reaches {sliver / module.beta:.3g} "
                f"higher, so outputs in ({t / module.beta:g}, {(t + sliver) / module.beta:.4g}] have two preimages",
                "use the default threshold (20) or one >= 12, where the two preimages are under 1e-6 apart")
        return SoftplusInverse(path, layer, module.beta, module.threshold, clamp=clamp)
    if isinstance(module, nn.Tanh):
        return TanhInverse(path, layer, clamp=clamp)
    if isinstance(module, nn.Sigmoid):
        return SigmoidInverse(path, layer, clamp=clamp)
    if isinstance(module, nn.LogSigmoid):
        return LogSigmoidInverse(path, layer, clamp=clamp)
    if isinstance(module, nn.Softsign):
        return SoftsignInverse(path, layer, clamp=clamp)
    raise TypeError(f"build_activation got {layer}")  # pragma: no cover - dispatch bug


#: The activation classes :func:`invlib.inverse` inverts exactly.
ACTIVATION_CLASSES: tuple[type[nn.Module], ...] = (
    nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.Softplus, nn.Tanh,
    nn.Sigmoid, nn.LogSigmoid, nn.Softsign,
)


# ---------------------------------------------------------------------------------------------
# Saturation study (for the non-linearity chapter)
# ---------------------------------------------------------------------------------------------
_STUDY: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "tanh": (torch.tanh, inv_tanh),
    "sigmoid": (torch.sigmoid, inv_sigmoid),
    "softplus": (F.softplus, inv_softplus),
    "logsigmoid": (F.logsigmoid, inv_logsigmoid),
    "softsign": (F.softsign, inv_softsign),
    "elu": (F.elu, inv_elu),
}


def saturation_study(name: str, xs: Sequence[float] | Tensor, dtype: torch.dtype = torch.float32,
                     *, rtol: float = 1e-2) -> dict:
    r"""Measure the round trip :math:`\hat x = \sigma^{-1}(\sigma(x))` in ``dtype`` on the points ``xs``.

    ``x`` is first rounded to ``dtype``; :math:`\sigma` and :math:`\sigma^{-1}` run in ``dtype``;
    errors are measured in float64 against the rounded ``x``. Near saturation the rounding error
    :math:`\approx \varepsilon` of :math:`y` is amplified by :math:`|{\sigma^{-1}}'(y)|` (for tanh
    :math:`1/(1 - y^2) \approx e^{2|x|}/4`) until :math:`\sigma(x)` rounds to the bound of the
    range and the inverse is infinite.

    Parameters
    ----------
    name:
        One of ``"tanh"``, ``"sigmoid"``, ``"softplus"``, ``"logsigmoid"``, ``"softsign"``, ``"elu"``.
    xs:
        The test points (any sign).
    dtype:
        ``torch.float32``, ``torch.float64`` (or ``torch.float16``/``bfloat16``).
    rtol:
        The relative error :math:`|\hat x - x|/|x|` counted as a breakdown.

    Returns
    -------
    dict with keys ``name``, ``dtype``, ``x`` (float64), ``y``, ``x_hat`` (in ``dtype``),
    ``abs_error``, ``rel_error`` (float64, ``inf`` where the round trip is not finite),
    ``saturated`` (bool: :math:`\hat x` not finite, i.e. :math:`\sigma(x)` hit the bound),
    ``saturation_x`` (the smallest :math:`|x|` in ``xs`` that saturates, or ``None``) and
    ``breakdown_x`` (the smallest :math:`|x|` whose relative error exceeds ``rtol`` or that
    saturates, or ``None``).
    """
    if name not in _STUDY:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_STUDY)}")
    fwd, inv = _STUDY[name]
    x = torch.as_tensor(xs, dtype=torch.float64).to(dtype)
    with torch.no_grad():
        y = fwd(x)
        x_hat = inv(y)
    x64 = x.to(torch.float64)
    finite = torch.isfinite(x_hat)
    abs_err = torch.where(finite, (x_hat.to(torch.float64) - x64).abs(),
                          torch.full_like(x64, math.inf))
    tiny = torch.finfo(dtype).tiny
    rel_err = abs_err / x64.abs().clamp_min(tiny)
    saturated = ~finite
    broken = saturated | (rel_err > rtol)
    mag = x64.abs()

    def first(mask: Tensor) -> float | None:
        return float(mag[mask].min()) if bool(mask.any()) else None

    return {
        "name": name,
        "dtype": dtype,
        "x": x64,
        "y": y,
        "x_hat": x_hat,
        "abs_error": abs_err,
        "rel_error": rel_err,
        "saturated": saturated,
        "saturation_x": first(saturated),
        "breakdown_x": first(broken),
    }
