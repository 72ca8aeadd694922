r"""Optimization-based inverses: find :math:`x` with :math:`f(x) \approx y`, batched, CPU or CUDA.

:func:`optimize_inverse` solves, independently for every sample :math:`i` of a batch,

.. math::

    x_i^\star \in \arg\min_x \; \|f(x) - y_i\|_2^2 + \lambda R(x)
    \quad\text{subject to}\quad lo \le x \le hi,

where the prior :math:`R` and the box are optional.  Without a prior this is root finding,
:math:`f(x_i) = y_i`, and a sample counts as *converged* when its relative residual

.. math::

    \rho_i = \frac{\|f(x_i) - y_i\|_2}{\|y_i\|_2}

is at most ``tol``.  Every sample carries its own state; a converged sample leaves the active
set and is never evaluated again.

The solvers live in small private modules (and share :mod:`invlib._problem`: the flattened
problem, the priors and the per-sample bookkeeping):

* :mod:`invlib._newton` -- dense methods: the damped (quasi-)Newton solver with boundary-crossing
  steps for piecewise-linear maps (``"newton"``), the piecewise-linear homotopy (``"homotopy"``) and
  Levenberg--Marquardt for non-square maps, priors and boxes;
* :mod:`invlib._krylov` -- matrix-free Gauss--Newton with conjugate gradients (``"matrix_free"``);
* :mod:`invlib._first_order` -- the baselines (``"lbfgs"``, ``"adam"``, ``"gd"``) and the
  fixed-point iteration for invertible residual blocks (``"fixed_point"``).

Assumption shared by every method: ``f`` acts on the samples of a batch independently (row ``i``
of ``f(x)`` depends on row ``i`` of ``x`` only).  Batched Jacobians rely on it
(:math:`\partial\, \sum_i f(x)_i / \partial x` holds every per-sample Jacobian), and so does the
active set.  A module that couples samples -- ``BatchNorm`` in training mode, attention across the
batch -- must be put in ``eval()`` mode first.
"""

from __future__ import annotations

import math
import time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from invlib._problem import Problem, Tracker, make_prior
from invlib.errors import InvalidInputError, PrecisionWarning, TrainingModeWarning

__all__ = ["InversionResult", "optimize_inverse", "METHODS", "STATUSES", "default_tol", "default_xtol"]

#: The valid values of ``method``.
METHODS: tuple[str, ...] = (
    "auto",
    "newton",
    "matrix_free",
    "homotopy",
    "fixed_point",
    "lbfgs",
    "adam",
    "gd",
)

#: Default iteration budgets per method (an iteration is one outer step for every active sample).
_DEFAULT_MAX_ITER: dict[str, int] = {
    "newton": 2000,
    "matrix_free": 500,
    "homotopy": 5000,
    "fixed_point": 2000,
    "lbfgs": 5000,
    "adam": 5000,
    "gd": 5000,
}

#: Above this many Jacobian entries per sample (``n * m``) "auto" goes matrix-free.
_DENSE_LIMIT = 1 << 20

#: The per-sample outcomes in :attr:`~invlib.InversionResult.status` (codes are the indices).
STATUSES: tuple[str, ...] = ("converged", "stationary", "stalled", "max_iter", "diverged", "ill_conditioned")


#: Working memory per chunk of rows on the CPU (bytes); on CUDA a quarter of the free memory.
_CPU_CHUNK_BYTES = 512 * 2**20


def default_xtol(dtype: torch.dtype) -> float:
    r"""The default requested accuracy in ``x`` for ``dtype``: ``1e-6`` (float64), ``1e-3`` (float32), ``1e-1``.

    A sample counts as converged only when its estimated relative forward error -- the length of
    the next Newton step, and :math:`\kappa(J)\,\varepsilon`, the error rounding alone can cause --
    is at most this.  In float32 (:math:`\varepsilon = 1.2\cdot10^{-7}`) that needs
    :math:`\kappa \lesssim 10^{4}`.
    """
    if dtype == torch.float64:
        return 1e-6
    if dtype == torch.float32:
        return 1e-3
    return 1e-1


def default_tol(dtype: torch.dtype) -> float:
    r"""The default tolerance on the relative residual :math:`\|f(x)-y\|/\|y\|` for ``dtype``.

    ``1e-10`` for float64 and ``1e-5`` for float32 (``1e-2`` for half precision).  Why: even the
    exact preimage only reproduces :math:`y` up to rounding, :math:`\rho \approx
    \kappa(J)\,\varepsilon` with :math:`\varepsilon = 2.2\cdot10^{-16}` (float64) or
    :math:`1.2\cdot10^{-7}` (float32).  The defaults sit about :math:`10^{5.5}` resp. :math:`10^{2}`
    above :math:`\varepsilon`, so they are reachable for Jacobians with condition numbers up to
    about that factor, and tight enough that :math:`\|x - x^\star\| / \|x^\star\| \lesssim
    \kappa(J)\,\mathrm{tol}` is a useful guarantee.
    """
    if dtype == torch.float64:
        return 1e-10
    if dtype == torch.float32:
        return 1e-5
    return 1e-2


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------


