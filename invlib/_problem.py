r"""The problem, the priors and the per-sample bookkeeping shared by every solver of
:func:`invlib.optimize_inverse`.

* :class:`Problem` -- the flattened map :math:`F: \mathbb{R}^n \to \mathbb{R}^m` on rows
  (``x`` is ``(b, n)``, ``F(x)`` is ``(b, m)``), the targets, the prior and the box;
* :class:`Prior` -- :math:`\lambda R(x) = \sum_k w_k R_k(x)` with its gradient, dense Hessian
  and Hessian-vector products (analytic for L2, ``torch.func`` otherwise);
* :class:`Tracker` -- per-sample iterate, residual, objective, ``converged``/``stalled`` masks and
  residual history; the solvers talk to it through :meth:`Tracker.active` and
  :meth:`Tracker.record` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from invlib.errors import InvalidInputError

__all__ = ["Prior", "Problem", "Snapshot", "Tracker", "better", "make_prior"]


_TV_EPS = 1e-3


def _tv(x: Tensor) -> Tensor:
    r"""Smoothed isotropic total variation over the last two dims, per sample.

    :math:`\mathrm{TV}(x) = \sum_{c,i,j} \sqrt{(x_{c,i+1,j}-x_{c,i,j})^2 + (x_{c,i,j+1}-x_{c,i,j})^2
    + \epsilon^2} - \epsilon` with forward differences (zero past the border) and
    :math:`\epsilon = 10^{-3}` (so Newton methods see a twice-differentiable objective).
    """
    dh = torch.zeros_like(x)
    dv = torch.zeros_like(x)
    dh[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dv[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    mag = torch.sqrt(dh * dh + dv * dv + _TV_EPS**2) - _TV_EPS
    return mag.reshape(x.shape[0], -1).sum(dim=1)


def _l2(x: Tensor) -> Tensor:
    r""":math:`R(x) = \|x\|_2^2` per sample."""
    return x.reshape(x.shape[0], -1).pow(2).sum(dim=1)


class Prior:
    r"""A weighted sum of penalties :math:`\lambda R(x) = \sum_k w_k R_k(x)`, each per sample."""

    def __init__(self, terms: list[tuple[str, Callable[[Tensor], Tensor], float]], in_shape: tuple[int, ...]):
        self.terms = terms
        self.in_shape = in_shape
        #: True when every term is the L2 penalty: gradient and Hessian are then analytic.
        self.quadratic = all(name == "l2" for name, _, _ in terms)
        self.l2_weight = sum(w for name, _, w in terms if name == "l2")

    @property
    def description(self) -> str:
        return " + ".join(f"{w:g}*{name}" for name, _, w in self.terms)

    def value(self, x: Tensor) -> Tensor:
        """:math:`\\lambda R(x)` for flat ``x`` of shape ``(b, n)``; returns ``(b,)``."""
        b = x.shape[0]
        xs = x.reshape(b, *self.in_shape)
        total = torch.zeros(b, dtype=x.dtype, device=x.device)
        for _, fn, w in self.terms:
            total = total + w * fn(xs).reshape(b)
        return total

    def grad(self, x: Tensor) -> Tensor:
        """:math:`\\lambda \\nabla R(x)`, shape ``(b, n)``."""
        if self.quadratic:
            return 2.0 * self.l2_weight * x
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            val = self.value(xr).sum()
            (g,) = torch.autograd.grad(val, xr)
        return g

    def hessian(self, x: Tensor) -> Tensor:
        """:math:`\\lambda \\nabla^2 R(x)`, shape ``(b, n, n)`` (dense; for the dense solvers)."""
        b, n = x.shape
        if self.quadratic:
            eye = torch.eye(n, dtype=x.dtype, device=x.device)
            return (2.0 * self.l2_weight * eye).expand(b, n, n).clone()
        grad_fn = torch.func.grad(lambda z: self.value(z).sum())
        hess = torch.func.jacrev(lambda z: grad_fn(z).sum(0))(x)  # (n, b, n)
        return hess.movedim(1, 0)

    def hvp(self, x: Tensor, v: Tensor) -> Tensor:
        """:math:`\\lambda \\nabla^2 R(x)\\, v` per sample (for the matrix-free solver)."""
        if self.quadratic:
            return 2.0 * self.l2_weight * v
        grad_fn = torch.func.grad(lambda z: self.value(z).sum())
        _, out = torch.func.jvp(grad_fn, (x,), (v,))
        return out


def make_prior(
    prior: str | Callable[[Tensor], Tensor] | dict | None, weight: float, in_shape: tuple[int, ...]
) -> Prior | None:
    valid = "None, 'l2', 'tv', a callable x -> (batch,) penalty, or a dict like {'l2': 1e-3, 'tv': 1e-2}"
    if prior is None:
        return None
    if isinstance(prior, dict):
        items = list(prior.items())
        if not items:
            raise InvalidInputError(f"prior={{}} is empty; valid priors: {valid}.")
    else:
        items = [(prior, weight)]
    terms = []
    for key, w in items:
        if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise InvalidInputError(f"prior weight for {key!r} must be a finite number >= 0, got {w!r}.")
        if callable(key) and not isinstance(key, str):
            terms.append((getattr(key, "__name__", "custom"), key, float(w)))
        elif key == "l2":
            terms.append(("l2", _l2, float(w)))
        elif key == "tv":
            if len(in_shape) < 2:
                raise InvalidInputError(
                    f"prior='tv' needs image inputs (at least two dims per sample, the last two are "
                    f"height and width); the input shape per sample is {tuple(in_shape)}."
                )
            terms.append(("tv", _tv, float(w)))
        else:
            raise InvalidInputError(f"unknown prior {key!r}; valid priors: {valid}.")
    return Prior(terms, in_shape)


class Problem:
    r"""The flattened problem :math:`F(x) = y` on rows: ``x`` is ``(b, n)``, ``F(x)`` is ``(b, m)``.

    Also holds the prior, the box and counters; every solver sees the map only through here.
    """

    def __init__(
        self,
        f: Callable[[Tensor], Tensor],
        y: Tensor,
        in_shape: tuple[int, ...],
        prior: Prior | None,
        bounds: tuple[float, float] | None,
        tol: float,
        xtol: float = math.inf,
        jacobian_dtype: torch.dtype | None = None,
        stagewise: bool = True,
    ) -> None:
        self.f = f
        self.batch = y.shape[0]
        self.out_shape = tuple(y.shape[1:])
        self.in_shape = tuple(in_shape)
        self.n = math.prod(self.in_shape)
        self.m = math.prod(self.out_shape)
        self.y = y.reshape(self.batch, self.m)
        norms = self.y.norm(dim=1)
        self.scale = torch.where(norms > 0, norms, torch.ones_like(norms))
        self.prior = prior
        self.bounds = bounds
        self.tol = tol
        #: bound on the estimated relative forward error for a row to count as converged
        self.xtol = xtol
        #: dtype in which the dense solvers may store inverse Jacobians (None: y's dtype)
        self.jacobian_dtype = jacobian_dtype
        #: whether Newton may start a piecewise-affine sequence stage by stage (``optimize_inverse(stagewise=)``)
        self.stagewise = stagewise
        self.dtype = y.dtype
        self.device = y.device
        #: rows pushed through f (a forward pass of a batch of b rows adds b)
        self.rows_evaluated = 0
        #: per-sample Jacobians computed by the dense solvers
        self.jacobian_rows = 0
        #: ``(x, F(x))`` of one row, both ``(1, n)``/``(1, m)``, already evaluated (the validation's trial call)
        self.known: tuple[Tensor, Tensor] | None = None

    @property
    def constrained(self) -> bool:
        """True when a prior or a box changes the problem from root finding to minimisation."""
        return self.prior is not None or self.bounds is not None

    def stationarity(self, stat: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(stationary, stuck)`` masks from the scaled gradient norm ``stat`` per row.

        With a prior or a box the solution is a stationary point of the objective:
        :math:`s \le \sqrt{\mathrm{tol}}` ends the row successfully.  Without, only a zero
        residual is a solution, and :math:`s \le 10^{-2}\sqrt{\mathrm{tol}}` means the row is
        stuck at a non-zero local minimum of :math:`\|F(x)-y\|`.
        """
        sqrt_tol = math.sqrt(self.tol)
        if self.constrained:
            return stat <= sqrt_tol, torch.zeros_like(stat, dtype=torch.bool)
        return torch.zeros_like(stat, dtype=torch.bool), stat <= 1e-2 * sqrt_tol

    def F(self, x: Tensor) -> Tensor:
        """:math:`F(x)` for flat ``x`` ``(b, n)``; returns ``(b, m)``.

        ``f`` gets a copy: a first layer that works in place (``LeakyReLU(inplace=True)``) would otherwise
        change the iterate, or fail on a leaf that requires grad (a Jacobian's input)."""
        b = x.shape[0]
        self.rows_evaluated += b
        return self.f(x.reshape(b, *self.in_shape).clone()).reshape(b, self.m)

    def residual(self, x: Tensor, idx: Tensor) -> Tensor:
        """:math:`F(x) - y_{idx}`, ``(b, m)``, without building a graph."""
        with torch.no_grad():
            return self.F(x) - self.y[idx]

    def rel(self, r: Tensor, idx: Tensor) -> Tensor:
        """Relative residual norms :math:`\\|r_i\\| / \\|y_i\\|`."""
        return r.norm(dim=1) / self.scale[idx]

    def penalty(self, x: Tensor) -> Tensor:
        """:math:`\\lambda R(x)` per row (zeros without a prior)."""
        if self.prior is None:
            return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        with torch.no_grad():
            return self.prior.value(x)

    def objective(self, r: Tensor, x: Tensor) -> Tensor:
        """:math:`\\phi = \\|r\\|^2 + \\lambda R(x)` per row."""
        phi = r.pow(2).sum(dim=1)
        return phi if self.prior is None else phi + self.penalty(x)

    def project(self, x: Tensor) -> Tensor:
        """Clamp into the box (identity without bounds)."""
        if self.bounds is None:
            return x
        return x.clamp(self.bounds[0], self.bounds[1])

    def hold_at_bounds(self, x: Tensor, g: Tensor) -> tuple[Tensor, Tensor | None]:
        """The projected gradient and the mask of coordinates held at the box this step.

        A coordinate is held when it sits on a bound (within :math:`10^{-12}` of the box width) and the
        gradient ``g`` pushes it outward; its gradient entry becomes 0.  Without a box: ``(g, None)``.
        """
        if self.bounds is None:
            return g, None
        lo, hi = self.bounds
        span = (hi - lo) * 1e-12
        fixed = ((x <= lo + span) & (g > 0)) | ((x >= hi - span) & (g < 0))
        return torch.where(fixed, torch.zeros_like(g), g), fixed


