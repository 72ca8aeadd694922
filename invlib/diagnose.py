r""":func:`diagnose`: a per-layer report of how much information each layer of a model keeps.

For each leaf layer :math:`f_l` (in forward order, nested ``nn.Sequential`` expanded) and its
input :math:`a_{l-1}` on the batch ``x``, the report gives the Jacobian
:math:`J_l = \partial f_l / \partial a \in \mathbb{R}^{m \times n}` at **one sample** (the first,
or ``sample=i``), its singular values :math:`\sigma_1 \ge \dots \ge \sigma_n` (padded with
:math:`n - m` exact zeros when the layer narrows, :math:`m < n`), the condition number
:math:`\kappa = \sigma_1/\sigma_n` (:math:`\infty` when the numerical rank is below :math:`n`),
the numerical rank :math:`r = \#\{\sigma_i > \mathrm{rtol}\cdot\sigma_1\}` and the dimensions
lost locally, :math:`n - r`: the directions of input space that the layer (to first order)
erases at that point. For ReLU-family layers it also gives the fraction of inactive units
(zero derivative) over the **whole batch**. A last report covers the whole model.

Training-mode random or batch-dependent layers (Dropout, BatchNorm, RReLU, i-ResNet blocks)
are diagnosed as in eval mode, on copies, so the model's state is never changed; their
reports say so in ``note``.
"""

from __future__ import annotations

import copy
import html
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from invlib.errors import InvalidInputError
from invlib.flows import InvertibleResidualBlock
from invlib.compose import iter_layers
from invlib.validation import check_finite, check_relative_tolerance, check_tensor, format_shape, where

__all__ = ["LayerReport", "Diagnosis", "diagnose", "RELU_FAMILY"]

#: Layers whose derivative is exactly zero on part of the input: their inactive fraction is reported.
RELU_FAMILY: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.Hardtanh, nn.Threshold, nn.Hardshrink,
    nn.Softshrink, nn.Hardsigmoid, nn.Hardswish,
)

_STATEFUL = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.RReLU,
             InvertibleResidualBlock)


@dataclass
class LayerReport:
    r"""The diagnosis of one layer (or, with ``path == ""`` and ``layer == "model"``, the model).

    Attributes
    ----------
    path, layer:
        ``named_modules`` path and class name.
    in_dim, out_dim:
        :math:`n` and :math:`m`, the numbers of entries of one sample's input and output.
    sv_min, sv_max:
        :math:`\sigma_n` and :math:`\sigma_1` of the Jacobian (``None`` if not computed).
    cond:
        :math:`\sigma_1/\sigma_n`; ``inf`` when the numerical rank is below :math:`n`.
    rank:
        Numerical rank, :math:`\#\{\sigma_i > \mathrm{rtol}\,\sigma_1\}`.
    inactive_fraction:
        Fraction of units with zero derivative over the batch (ReLU family only, else ``None``).
    dims_lost:
        :math:`n - \mathrm{rank}`.
    singular_values:
        The :math:`n` singular values, descending (1-D float64 tensor), or ``None``.
    note:
        Anything the numbers need to be read with (eval-mode substitution, skipped spectrum).
    """

    path: str
    layer: str
    in_dim: int
    out_dim: int
    sv_min: float | None
    sv_max: float | None
    cond: float | None
    rank: int | None
    inactive_fraction: float | None
    dims_lost: int | None
    singular_values: Tensor | None = field(default=None, repr=False)
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        """A plain dict (singular values as a list of floats)."""
        return {
            "path": self.path,
            "layer": self.layer,
            "in_dim": self.in_dim,
            "out_dim": self.out_dim,
            "sv_min": self.sv_min,
            "sv_max": self.sv_max,
            "cond": self.cond,
            "rank": self.rank,
            "inactive_fraction": self.inactive_fraction,
            "dims_lost": self.dims_lost,
            "singular_values": None if self.singular_values is None else self.singular_values.tolist(),
            "note": self.note,
        }


_COLUMNS = ("path", "layer", "in", "out", "sv_min", "sv_max", "cond", "rank", "lost", "inactive")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.3g}"
    return str(v)


def _row(r: LayerReport) -> list[str]:
    inactive = None if r.inactive_fraction is None else f"{100 * r.inactive_fraction:.1f}%"
    return [r.path or "-", r.layer, str(r.in_dim), str(r.out_dim), _fmt(r.sv_min), _fmt(r.sv_max),
            _fmt(r.cond), _fmt(r.rank), _fmt(r.dims_lost), inactive or "-"]