@dataclass(repr=False)
class InversionResult:
    r"""What :func:`optimize_inverse` found, per sample, with the evidence.

    Attributes
    ----------
    x:
        The solutions, shape ``(batch, *input_shape)``.  For samples that did not converge: the
        last finite iterate (for the methods that decrease the objective monotonically --
        ``"newton"``, ``"homotopy"``, ``"matrix_free"``, ``"gd"`` -- also the best one; over
        restarts the best per sample is kept), never NaN.
    converged:
        Bool, shape ``(batch,)``: :math:`\rho_i \le` ``tol`` *and*, where the solver estimates it,
        the relative forward error of :math:`x_i` at most ``xtol`` (``status == "converged"``).
        A stationary point of a prior/box objective whose residual is above ``tol`` is *not*
        converged: its status is ``"stationary"`` (see :attr:`solved`).
    residual:
        The relative residual :math:`\rho_i = \|f(x_i) - y_i\| / \|y_i\|` (``||y_i||`` replaced by 1
        where :math:`y_i = 0`), shape ``(batch,)``, evaluated at the returned ``x``.
    iterations:
        Outer iterations run on the whole map (over all restarts); the iterations of a stage-by-stage
        start are not included (they count against ``max_iter`` all the same).
    method:
        The method that ran (what ``"auto"`` chose).
    history:
        Per iteration, the *maximum* relative residual over the samples that were active in that
        iteration (as long as any sample is unconverged this is the worst residual of the batch).
    history_median:
        Per iteration, the median relative residual over the active samples.
    time_s:
        Wall-clock seconds (device synchronised at the end).
    objective:
        Per sample :math:`\|f(x_i)-y_i\|^2 + \lambda R(x_i)`, shape ``(batch,)``.
    tol:
        The tolerance that was applied.
    restarts:
        How many rounds of random restarts ran, each for the samples that still needed one (the largest count
        over chunks): 0 when the first start settled every sample, at most the ``restarts`` argument (2 under
        the automatic default).
    evaluations:
        Work done: ``{"f_rows": rows pushed through f in forward passes, "jacobian_rows":
        per-sample Jacobians formed by the dense solvers}`` (over all restarts).
    status:
        Int codes, shape ``(batch,)``, indices into :data:`~invlib.optimize.STATUSES`: ``"converged"``; ``"stationary"``
        (a stationary point of the prior/box objective, residual above ``tol``); ``"stalled"`` (no
        step decreases the residual: a local minimum, a singular Jacobian, an unreachable target);
        ``"max_iter"`` (the sample's own budget ran out); ``"diverged"`` (its iterate became
        non-finite and was rolled back to the last finite one); ``"ill_conditioned"`` (residual
        below ``tol`` -- ``x`` is *a* preimage -- but its estimated forward error is above ``xtol``:
        the Jacobian there is singular, or too ill-conditioned for the dtype, so ``x`` need not be
        the preimage you are after). :attr:`statuses` gives the names, :meth:`status_counts` a summary.
    condition:
        Per-sample condition estimate of the Jacobian at (or near) the returned ``x``, shape
        ``(batch,)``: :math:`\|J\|_F\|J^{-1}\|_F` from the last exact Jacobian of the Newton solver,
        :math:`\sigma_{\max}/\sigma_{\min}` computed at the end otherwise (NaN where no dense
        Jacobian was affordable, ``inf`` where singular).  :math:`\kappa\,\varepsilon` bounds the
        accuracy any solver can reach in ``x``.
    chunks:
        Into how many chunks of rows the batch was split to bound memory (1: solved at once).
    """

    x: Tensor
    converged: Tensor
    residual: Tensor
    iterations: int
    method: str
    history: list[float]
    time_s: float
    history_median: list[float] = field(default_factory=list)
    objective: Tensor | None = None
    tol: float = float("nan")
    restarts: int = 0
    evaluations: dict[str, int] = field(default_factory=dict)
    status: Tensor | None = None
    condition: Tensor | None = None
    chunks: int = 1

    @property
    def statuses(self) -> list[str]:
        """The per-sample status names (see :data:`~invlib.optimize.STATUSES`)."""
        if self.status is None:
            return []
        return [STATUSES[int(c)] for c in self.status.tolist()]

    @property
    def solved(self) -> Tensor:
        """Converged, or (with a prior or box) a stationary point of the regularised objective."""
        if self.status is None:
            return self.converged
        return self.converged | (self.status == STATUSES.index("stationary"))

    def status_counts(self) -> dict[str, int]:
        """How many samples ended in each status (only the statuses that occur)."""
        if self.status is None:
            return {}
        counts = torch.bincount(self.status.flatten().cpu(), minlength=len(STATUSES)).tolist()
        return {name: c for name, c in zip(STATUSES, counts) if c}

    def __repr__(self) -> str:
        n_conv = int(self.converged.sum())
        total = self.converged.numel()
        worst = float(self.residual.max()) if self.residual.numel() else float("nan")
        others = ", ".join(f"{k} {v}" for k, v in self.status_counts().items() if k != "converged")
        return (
            f"InversionResult(method={self.method!r}, converged {n_conv}/{total}"
            f"{' (' + others + ')' if others else ''}, "
            f"max residual {worst:.1g}, {self.iterations} iterations, {self.time_s:.1f} s)"
        )

    def plot(self, ax: Any = None) -> Any:
        """Plot the residual history (max and median over the active samples, log scale).

        Returns the matplotlib ``Figure``; draws into ``ax`` when one is given.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 3.2))
        else:
            fig = ax.figure
        its = range(1, len(self.history) + 1)
        floor = 1e-300
        ax.semilogy(its, [max(h, floor) for h in self.history], label="max over active samples")
        if self.history_median:
            ax.semilogy(
                its,
                [max(h, floor) for h in self.history_median],
                label="median over active samples",
                linestyle="--",
            )
        if math.isfinite(self.tol):
            ax.axhline(self.tol, color="gray", linewidth=0.8, linestyle=":", label=f"tol = {self.tol:g}")
        ax.set_xlabel("iteration")
        ax.set_ylabel(r"relative residual $\|f(x)-y\| / \|y\|$")
        ax.set_title(f"optimize_inverse ({self.method})")
        ax.legend(loc="best", fontsize="small")
        return fig


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_tensor(name: str, t: Any, finite: bool = True) -> Tensor:
    if not isinstance(t, Tensor):
        raise InvalidInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}.")
    if t.device.type == "meta":
        raise InvalidInputError(
            f"{name} is on the meta device: it has a shape but no values to invert. Create it on a real "
            f"device (cpu or cuda), e.g. {name}.to_empty(device='cpu') filled with data."
        )
    if not t.is_floating_point():
        raise InvalidInputError(
            f"{name} must be a real floating-point tensor (float32 or float64), got dtype {t.dtype}."
        )
    if t.dim() < 2:
        raise InvalidInputError(
            f"{name} must be a batch of shape (batch, *shape) with at least 2 dims, got shape "
            f"{tuple(t.shape)}; add a batch dimension with {name}[None] or {name}.unsqueeze(0)."
        )
    if t.shape[0] == 0:
        raise InvalidInputError(
            f"{name} is an empty batch (shape {tuple(t.shape)}): optimize_inverse needs at least one "
            f"sample, {name} of shape (batch >= 1, *shape).")
    if finite and not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise InvalidInputError(
            f"{name} contains {n_bad} NaN or inf entries; every entry must be finite."
        )
    return t


def _check_magnitude(y: Tensor) -> None:
    r"""Refuse a ``y`` whose squared norms overflow: the solver compares :math:`\|f(x) - y\|` and
    :math:`\|y\|`, which are inf once entries pass about :math:`\sqrt{\text{max}} / \sqrt{m}` (1e154 in float64,
    1.8e19 in float32, over :math:`m` entries); a NaN or 0 relative residual would follow."""
    m = max(1, y[0].numel())
    limit = torch.finfo(y.dtype).max ** 0.5 / (4.0 * math.sqrt(m))
    big = float(y.abs().amax())
    if big > limit:
        raise InvalidInputError(
            f"y has entries up to {big:.3g} in magnitude; in {y.dtype} the norms optimize_inverse compares overflow "
            f"above about {limit:.3g} for {m} outputs per sample. Scale y and f's output down by the same factor "
            f"(a power of 2 is exact){' or use float64' if y.dtype != torch.float64 else ''}.")


def _check_differentiable(problem: Problem, x0: Tensor) -> None:
    """Raise :class:`InvalidInputError` when f's output does not depend differentiably on x (one sample)."""
    if torch.is_inference_mode_enabled():
        raise InvalidInputError(
            "optimize_inverse was called inside torch.inference_mode(), where nothing can be differentiated, and "
            "its solvers need gradients of f with respect to x. Call it outside inference_mode (under "
            "torch.no_grad() is fine: it turns gradients on for x by itself), or use method='fixed_point'.")
    xs = x0[:1].detach().clone().requires_grad_(True)
    advice = (" The gradient-based methods need autograd through f. If f = x + g(x) with Lip(g) < 1 (an "
              "invertible residual block), method='fixed_point' needs no gradients; otherwise make f a "
              "differentiable torch computation.")
    with torch.enable_grad():  # also under a caller's torch.no_grad()
        try:
            out = problem.f(xs.reshape(1, *problem.in_shape).clone())  # a copy: f may work in place
        except Exception as exc:  # noqa: BLE001 -- re-raised with context
            raise InvalidInputError(
                f"f is not differentiable with respect to x: it runs without gradients but fails when x requires "
                f"grad ({type(exc).__name__}: {exc}; NumPy, .item() or an in-place change of x?)." + advice
            ) from exc
        if not isinstance(out, Tensor) or out.grad_fn is None or not out.requires_grad:
            reason = "its output has no grad_fn"
        else:
            (g,) = torch.autograd.grad(out.sum(), xs, allow_unused=True)
            reason = "" if g is not None else "its output does not depend on x through autograd"
    if reason:
        raise InvalidInputError(
            f"f is not differentiable with respect to x: {reason} (was it computed under "
            f"torch.no_grad(), with .detach(), .item(), NumPy or an integer cast?)." + advice
        )