@dataclass
class Snapshot:
    """The per-sample state of a :class:`Tracker` at one moment (:meth:`Tracker.snapshot`)."""

    x: Tensor
    r: Tensor
    phi: Tensor
    res: Tensor
    converged: Tensor
    stalled: Tensor
    stationary: Tensor
    diverged: Tensor
    cond: Tensor


def better(a: "Tracker | Snapshot", b: "Tracker | Snapshot") -> Tensor:
    """Per sample: is ``a`` better than ``b`` (converged first, then lower objective)?"""
    return (a.converged & ~b.converged) | ((a.converged == b.converged) & (a.phi < b.phi))


class Tracker:
    r"""Per-sample bookkeeping shared by every solver.

    Holds the current iterate ``x`` (``(B, n)``), its residual ``r = F(x) - y`` and objective, the
    ``converged``/``stalled`` masks (a stalled sample left the active set without converging: no
    further progress was possible) and the history.  Solvers call :meth:`active` once per
    iteration (the only host synchronisation they need) and :meth:`record` with the new state of
    the active rows.
    """

    def __init__(self, problem: Problem, x0: Tensor, max_iter: int, bar: Any = None) -> None:
        self.P = problem
        self.max_iter = max_iter
        self.bar = bar
        self.x = problem.project(x0.reshape(problem.batch, problem.n).clone())
        all_idx = torch.arange(problem.batch, device=problem.device)
        known = problem.known
        if known is not None and bool((self.x == known[0]).all()):
            # a common start (x0 = 0 by default) where f was evaluated already: samples are independent
            self.r = known[1].detach() - problem.y
        else:
            self.r = problem.residual(self.x, all_idx)
        self.phi = problem.objective(self.r, self.x)
        self.res = problem.rel(self.r, all_idx)
        self.converged = self.res <= problem.tol
        self.stalled = torch.zeros_like(self.converged)
        #: stationary points of a prior/box objective with a residual above tol (they count as done)
        self.stationary = torch.zeros_like(self.converged)
        #: samples whose iterate became non-finite at some step (rolled back to the last finite one)
        self.diverged = torch.zeros_like(self.converged)
        #: per-sample condition estimate ||J||_F ||J^-1||_F from the last exact Jacobian (NaN: none formed)
        self.cond = torch.full((problem.batch,), math.nan, dtype=problem.dtype, device=problem.device)
        #: outer iterations recorded (the largest number any sample ran)
        self.iterations = 0
        #: per-sample iterations: the budget ``max_iter`` is per sample, so a sample's result never
        #: depends on how long the other samples of its batch take
        self.it = torch.zeros(problem.batch, dtype=torch.long, device=problem.device)
        self._hist_max: list[Tensor] = []
        self._hist_med: list[Tensor] = []
        self._check_finite_start()

    def _check_finite_start(self) -> None:
        if not bool(torch.isfinite(self.r).all()):
            bad = (~torch.isfinite(self.r).all(dim=1)).nonzero().flatten()[:5].tolist()
            raise InvalidInputError(
                f"f(x0) contains NaN or inf (samples {bad}); start from a point where f is finite "
                f"(pass x0=...)."
            )

    def active(self) -> Tensor:
        """Indices of the samples still iterated: not converged, not stalled, and within their own budget."""
        return (~(self.converged | self.stalled) & (self.it < self.max_iter)).nonzero().flatten()

    def record(
        self,
        idx: Tensor,
        x: Tensor,
        r: Tensor,
        *,
        stalled: Tensor | None = None,
        stationary: Tensor | None = None,
        steps: int = 1,
        xerr: Tensor | None = None,
        rel: Tensor | None = None,
    ) -> None:
        r"""Store the new iterate of the active rows ``idx`` and advance the iteration counter.

        ``x``/``r`` are the new iterate and residual for ``idx``.  Rows whose new residual is not
        finite keep their previous state and are marked stalled (never hide a NaN in the result).
        ``stationary`` marks rows that are stationary points of a prior/box-constrained objective
        (they count as converged); ``stalled`` marks rows where no progress is possible.
        ``steps`` is the number of iterations this update stands for (LBFGS records in chunks).
        ``xerr`` (optional) estimates each row's relative forward error :math:`\|x - x^\star\|/\|x\|`
        (e.g. the next Newton step's length); a row whose residual is below ``tol`` but whose ``xerr``
        is above the problem's ``xtol`` is not done yet: it keeps iterating until the estimate is met
        or no step decreases the residual any more (then it stalls, and is reported ill-conditioned).
        ``rel``: the relative residuals of ``r`` when the caller has them already.
        """
        P = self.P
        phi = P.objective(r, x)
        if rel is None:
            rel = P.rel(r, idx)
        # on the CPU one reduction tells whether every row is finite (a NaN/inf entry of r or x makes the sum
        # non-finite), and the per-row masks are formed only when it is not (it may also be an overflow of finite
        # values); on an accelerator the masks are cheaper than the host synchronisation that test needs
        all_finite = x.device.type == "cpu" and bool(torch.isfinite(phi.sum() + x.sum()))
        if not all_finite:
            finite = torch.isfinite(r).all(dim=1) & torch.isfinite(x).all(dim=1)
            x = torch.where(finite[:, None], x, self.x[idx])
            r = torch.where(finite[:, None], r, self.r[idx])
            phi = torch.where(finite, phi, self.phi[idx])
            rel = torch.where(finite, rel, self.res[idx])
        # ``idx`` holds distinct rows (a subset of the active ones): all of them when it is as long as the batch,
        # and then plain copies replace the scattered writes
        full = idx.numel() == self.x.shape[0]

        def put(t: Tensor, v: Tensor) -> None:
            if full:
                t.copy_(v)
            else:
                t[idx] = v

        put(self.x, x)
        put(self.r, r)
        put(self.phi, phi)
        put(self.res, rel)
        small = rel <= P.tol
        conv = small
        if xerr is not None and P.xtol < math.inf:  # a NaN estimate (overflowed norms) certifies nothing
            conv = conv & (xerr <= P.xtol)
        if stationary is not None:
            put(self.stationary, stationary & ~small)
            conv = conv | stationary
        put(self.converged, conv)
        if all_finite:
            st = stalled
        else:
            self.diverged[idx] |= ~finite
            st = ~finite if stalled is None else ~finite | stalled
        if st is None:
            self.stalled[idx] = False
        else:
            put(self.stalled, st & ~conv)
        if full:
            self.it += steps
        else:
            self.it[idx] += steps
        self.iterations += steps
        if rel.numel():
            self._hist_max.extend([rel.max()] * steps)
            self._hist_med.extend([rel.median()] * steps)
        if self.bar is not None:
            self.bar.update(steps)
            if self.iterations % 5 == 1 or self.iterations == self.max_iter:
                self.bar.set_postfix(
                    active=int(idx.numel()), max_residual=f"{float(rel.max()) if rel.numel() else 0:.2e}"
                )

    def snapshot(self) -> "Snapshot":
        """A copy of the per-sample state, for :meth:`adopt_better` after trying something else."""
        return Snapshot(*(getattr(self, name).clone() for name in Snapshot.__dataclass_fields__))

    def restart(self, rows: Tensor, x: Tensor) -> None:
        """Put the samples ``rows`` (a mask) back to ``x`` and make them active again.

        None of them counts as converged before an iteration from ``x`` says so: a residual below ``tol`` at the
        start alone can hide a relative error of 1 in ``x`` (a tiny ``x`` where ``f``'s bias dominates ``y``), and
        the solvers' iterations apply the forward-error check where they have one."""
        idx = rows.nonzero().flatten()
        self.x[idx] = self.P.project(x)
        self.r[idx] = self.P.residual(self.x[idx], idx)
        self.phi[idx] = self.P.objective(self.r[idx], self.x[idx])
        self.res[idx] = self.P.rel(self.r[idx], idx)
        self.converged[idx] = False
        self.stalled[idx] = False
        self.stationary[idx] = False

    def adopt_better(self, other: "Tracker | Snapshot", rows: Tensor) -> None:
        """Among ``rows`` (a mask), take ``other``'s state where it is better (:func:`better`)."""
        take = rows & better(other, self)
        if bool(take.any()):
            for name in Snapshot.__dataclass_fields__:
                getattr(self, name)[take] = getattr(other, name)[take]

    def history(self) -> tuple[list[float], list[float]]:
        """The recorded history as Python floats (one device sync)."""
        if not self._hist_max:
            return [], []
        hmax = torch.stack(self._hist_max).double().cpu().tolist()
        hmed = torch.stack(self._hist_med).double().cpu().tolist()
        return hmax, hmed