@dataclass
class Diagnosis:
    """The result of :func:`diagnose`: one :class:`LayerReport` per leaf layer plus the total.

    ``str(d)`` is an aligned plain-text table, ``d._repr_html_()`` an HTML table (notebooks),
    :meth:`plot` a matplotlib figure of the spectra, :meth:`to_records` a list of dicts.

    Attributes
    ----------
    layers:
        One :class:`LayerReport` per leaf layer, in forward order.
    total:
        The :class:`LayerReport` of the whole model (``path == ""``, ``layer == "model"``).
    sample:
        The index (along dim 0 of the ``x`` given to :func:`diagnose`) of the sample whose Jacobians
        were analysed.
    """

    layers: list[LayerReport]
    total: LayerReport
    sample: int = 0

    def _rows(self) -> list[list[str]]:
        return [_row(r) for r in self.layers] + [_row(self.total)]

    def __str__(self) -> str:
        rows = self._rows()
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
        right = {2, 3, 4, 5, 6, 7, 8, 9}

        def line(cells: list[str] | tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "  ".join("-" * w for w in widths)
        body = [line(_COLUMNS), rule] + [line(r) for r in rows[:-1]] + [rule, line(rows[-1])]
        notes = [f"{where(r.path, r.layer)}: {r.note}" for r in self.layers + [self.total] if r.note]
        foot = [f"Jacobian spectra at sample {self.sample}; inactive = zero-derivative units over the batch."]
        return "\n".join(body + foot + notes)

    def __repr__(self) -> str:
        return f"Diagnosis({len(self.layers)} layers, total rank {self.total.rank} of {self.total.in_dim})"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
        rows = self._rows()
        body = "".join(
            "<tr" + (' style="border-top: 2px solid"' if i == len(rows) - 1 else "") + ">"
            + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
            for i, r in enumerate(rows))
        notes = "".join(f"<li>{html.escape(where(r.path, r.layer))}: {html.escape(r.note)}</li>"
                        for r in self.layers + [self.total] if r.note)
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"<p>Jacobian spectra at sample {self.sample}.</p>"
                + (f"<ul>{notes}</ul>" if notes else ""))

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per layer, then the total (pandas-free: ``pd.DataFrame(d.to_records())`` works)."""
        return [r.to_record() for r in self.layers + [self.total]]

    def plot(self, ax: Any = None, *, include_total: bool = True):  # -> matplotlib.figure.Figure
        """Singular values of each layer's Jacobian, sorted, on a log y-axis; one line per layer.

        Exact zeros (lost dimensions) cannot be drawn on a log axis; the legend counts them.
        Returns the matplotlib ``Figure``.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4.5))
        else:
            fig = ax.figure
        reports = self.layers + ([self.total] if include_total else [])
        drawn = 0
        for r in reports:
            if r.singular_values is None:
                continue
            s = r.singular_values
            pos = s[s > 0]
            zeros = s.numel() - pos.numel()
            label = "model" if r is self.total else where(r.path, r.layer)
            if zeros:
                label += f" ({zeros} zero)"
            style = {"color": "black", "linestyle": "--", "linewidth": 2} if r is self.total else {}
            if pos.numel():
                ax.plot(range(1, pos.numel() + 1), pos.numpy(), marker=".", label=label, **style)
                drawn += 1
        ax.set_yscale("log")
        ax.set_xlabel("index i (singular values sorted, largest first)")
        ax.set_ylabel(r"singular value $\sigma_i$ of the Jacobian")
        ax.set_title(f"Jacobian spectrum per layer (sample {self.sample})")
        if drawn:
            ax.legend(fontsize="small")
        ax.grid(True, which="both", alpha=0.3)
        return fig


def _jacobian(fn, a0: Tensor) -> Tensor:
    """The Jacobian of ``fn`` at ``a0`` as an ``(out_dim, in_dim)`` matrix."""
    try:
        jac = torch.func.jacrev(fn)(a0)
    except Exception:  # noqa: BLE001 - layers that vmap cannot batch: fall back to a loop
        jac = torch.autograd.functional.jacobian(fn, a0, vectorize=False)
    return jac.reshape(-1, a0.numel())


def _spectrum(jac: Tensor, in_dim: int, out_dim: int, rtol: float | None,
              dtype: torch.dtype) -> tuple[Tensor, float, float, float, int]:
    s = torch.linalg.svdvals(jac.detach().to(device="cpu", dtype=torch.float64))
    if out_dim < in_dim:
        s = torch.cat([s, torch.zeros(in_dim - s.numel(), dtype=s.dtype)])
    s_max = float(s[0]) if s.numel() else 0.0
    tol = (rtol if rtol is not None else max(in_dim, out_dim) * torch.finfo(dtype).eps) * s_max
    rank = int((s > tol).sum()) if s_max > 0 else 0
    s_min = float(s[-1]) if s.numel() else 0.0
    cond = math.inf if rank < in_dim or s_min == 0 else s_max / s_min
    return s, s_min, s_max, cond, rank