def _training_mode_layers(f: Any) -> list[str]:
    """The layers of ``f`` (an ``nn.Module``) whose training-mode behaviour makes ``f`` a moving target.

    Each entry reads ``"path (Class): what it does"``.  Layers that act the same in both modes are
    not listed, so a plain MLP left in training mode (every new module starts there) gives ``[]``.
    """
    if not isinstance(f, nn.Module):
        return []
    from torch.nn.utils.parametrizations import _SpectralNorm
    from torch.nn.utils.spectral_norm import SpectralNorm as SpectralNormHook

    from invlib.flows import SpectralNormLinear

    found = []
    for path, m in f.named_modules():
        if not m.training:
            continue
        what = ""
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            what = "draws a new random mask on every call"
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            what = "normalises with the statistics of whatever batch it is given and updates its running statistics"
        elif isinstance(m, SpectralNormLinear) and m.n_power_iterations > 0:
            what = "runs power iterations that change its weights on every call"
        elif isinstance(m, _SpectralNorm) or any(isinstance(h, SpectralNormHook)
                                                 for h in m._forward_pre_hooks.values()):
            what = "torch spectral normalisation: power iterations change the weights on every call"
        if what:
            found.append(f"{path or '<model>'} ({type(m).__name__}): {what}")
    return found


def _warn_if_training(f: Any) -> None:
    """Warn (:class:`TrainingModeWarning`) when ``f`` is a module whose training mode moves the target."""
    layers = _training_mode_layers(f)
    if layers:
        shown = "; ".join(layers[:3]) + (f"; and {len(layers) - 3} more" if len(layers) > 3 else "")
        warnings.warn(
            f"f is an nn.Module in training mode, and {len(layers)} of its layers behave differently there "
            f"({shown}). The map then changes while it is being inverted, so the result need not be a "
            f"preimage under the eval-mode model and the solver may not converge. Call f.eval() first "
            f"(and f.train() afterwards to go on training).",
            TrainingModeWarning,
            stacklevel=3,
        )


def _choose_method(problem: Problem) -> str:
    if problem.n * problem.m > _DENSE_LIMIT:
        return "matrix_free"
    return "newton"


# --------------------------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------------------------


