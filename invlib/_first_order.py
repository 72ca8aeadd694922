r"""First-order baselines and the fixed-point iteration for :func:`invlib.optimize_inverse`.

* ``"fixed_point"``: :math:`x \leftarrow x + \omega\,(y - f(x))`.  For :math:`f = I + g` with
  :math:`\mathrm{Lip}(g) \le L < 1` and :math:`\omega = 1` this is :math:`x \leftarrow y - g(x)`, a
  contraction with rate :math:`L` (Banach); it needs no gradients.
* ``"gd"``: gradient descent on :math:`\phi(x) = \|f(x)-y\|^2 + \lambda R(x)` with a per-sample
  Armijo backtracking step (grown by 2 after each accepted step), projected onto the box.
* ``"adam"``: Adam on :math:`\phi`, per sample (Adam is element-wise, so this is exactly
  ``torch.optim.Adam`` on :math:`\sum_i \phi_i`), projected onto the box.
* ``"lbfgs"``: ``torch.optim.LBFGS`` with ``line_search_fn="strong_wolfe"`` on
  :math:`\sum_i \phi_i` over the active samples -- how it is used in practice -- run in chunks of
  20 iterations; the optimizer is rebuilt on the remaining samples once a quarter of its samples
  has converged.

These are the baselines the book compares the second-order methods against; the default
iteration budget is 5000.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from invlib._problem import Problem, Tracker

__all__ = ["run"]


def run(method: str, P: "Problem", T: "Tracker", lr: float | None) -> None:
    """Dispatch to the first-order solver named ``method``."""
    if method == "fixed_point":
        _fixed_point(P, T, 1.0 if lr is None else lr)
    elif method == "gd":
        _gd(P, T, 1.0 if lr is None else lr)
    elif method == "adam":
        _adam(P, T, 1e-2 if lr is None else lr)
    elif method == "lbfgs":
        _lbfgs(P, T, 1.0 if lr is None else lr)
    else:  # pragma: no cover -- validated by optimize_inverse
        raise ValueError(method)


def _grad(P: "Problem", x: Tensor, idx: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""Per-sample ``(r, phi, grad_fit, grad_prior)`` with :math:`\nabla\phi = ` grad_fit + grad_prior."""
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        r = P.F(xr) - P.y[idx]
        fit = r.pow(2).sum(dim=1)
        (g_fit,) = torch.autograd.grad(fit.sum(), xr)
    r = r.detach()
    if P.prior is not None:
        g_pri = P.prior.grad(x)
    else:
        g_pri = torch.zeros_like(x)
    return r, P.objective(r, x), g_fit, g_pri


def _stationary(P: "Problem", x: Tensor, g_fit: Tensor, g_pri: Tensor) -> Tensor:
    """Scale-free projected-gradient test, only meaningful with a prior or a box."""
    if not P.constrained:
        return torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    g = P.hold_at_bounds(x, g_fit + g_pri)[0]
    scale = g_fit.norm(dim=1) + g_pri.norm(dim=1) + torch.finfo(x.dtype).tiny
    return g.norm(dim=1) / scale <= math.sqrt(P.tol)


def _fixed_point(P: "Problem", T: "Tracker", omega: float, patience: int = 50) -> None:
    best = T.res.clone()
    since = torch.zeros(T.x.shape[0], dtype=torch.int32, device=T.x.device)
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        x_new = P.project(T.x[idx] - omega * T.r[idx])
        r_new = P.residual(x_new, idx)
        rel = P.rel(r_new, idx)
        improved = rel < best[idx]
        best[idx] = torch.where(improved, rel, best[idx])
        since[idx] = torch.where(improved, torch.zeros_like(since[idx]), since[idx] + 1)
        T.record(idx, x_new, r_new, stalled=since[idx] >= patience)