def _report(path: str, layer: str, fn, a0: Tensor, out_dim: int, rtol: float | None,
            max_dim: int, inactive: float | None, note: str) -> LayerReport:
    in_dim = a0.numel()
    if max(in_dim, out_dim) > max_dim:
        extra = f"Jacobian {out_dim}x{in_dim} exceeds max_dim={max_dim}; spectrum not computed"
        return LayerReport(path, layer, in_dim, out_dim, None, None, None, None, inactive, None,
                           None, "; ".join(filter(None, [note, extra])))
    jac = _jacobian(fn, a0)
    s, s_min, s_max, cond, rank = _spectrum(jac, in_dim, out_dim, rtol, a0.dtype)
    return LayerReport(path, layer, in_dim, out_dim, s_min, s_max, cond, rank, inactive,
                       in_dim - rank, s, note)


def _inactive_counts(module: nn.Module, a: Tensor) -> tuple[int, int]:
    """(#entries with zero derivative, #entries) of an elementwise layer on the batch ``a``."""
    with torch.enable_grad():
        a_req = a.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(module(a_req).sum(), a_req)
    return int((grad == 0).sum()), grad.numel()


def diagnose(model: nn.Module, x: Tensor, *, rtol: float | None = None, sample: int = 0,
             max_dim: int = 2048) -> Diagnosis:
    r"""Per-layer Jacobian spectra, ranks, dead units and lost dimensions of ``model`` at ``x``.

    Parameters
    ----------
    model:
        An ``nn.Sequential`` (nested ones expanded) or any module (then a single layer).
    x:
        A batch of inputs, batch dim first.
    rtol:
        Relative tolerance of the numerical rank: :math:`\sigma_i > \mathrm{rtol}\cdot\sigma_1`
        counts. Default :math:`\max(m, n)\,\varepsilon` of ``x``'s dtype.
    sample:
        The index of the sample whose Jacobians are analysed (spectra are per point; the
        inactive fractions use the whole batch).
    max_dim:
        Skip the spectrum (fields ``None``, with a note) of layers whose input or output has
        more entries than this: an SVD of an :math:`n \times n` Jacobian costs :math:`O(n^3)`.

    Returns
    -------
    Diagnosis
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"diagnose expects a torch.nn.Module, got {type(model).__name__}")
    x = check_tensor(x, "x")
    rtol = check_relative_tolerance(rtol, "rtol")
    if x.ndim < 2:
        raise InvalidInputError(
            f"x must be a batch with the batch dim first, got shape {format_shape(x.shape)}; "
            "for a single sample add the batch dim: x.unsqueeze(0)")
    if x.shape[0] < 1:
        raise InvalidInputError(
            f"x must hold at least one sample (batch dim first), got shape {format_shape(x.shape)}")
    if not -x.shape[0] <= sample < x.shape[0]:
        raise InvalidInputError(f"sample={sample} is out of range for a batch of {x.shape[0]}")
    check_finite(x, "x")
    x = x.detach()

    effective: list[tuple[str, nn.Module, str]] = []
    for path, mod in iter_layers(model):
        note = ""
        if isinstance(mod, _STATEFUL) and mod.training:
            mod = copy.deepcopy(mod).eval()
            note = "in training mode; diagnosed as in eval mode"
        effective.append((path, mod, note))

    reports: list[LayerReport] = []
    a = x
    total_inactive = [0, 0]
    for path, mod, note in effective:
        layer = type(mod).__name__
        try:
            with torch.no_grad():
                out = mod(a)
        except Exception as e:  # noqa: BLE001 - turn a shape error deep inside into a named one
            raise InvalidInputError(
                f"layer {where(path, layer)} failed on an input of shape {format_shape(a.shape)}: {e}") from e
        if not isinstance(out, Tensor):
            kind = type(out).__name__
            raise InvalidInputError(
                f"layer {where(path, layer)} returns a {kind}, not a tensor (recurrent layers such as LSTM and "
                f"GRU return (output, state)); diagnose needs tensor -> tensor layers: wrap it, e.g. "
                f"nn.Sequential(..., TakeFirst(lstm), ...) with a module whose forward returns lstm(x)[0], "
                f"then diagnose that")
        inactive = None
        if isinstance(mod, RELU_FAMILY):
            n_zero, n_all = _inactive_counts(mod, a)
            inactive = n_zero / max(n_all, 1)
            total_inactive[0] += n_zero
            total_inactive[1] += n_all
        a0 = a[sample]

        def fn(v: Tensor, mod: nn.Module = mod) -> Tensor:
            return mod(v.unsqueeze(0)).squeeze(0)

        reports.append(_report(path, layer, fn, a0, out[sample].numel(), rtol, max_dim, inactive, note))
        a = out

    def whole(v: Tensor) -> Tensor:
        h = v.unsqueeze(0)
        for _, m, _ in effective:
            h = m(h)
        return h.squeeze(0)

    total_frac = total_inactive[0] / total_inactive[1] if total_inactive[1] else None
    total = _report("", "model", whole, x[sample], a[sample].numel(), rtol, max_dim, total_frac, "")
    return Diagnosis(reports, total, sample)