def optimize_inverse(
    f: Callable[[Tensor], Tensor],
    y: Tensor,
    *,
    x0: Tensor | None = None,
    input_shape: tuple[int, ...] | None = None,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    prior: str | Callable[[Tensor], Tensor] | dict | None = None,
    prior_weight: float = 1e-3,
    bounds: tuple[float, float] | None = None,
    restarts: int | None = None,
    seed: int = 0,
    progress: bool = False,
    lr: float | None = None,
    xtol: float | None = None,
    validate: bool = True,
    memory_limit: int | None = None,
    jacobian_dtype: torch.dtype | None = None,
    stagewise: bool = True,
) -> InversionResult:
    r"""Invert ``f`` numerically, per sample: find :math:`x_i` with :math:`f(x_i) \approx y_i`.

    Solves, for every row :math:`i` of the batch independently,

    .. math::

        \min_{x}\; \|f(x) - y_i\|_2^2 + \lambda R(x) \quad \text{s.t. } lo \le x \le hi,

    (prior and box optional).  Without them this is the equation :math:`f(x) = y_i`, and a sample
    has converged when :math:`\|f(x_i) - y_i\| \le \mathrm{tol}\,\|y_i\|`.

    Parameters
    ----------
    f:
        A differentiable map on a batch, ``(batch, *input_shape) -> (batch, *y.shape[1:])``: an
        ``nn.Module`` (put it in ``eval()`` mode) or a function.  Samples must not interact.
    y:
        Targets, ``(batch, *out_shape)``, real floating point, finite.  Its device (CPU or CUDA)
        and dtype decide where and in which precision everything runs.
    x0:
        Starting points ``(batch, *input_shape)``; default zeros of ``(batch, *input_shape)`` or,
        when ``input_shape`` is None, of ``y``'s shape (square maps).  Moved to ``y``'s device and
        dtype.
    input_shape:
        Per-sample input shape for non-square maps when ``x0`` is not given.
    method:
        ``"auto"`` (dense ``"newton"`` when the per-sample Jacobian has at most 2**20 entries,
        else ``"matrix_free"``), ``"newton"`` (damped quasi-Newton with exact batched Jacobians,
        Broyden updates between them and boundary-crossing steps on piecewise-linear maps; samples
        where it stalls, e.g. on a singular Jacobian, start again from ``x0`` with
        Levenberg--Marquardt in the remaining budget; for non-square maps, priors and boxes:
        Levenberg--Marquardt throughout), ``"matrix_free"`` (Gauss--Newton
        with JVP/VJP and conjugate gradients), ``"homotopy"`` (follows the preimage of the segment
        from :math:`f(x_0)` to :math:`y`; made for piecewise-linear maps), ``"fixed_point"``
        (:math:`x \leftarrow x + \omega(y - f(x))`, converges when :math:`f = I + g` with
        :math:`\mathrm{Lip}(g) < 1`; needs no gradients), and the baselines ``"lbfgs"``
        (``torch.optim.LBFGS``, strong Wolfe), ``"adam"`` and ``"gd"``.  ``"lbfgs"`` minimises the
        *sum* of the samples' objectives, as ``torch.optim.LBFGS`` on a batch does: its line search and
        history are shared, so a sample's result depends on the rest of its batch (and on chunking by
        ``memory_limit``); every other method treats each sample on its own.
    tol:
        Tolerance on the relative residual; default ``default_tol(dtype)`` (1e-10 for float64, 1e-5
        for float32 -- a few orders above what rounding allows).
    max_iter:
        Outer iterations per start; the default depends on the method (2000 for ``"newton"``,
        500 for ``"matrix_free"``, 5000 for ``"homotopy"`` and the first-order baselines).
        Converged and stalled samples stop early, so the budget only binds for slow samples.  Each
        sample's budget covers its stage-by-stage start too (see ``stagewise``): every stage's
        iterations count against it.
    prior:
        ``None``, ``"l2"`` (:math:`R = \|x\|^2`), ``"tv"`` (smoothed isotropic total variation
        over the last two dims, for images), a callable ``x -> (batch,)`` penalty, or a dict
        ``{"l2": w1, "tv": w2, callable: w3}`` whose weights are used as given.
    prior_weight:
        :math:`\lambda` for a single prior.
    bounds:
        ``(lo, hi)``: box constraint on every entry of :math:`x` (iterates are projected).
    restarts:
        Extra random starts (:math:`x_0` plus standard normal noise, or uniform in the box), run
        for the samples that did not converge (for all samples when a prior/box is given); the
        best per sample (lowest objective) is kept.  Default ``None``: up to 2 extra starts, only for
        the samples that *stalled* (no step decreased their residual) on an unconstrained problem
        -- converged samples and samples that used their whole budget are not restarted, so the
        default costs nothing where the first start succeeds.  ``0`` turns restarts off.
    seed:
        Seeds the restarts' random starts (a private generator; global RNG state is untouched).
    progress:
        Show a ``tqdm.auto`` progress bar (works in notebooks and without a terminal).
    xtol:
        Requested accuracy in ``x``: a sample counts as converged only when its estimated relative
        forward error is at most ``xtol`` (default :func:`~invlib.optimize.default_xtol`: 1e-6 for float64, 1e-3 for
        float32); the Newton solver keeps iterating a
        sample whose residual is below ``tol`` but whose next step is still longer than ``xtol``,
        and reports it ``"ill_conditioned"`` when rounding stops it first.  A
        :class:`~invlib.PrecisionWarning` says how many samples the dtype cannot deliver.
    validate:
        ``False`` skips the checks that need the data on the host (finiteness of ``y``, a trial
        call of ``f``, the differentiability probe, the training-mode scan); for callers that
        have checked their inputs already.  Bad input then fails inside the solver.
    memory_limit:
        Bytes of working memory per chunk of rows (default 512 MiB on the CPU, a quarter of the free
        memory on CUDA).  Larger batches are solved chunk by chunk; every sample's result is the
        same as in a batch of its own chunk, since samples never interact.
    jacobian_dtype:
        ``None`` (default: inverse Jacobians in ``y``'s dtype) or ``torch.float32`` for a float64 problem:
        ``"newton"`` then stores its dense per-sample inverse Jacobians in float32 as long as every
        sample's condition estimate is at most 1e4 (the first sample above turns the store back to
        float64 for the rest of the solve).  Residuals, iterates and the stopping test stay in float64, so
        the accuracy reached is float64's: a float32 inverse only makes each step an inexact Newton step
        (contraction :math:`\lesssim \kappa\,\varepsilon_{32} \le 10^{-3}` per step).  Trade-off: 5-10%
        less CPU time on a 256 x 64 batch (half the bytes in the dense passes), and since the store's
        precision is chosen per batch, a sample's ``x`` can differ with the other samples of its batch by
        up to the float32 store's rounding (with the default store, only by the last bits that batched
        linear algebra rounds differently for different batch sizes: 4e-16 relative measured on a
        well-conditioned net, up to ~1e-8 where the condition number is ~1e9).
    stagewise:
        ``True`` (default): with ``method="newton"`` on a square ``nn.Sequential`` of affine layers
        (``Linear``, ``Conv1d/2d/3d``, reshapes, and in eval mode ``BatchNorm1d/2d/3d`` with running
        statistics and dropout) and ReLU-family activations (``ReLU``, ``LeakyReLU``, ``PReLU``), the samples that start at :math:`x_0 = 0` are first solved one stage at a time from
        the output back (each stage a few Newton steps), then Newton on the whole map takes at least one
        step from there (which checks the forward error against ``xtol``); a sample still stuck above
        ``tol`` goes back to Newton on the whole map from :math:`x_0`.  Such a composition has far more
        linear regions than any of its layers, and Newton on the whole map crosses their boundaries one
        after another: on a 4-layer leaky-ReLU MLP (d = 64, 256 samples) the stage-by-stage start
        takes 0.27 -> 0.10 CPU s at slope 0.5 and 8.8 -> 0.13 s at slope 0.1, and with a batch norm and
        a dropout after each linear layer (d = 32) 46 -> 0.13 s.  ``False``: Newton on the
        whole map from :math:`x_0` (samples it cannot finish are still tried stage by stage).  With the
        stage-by-stage start, ``iterations`` counts the whole-map steps after it; ``evaluations`` counts
        all the work.
    lr:
        Step size for ``"adam"`` (default 1e-2) and ``"gd"`` (initial step of its backtracking,
        default 1); relaxation :math:`\omega` for ``"fixed_point"`` (default 1); LBFGS ``lr``
        (default 1).  Ignored by the second-order methods.

    Returns
    -------
    InversionResult
        ``x`` (detached: no autograd graph, whatever ``f``'s parameters require), per-sample
        ``converged``, ``status``, ``residual`` and ``condition``, ``iterations``, ``method``,
        residual ``history`` (plot with ``.plot()``) and ``time_s``.  To differentiate the
        preimage with respect to ``y``, use the implicit function theorem:
        :math:`\partial x^\star/\partial y = J_f(x^\star)^{-1}` (e.g. ``torch.linalg.solve`` with
        ``torch.func.jacrev(f)`` at ``x``).

    Raises
    ------
    InvalidInputError
        NaN/inf in ``y`` or ``x0``, shape mismatch between ``f(x0)`` and ``y``, an ``f`` whose
        output does not depend differentiably on ``x`` (for gradient-based methods), an unknown
        ``method`` or ``prior``, invalid ``tol``/``max_iter``/``bounds``/``restarts``.
        Non-convergence is not an error: it is reported in ``converged`` and ``residual``.

    Warns
    -----
    PrecisionWarning
        Some samples' condition estimate times the dtype's epsilon, or their estimated forward
        error, exceeds ``xtol``: their ``x`` cannot be trusted to that accuracy (use float64).
    TrainingModeWarning
        ``f`` is an ``nn.Module`` in training mode with layers that behave differently there
        (dropout, batch norm, spectral normalisation's power iteration): call ``f.eval()`` first.
    """
    t_start = time.perf_counter()
    if isinstance(f, nn.Module):
        from invlib.compose import unwrap_compiled

        f = unwrap_compiled(f)  # the same map; a compiled wrapper would recompile for every new batch size
    args = _validate_arguments(f, y, method, tol, max_iter, restarts, prior_weight, lr, bounds, xtol, validate,
                               memory_limit)
    tol, bounds = args
    xtol = default_xtol(y.dtype) if xtol is None else float(xtol)
    x0, in_shape = _starting_point(y, x0, input_shape, validate)
    y = y.detach()
    prior_obj = make_prior(prior, float(prior_weight), in_shape)
    if prior_obj is not None and all(w == 0 for _, _, w in prior_obj.terms):
        prior_obj = None
    if not isinstance(stagewise, bool):
        raise InvalidInputError(f"stagewise must be True or False, got {stagewise!r}.")
    if jacobian_dtype not in (None, torch.float32, torch.float64):
        raise InvalidInputError(
            f"jacobian_dtype must be None (y's dtype), torch.float32 or torch.float64, got {jacobian_dtype!r}.")
    problem = Problem(f, y, in_shape, prior_obj, bounds, tol, xtol, jacobian_dtype, stagewise)
    if method == "auto":
        method = _choose_method(problem)
    if validate:  # a trial call as the solver makes it (no grad), then one with x requiring grad
        out = _check_f(f, x0, y, in_shape)
        problem.known = (x0[:1].reshape(1, problem.n), out.reshape(1, problem.m))  # f(x0[0]): reused
        if method != "fixed_point":
            _check_differentiable(problem, x0.reshape(problem.batch, problem.n))
    if max_iter is None:
        max_iter = _DEFAULT_MAX_ITER[method]
    if restarts is None:
        restarts, only_stalled = (0, False) if problem.constrained else (2, True)
    else:
        only_stalled = False
    rows = _chunk_rows(problem, method, memory_limit)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iter * (restarts + 1), desc=f"optimize_inverse[{method}]", leave=True)
    try:
        with torch.no_grad():  # no graph through f's parameters, whatever they require
            out = _solve_in_chunks(method, problem, x0, max_iter, restarts, only_stalled, seed, lr, bar, rows)
    finally:
        if bar is not None:
            bar.total = bar.n
            bar.refresh()
            bar.close()
    out["condition"] = _fill_condition(problem, method, out)
    status = _status(problem, out)
    _warn_if_imprecise(problem, status, out["condition"], xtol)
    if y.device.type == "cuda":
        torch.cuda.synchronize(y.device)
    return InversionResult(
        x=out["x"].reshape(problem.batch, *in_shape).detach(),
        converged=status == 0,
        residual=out["res"],
        iterations=out["iterations"],
        method=method,
        history=out["hmax"],
        history_median=out["hmed"],
        time_s=time.perf_counter() - t_start,
        objective=out["phi"],
        tol=tol,
        restarts=out["restarts"],
        evaluations={"f_rows": problem.rows_evaluated, "jacobian_rows": problem.jacobian_rows},
        status=status,
        condition=out["condition"],
        chunks=out["chunks"],
    )


