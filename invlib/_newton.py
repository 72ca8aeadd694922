r"""Dense second-order solvers for :func:`invlib.optimize_inverse`.

All three work on the flattened problem :math:`F: \mathbb{R}^n \to \mathbb{R}^m` of
:class:`invlib._problem.Problem`, on the *active* rows only, with exact per-sample Jacobians
:math:`J_i = \partial F(x_i) / \partial x_i` from one reverse-mode pass over the batch
(:func:`batched_jacobian`).

* :func:`square_newton` (``n == m``, no prior/box): damped Newton
  :math:`x \leftarrow x - a\,J^{-1}(F(x) - y)`; the step length is the largest of
  :math:`1, 4^{-1}, \dots` that decreases :math:`\|F(x)-y\|` *and does not stop short of a kink*
  (:func:`_grid_step`); between exact Jacobians the inverse is kept up to date with Broyden's
  rank-one update; where no step length decreases the residual the step becomes a
  *boundary-crossing* (homotopy) step (:func:`_boundary_step`).
* :func:`homotopy` -- the piecewise-linear homotopy.  For a map that is affine on regions
  (leaky-ReLU networks), :math:`F(x + a\,\delta) = F(x) + a\,J\delta` *exactly* while the segment
  stays in the region of :math:`x`.  With :math:`\delta = -J^{-1}(F(x) - y)` the output moves on
  the straight segment towards :math:`y` until the first region boundary; the step length is the
  largest :math:`a \le 1` where the linear prediction still holds (up to a fraction
  :math:`\kappa` of the progress), so each step crosses at least one boundary and ends close
  to the segment: the iteration follows the preimage of the segment :math:`F(x_0) \to y` and
  cannot cycle (the residual shrinks by at least :math:`1 - (1-\kappa) a` per step).
* :func:`levenberg_marquardt` -- for non-square maps, priors and boxes: minimises
  :math:`\phi(x) = \|F(x)-y\|^2 + \lambda R(x)` with steps
  :math:`(J^\top J + \tfrac{\lambda}{2}\nabla^2 R + \mu I)\,\delta = -(J^\top r + \tfrac{\lambda}{2}\nabla R)`,
  :math:`\mu` adapted by the gain ratio (Nielsen's rule) and box constraints handled by
  projection with the bound-active variables frozen.
"""

from __future__ import annotations

import contextlib
import math
import sys
from typing import TYPE_CHECKING, Callable, Iterator

import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from invlib._problem import Problem, Tracker

__all__ = ["batched_jacobian", "condition_estimate", "inverse_and_condition", "square_newton", "homotopy",
           "levenberg_marquardt"]

#: Max number of Jacobian entries computed in one vectorised pass (the batch is chunked above).
_JAC_CHUNK_ELEMS = 1 << 25


