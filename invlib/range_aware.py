r"""Range-aware exact inverses of ``Linear -> ReLU`` (and ``Linear -> ReLU -> Linear``) blocks.

A layer-by-layer check refuses every ``ReLU``: it is many-to-one on its whole input space. But the
ReLU only sees the image of the layer before it, and after a *widening* linear layer that image is
a small subset of the ReLU's input space, on which the ReLU may well be injective. The blocks here
invert such a pair (or triple) exactly, sample by sample, and say which samples cannot be
recovered.

**The pair** :math:`z = \mathrm{relu}(Wx + b)`, :math:`W \in \mathbb{R}^{m \times n}`, :math:`m > n`,
:math:`\operatorname{rank} W = n` (:class:`ReLUPairInverse`). For one sample let
:math:`A = \{i : z_i > 0\}` (the active rows) and :math:`I` the others. Every preimage :math:`x`
satisfies

.. math:: W_A x + b_A = z_A, \qquad W_I x + b_I \le 0 .

If :math:`W_A` has full column rank :math:`n`, the equalities alone fix :math:`x = W_A^{+}(z_A - b_A)`:
the preimage is unique, and it exists iff that :math:`x` also satisfies the equalities (residual 0)
and the inequalities (both checked, up to a rounding tolerance). If :math:`\operatorname{rank} W_A < n`
the active rows do not determine :math:`x` (the inequalities may or may not pin it down): that sample
is not recoverable from this pair and :class:`~invlib.errors.UnrecoverableSamplesError` names it.

**The triple** :math:`y = V\,\mathrm{relu}(Wx + b) + c`, :math:`V \in \mathbb{R}^{k \times m}`, when
:math:`V` itself has no exact inverse (narrowing or rank deficient; :class:`ReLUTripleInverse`).
For each activation pattern :math:`s \in \{0, 1\}^m` the map is affine,
:math:`y = M_s x + r_s` with :math:`M_s = V \operatorname{diag}(s) W` and
:math:`r_s = V \operatorname{diag}(s)\, b + c`. Every preimage lies in the region of some pattern,
so the preimages of :math:`y` are exactly the solutions :math:`x` of :math:`M_s x = y - r_s` that
respect the pattern's signs (:math:`W_i x + b_i \ge 0` where :math:`s_i = 1`, :math:`\le 0` where
:math:`s_i = 0`). For the full-column-rank :math:`M_s` that solution is unique and is checked; all
patterns are enumerated (:math:`2^m`, so only for :math:`m \le` ``MAX_TRIPLE_WIDTH`` (12)). The
sample is recovered when the feasible solutions agree; two different ones prove the block is not
injective at that :math:`y`; none means :math:`y` has no preimage; a rank-deficient pattern whose
equations :math:`y` satisfies means the block cannot certify that sample (its region may hold a
continuum of preimages, or only a boundary point). Example: :math:`W = [I; -I]`,
:math:`V = [I, -I]`, :math:`b = c = 0` is the identity, :math:`x = y`.

All arithmetic is in float64, whatever the model's dtype. The values handed to these inverses
usually come out of the inverses of later layers, with rounding errors: an entry with
:math:`|z_i| \le \tau = \sqrt{\varepsilon}\,\max_j |z_j|` counts as zero (inactive), and the
equalities and inequalities are checked to within :math:`\max(\tau, 64\,\varepsilon\,\kappa\,
\mathrm{scale})`, where :math:`\varepsilon` is the machine epsilon of the *input's* dtype and
:math:`\kappa` the condition number of the solved system: a value within that distance of the
image is accepted.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from invlib.compose import InverseLayer
from invlib.errors import UnrecoverableSamplesError
from invlib.validation import default_rcond

__all__ = ["ReLUPairInverse", "ReLUTripleInverse", "MAX_TRIPLE_WIDTH", "full_column_rank"]

#: Widest hidden layer :class:`ReLUTripleInverse` enumerates (:math:`2^{m}` activation patterns).
MAX_TRIPLE_WIDTH = 12

#: Safety factor on the rounding tolerances (units of the input dtype's epsilon).
_TOL_UNITS = 64.0


def full_column_rank(w: Tensor, rcond: float | None = None) -> bool:
    """Whether the ``m x n`` matrix ``w`` has rank ``n`` (singular values in float64)."""
    m, n = w.shape
    s = torch.linalg.svdvals(w.detach().to(torch.float64))
    if n == 0 or s.numel() < n or float(s[0]) == 0.0:
        return False
    cut = (rcond if rcond is not None else default_rcond(m, n, w.dtype)) * float(s[0])
    return bool(float(s[n - 1]) > cut)


def _listed(idx: Tensor, limit: int = 10) -> str:
    items = idx.tolist()
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{items[:limit]}{more}"


class ReLUPairInverse(InverseLayer):
    r"""Exact inverse of ``Linear(n, m)`` (:math:`m > n`, rank :math:`n`) followed by ``ReLU``, on
    the pair's image: :math:`x = W_A^{+}(z_A - b_A)` per sample (see the module docstring).

    Raises :class:`~invlib.errors.UnrecoverableSamplesError` (a :class:`~invlib.DomainError`)
    naming the samples whose active rows have rank :math:`< n`, and the samples that have no
    preimage (a negative entry, a residual or a violated inequality above rounding).

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    weight:
        :math:`W`, shape ``(m, n)`` with :math:`m > n` and rank :math:`n`: ``y`` ``(..., m)`` maps to
        ``x`` ``(..., n)``.
    bias:
        :math:`b`, shape ``(m,)``, or ``None``.
    rcond:
        Relative cutoff for rank decisions (``None``: ``invlib.validation.default_rcond``).
    """

    event_ndim = 1

    def __init__(self, path: str, layer: str, weight: Tensor, bias: Tensor | None,
                 rcond: float | None = None) -> None:
        super().__init__(path, layer)
        self.out_features, self.in_features = weight.shape
        w64 = weight.detach().to(torch.float64)
        b64 = (bias.detach().to(torch.float64) if bias is not None
               else torch.zeros(self.out_features, dtype=torch.float64, device=weight.device))
        # first buffer in the model's dtype: InverseModel checks y's dtype against it
        self.register_buffer("weight", weight.detach().clone())
        self.register_buffer("w64", w64.clone())
        self.register_buffer("b64", b64.clone())
        s_max = float(torch.linalg.svdvals(w64)[0])
        self.cutoff = (rcond if rcond is not None else
                       default_rcond(self.out_features, self.in_features, weight.dtype)) * s_max

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) < 1 or shape[-1] != self.out_features:
            raise self.shape_error(f"(..., {self.out_features}), the output shape of {self.where}", shape)
        return shape[:-1] + (self.in_features,)

    def forward(self, z: Tensor) -> Tensor:
        m, n = self.out_features, self.in_features
        lead = z.shape[:-1]
        z64 = z.reshape(-1, m).to(torch.float64)
        w, b = self.w64.to(torch.float64), self.b64.to(torch.float64)
        eps = torch.finfo(z.dtype).eps
        tau = math.sqrt(eps) * z64.abs().amax(dim=1, keepdim=True)
        negative = (z64 < -tau).any(dim=1)
        if bool(negative.any()):
            raise UnrecoverableSamplesError(
                f"the inverse of {self.where}: samples {_listed(torch.nonzero(negative).flatten())} "
                "have negative entries, which a ReLU never outputs: they have no preimage",
                torch.nonzero(negative).flatten().tolist())
        active = z64 > tau
        a = w.unsqueeze(0) * active.unsqueeze(-1)                   # (B, m, n): W_A, zero rows elsewhere
        s = torch.linalg.svdvals(a)                                 # (B, n)
        rank = (s > self.cutoff).sum(dim=1)
        short = rank < n
        retried = short
        if bool(short.any()):
            # entries in (0, tau] may be genuinely active: retry those samples with every z_i > 0
            loose = short.unsqueeze(1) & (z64 > 0)
            active = torch.where(short.unsqueeze(1), loose, active)
            a = w.unsqueeze(0) * active.unsqueeze(-1)
            s = torch.linalg.svdvals(a)
            rank = (s > self.cutoff).sum(dim=1)
            short = rank < n
        if bool(short.any()):
            idx = torch.nonzero(short).flatten()
            raise UnrecoverableSamplesError(
                f"the inverse of {self.where} cannot recover samples {_listed(idx)}: their active "
                f"rows (z_i > 0) of W have rank {int(rank[idx[0]])} < {n} (sample {int(idx[0])}), so "
                "they do not determine x (this pair is many-to-one there, or only the inactive "
                "rows' inequalities pin x down). Instead: invlib.optimize_inverse finds one "
                "preimage; a wider layer or LeakyReLU keeps every sample recoverable",
                idx.tolist())
        rhs = ((z64 - b) * active).unsqueeze(-1)                    # (B, m, 1)
        x = torch.linalg.lstsq(a, rhs).solution.squeeze(-1)         # (B, n), unique: rank n
        pre = x @ w.mT + b                                          # (B, m)
        kappa = (s[:, 0] / s[:, -1]).unsqueeze(1)
        scale = x.abs() @ w.abs().mT + b.abs() + z64.abs()
        tol = torch.maximum(_TOL_UNITS * eps * kappa * scale, tau)
        bad = ((active & ((pre - z64).abs() > tol)) | (~active & (pre > tol))).any(dim=1)
        if bool((bad & retried).any()):
            # rank < n on the clearly active rows, and counting the rounding-level entries as active
            # does not give a consistent x: those entries were zeros, so x is not determined
            idx = torch.nonzero(bad & retried).flatten()
            raise UnrecoverableSamplesError(
                f"the inverse of {self.where} cannot recover samples {_listed(idx)}: their clearly "
                f"active rows (z_i > {tau[idx[0]].item():.2g}) of W have rank < {n}, so they do not "
                "determine x (this pair is many-to-one there). Instead: invlib.optimize_inverse finds "
                "one preimage; a wider layer or LeakyReLU keeps every sample recoverable",
                idx.tolist())
        if bool(bad.any()):
            idx = torch.nonzero(bad).flatten()
            raise UnrecoverableSamplesError(
                f"the inverse of {self.where}: samples {_listed(idx)} have no preimage (not in the "
                "image of the pair): the x fixed by their active rows gives a positive "
                "pre-activation on a row where z is 0, or misses an active entry",
                idx.tolist())
        return x.to(z.dtype).reshape(lead + (n,))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", {self.out_features} -> {self.in_features}, range-aware"


class ReLUTripleInverse(InverseLayer):
    r"""Exact inverse of ``Linear(n, m) -> ReLU -> Linear(m, k)`` on its image, by enumerating the
    :math:`2^m` activation patterns (see the module docstring; :math:`m \le` ``MAX_TRIPLE_WIDTH`` (12)).

    Raises :class:`~invlib.errors.UnrecoverableSamplesError` naming the samples with no preimage,
    with two different preimages (the block is not injective there), or lying on the equations
    of a rank-deficient pattern (cannot be certified).

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    w1, b1:
        The first ``Linear(n, m)``: shapes ``(m, n)`` and ``(m,)`` (or ``None``), :math:`m \le 12`.
    w2, b2:
        The second ``Linear(m, k)``: shapes ``(k, m)`` and ``(k,)`` (or ``None``); ``y`` ``(..., k)``
        maps to ``x`` ``(..., n)``.
    rcond:
        Relative cutoff for rank decisions (``None``: ``invlib.validation.default_rcond``).
    """

    event_ndim = 1

    def __init__(self, path: str, layer: str, w1: Tensor, b1: Tensor | None, w2: Tensor,
                 b2: Tensor | None, rcond: float | None = None) -> None:
        super().__init__(path, layer)
        m, n = w1.shape
        k = w2.shape[0]
        if m > MAX_TRIPLE_WIDTH:
            raise ValueError(f"ReLUTripleInverse enumerates 2^m patterns; m = {m} > {MAX_TRIPLE_WIDTH}")
        self.in_features, self.hidden, self.out_features = n, m, k
        dev = w1.device
        f64 = torch.float64
        w = w1.detach().to(f64)
        b = b1.detach().to(f64) if b1 is not None else torch.zeros(m, dtype=f64, device=dev)
        v = w2.detach().to(f64)
        c = b2.detach().to(f64) if b2 is not None else torch.zeros(k, dtype=f64, device=dev)
        bits = torch.arange(2 ** m, device=dev).unsqueeze(1) >> torch.arange(m, device=dev)
        masks = (bits & 1).to(f64)                                  # (P, m)
        mats = (v.unsqueeze(0) * masks.unsqueeze(1)) @ w            # (P, k, n) = V diag(s) W
        offs = (masks * b) @ v.mT + c                               # (P, k)
        u, s, vh = torch.linalg.svd(mats, full_matrices=False)      # s: (P, min(k, n))
        s_max = float(s.max()) if s.numel() else 0.0
        cutoff = (rcond if rcond is not None else default_rcond(k, n, w1.dtype)) * max(s_max, 1e-300)
        rank = (s > cutoff).sum(dim=1)
        full = rank == n
        s_inv = torch.where(s > cutoff, 1.0 / torch.where(s > cutoff, s, torch.ones_like(s)),
                            torch.zeros_like(s))
        pinv = vh.mT @ (s_inv.unsqueeze(-1) * u.mT)                 # (P, n, k)
        kappa = torch.where(full, s[:, 0] / s[:, min(k, n) - 1].clamp_min(1e-300),
                            torch.full_like(s[:, 0], float("inf")))
        # orthogonal projector onto the complement of range(M_s) for the rank-deficient patterns
        basis = u * (s > cutoff).unsqueeze(1)                       # (P, k, r) columns kept
        proj = torch.eye(k, dtype=f64, device=dev) - basis @ basis.mT
        self.register_buffer("weight", w1.detach().clone())         # model dtype first (see pair)
        self.register_buffer("w64", w)
        self.register_buffer("b64", b)
        self.register_buffer("masks", masks[full].bool())
        self.register_buffer("pinv", pinv[full])
        self.register_buffer("mats", mats[full])
        self.register_buffer("offs", offs[full])
        self.register_buffer("kappa", kappa[full])
        self.register_buffer("def_proj", proj[~full])
        self.register_buffer("def_offs", offs[~full])

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if len(shape) < 1 or shape[-1] != self.out_features:
            raise self.shape_error(f"(..., {self.out_features}), the output shape of {self.where}", shape)
        return shape[:-1] + (self.in_features,)

    def _solve_chunk(self, y: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        r"""For a chunk ``y`` (B, k): (x of the best-fitting pattern, #feasible, disagree, deficient).

        Each full-rank pattern's solution gets a relative violation :math:`v_s` (of its sign
        constraints and, for :math:`k > n`, of its equations). ``y`` carries rounding errors of an
        unknown size, so the best fit :math:`v_{\min}` measures them: a pattern is feasible when
        :math:`v_s \le \max(64\,\varepsilon,\ 16\, v_{\min},\ 64\,\varepsilon_{64}\,\kappa_s)`
        (:math:`\varepsilon` of ``y``'s dtype; the last term is the float64 solve's own rounding),
        and there is no preimage when even :math:`v_{\min} > \sqrt{\varepsilon}`.
        """
        w, b = self.w64.to(torch.float64), self.b64.to(torch.float64)
        n_samples, n_full = y.shape[0], self.pinv.shape[0]
        if n_full == 0:
            x0 = y.new_zeros(n_samples, self.in_features)
            count = torch.zeros(n_samples, dtype=torch.long, device=y.device)
            disagree = torch.zeros(n_samples, dtype=torch.bool, device=y.device)
        else:
            rhs = y.unsqueeze(1) - self.offs.unsqueeze(0)                     # (B, F, k)
            x = torch.einsum("fnk,bfk->bfn", self.pinv, rhs)                  # (B, F, n)
            pre = x @ w.mT + b                                                # (B, F, m)
            scale_pre = 1 + x.abs() @ w.abs().mT + b.abs()
            wrong_sign = torch.where(self.masks.unsqueeze(0), (-pre).clamp_min(0), pre.clamp_min(0))
            res = torch.einsum("fkn,bfn->bfk", self.mats, x) - rhs            # (B, F, k)
            scale_res = 1 + torch.einsum("fkn,bfn->bfk", self.mats.abs(), x.abs()) + rhs.abs()
            viol = torch.maximum((wrong_sign / scale_pre).amax(dim=2),
                                 (res.abs() / scale_res).amax(dim=2))         # (B, F)
            v_min, best = viol.min(dim=1)
            eps64 = torch.finfo(torch.float64).eps
            limit = torch.maximum(_TOL_UNITS * eps64 * self.kappa.unsqueeze(0),
                                  torch.clamp(16 * v_min.unsqueeze(1), min=_TOL_UNITS * eps))
            feasible = (viol <= limit) & (v_min <= math.sqrt(eps)).unsqueeze(1)
            count = feasible.sum(dim=1)
            x0 = x[torch.arange(n_samples, device=x.device), best]            # (B, n)
            spread = ((x - x0.unsqueeze(1)).abs().amax(dim=2) * feasible).amax(dim=1)
            kmax = (self.kappa.unsqueeze(0) * feasible).amax(dim=1)
            disagree = spread > 8 * math.sqrt(eps) * kmax * (1 + x0.abs().amax(dim=1))
        if self.def_proj.shape[0]:
            r = y.unsqueeze(1) - self.def_offs.unsqueeze(0)                   # (B, D, k)
            out = torch.einsum("dkj,bdj->bdk", self.def_proj, r)
            tol = _TOL_UNITS * eps * (1 + r.abs().amax(dim=2, keepdim=True))
            deficient = (out.abs() <= tol).all(dim=2).any(dim=1)
        else:
            deficient = torch.zeros(n_samples, dtype=torch.bool, device=y.device)
        return x0, count, disagree, deficient

    def forward(self, y: Tensor) -> Tensor:
        k, n = self.out_features, self.in_features
        lead = y.shape[:-1]
        y64 = y.reshape(-1, k).to(torch.float64)
        eps = torch.finfo(y.dtype).eps
        per = max(1, 2_000_000 // max(1, self.pinv.shape[0] * max(self.hidden, k)))
        parts = [self._solve_chunk(y64[i:i + per], eps) for i in range(0, y64.shape[0], per)]
        if parts:
            x, count, disagree, deficient = (torch.cat(t) for t in zip(*parts))
        else:
            x = y64.new_zeros(0, n)
            count = disagree = deficient = y64.new_zeros(0, dtype=torch.bool)
        checks = [
            (deficient, "lie on the equations of an activation pattern whose matrix V diag(s) W is "
                        "rank deficient, so the block cannot certify a unique preimage for them"),
            (disagree, "have two different preimages: the block is not injective there"),
            (count == 0, "have no preimage (no activation pattern is consistent with them)"),
        ]
        for mask, what in checks:
            if bool(mask.any()):
                idx = torch.nonzero(mask).flatten()
                raise UnrecoverableSamplesError(
                    f"the inverse of {self.where}: samples {_listed(idx)} {what}. Instead: "
                    "invlib.optimize_inverse finds one preimage", idx.tolist())
        return x.to(y.dtype).reshape(lead + (n,))

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", {self.out_features} -> {self.hidden} -> {self.in_features}, "
                f"{self.pinv.shape[0]} full-rank patterns")