# --------------------------------------------------------------------------------------------
# The steps: validate, start, solve (in chunks, with restarts), report
# --------------------------------------------------------------------------------------------


def _validate_arguments(
    f: Any, y: Any, method: Any, tol: Any, max_iter: Any, restarts: Any, prior_weight: Any, lr: Any,
    bounds: Any, xtol: Any, validate: bool, memory_limit: Any = None,
) -> tuple[float, tuple[float, float] | None]:
    """Check the scalar arguments and ``y``; return ``(tol, bounds)`` normalised."""
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}.")
    if not callable(f):
        raise InvalidInputError(f"f must be callable (an nn.Module or a function), got {type(f).__name__}.")
    _check_tensor("y", y, finite=validate)
    if y.dtype in (torch.float16, torch.bfloat16) and method not in ("lbfgs", "adam", "gd"):
        raise InvalidInputError(
            f"y is {y.dtype}: method={method!r} solves linear systems, and torch.linalg has no {y.dtype} kernels. "
            f"Convert y and the model to float32 (y.float(), model.float()), or use method='adam', 'gd' or 'lbfgs'.")
    if validate:
        _check_magnitude(y)
        _warn_if_training(f)
        _check_module_matches(f, y)
    if tol is None:
        tol = default_tol(y.dtype)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (tol > 0 and math.isfinite(tol)):
        raise InvalidInputError(f"tol must be a finite number > 0, got {tol!r}.")
    if xtol is not None and (isinstance(xtol, bool) or not isinstance(xtol, (int, float)) or not xtol > 0):
        raise InvalidInputError(f"xtol must be a number > 0 (math.inf turns the check off), got {xtol!r}.")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1):
        raise InvalidInputError(f"max_iter must be a positive int, got {max_iter!r}.")
    if restarts is not None and (isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0):
        raise InvalidInputError(f"restarts must be None (automatic) or an int >= 0, got {restarts!r}.")
    if not isinstance(prior_weight, (int, float)) or not math.isfinite(prior_weight) or prior_weight < 0:
        raise InvalidInputError(f"prior_weight must be a finite number >= 0, got {prior_weight!r}.")
    if lr is not None and (not isinstance(lr, (int, float)) or not (lr > 0 and math.isfinite(lr))):
        raise InvalidInputError(f"lr must be a finite number > 0, got {lr!r}.")
    if memory_limit is not None and (isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, float))
                                     or not (memory_limit > 0 and math.isfinite(memory_limit))):
        raise InvalidInputError(
            f"memory_limit must be None (automatic: 512 MiB on the CPU, a quarter of the free memory on "
            f"CUDA) or a finite number of bytes > 0, got {memory_limit!r}.")
    if bounds is not None:
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise InvalidInputError(f"bounds must be a pair (lo, hi) of numbers, got {bounds!r}.") from None
        if not (lo < hi) or math.isnan(lo) or math.isnan(hi):
            raise InvalidInputError(f"bounds must satisfy lo < hi, got {bounds!r}.")
        bounds = (lo, hi)
    return float(tol), bounds


def _starting_point(
    y: Tensor, x0: Tensor | None, input_shape: Any, validate: bool
) -> tuple[Tensor, tuple[int, ...]]:
    """``x0`` on ``y``'s device and dtype (zeros by default) and the per-sample input shape."""
    if x0 is not None:
        x0 = _check_tensor("x0", x0, finite=validate).detach().to(device=y.device, dtype=y.dtype)
        if x0.shape[0] != y.shape[0]:
            raise InvalidInputError(
                f"x0 has batch size {x0.shape[0]} but y has batch size {y.shape[0]}; they must match."
            )
        if input_shape is not None and tuple(x0.shape[1:]) != tuple(input_shape):
            raise InvalidInputError(
                f"x0 has per-sample shape {tuple(x0.shape[1:])} but input_shape={tuple(input_shape)}."
            )
        return x0, tuple(x0.shape[1:])
    if input_shape is None:
        in_shape = tuple(y.shape[1:])
    else:
        try:
            in_shape = tuple(int(s) for s in input_shape)
        except (TypeError, ValueError):
            raise InvalidInputError(f"input_shape must be a tuple of ints, got {input_shape!r}.") from None
        if not in_shape or any(s < 1 for s in in_shape):
            raise InvalidInputError(f"input_shape must be a non-empty tuple of positive ints, got {input_shape!r}.")
    return torch.zeros((y.shape[0], *in_shape), dtype=y.dtype, device=y.device), in_shape


def _check_f(f: Callable[[Tensor], Tensor], x0: Tensor, y: Tensor, in_shape: tuple[int, ...]) -> Tensor:
    """One trial call ``f(x0[:1])`` as the solvers make it (no grad): it must run and return a tensor of y's
    per-sample shape and dtype; returns that output."""
    try:
        with torch.no_grad():
            out = f(x0[:1].clone())  # a copy: f may work in place
    except Exception as exc:  # noqa: BLE001 -- re-raised with context
        training = _training_mode_layers(f)
        if training:
            raise InvalidInputError(
                f"f failed on a single sample ({type(exc).__name__}: {exc}) and it is in training mode "
                f"with {', '.join(training)}: batch statistics need more than one sample, and a solve "
                f"needs f to treat samples independently. Call f.eval() first."
            ) from exc
        raise InvalidInputError(
            f"f(x0) failed for x0 of per-sample shape {in_shape}, dtype {y.dtype} on {y.device} "
            f"({type(exc).__name__}: {exc}). x0 takes y's dtype and device, so f must accept them; for a "
            f"non-square map pass input_shape=... or x0=...."
        ) from exc
    if not isinstance(out, Tensor):
        raise InvalidInputError(f"f must return a torch.Tensor, got {type(out).__name__}.")
    if tuple(out.shape[1:]) != tuple(y.shape[1:]) or out.shape[0] != 1:
        raise InvalidInputError(
            f"shape mismatch: f(x0) has per-sample shape {tuple(out.shape[1:])} but y has per-sample "
            f"shape {tuple(y.shape[1:])} (x0 per-sample shape {in_shape}). Pass the right "
            f"input_shape=... or x0=... for non-square maps."
        )
    if out.dtype != y.dtype:
        raise InvalidInputError(
            f"f returns dtype {out.dtype} but y is {y.dtype}; convert the model (model.to({y.dtype})) or y."
        )
    return out


