r"""Matrix-free Gauss--Newton for :func:`invlib.optimize_inverse` (``method="matrix_free"``).

For large inputs the per-sample Jacobian :math:`J \in \mathbb{R}^{m\times n}` is never formed.
Each outer iteration solves the Levenberg--Marquardt system

.. math::

    \big(J^\top J + \tfrac{\lambda}{2}\nabla^2 R + \mu I\big)\,\delta = -\big(J^\top r + \tfrac{\lambda}{2}\nabla R\big),
    \qquad r = F(x) - y,

with batched conjugate gradients (every sample has its own CG scalars) using only products
:math:`Jv` (forward-mode ``torch.func.jvp``) and :math:`J^\top u` (reverse-mode
``torch.func.vjp``, linearised once per outer iteration).  CG stops at the relative residual
:math:`\eta = \min(0.1, \sqrt{\rho})` (:math:`\rho` the current relative residual of the equation:
inexact Newton with superlinear local convergence).  Acceptance, :math:`\mu` updates, boxes and
stationarity are those of :func:`invlib._newton.levenberg_marquardt`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from invlib._problem import Problem, Tracker

__all__ = ["batched_cg", "gauss_newton_cg"]


def batched_cg(
    op: Callable[[Tensor], Tensor], b: Tensor, rtol: Tensor, max_iter: int
) -> tuple[Tensor, Tensor]:
    r"""Solve :math:`A_i x_i = b_i` for every row with conjugate gradients.

    ``op(v)`` returns :math:`(A_i v_i)_i` for a ``(rows, n)`` batch; :math:`A_i` symmetric positive
    definite.  Stops a row when :math:`\|b_i - A_i x_i\| \le \mathrm{rtol}_i \|b_i\|` or on
    non-positive curvature.  Returns ``(x, iterations)``.
    """
    x = torch.zeros_like(b)
    res = b.clone()
    p = res.clone()
    rs = (res * res).sum(dim=1)
    target = (rtol * b.norm(dim=1)) ** 2
    done = rs <= target
    it = 0
    for it in range(1, max_iter + 1):
        if it % 4 == 1 and bool(done.all()):
            it -= 1
            break
        Ap = op(p)
        curv = (p * Ap).sum(dim=1)
        ok = ~done & (curv > 0)
        alpha = torch.where(ok, rs / torch.where(ok, curv, torch.ones_like(curv)), torch.zeros_like(rs))
        x = x + alpha[:, None] * p
        res = res - alpha[:, None] * Ap
        rs_new = (res * res).sum(dim=1)
        beta = torch.where(ok, rs_new / torch.where(rs > 0, rs, torch.ones_like(rs)), torch.zeros_like(rs))
        p = res + beta[:, None] * p
        rs = torch.where(ok, rs_new, rs)
        done = done | ~ok | (rs <= target)
    return x, torch.tensor(it)


def gauss_newton_cg(P: "Problem", T: "Tracker", *, tau: float = 1e-3, max_cg: int | None = None) -> None:
    """Levenberg--Marquardt with matrix-free CG inner solves (see the module docstring)."""
    B, n = T.x.shape
    dtype, device = T.x.dtype, T.x.device
    if max_cg is None:
        max_cg = min(2 * n, 500)
    mu = torch.zeros(B, dtype=dtype, device=device)
    nu = torch.full((B,), 2.0, dtype=dtype, device=device)
    started = torch.zeros(B, dtype=torch.bool, device=device)
    tiny = torch.finfo(dtype).tiny
    gen = torch.Generator(device="cpu").manual_seed(0)
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        x = T.x[idx].detach()
        r = T.r[idx]
        phi = T.phi[idx]
        rel = T.res[idx]
        _, vjp_fn = torch.func.vjp(P.F, x)  # a transform: builds no graph through the model's parameters

        def jvp(v: Tensor) -> Tensor:
            return torch.func.jvp(P.F, (x,), (v,))[1]

        def jtj(v: Tensor) -> Tensor:
            return vjp_fn(jvp(v))[0]

        g_fit = vjp_fn(r)[0]
        if P.prior is not None:
            g_pri = 0.5 * P.prior.grad(x)
            g = g_fit + g_pri
            scale = g_fit.norm(dim=1) + g_pri.norm(dim=1)
        else:
            g = g_fit
            scale = None
        g, fixed = P.hold_at_bounds(x, g)
        keep = None if fixed is None else (~fixed).to(dtype)

        def a0(v: Tensor) -> Tensor:
            if keep is not None:
                v = v * keep
            out = jtj(v)
            if P.prior is not None:
                out = out + 0.5 * P.prior.hvp(x, v)
            if keep is not None:
                out = out * keep
            return out

        new = ~started[idx]
        if bool(new.any()) or scale is None:
            probe = torch.randn(x.shape, generator=gen, dtype=dtype).to(device)
            frob2 = jvp(probe).pow(2).sum(dim=1)  # E ||J v||^2 = ||J||_F^2
            if scale is None:
                scale = (g.norm(dim=1) if P.constrained else frob2.sqrt() * r.norm(dim=1))
            if bool(new.any()):
                mu_idx = mu[idx]
                init = tau * frob2 / n
                mu_idx[new] = torch.where(init > 0, init, torch.ones_like(init))[new]
                mu[idx] = mu_idx
                started[idx] = True
        stat = g.norm(dim=1) / (scale + tiny)
        stationary, stuck = P.stationarity(stat)
        m_ = mu[idx]
        rtol = torch.clamp(rel.sqrt(), max=0.1)
        dx, _ = batched_cg(lambda v: a0(v) + m_[:, None] * v, -g, rtol, max_cg)
        x_t = P.project(x + dx)
        s = x_t - x
        r_t = P.residual(x_t, idx)
        phi_t = P.objective(r_t, x_t)
        pred = -(s * g).sum(dim=1) - 0.5 * (s * a0(s)).sum(dim=1)
        actual = 0.5 * (phi - phi_t)
        rho = actual / torch.where(pred > 0, pred, torch.ones_like(pred))
        acc = (pred > 0) & (rho > 1e-4) & torch.isfinite(phi_t) & ~stationary & ~stuck
        nu_i = nu[idx]
        mu_new = torch.where(acc, m_ * torch.clamp(1.0 - (2.0 * rho - 1.0) ** 3, min=1.0 / 3.0), m_ * nu_i)
        nu[idx] = torch.where(acc, torch.full_like(nu_i, 2.0), nu_i * 2.0)
        mu[idx] = mu_new.clamp(min=1e-300)
        x_new = torch.where(acc[:, None], x_t, x)
        r_new = torch.where(acc[:, None], r_t, r)
        T.record(idx, x_new, r_new, stationary=stationary, stalled=(nu[idx] > 1e15) | stuck)