def batched_jacobian(F: Callable[[Tensor], Tensor], x: Tensor, m: int | None = None) -> Tensor:
    r"""Per-sample Jacobians :math:`J_i = \partial F(x)_i / \partial x_i`, shape ``(b, m, n)``.

    Uses :math:`\partial \big(\sum_i F(x)_i\big) / \partial x` (valid because samples are
    independent): the ``m`` unit cotangents pulled back -- on the CPU by plain ``autograd.grad`` calls on
    one retained graph over ``g`` copies of each row, each call pulling back ``g`` outputs at once
    (:func:`_jacobian_blocks`; ``g`` chosen so the copies make about :data:`_BLOCK_ROWS` rows); it never
    imports ``torch._dynamo`` and ``sympy``, which ``torch.func``'s pull-back does on first use (3-6 s on a
    2-core machine); on accelerators, and for tiny CPU batches once ``torch._dynamo`` is loaded anyway,
    by ``torch.func.vmap`` over ``torch.func.vjp`` in one vectorised pass.  ``m`` (the output size) is
    found with a one-row forward pass when not given.
    """
    b, n = x.shape
    if m is None:
        with torch.no_grad():
            m = F(x[:1]).shape[1]
    vectorise = x.device.type != "cpu" or (b < 32 and "torch._dynamo" in sys.modules)
    chunk = max(1, _JAC_CHUNK_ELEMS // max(1, m * n))
    parts = []
    for start in range(0, b, chunk):
        xc = x[start : start + chunk].detach()
        jc = None
        if vectorise:
            try:
                _, pull = torch.func.vjp(lambda z: F(z).sum(0), xc)
                eye = torch.eye(m, dtype=xc.dtype, device=xc.device)
                jc = torch.func.vmap(pull)(eye)[0].movedim(1, 0)
            except Exception:  # noqa: BLE001 -- functorch cannot transform every callable
                jc = None
        if jc is None:
            jc = _jacobian_blocks(F, xc, m, max(1, min(m, _BLOCK_ROWS // xc.shape[0])))
        parts.append(jc)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


#: :func:`batched_jacobian` repeats each of ``b`` rows ``g = _BLOCK_ROWS // b`` times (1 <= g <= m).
_BLOCK_ROWS = 512


def _jacobian_blocks(F: Callable[[Tensor], Tensor], x: Tensor, m: int, g: int) -> Tensor:
    """Per-sample Jacobians (``m`` outputs each) from one forward pass over ``g`` copies of every row and
    ``ceil(m / g)`` backward passes.

    In backward pass ``k``, copy ``c`` of each sample pulls back the unit vector ``e_{kg + c}`` (samples,
    and so copies, are independent): ``g = 1`` is one ``autograd.grad`` call per output, ``g = m`` one call
    for all.  Per call the engine's overhead is fixed and the work grows with the rows, so a batch of about
    :data:`_BLOCK_ROWS` rows balances the two.  Measured (d = 64, one thread, leaky MLP / conv net /
    residual net): 32 rows 11.0 / 28.1 / 24.4 ms -> 5.3 / 11.5 / 16.0 ms, 128 rows 20.6 / 50.8 / 54.4 ms
    -> 17.3 / 42.3 / 53.2 ms against the previous choice between ``g = 1`` and ``g = m``.
    """
    b, n = x.shape
    g = max(1, min(g, m))
    with torch.enable_grad():
        xr = x.detach().repeat_interleave(g, 0).requires_grad_(True) if g > 1 else x.detach().requires_grad_(True)
        out = F(xr).reshape(b, g, m)
        parts = []
        for start in range(0, m, g):
            gg = min(g, m - start)
            picked = out[:, :gg, start : start + gg].diagonal(dim1=1, dim2=2)  # copy c: output start + c
            (grad,) = torch.autograd.grad(picked.sum(), xr, retain_graph=start + g < m, allow_unused=True)
            parts.append(x.new_zeros(b, gg, n) if grad is None else grad.reshape(b, g, n)[:, :gg])
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _jacobian_from_copies(F: Callable[[Tensor], Tensor], x: Tensor, m: int) -> Tensor:
    """:func:`_jacobian_blocks` with ``g = m``: one forward and one backward pass over ``m`` copies of each row."""
    return _jacobian_blocks(F, x, m, m)


def _jacobian_autograd(F: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """:func:`_jacobian_blocks` with ``g = 1``: one ``autograd.grad`` call per output coordinate."""
    with torch.no_grad():
        m = F(x[:1]).shape[1]
    return _jacobian_blocks(F, x, m, 1)


def _jacobians(P: "Problem", x: Tensor) -> Tensor:
    """:func:`batched_jacobian` for ``P.F``; computed once and shared when all rows of ``x`` are equal."""
    if x.shape[0] > 1 and bool((x == x[:1]).all()):
        P.jacobian_rows += 1
        return batched_jacobian(P.F, x[:1], P.m).expand(x.shape[0], -1, -1)
    P.jacobian_rows += x.shape[0]
    return batched_jacobian(P.F, x, P.m)


#: From this matrix size on, batched CPU LU factorisations run on one thread (see :func:`_safe_lapack`).
_CPU_LU_THREAD_LIMIT = 193


@contextlib.contextmanager
def _safe_lapack(J: Tensor) -> Iterator[None]:
    """Run batched LU-based CPU linear algebra on one thread for matrices of 193 rows and more.

    Measured with torch 2.13.0 (CPU wheel) and 2.11.0: ``torch.linalg.lu_factor_ex``/``inv_ex`` on a
    batch of 64 float64 256x256 matrices with 2 threads returns pivots of 0 and, for some batch
    sizes, wrong inverses with ``info == 0``; with one thread, or for n <= 192, the results are right.
    One thread costs little here: the batch is still factorised in one call.
    """
    if J.device.type != "cpu" or J.shape[-1] < _CPU_LU_THREAD_LIMIT or torch.get_num_threads() == 1:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def inverse_and_condition(J: Tensor) -> tuple[Tensor, Tensor]:
    r"""Batched inverse; rows where ``J`` is singular *numerically* get the pseudo-inverse instead.

    A row counts as singular when the inversion fails, or when
    :math:`\|J\|_F \|J^{-1}\|_F > \varepsilon^{-3/4}` (about :math:`5\cdot10^{11}` in float64,
    :math:`1.5\cdot10^{5}` in float32): the inverse of such a matrix is mostly rounding error, and a
    Newton step with it flies off along the (near-)null directions -- e.g. the per-token shift a
    layer norm removes.  The pseudo-inverse step is the minimum-norm Gauss--Newton step instead.

    Returns ``(inverse, cond)`` with the per-row condition estimate
    :math:`\kappa_F = \|J\|_F \|J^{-1}\|_F \ge \kappa_2` (``inf`` where the inversion failed).
    """
    if J.shape[0] > 1 and J.stride(0) == 0:  # shared (expanded) Jacobian: invert once
        inv, cond = inverse_and_condition(J[:1].contiguous())
        return inv.expand_as(J).clone(), cond.expand(J.shape[0]).clone()
    with _safe_lapack(J):
        inv, info = torch.linalg.inv_ex(J)
    cond = torch.linalg.matrix_norm(J) * torch.linalg.matrix_norm(inv)
    limit = torch.finfo(J.dtype).eps ** -0.75
    # a NaN or inf anywhere in ``inv`` makes its norm, hence ``cond``, NaN or inf: ``cond <= limit`` is false
    bad = (info != 0) | ~(cond <= limit)
    cond = torch.where((info != 0) | ~torch.isfinite(cond), torch.full_like(cond, math.inf), cond)
    if bool(bad.any()):
        inv[bad] = torch.linalg.pinv(J[bad])
    return inv, cond


def _matvec(A: Tensor, v: Tensor) -> Tensor:
    r""":math:`A_i v_i` per row, computed as :math:`(v_i^\top A_i^\top)^\top`: a batch of row vector times matrix
    products runs 4-5x faster on the CPU than the same batch of matrix times column vector products
    (256 x 64 x 64 float64, one thread: 0.25 ms against 1.25 ms)."""
    return (v.unsqueeze(1) @ A.mT).squeeze(1)


class _BroydenInverse:
    r"""Per-row approximate inverse Jacobians :math:`H_i = (I + u_{ik} v_{ik}^\top) \cdots (I + u_{i1} v_{i1}^\top) B_i`
    in product form.

    The base :math:`B` is either one matrix shared by every row (the exact inverse at a common start such
    as :math:`x_0 = 0`: kept once, applied with one matrix product for the whole batch) or a dense
    ``(b, n, n)`` tensor once some rows have inverses of their own.  Broyden's "good" update
    :math:`H \leftarrow H + (s - Hy)\,s^\top H / (s^\top H y)` is the factor
    :math:`I + u s^\top` with :math:`u = (s - Hy) / (s^\top H y)` applied on the left, so each update is kept
    as the two vectors :math:`u, v = s` (``U``, ``V``: ``(k, b, n)``, one slab per accepted iteration; zero
    :math:`u` for rows that did not move), never added into dense per-row matrices: :math:`H r` costs one
    product with the base and :math:`k` dot products and updates of an :math:`n`-vector per row, and no
    product with :math:`H^\top` is needed (the additive form :math:`B + \sum_k u_k (H_k^\top s_k)^\top` needs one
    per iteration: twice the cost, 256 rows, n = 64, k = 8: 0.41 against 0.18 ms).  After :data:`MAX_UPDATES`
    updates the factors are folded into a dense base.

    ``low`` (opt-in: ``optimize_inverse(..., jacobian_dtype=torch.float32)``): a dtype (float32) in which
    the dense base is *stored* while every row's inverse is well
    conditioned (:math:`\kappa_F \le` :data:`LOW_PRECISION_COND`); the first row above that limit turns the
    store back to the residuals' dtype for good.  A float32 base :math:`\tilde B = B + E` with
    :math:`\|E\| \lesssim \varepsilon_{32}\|B\|` makes each step an inexact Newton step,
    :math:`\|I - \tilde B J\| \lesssim \kappa\,\varepsilon_{32} \le 10^{-3}`: the iteration still converges
    (linearly at that rate, on top of Newton's own), residuals and iterates stay in float64, so the accuracy
    reached is float64's; the dense passes over the base (the bulk of the per-iteration cost for
    ``n`` = 64) move half the bytes.
    """

    MAX_UPDATES = 24
    #: Largest condition estimate ||J||_F ||J^-1||_F for which the dense base may be stored in ``low``.
    LOW_PRECISION_COND = 1e4

    def __init__(self, base: Tensor, rows: int, low: torch.dtype | None = None) -> None:
        self.base = base          # (1, n, n) shared by the ``rows`` rows, or (rows, n, n)
        self.rows = rows
        self.dtype = base.dtype   # the dtype of the vectors it is applied to
        self.low = low            # storage dtype of a dense base, while allowed
        # The updates' vectors, update-major: ``_Ubuf[k, :rows]`` is the k-th u of every row.  One column is
        # one contiguous slab, so an update writes (and first touches) only its own pages, and compaction
        # (:meth:`keep`) moves rows within the buffer: a fresh multi-megabyte buffer per update or per
        # shrink cost a page fault per 4 KiB, ~15% of a whole solve on the residual benchmark net.
        self._Ubuf: Tensor | None = None  # (MAX_UPDATES, rows at allocation, n)
        self._Vbuf: Tensor | None = None
        self._k = 0

    @classmethod
    def from_jacobians(cls, J: Tensor, low: torch.dtype | None = None) -> tuple["_BroydenInverse", Tensor]:
        """The exact inverses of ``J`` ``(b, n, n)`` (shared when ``J`` is one expanded matrix) and their
        condition estimates (see :func:`inverse_and_condition`)."""
        if J.shape[0] > 1 and J.stride(0) == 0:
            inv, cond = inverse_and_condition(J[:1].contiguous())
            H = cls(inv, J.shape[0], low)
            H._check_low(cond)
            return H, cond.expand(J.shape[0]).clone()
        inv, cond = inverse_and_condition(J)
        H = cls(inv, J.shape[0], low)
        H._check_low(cond)
        if H.low is not None:
            H.base = inv.to(H.low)
        return H, cond

    def _check_low(self, cond: Tensor) -> None:
        """Give up the low-precision store for good when some row's condition estimate is above the limit."""
        if self.low is not None and not bool((cond <= self.LOW_PRECISION_COND).all()):
            self.low = None
            if not self.shared:
                self.base = self.base.to(self.dtype)

    @property
    def shared(self) -> bool:
        return self.base.shape[0] != self.rows

    @property
    def U(self) -> Tensor | None:
        """``(k, rows, n)``: the u's of the updates so far, or ``None``."""
        return None if self._Ubuf is None else self._Ubuf[: self._k, : self.rows]

    @property
    def V(self) -> Tensor | None:
        return None if self._Vbuf is None else self._Vbuf[: self._k, : self.rows]

    def __len__(self) -> int:
        return self.rows

    def _dense_base(self) -> Tensor:
        if self.shared:
            self.base = self.base.expand(self.rows, -1, -1).to(self.low or self.dtype, copy=True)
        return self.base

    def matvec(self, r: Tensor, rows: Tensor | None = None) -> Tensor:
        """:math:`H_i r_i` for every row (``rows is None``) or for the given rows (``r`` holds only those)."""
        if self.shared:
            z = r @ self.base[0].mT
        else:
            B = self.base if rows is None else self.base[rows]
            z = _matvec(B, r.to(B.dtype)).to(r.dtype)
        if self._k:
            U, V = self.U, self.V
            if rows is not None:
                U, V = U[:, rows], V[:, rows]
            for u, v in zip(U, V):  # the factors I + u v^T, oldest first (z is a fresh tensor)
                z.addcmul_(u, (v * z).sum(dim=1, keepdim=True))
        return z

    def update(self, u: Tensor, v: Tensor) -> None:
        r""":math:`H_i \leftarrow (I + u_i v_i^\top) H_i` (rows with :math:`u_i = 0` are unchanged)."""
        if self._Ubuf is None:
            shape = (self.MAX_UPDATES, u.shape[0], u.shape[1])
            self._Ubuf = u.new_empty(shape)
            self._Vbuf = u.new_empty(shape)
            self._k = 0
        self._Ubuf[self._k, : self.rows] = u
        self._Vbuf[self._k, : self.rows] = v
        self._k += 1
        if self._k == self.MAX_UPDATES:  # fold: one pass over dense matrices every MAX_UPDATES steps
            D = self._dense_base().to(self.dtype)
            for uk, vk in zip(self.U, self.V):
                D = D + uk.unsqueeze(2) * (vk.unsqueeze(1) @ D)
            self.base = D.to(self.low or self.dtype)
            self._k = 0

    def set_rows(self, rows: Tensor, inv: Tensor, cond: Tensor | None = None) -> None:
        """Give ``rows`` the exact inverses ``inv`` ``(len(rows), n, n)`` (condition estimates ``cond``)
        and drop their updates."""
        if cond is None:
            self.low = None
            if not self.shared:
                self.base = self.base.to(self.dtype)
        else:
            self._check_low(cond)
        base = self._dense_base()
        base[rows] = inv.to(base.dtype)
        if self._k:
            self.U[:, rows] = 0
            self.V[:, rows] = 0

    def keep(self, keep: Tensor) -> None:
        """Keep only the rows ``keep`` (the active set shrank): moved to the front of the update buffers."""
        if not self.shared:
            self.base = self.base[keep]
        if self._k:
            U, V = self.U[:, keep], self.V[:, keep]  # gathered before the rows move
            self._Ubuf[: self._k, : keep.numel()] = U
            self._Vbuf[: self._k, : keep.numel()] = V
        self.rows = keep.numel()


def _grid_step(
    P: "Problem",
    idx: Tensor,
    x: Tensor,
    dx: Tensor,
    r: Tensor,
    pred: Tensor,
    *,
    grid: int = 6,
    base: float = 4.0,
    best: bool = False,
    c: float = 1e-4,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Largest :math:`a \in \{1, 4^{-1}, \dots, 4^{1-\text{grid}}\}` with a sufficient decrease that does not stop short.

    Accepts :math:`a` when :math:`\|F(x + a\delta) - y\| \le (1 - c\,a)\|r\|` and either
    :math:`a = 1` or the linear model is measurably broken at :math:`a` (deviation above
    :math:`10^{-3} a \|r\|`): a damped step must end *past* a region boundary of a piecewise-
    linear map, never just before it (stopping short is what makes damped Newton creep towards a
    kink and stall).  All trial points of all rows go through ``F`` in one call.
    Returns ``(a, r_new, accepted)``.
    """
    b, n = x.shape
    rn = r.norm(dim=1)
    # the full step first: on smooth maps it is almost always taken, and costs one evaluation
    r_full = P.residual(x + dx, idx)
    acc = r_full.norm(dim=1) <= (1.0 - c) * rn
    a_sel = acc.to(x.dtype)
    r_sel = torch.where(acc[:, None], r_full, r)
    rows = (~acc).nonzero().flatten()
    if rows.numel() == 0 or grid <= 1:
        return a_sel, r_sel, acc
    a = base ** -torch.arange(1, grid, dtype=x.dtype, device=x.device)  # descending from 1/base
    k_pts = a.numel()
    xs = x[rows, None, :] + a[None, :, None] * dx[rows, None, :]
    rs = P.residual(xs.reshape(-1, n), idx[rows].repeat_interleave(k_pts)).reshape(rows.numel(), k_pts, -1)
    rr = rn[rows]
    norms = rs.norm(dim=2)
    dev = (rs - (r[rows, None, :] + a[None, :, None] * pred[rows, None, :])).norm(dim=2)
    suff = norms <= (1.0 - c * a[None, :]) * rr[:, None]
    past = dev > 1e-3 * a[None, :] * rr[:, None]
    ok = suff & past
    got = ok.any(dim=1)
    if best:  # the eligible step with the smallest residual
        k = torch.where(ok, norms, torch.full_like(norms, math.inf)).argmin(dim=1)
    else:  # the longest eligible step
        k = ok.to(torch.int8).argmax(dim=1)
    chosen = rs.gather(1, k[:, None, None].expand(-1, 1, rs.shape[2])).squeeze(1)
    a_sel[rows] = torch.where(got, a[k], torch.zeros_like(rr))
    r_sel[rows] = torch.where(got[:, None], chosen, r[rows])
    acc[rows] = got
    return a_sel, r_sel, acc


def _boundary_step(
    P: "Problem",
    idx: Tensor,
    x: Tensor,
    dx: Tensor,
    r: Tensor,
    pred: Tensor,
    *,
    kappa: float,
    grid: int = 8,
    rounds: int = 3,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""The largest step :math:`a \in (0, 1]` (on a grid) whose outcome matches the linear model.

    Accepts :math:`a` when :math:`\|F(x + a\delta) - y - (r + a\,J\delta)\| \le \kappa\,a\,\|r\|`
    (``pred`` is :math:`J\delta`).  For a piecewise-linear :math:`F` the left-hand side is exactly
    zero up to the first region boundary and grows after it, so the accepted :math:`a` lies just
    past the boundary.  Search: geometric grids :math:`a = t\,4^{-k}` (``grid`` points per
    forward pass, all rows at once; the next round continues below the smallest point), then one
    linear refinement between the last accepted and the first rejected point.
    Returns ``(a, r_new, found)``; rows without an acceptable step keep ``r`` and ``a = 0``.
    """
    b, n = x.shape
    dtype, device = x.dtype, x.device
    rn = r.norm(dim=1)
    lo = torch.zeros(b, dtype=dtype, device=device)
    hi = torch.ones(b, dtype=dtype, device=device)
    r_lo = r.clone()
    found = torch.zeros(b, dtype=torch.bool, device=device)
    top = torch.ones(b, dtype=dtype, device=device)
    powers = 4.0 ** -torch.arange(grid - 1, -1, -1, dtype=dtype, device=device)  # ascending, ends at 1

    def evaluate(rows: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        k = a.shape[1]
        xs = x[rows, None, :] + a[..., None] * dx[rows, None, :]
        rs = P.residual(xs.reshape(-1, n), idx[rows].repeat_interleave(k)).reshape(rows.numel(), k, -1)
        dev = (rs - (r[rows, None, :] + a[..., None] * pred[rows, None, :])).norm(dim=2)
        ok = dev <= kappa * a * rn[rows, None]
        # accepted prefix (from the smallest a): the last point before the first rejection
        first_bad = torch.where(ok.all(dim=1), k, (~ok).to(torch.int8).argmax(dim=1))
        return first_bad, rs, dev

    for _ in range(rounds):
        rows = (~found).nonzero().flatten()
        if rows.numel() == 0:
            break
        a = top[rows, None] * powers[None, :]
        first_bad, rs, _ = evaluate(rows, a)
        got = first_bad > 0
        sel = rows[got]
        j = (first_bad[got] - 1).clamp(min=0)
        lo[sel] = a[got].gather(1, j[:, None]).squeeze(1)
        r_lo[sel] = rs[got].gather(1, j[:, None, None].expand(-1, 1, rs.shape[2])).squeeze(1)
        jb = first_bad[got].clamp(max=grid - 1)
        hi[sel] = torch.where(first_bad[got] < grid, a[got].gather(1, jb[:, None]).squeeze(1), lo[sel])
        found[sel] = True
        top[rows[~got]] = a[~got, 0] / 4.0
    # one linear refinement between lo and hi where the first rejection was inside the grid
    rows = (found & (hi > lo)).nonzero().flatten()
    if rows.numel():
        t = torch.arange(1, grid + 1, dtype=dtype, device=device) / (grid + 1)
        a = torch.cat([lo[rows, None] + (hi[rows] - lo[rows])[:, None] * t[None, :], hi[rows, None]], dim=1)
        first_bad, rs, dev = evaluate(rows, a)
        got = first_bad > 0
        sel = rows[got]
        j = (first_bad[got] - 1).clamp(min=0)
        lo[sel] = a[got].gather(1, j[:, None]).squeeze(1)
        r_lo[sel] = rs[got].gather(1, j[:, None, None].expand(-1, 1, rs.shape[2])).squeeze(1)
        # Cross the boundary: just past a region boundary the deviation is exactly linear,
        # dev(a) = (a - a*) |c|.  Extrapolate from the first two rejected points to a*, then step
        # to a* + kappa a* |r| / (2 |c|), where the deviation is half the allowed amount.
        jf = first_bad.clamp(max=grid)
        jn = (jf + 1).clamp(max=grid)
        inside = (jf < jn) & (jf <= grid - 1)
        if bool(inside.any()):
            a1 = a.gather(1, jf[:, None]).squeeze(1)
            a2 = a.gather(1, jn[:, None]).squeeze(1)
            d1 = dev.gather(1, jf[:, None]).squeeze(1)
            d2 = dev.gather(1, jn[:, None]).squeeze(1)
            slope = (d2 - d1) / (a2 - a1)
            a_star = a1 - d1 / slope
            lo_r = lo[rows]
            cand = a_star + 0.5 * kappa * a_star * rn[rows] / slope
            usable = inside & (slope > 0) & (a_star >= 0.5 * lo_r) & (cand > lo_r) & (cand < a1)
            use = usable.nonzero().flatten()
            if use.numel():
                ac = cand[use][:, None]
                rsel = rows[use]
                fb, rc, _ = evaluate(rsel, ac)
                okc = fb > 0
                lo[rsel[okc]] = ac[okc, 0]
                r_lo[rsel[okc]] = rc[okc, 0]
    return lo, r_lo, found


def square_newton(
    P: "Problem",
    T: "Tracker",
    *,
    broyden: bool = True,
    eta: float = 0.9,
    kappa: float = 0.5,
    grid: int = 6,
    base: float = 4.0,
    best: bool = False,
    low_precision: bool | None = None,
) -> None:
    r"""Damped quasi-Newton with boundary-crossing fallback for square maps :math:`F(x) = y`.

    Per active sample and iteration, with :math:`r = F(x) - y` and :math:`H \approx J(x)^{-1}`:

    1. if :math:`H` is a Broyden update (not fresh), try the full step :math:`x - Hr`; accept it when
       :math:`\|r\|` shrinks by the factor ``eta``, else recompute :math:`H = J(x)^{-1}` exactly;
    2. with a fresh :math:`H`: the largest step length along :math:`\delta = -Hr` from
       :math:`\{1, 4^{-1}, \dots, 4^{-5}\}` with :math:`\|r\|` decreasing by the Armijo factor that
       ends past a kink (:func:`_grid_step`) -- stopping *before* a region boundary is what makes
       damped Newton creep towards kinks of piecewise-linear maps and stall;
    3. if none qualifies: a boundary-crossing step (:func:`_boundary_step`) along the same
       :math:`\delta`.

    After each accepted step :math:`s` with :math:`\Delta r`, Broyden's "good" update
    :math:`H \leftarrow H + (s - H\Delta r)\,s^\top H / (s^\top H \Delta r)` (zero when :math:`F`
    is affine along the step, so exact inverses stay exact within a linear region).
    A sample stalls (leaves the active set unconverged) after 3 iterations without decrease.

    ``low_precision`` (default: ``P.jacobian_dtype == torch.float32``): store the dense inverse bases of a
    float64 problem in float32 while every row's is well conditioned (see :class:`_BroydenInverse`).
    """
    device = T.x.device
    eps = torch.finfo(T.x.dtype).eps
    # State of the active samples only, aligned with ``act`` (the tracker only ever removes
    # samples from its active set, so the state is compacted when that happens, never scattered).
    act = T.active()
    if act.numel() == 0:
        return
    if low_precision is None:
        low_precision = P.jacobian_dtype == torch.float32
    low = torch.float32 if low_precision and T.x.dtype == torch.float64 else None
    H, T.cond[act] = _BroydenInverse.from_jacobians(_jacobians(P, T.x[act]), low)
    fresh = torch.ones(act.numel(), dtype=torch.bool, device=device)
    fails = torch.zeros(act.numel(), dtype=torch.int32, device=device)
    checked = torch.zeros(act.numel(), dtype=torch.bool, device=device)  # cond measured at a certified-small x
    dx = -H.matvec(T.r[act])  # the Newton direction -H r, carried over between iterations
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        if idx.numel() != act.numel():
            keep = torch.searchsorted(act, idx)
            H.keep(keep)
            fresh, fails, dx, checked = fresh[keep], fails[keep], dx[keep], checked[keep]
            act = idx
        full = idx.numel() == T.x.shape[0]
        # read only until T.record: with every row active they can be the tracker's own tensors (no gather)
        x = T.x if full else T.x[idx]
        r = T.r if full else T.r[idx]
        rn = r.norm(dim=1)
        fr = fresh
        # 1. quasi-Newton full steps for stale inverses
        stale = (~fr).nonzero().flatten()
        everyone = stale.numel() == idx.numel()
        fast = False
        if everyone:  # the common case: one evaluation for the whole active set, no row indexing
            x_try = x + dx
            rt = P.residual(x_try, idx)
            ok = rt.norm(dim=1) <= eta * rn
            fast = bool(ok.all())
        if fast:  # every row accepted its quasi-Newton step: nothing is fresh, steps 2 and 3 have no rows
            x_new, r_new, acc = x_try, rt, ok
        else:
            x_new = x.clone()
            r_new = r.clone()
            acc = torch.zeros(idx.numel(), dtype=torch.bool, device=device)
        if stale.numel() and not fast:
            if not everyone:
                rt = P.residual(x[stale] + dx[stale], idx[stale])
                ok = rt.norm(dim=1) <= eta * rn[stale]
            good = stale[ok]
            acc[good] = True
            x_new[good] = x[good] + dx[good]
            r_new[good] = rt[ok]
            bad = stale[~ok]
            if bad.numel():
                inv, cond = inverse_and_condition(_jacobians(P, x[bad]))
                T.cond[idx[bad]] = cond
                H.set_rows(bad, inv, cond)
                fr = fr.clone()
                fr[bad] = True
                dx[bad] = -H.matvec(r[bad], bad)
        # 2. damped Newton with exact inverses: a grid of step lengths that never stops short
        rows = stale[:0] if fast else (fr & ~acc).nonzero().flatten()
        if rows.numel():
            a, rt, ok = _grid_step(P, idx[rows], x[rows], dx[rows], r[rows], -r[rows], grid=grid, base=base, best=best)
            good = rows[ok]
            acc[good] = True
            x_new[good] = x[good] + a[ok, None] * dx[good]
            r_new[good] = rt[ok]
            # 3. boundary-crossing steps where no grid step decreased the residual
            rest = rows[~ok]
            if rest.numel():
                a, rt, ok2 = _boundary_step(P, idx[rest], x[rest], dx[rest], r[rest], -r[rest], kappa=kappa)
                dec = ok2 & (rt.norm(dim=1) < rn[rest])
                good = rest[dec]
                acc[good] = True
                x_new[good] = x[good] + a[dec, None] * dx[good]
                r_new[good] = rt[dec]
        # Broyden's update of the inverse, in place, for the accepted steps (rank one per row),
        # and the next direction -H' r_new from the same products (dx = -H r, so H dr = H r_new + dx)
        Hr_new = H.matvec(r_new)
        if broyden and (fast or bool(acc.any())):
            s = x_new - x
            Hd = Hr_new + dx
            den = (s * Hd).sum(dim=1)
            safe = acc & (den.abs() > 1e-12 * s.norm(dim=1) * Hd.norm(dim=1))
            coef = (s - Hd) * (safe.to(s.dtype) / torch.where(safe, den, torch.ones_like(den)))[:, None]
            H.update(coef, s)  # H <- (I + coef s^T) H, kept as the two vectors
            Hr_new = Hr_new + coef * (s * Hr_new).sum(dim=1, keepdim=True)
        dx = -Hr_new
        if fast:  # every row stepped: none is fresh (all were stale) and none failed
            fails = torch.zeros_like(fails)
            stalled = None
        else:
            fresh = fr & ~acc
            fails = torch.where(acc, torch.zeros_like(fails), fails + 1)
            stalled = fails >= 3
        # A row whose residual is below tol is certified by the next step's length, an estimate of its forward
        # error (a row with a small residual but a long next step keeps iterating towards the rounding floor).
        # After a step that step comes from a Broyden-updated inverse, which can underestimate it: float32 tanh
        # net, cond 1.35e3, estimate below xtol = 1e-3 for a true error of 4e-3.  Where the bound
        # cond x relative residual (cond from the last exact Jacobian) does not vouch for xtol either, the row
        # gets its exact Jacobian here and the exact Newton step decides.
        rel_new = P.rel(r_new, idx)
        small = rel_new <= P.tol
        if P.xtol < math.inf and bool(small.any()):
            # (not where cond x eps alone exceeds xtol: such a row is reported ill-conditioned whatever the step).
            # The condition estimate is the last exact Jacobian's, possibly from the start: in low precision,
            # where tol and xtol are only ~100 apart, a stale estimate vouched for rows it should not have
            # (float32 tanh nets: estimates of 33-700 where the Jacobian at x has 82-2.5e5, rows 'converged' with
            # errors up to 3.6e-2), so there every row is certified by its exact Jacobian at x.
            cond = T.cond[idx]
            hopeless = cond * eps > P.xtol
            doubt = small & ~fresh
            if eps < 1e-10:
                doubt &= ~(cond * rel_new <= P.xtol) & ~hopeless
            else:  # measured once at a small residual: a hopeless condition there is not measured again
                doubt &= ~(checked & hopeless)
            if bool(doubt.any()):
                rows = doubt.nonzero().flatten()
                inv, cond = inverse_and_condition(_jacobians(P, x_new[rows]))
                T.cond[idx[rows]] = cond
                checked[rows] = True
                H.set_rows(rows, inv, cond)
                dx[rows] = -H.matvec(r_new[rows], rows)
                fresh = fresh.clone() if fast else fresh
                fresh[rows] = True
        xerr = dx.norm(dim=1) / x_new.norm(dim=1).clamp(min=torch.finfo(x.dtype).tiny)
        T.record(idx, x_new, r_new, stalled=stalled, xerr=xerr, rel=rel_new)


def condition_estimate(J: Tensor) -> Tensor:
    r"""Per-row condition number :math:`\sigma_{\max}/\sigma_{\min}` of ``J`` ``(b, m, n)`` (``inf`` when
    rank-deficient; for a non-square ``J`` the smallest of its min(m, n) singular values counts)."""
    if J.shape[0] > 1 and J.stride(0) == 0:
        return condition_estimate(J[:1].contiguous()).expand(J.shape[0]).clone()
    s = torch.linalg.svdvals(J)
    smin = s[:, -1]
    ratio = s[:, 0] / torch.where(smin > 0, smin, torch.ones_like(smin))
    return torch.where(smin > 0, ratio, torch.full_like(smin, math.inf))


def _newton_direction(J: Tensor, r: Tensor) -> Tensor:
    r"""Gauss--Newton direction :math:`\delta = -J^{+} r` (solve when square, least squares otherwise)."""
    b, m, n = J.shape
    if m == n:
        with _safe_lapack(J):
            sol, info = torch.linalg.solve_ex(J, -r)
        bad = (info != 0) | ~torch.isfinite(sol).all(dim=1)
        if bool(bad.any()):
            sol[bad] = -_matvec(torch.linalg.pinv(J[bad]), r[bad])
        return sol
    return -_matvec(torch.linalg.pinv(J), r)


def homotopy(P: "Problem", T: "Tracker", *, kappa: float = 0.1) -> None:
    r"""Piecewise-linear homotopy: follow the preimage of the segment from :math:`F(x)` to :math:`y`.

    Each iteration: exact Jacobian :math:`J` at :math:`x`, :math:`\delta = -J^{+}(F(x) - y)`, and the
    largest step along :math:`\delta` on which :math:`F` still follows its linear model
    :math:`F(x) + a J\delta` up to :math:`\kappa a \|r\|` (:func:`_boundary_step`).  On a piecewise-
    linear homeomorphism the residual shrinks monotonically by :math:`1-(1-\kappa)a` per step and
    the path crosses one (or a few) region boundaries per iteration: no cycling.  A full step
    (:math:`a=1`) inside the final region lands on :math:`y` exactly.
    """
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        x = T.x[idx]
        r = T.r[idx]
        J = _jacobians(P, x)
        dx = _newton_direction(J, r)
        pred = _matvec(J, dx)
        a, r_new, found = _boundary_step(P, idx, x, dx, r, pred, kappa=kappa)
        dec = found & (r_new.norm(dim=1) < r.norm(dim=1))
        x_new = torch.where(dec[:, None], x + a[:, None] * dx, x)
        r_new = torch.where(dec[:, None], r_new, r)
        T.record(idx, x_new, r_new, stalled=~dec)


def levenberg_marquardt(P: "Problem", T: "Tracker", *, tau: float = 1e-3) -> None:
    r"""Levenberg--Marquardt on :math:`\phi(x) = \|F(x)-y\|^2 + \lambda R(x)` with an optional box.

    Model (half objective): :math:`\tfrac12\phi(x+\delta) \approx \tfrac12\phi(x) + g^\top\delta +
    \tfrac12\delta^\top A\delta` with :math:`g = J^\top r + \tfrac{\lambda}{2}\nabla R`,
    :math:`A = J^\top J + \tfrac{\lambda}{2}\nabla^2 R`; step :math:`(A + \mu I)\delta = -g` on the
    free variables (those not held at a bound by the gradient), projected into the box.  The gain
    ratio :math:`\varrho` = actual / predicted decrease accepts (:math:`\varrho > 10^{-4}`) and adapts
    :math:`\mu` (Nielsen: :math:`\mu \leftarrow \mu\max(1/3, 1-(2\varrho-1)^3)` or :math:`\mu\nu`,
    :math:`\nu \leftarrow 2\nu`), starting from :math:`\mu = \tau \max_j A_{jj}`.

    Stationarity is measured scale-free: :math:`s = \|g_{\text{free}}\| / (\|J^\top r\| +
    \|\tfrac{\lambda}{2}\nabla R\|)` for priors/boxes (converged when :math:`s \le
    \sqrt{\mathrm{tol}}`) and :math:`s = \|J^\top r\| / (\|J\|_F\|r\|)` otherwise (a stationary
    point with a residual above ``tol`` -- an unreachable target -- stalls when
    :math:`s \le 10^{-2}\sqrt{\mathrm{tol}}`).
    """
    B, n = T.x.shape
    dtype, device = T.x.dtype, T.x.device
    mu = torch.zeros(B, dtype=dtype, device=device)
    nu = torch.full((B,), 2.0, dtype=dtype, device=device)
    started = torch.zeros(B, dtype=torch.bool, device=device)
    eye = torch.eye(n, dtype=dtype, device=device)
    tiny = torch.finfo(dtype).tiny
    # a square map (Newton's fallback, or a box or prior on one): a row whose residual is below tol is a root,
    # certified against xtol by the forward-error estimate like a Newton iterate
    square = P.n == P.m
    # consecutive rejected steps of rows whose residual is already below tol: at the rounding floor LM only
    # raises mu (some 50 doublings before nu says hopeless); three in a row end such a row (it stalls there)
    rejected = torch.zeros(B, dtype=torch.int32, device=device)
    while True:
        idx = T.active()
        if idx.numel() == 0:
            return
        x = T.x[idx]
        r = T.r[idx]
        phi = T.phi[idx]
        J = _jacobians(P, x)
        g_fit = torch.einsum("bmn,bm->bn", J, r)
        A = J.transpose(1, 2) @ J
        if P.prior is not None:
            g_pri = 0.5 * P.prior.grad(x)
            A = A + 0.5 * P.prior.hessian(x)
            g = g_fit + g_pri
            scale = g_fit.norm(dim=1) + g_pri.norm(dim=1)
        else:
            g = g_fit
            scale = g_fit.norm(dim=1) if P.constrained else J.flatten(1).norm(dim=1) * r.norm(dim=1)
        g, fixed = P.hold_at_bounds(x, g)
        if fixed is not None:  # held coordinates: identity rows/columns, so their step is 0
            keep = (~fixed).to(dtype)
            A = A * keep[:, :, None] * keep[:, None, :] + torch.diag_embed(1.0 - keep)
        stat = g.norm(dim=1) / (scale + tiny)
        stationary, stuck = P.stationarity(stat)
        new = ~started[idx]
        if bool(new.any()):
            diag_max = A.diagonal(dim1=1, dim2=2).amax(dim=1)
            mu_idx = mu[idx]
            mu_idx[new] = tau * torch.where(diag_max > 0, diag_max, torch.ones_like(diag_max))[new]
            mu[idx] = mu_idx
            started[idx] = True
        m_ = mu[idx]
        L, info = torch.linalg.cholesky_ex(A + m_[:, None, None] * eye)
        for _ in range(8):  # indefinite prior Hessians: raise mu until the system is positive definite
            bad = info != 0
            if not bool(bad.any()):
                break
            m_ = torch.where(bad, m_ * 10.0 + 1e-12, m_)
            L, info = torch.linalg.cholesky_ex(A + m_[:, None, None] * eye)
        dx = -torch.cholesky_solve(g.unsqueeze(-1), L).squeeze(-1)
        dx = torch.where(torch.isfinite(dx), dx, torch.zeros_like(dx))
        x_t = P.project(x + dx)
        s = x_t - x
        r_t = P.residual(x_t, idx)
        phi_t = P.objective(r_t, x_t)
        pred = -(s * g).sum(dim=1) - 0.5 * (s * _matvec(A, s)).sum(dim=1)
        actual = 0.5 * (phi - phi_t)
        rho = actual / torch.where(pred > 0, pred, torch.ones_like(pred))
        acc = (pred > 0) & (rho > 1e-4) & torch.isfinite(phi_t) & ~stationary & ~stuck
        nu_i = nu[idx]
        mu_new = torch.where(
            acc, m_ * torch.clamp(1.0 - (2.0 * rho - 1.0) ** 3, min=1.0 / 3.0), m_ * nu_i
        )
        nu[idx] = torch.where(acc, torch.full_like(nu_i, 2.0), nu_i * 2.0)
        mu[idx] = mu_new.clamp(min=1e-300)
        x_new = torch.where(acc[:, None], x_t, x)
        r_new = torch.where(acc[:, None], r_t, r)
        small = T.res[idx] <= P.tol
        rej = torch.where(acc | ~small, torch.zeros_like(rejected[idx]), rejected[idx] + 1)
        rejected[idx] = rej
        hopeless = (nu[idx] > 1e15) | stuck | (rej >= 3)
        xerr = None
        if square:  # the forward-error estimate ||J^-1 r|| / ||x|| certifies a square root like a Newton iterate
            with _safe_lapack(J):
                sol, info = torch.linalg.solve_ex(J, r_new)
            xerr = torch.where(info == 0, sol.norm(dim=1), torch.full_like(sol[:, 0], math.inf))
            xerr = xerr / x_new.norm(dim=1).clamp(min=tiny)
        T.record(idx, x_new, r_new, stationary=stationary, stalled=hopeless, xerr=xerr)