def _check_module_matches(f: Any, y: Tensor) -> None:
    """A module whose floating-point parameters live on another device or in another dtype than ``y``."""
    if not isinstance(f, nn.Module):
        return
    for name, p in list(f.named_parameters()) + list(f.named_buffers()):
        if not p.is_floating_point():
            continue
        if p.device.type == "meta":
            raise InvalidInputError(
                f"the model's {name!r} is on the meta device: the model has shapes but no values (no "
                f"weights) to invert. Materialise it first, e.g. model.to_empty(device={str(y.device)!r}) "
                f"followed by model.load_state_dict(...).")
        if p.device != y.device:
            raise InvalidInputError(
                f"the model's {name!r} is on {p.device} but y is on {y.device}: everything runs on y's "
                f"device, so move one of them (model.to({str(y.device)!r}) or y.to({str(p.device)!r}))."
            )
        if p.dtype != y.dtype:
            raise InvalidInputError(
                f"the model's {name!r} is {p.dtype} but y is {y.dtype}: everything runs in y's dtype, so "
                f"convert one of them (model.to({y.dtype}) or y.to({p.dtype}))."
            )
        return  # one parameter decides: mixed-precision models are the user's choice


def _chunk_rows(problem: Problem, method: str, memory_limit: int | None) -> int:
    r"""Rows per chunk so that the solver's working memory stays under ``memory_limit``.

    Per row the dense solvers hold the Jacobian and its inverse with temporaries, about
    :math:`3n^2 + 3nm` numbers; every solver holds a few dozen vectors of size :math:`n + m`.
    """
    if memory_limit is None:
        if problem.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(problem.device)
            memory_limit = free // 4
        else:
            memory_limit = _CPU_CHUNK_BYTES
    item = torch.finfo(problem.dtype).bits // 8
    n, m = problem.n, problem.m
    per_row = 32 * (n + m)
    if method in ("newton", "homotopy"):
        per_row += 3 * n * n + 3 * n * m
    per_row *= item
    return max(1, min(problem.batch, int(memory_limit) // per_row))


def _solve_in_chunks(
    method: str, P: Problem, x0: Tensor, max_iter: int, restarts: int, only_stalled: bool, seed: int,
    lr: float | None, bar: Any, rows: int,
) -> dict[str, Any]:
    """Solve chunk after chunk of ``rows`` samples (samples never interact) and gather the results."""
    if rows >= P.batch:
        out = _solve(method, P, x0.reshape(P.batch, P.n), max_iter, restarts, only_stalled, seed, lr, bar)
        out["chunks"] = 1
        return out
    parts = []
    for start in range(0, P.batch, rows):
        sub = Problem(P.f, P.y[start : start + rows].reshape(-1, *P.out_shape), P.in_shape, P.prior, P.bounds,
                      P.tol, P.xtol, P.jacobian_dtype, P.stagewise)
        x_sub = x0[start : start + rows].reshape(-1, P.n)
        parts.append(_solve(method, sub, x_sub, max_iter, restarts, only_stalled, seed, lr, bar))
        P.rows_evaluated += sub.rows_evaluated
        P.jacobian_rows += sub.jacobian_rows
    out: dict[str, Any] = {k: torch.cat([p[k] for p in parts]) for k in _PER_ROW}
    out["iterations"] = max(p["iterations"] for p in parts)
    out["restarts"] = max(p["restarts"] for p in parts)
    length = max(len(p["hmax"]) for p in parts)
    out["hmax"] = [max(p["hmax"][k] for p in parts if k < len(p["hmax"])) for k in range(length)]
    # the median over all active samples is not kept per chunk: the median of the chunks' medians
    out["hmed"] = [float(torch.tensor([p["hmed"][k] for p in parts if k < len(p["hmed"])]).median())
                   for k in range(length)]
    out["chunks"] = len(parts)
    return out


#: The per-sample fields a solve returns (see :func:`_solve`).
_PER_ROW = ("x", "res", "phi", "done", "stalled", "stationary", "diverged", "cond", "small")


def _solve(
    method: str, P: Problem, x0: Tensor, max_iter: int, restarts: int, only_stalled: bool, seed: int,
    lr: float | None, bar: Any,
) -> dict[str, Any]:
    """One start from ``x0`` and up to ``restarts`` random restarts for the samples that need one."""
    best = Tracker(P, x0, max_iter, bar)
    _run(method, P, best, lr)
    iterations = best.iterations
    hmax, hmed = best.history()
    ran = 0
    for attempt in range(restarts):
        if P.constrained:
            todo = torch.ones_like(best.converged)
        elif only_stalled:
            # stalled with the residual below tol is ill-conditioned at a preimage: a restart ends there too
            todo = best.stalled & ~best.converged & (best.res > P.tol)
        else:
            todo = ~best.converged
        if not bool(todo.any()):
            break
        noise = _restart_noise(P, todo, seed, attempt, uniform=P.bounds is not None)
        if P.bounds is not None:
            start = P.bounds[0] + (P.bounds[1] - P.bounds[0]) * noise
        else:
            start = x0 + noise
        ran += 1
        trial = Tracker(P, start, max_iter, bar)
        trial.stalled |= ~todo  # only the selected samples run
        trial.converged &= todo
        _run(method, P, trial, lr)
        iterations += trial.iterations
        th, tm = trial.history()
        hmax += th
        hmed += tm
        best.adopt_better(trial, todo)
    return {
        "x": best.x, "res": best.res, "phi": best.phi, "done": best.converged, "stalled": best.stalled,
        "stationary": best.stationary, "diverged": best.diverged, "cond": best.cond,
        "small": best.res <= P.tol, "iterations": iterations, "hmax": hmax, "hmed": hmed,
        "restarts": ran,
    }


def _restart_noise(P: Problem, todo: Tensor, seed: int, attempt: int, uniform: bool) -> Tensor:
    """Random start offsets, standard normal (uniform in [0, 1) for boxes), zero outside ``todo``.

    Each sample's draw is seeded by ``seed``, the attempt and a checksum of its own target, never by its
    position in the batch: a sample gets the same restarts alone as in any batch.
    """
    noise = torch.zeros((P.batch, P.n), dtype=P.dtype)
    idx = todo.nonzero().flatten()
    targets = P.y[idx].detach().cpu().contiguous().numpy()
    for k, i in enumerate(idx.tolist()):
        key = zlib.crc32(targets[k].tobytes(), zlib.crc32(f"{seed}/{attempt}".encode()))
        gen = torch.Generator().manual_seed(key)
        noise[i] = (torch.rand if uniform else torch.randn)(P.n, generator=gen, dtype=P.dtype)
    return noise.to(P.device)


def _fill_condition(P: Problem, method: str, out: dict[str, Any]) -> Tensor:
    """The solver's condition estimates, computed at the returned ``x`` where none was formed (dense sizes only)."""
    cond = out["cond"]
    missing = torch.isnan(cond)
    if method == "fixed_point" or P.n * P.m > _DENSE_LIMIT or not bool(missing.any()):
        return cond  # fixed_point: f need not be differentiable
    from invlib._newton import batched_jacobian, condition_estimate

    idx = missing.nonzero().flatten()
    per_row = _chunk_rows(P, "newton", None)  # a Jacobian and its factorisation per row, as in a dense solve
    with torch.no_grad():
        for start in range(0, idx.numel(), per_row):
            part = idx[start : start + per_row]
            cond[part] = condition_estimate(batched_jacobian(P.F, out["x"][part]))
    return cond


def _status(P: Problem, out: dict[str, Any]) -> Tensor:
    """Per-sample status codes (indices into :data:`STATUSES`) from the solver's masks."""
    code = torch.full_like(out["res"], STATUSES.index("max_iter"), dtype=torch.int8)
    code = torch.where(out["stalled"], torch.full_like(code, STATUSES.index("stalled")), code)
    code = torch.where(out["stalled"] & out["diverged"], torch.full_like(code, STATUSES.index("diverged")), code)
    code = torch.where(out["stationary"], torch.full_like(code, STATUSES.index("stationary")), code)
    eps = torch.finfo(P.dtype).eps
    # small residual: converged, unless the forward error cannot be (or was not) brought under xtol
    hopeless = out["cond"] * eps > P.xtol
    certified = out["small"] & out["done"] & ~hopeless
    ill = out["small"] & ~certified
    code = torch.where(ill, torch.full_like(code, STATUSES.index("ill_conditioned")), code)
    return torch.where(certified, torch.zeros_like(code), code)


def _warn_if_imprecise(P: Problem, status: Tensor, cond: Tensor, xtol: float) -> None:
    """:class:`PrecisionWarning` when some samples are ill-conditioned for the dtype."""
    ill = status == STATUSES.index("ill_conditioned")
    n_ill = int(ill.sum())
    if n_ill == 0:
        return
    eps = torch.finfo(P.dtype).eps
    worst = float(cond[ill].nan_to_num(nan=0.0).max())
    advice = "compute in float64 (model.double(), y.double())" if P.dtype != torch.float64 else (
        "the map is too ill-conditioned there for float64 too; treat these x as approximate")
    # well conditioned, yet not certified: x is tiny next to what rounding of y moves it by (x near 0)
    well = ill & (cond.nan_to_num(nan=math.inf) * eps <= 0.1 * xtol)
    n_well = int(well.sum())
    if n_well == n_ill:
        why = (f"their condition estimates are moderate (up to {worst:.3g}; cond x eps = {worst * eps:.2g}), but x "
               f"is close to 0 next to what the rounding of y moves it by (a preimage at or near x = 0, such as "
               f"y = f(0)), where a relative error cannot be certified; their absolute error is at the rounding "
               f"level")
    else:
        why = (f"condition estimates up to {worst:.3g}, and {P.dtype} has eps = {eps:.2g}, so rounding alone can "
               f"move x by up to about cond x eps = {worst * eps:.2g} (relative); {advice}")
        if n_well:
            why += f" ({n_well} of them are well conditioned with x close to 0, where a relative error is undefined)"
    warnings.warn(
        f"{n_ill} of {P.batch} samples reached a residual below tol = {P.tol:g} but their x cannot be "
        f"certified to xtol = {xtol:g}: {why}. They are reported with status 'ill_conditioned' and converged=False.",
        PrecisionWarning,
        stacklevel=3,
    )


#: How often :func:`_nudge_stalled` moves a stalled sample off its point, and by how much (relative).
_NUDGES = 8
_NUDGE_SIZE = 1e-3


def _stuck(T: Tracker) -> Tensor:
    """Samples that stalled unconverged with some of their own budget left."""
    return T.stalled & ~T.converged & (T.it < T.max_iter)


def _retry(T: Tracker, rows: Tensor, start: Tensor, solve: Callable[[], None]) -> None:
    """Run ``solve`` again for ``rows`` (a mask) from ``start`` (their rows); each keeps the better end point."""
    before = T.snapshot()
    T.restart(rows, start)
    solve()
    T.adopt_better(before, rows)


def _nudge_stalled(P: Problem, T: Tracker, solver: Callable[[Problem, Tracker], None]) -> None:
    r"""Restart stalled samples from a small random move of *where they stalled*, up to :data:`_NUDGES` times.

    On a piecewise-linear map, damped Newton stalls on a kink: the one-sided Jacobian autograd
    returns there points the step into a region where the linear model fails at once.  A move of
    :math:`10^{-3}\|x\|` puts the sample inside one region again, and Newton continues from (almost)
    where it was -- unlike a restart from a new random point, which throws the progress away.
    Measured on a 6-layer leaky-ReLU net (slope 0.05, d = 32, orthogonal weights, 64 samples): 0% ->
    62% recovered after 5 such moves.  Each sample's moves are drawn from its own target (as in
    :func:`_restart_noise`) and count against its own budget.
    """
    for attempt in range(_NUDGES):
        # stalled with the residual below tol: ill-conditioned there (the forward error cannot be certified),
        # not on a kink; a move and Newton again end where they started
        stuck = _stuck(T) & (T.res > P.tol)
        if not bool(stuck.any()):
            return
        noise = _restart_noise(P, stuck, 7919, attempt, uniform=False)
        scale = _NUDGE_SIZE * T.x.norm(dim=1, keepdim=True).clamp(min=1e-12) / math.sqrt(P.n)
        idx = stuck.nonzero().flatten()
        T.restart(stuck, (T.x + scale * noise)[idx])
        solver(P, T)


def _stages(P: Problem, x: Tensor) -> list[tuple[nn.Module, tuple[int, ...]]] | None:
    """``f`` (an ``nn.Sequential``) cut into consecutive stages that each map ``n`` numbers to ``n``.

    Returns ``[(stage, input shape per sample), ...]`` (at least two stages), or ``None`` when ``f`` is
    not a sequence of layers or has no intermediate output of the input's size.
    """
    if not _plain_sequential(P.f) or len(P.f) < 2:
        return None
    layers = list(P.f)
    cuts, shapes = [0], [P.in_shape]
    with torch.no_grad():
        h = x[:1].reshape(1, *P.in_shape)
        for i, layer in enumerate(layers[:-1]):
            h = layer(h)
            if not isinstance(h, Tensor):
                return None
            if h[0].numel() == P.n:
                cuts.append(i + 1)
                shapes.append(tuple(h.shape[1:]))
    if len(cuts) < 2:
        return None
    ends = cuts[1:] + [len(layers)]
    return [(nn.Sequential(*layers[a:b]), shape) for a, b, shape in zip(cuts, ends, shapes)]


def _stagewise_start(P: Problem, T: Tracker, rows: Tensor) -> Tensor | None:
    r"""Starting points for ``rows`` (a mask) of a sequential square map, solved one stage at a time.

    For :math:`f = f_k \circ \dots \circ f_1` with every :math:`f_j: \mathbb{R}^n \to \mathbb{R}^n`,
    solve :math:`f_k(z_{k-1}) = y`, then :math:`f_{k-1}(z_{k-2}) = z_{k-1}`, ... down to :math:`x = z_0`
    with the same damped Newton (each stage from 0).  A deep piecewise-linear net has many more regions
    than any of its layers: Newton on the whole map crosses region boundaries one after another (a
    6-8 layer leaky-ReLU net of slope 0.05 needs thousands of iterations, or stalls), while each stage
    is solved in a few.  Rounding grows from stage to stage, so the caller polishes the result with
    Newton on the whole map.  ``None`` when ``f`` is not such a sequence.

    The stages' iterations count against each sample's budget in ``T`` (``T.it``, out of ``T.max_iter``): a
    stage gets what its samples have left, and a sample whose budget runs out keeps its current ``x``.
    """
    from invlib import _newton

    idx = rows.nonzero().flatten()
    stages = _stages(P, P.y[idx[:1]].new_zeros(1, P.n))
    if stages is None:
        return None
    z = P.y[idx].reshape(idx.numel(), *P.out_shape)
    used = T.it[idx]
    for stage, shape in reversed(stages):
        # no forward-error check per stage (xtol = inf): the whole map's Newton step after the start checks x
        sub = Problem(stage, z, shape, None, None, P.tol, math.inf)
        S = Tracker(sub, torch.zeros(idx.numel(), sub.n, dtype=P.dtype, device=P.device), T.max_iter)
        S.it = used.clone()  # each stage runs on what the sample has left of its budget
        _newton.square_newton(sub, S)
        _nudge_stalled(sub, S, _newton.square_newton)
        P.rows_evaluated += sub.rows_evaluated
        P.jacobian_rows += sub.jacobian_rows
        if not bool(torch.isfinite(S.x).all()):
            return None
        used = S.it
        z = S.x.reshape(idx.numel(), *shape)
    T.it[idx] = used
    out = z.reshape(idx.numel(), P.n)
    ran_out = used >= T.max_iter
    return torch.where(ran_out[:, None], T.x[idx], out)


#: Layers of a piecewise-affine sequence (see :func:`_piecewise_affine_sequence`): affine maps and reshapes ...
_AFFINE_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Identity, nn.Flatten, nn.Unflatten)
#: ... and the ReLU family, whose kinks make Newton on the whole composition cross regions one at a time.
_KINKED_LAYERS = (nn.LeakyReLU, nn.PReLU, nn.ReLU)
#: Layers that are affine per sample in eval mode only: batch norm with running statistics, dropout.
_EVAL_AFFINE_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                       nn.Dropout3d, nn.AlphaDropout)