def _gd(P: "Problem", T: "Tracker", lr: float) -> None:
    B = T.x.shape[0]
    step = torch.full((B,), lr, dtype=T.x.dtype, device=T.x.device)
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        x = T.x[idx]
        r, phi, g_fit, g_pri = _grad(P, x, idx)
        g = P.hold_at_bounds(x, g_fit + g_pri)[0]
        stationary = _stationary(P, x, g_fit, g_pri)
        t = step[idx]
        x_new, r_new = x.clone(), r.clone()
        acc = torch.zeros(idx.numel(), dtype=torch.bool, device=x.device)
        todo = torch.arange(idx.numel(), device=x.device)
        for _ in range(40):
            if todo.numel() == 0:
                break
            xt = P.project(x[todo] - t[todo, None] * g[todo])
            rt = P.residual(xt, idx[todo])
            phit = P.objective(rt, xt)
            ok = phit <= phi[todo] - 1e-4 * ((x[todo] - xt) * g[todo]).sum(dim=1)
            good = todo[ok]
            acc[good] = True
            x_new[good] = xt[ok]
            r_new[good] = rt[ok]
            t[todo[~ok]] = t[todo[~ok]] * 0.5
            todo = todo[~ok]
        step[idx] = torch.where(acc, t * 2.0, t)
        T.record(idx, x_new, r_new, stationary=stationary, stalled=~acc & ~stationary)


def _adam(
    P: "Problem", T: "Tracker", lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
) -> None:
    m = torch.zeros_like(T.x)
    v = torch.zeros_like(T.x)
    step = 0
    b1, b2 = betas
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        step += 1
        x = T.x[idx]
        _, _, g_fit, g_pri = _grad(P, x, idx)
        stationary = _stationary(P, x, g_fit, g_pri)
        g = g_fit + g_pri
        mi = b1 * m[idx] + (1 - b1) * g
        vi = b2 * v[idx] + (1 - b2) * g * g
        m[idx], v[idx] = mi, vi
        mhat = mi / (1 - b1**step)
        vhat = vi / (1 - b2**step)
        x_new = P.project(x - lr * mhat / (vhat.sqrt() + eps))
        x_new = torch.where(stationary[:, None], x, x_new)
        T.record(idx, x_new, P.residual(x_new, idx), stationary=stationary)


def _lbfgs(P: "Problem", T: "Tracker", lr: float, chunk: int = 20, history_size: int = 100) -> None:
    rebuild = True
    members = torch.empty(0, dtype=torch.long, device=T.x.device)
    var: Tensor | None = None
    opt: torch.optim.LBFGS | None = None
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        if rebuild or idx.numel() <= 0.75 * members.numel():
            members = idx
            var = T.x[members].clone().requires_grad_(True)
            opt = torch.optim.LBFGS(
                [var],
                lr=lr,
                max_iter=chunk,
                history_size=history_size,
                tolerance_grad=0.0,
                tolerance_change=0.0,
                line_search_fn="strong_wolfe",
            )
            rebuild = False
        assert var is not None and opt is not None

        def closure() -> Tensor:
            # the gradient with respect to the iterate only: never .backward(), which would also fill
            # the .grad of a trained model's parameters (and keep their graph alive)
            with torch.enable_grad():
                xp = P.project(var)
                loss = (P.F(xp) - P.y[members]).pow(2).sum()
                if P.prior is not None:
                    loss = loss + P.prior.value(xp).sum()
                (var.grad,) = torch.autograd.grad(loss, var)
            return loss.detach()

        before = opt.state[var].get("n_iter", 0) if var in opt.state else 0
        opt.step(closure)
        after = opt.state[var].get("n_iter", 0)
        steps = max(1, min(after - before, T.max_iter - int(T.it[members].max())))
        with torch.no_grad():
            x_all = P.project(var.detach())
        # record only members that are still active (converged ones keep their recorded solution)
        still = ~(T.converged[members] | T.stalled[members])
        rows = still.nonzero().flatten()
        sel = members[rows]
        x_sel = x_all[rows]
        r_sel = P.residual(x_sel, sel)
        stationary = None
        if P.constrained:
            _, _, g_fit, g_pri = _grad(P, x_sel, sel)
            stationary = _stationary(P, x_sel, g_fit, g_pri)
        T.record(sel, x_sel, r_sel, stationary=stationary, steps=steps)
        if after - before == 0:  # LBFGS made no progress at all (zero gradient): stop
            T.stalled[sel] |= ~T.converged[sel]