def _affine_in_eval(m: nn.Module) -> bool:
    """An eval-mode batch norm that uses its running statistics, or an eval-mode dropout (the identity)."""
    if not isinstance(m, _EVAL_AFFINE_LAYERS) or m.training:
        return False
    return not isinstance(m, nn.modules.batchnorm._BatchNorm) or m.running_mean is not None


def _piecewise_affine_sequence(f: Any) -> bool:
    """Whether ``f`` is an ``nn.Sequential`` (possibly nested) of affine layers and ReLU-family activations,
    with at least one activation."""
    if not _plain_sequential(f):
        return False
    modules = list(f.modules())
    if any(m._forward_hooks or m._forward_pre_hooks for m in modules):
        return False
    containers = [m for m in modules if isinstance(m, nn.Sequential)]
    leaves = [m for m in modules if not isinstance(m, nn.Sequential)]
    return (all(_plain_sequential(m) for m in containers)
            and all(isinstance(m, _AFFINE_LAYERS + _KINKED_LAYERS) or _affine_in_eval(m) for m in leaves)
            and any(isinstance(m, _KINKED_LAYERS) for m in leaves))


def _plain_sequential(f: Any) -> bool:
    """An ``nn.Sequential`` whose forward is the composition of its layers: no subclass's own forward, no hooks
    on the container."""
    return (isinstance(f, nn.Sequential) and type(f).forward is nn.Sequential.forward
            and not f._forward_hooks and not f._forward_pre_hooks)


def _stagewise_first(problem: Problem, tracker: Tracker) -> Tensor:
    r"""Start the samples that start at :math:`x = 0` on a piecewise-affine sequence from its stage-by-stage
    solution (:func:`_stagewise_start`) instead; returns the mask of the samples so started.

    A composition of :math:`k` piecewise-affine layers has up to exponentially many more linear regions
    than any one layer, and Newton on the whole map crosses their boundaries one after another; each
    single layer (an affine map, or an activation that acts elementwise) is solved in one to a few
    Newton steps.  Measured on the benchmark's 4-layer leaky-ReLU MLPs (d = 64, 256 samples, one thread):
    slope 0.5 0.27 -> 0.12 CPU s, slope 0.2 1.8 -> 0.19 s, slope 0.1 8.8 -> 0.13 s, the circular-conv net
    0.42 -> 0.30 s, recovery 100% each; on smooth maps (tanh) or non-elementwise stages (residual blocks)
    it costs more than it saves (measured 2.2x and 6x slower), hence only the ReLU family.  Each sample is
    decided on its own start, never on its batch.  Newton on the whole map then runs at least one
    iteration from there, which checks each sample's forward error (``xtol``) as for any Newton iterate.
    """
    rows = (tracker.x == 0).all(dim=1) & ~tracker.converged & ~tracker.stalled
    if not problem.stagewise or not _piecewise_affine_sequence(problem.f) or not bool(rows.any()):
        return torch.zeros_like(rows)
    staged = _stagewise_start(problem, tracker, rows)
    if staged is None:
        return torch.zeros_like(rows)
    tracker.restart(rows, staged)
    tracker.converged &= ~rows
    return rows


def _run(method: str, problem: Problem, tracker: Tracker, lr: float | None) -> None:
    """Dispatch to the solver module."""
    if method == "newton":
        from invlib import _newton

        if problem.constrained or problem.n != problem.m:
            _newton.levenberg_marquardt(problem, tracker)
        else:
            start = tracker.x.clone()

            def newton() -> None:
                _newton.square_newton(problem, tracker)
                _nudge_stalled(problem, tracker, _newton.square_newton)

            # a start is certified like any iterate, by a Newton step's forward-error estimate: a residual
            # below tol at the start alone can hide a relative error of 1 (y = f(x) with a tiny x, where f's
            # bias dominates y)
            tracker.converged &= tracker.it > 0
            first = _stagewise_first(problem, tracker)
            newton()
            # started stage by stage and stuck with a residual above tol: Newton on the whole map from the
            # given start.  Stuck *below* tol (either way) means ill-conditioned at the solution: no start does
            # better, and no retry below runs for it (a Levenberg-Marquardt retry from x0 spent ~100 iterations
            # per such sample to end where it was)
            settled = tracker.res <= problem.tol
            stuck = _stuck(tracker) & ~settled
            if bool((stuck & first).any()):
                _retry(tracker, stuck & first, start[stuck & first], newton)
                stuck = _stuck(tracker) & ~settled
            # a sequence of square layers: solve it stage by stage for the samples Newton could not, then
            # polish on the whole map; the better end point wins
            staged = None
            if bool((stuck & ~first).any()):
                staged = _stagewise_start(problem, tracker, stuck & ~first)
            if staged is not None:
                _retry(tracker, stuck & ~first, staged, newton)
            # where Newton stalled (a singular Jacobian, a kink it cannot cross), Levenberg-Marquardt
            # starts again from the same start with what is left of the budget; the better end point wins
            stuck = _stuck(tracker) & ~settled
            if bool(stuck.any()):
                _retry(tracker, stuck, start[stuck], lambda: _newton.levenberg_marquardt(problem, tracker))
    elif method == "homotopy":
        from invlib import _newton

        if problem.constrained:
            raise InvalidInputError(
                "method='homotopy' follows f(x) along a straight segment to y and supports no prior "
                "or bounds; use method='newton' (Levenberg-Marquardt) with priors/boxes."
            )
        _newton.homotopy(problem, tracker)
    elif method == "matrix_free":
        from invlib import _krylov

        _krylov.gauss_newton_cg(problem, tracker)
    else:
        from invlib import _first_order

        if method == "fixed_point" and problem.prior is not None:
            raise InvalidInputError(
                "method='fixed_point' solves f(x) = y and supports no prior; use method='newton', "
                "'matrix_free', 'lbfgs', 'adam' or 'gd' with priors."
            )
        if method == "fixed_point" and problem.n != problem.m:
            raise InvalidInputError(
                f"method='fixed_point' needs a square map (x and f(x) of the same size), got "
                f"input size {problem.n} and output size {problem.m}."
            )
        _first_order.run(method, problem, tracker, lr)
