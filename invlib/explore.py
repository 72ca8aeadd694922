"""Interactive explorations for the book, with a static rendering where no kernel runs.

A chapter calls :func:`explore` with a plotting function and its controls. In a live Jupyter kernel
this shows ipywidgets controls that re-run the function and redraw. When the book is built
(``make book`` sets ``INVLIB_STATIC_WIDGETS=1``) or ipywidgets is missing, it instead draws the same
plot for a few chosen settings side by side, so the HTML page shows results and no control that
does nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt

__all__ = ["explore", "static_mode"]

STATIC_ENV = "INVLIB_STATIC_WIDGETS"


def static_mode() -> bool:
    """True when explorations must render statically (book build, or no ipywidgets)."""
    if os.environ.get(STATIC_ENV, "") not in ("", "0"):
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return True
    return False


def _default(control: Any) -> Any:
    """The initial value ipywidgets would pick for an abbreviation (list -> first, (lo, hi[, step]) -> middle)."""
    if isinstance(control, tuple) and 2 <= len(control) <= 3 and all(isinstance(v, (int, float)) for v in control):
        lo, hi = control[0], control[1]
        mid = (lo + hi) / 2
        return type(lo)(mid) if isinstance(lo, int) and isinstance(hi, int) else mid
    if isinstance(control, (list, tuple)) and control:
        first = control[0]
        return first[1] if isinstance(first, tuple) and len(first) == 2 else first
    if hasattr(control, "value"):
        return control.value
    return control


def explore(
    plot: Callable[..., Any],
    *,
    static: dict[str, Sequence[Any]],
    figsize: tuple[float, float] = (4.2, 3.2),
    max_cols: int = 4,
    title: str | None = None,
    **controls: Any,
) -> None:
    """Show ``plot`` with a control per keyword, or statically for the settings in ``static``.

    Parameters
    ----------
    plot:
        ``plot(ax, **params)`` draws into the matplotlib axes ``ax`` for one setting of the parameters.
    static:
        The settings to draw when rendering statically: ``{name: [value, ...]}``. One panel per value of each
        listed parameter (the other parameters at their initial values); list one parameter for a row
        of panels, or several for the union of their sweeps.
    figsize:
        Size of one panel, in inches.
    controls:
        ipywidgets ``interact`` abbreviations: ``(lo, hi, step)`` for a slider, a list for a dropdown,
        or a widget. Every parameter of ``plot`` except ``ax`` needs one.
    """
    unknown = set(static) - set(controls)
    if unknown:
        raise ValueError(f"static settings name parameters without a control: {sorted(unknown)}")
    defaults = {name: _default(c) for name, c in controls.items()}

    if not static_mode():
        import ipywidgets

        def redraw(**params: Any) -> None:
            fig, ax = plt.subplots(figsize=(figsize[0] * 1.5, figsize[1] * 1.5))
            plot(ax, **params)
            if title:
                fig.suptitle(title)
            fig.tight_layout()
            plt.show()

        ipywidgets.interact(redraw, **controls)
        return

    settings = [dict(defaults, **{name: v}) for name, values in static.items() for v in values]
    n = len(settings)
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(figsize[0] * cols, figsize[1] * rows), squeeze=False)
    for ax, params in zip(axes.flat, settings):
        plot(ax, **params)
        swept = ", ".join(f"{k} = {params[k]:.3g}" if isinstance(params[k], float) else f"{k} = {params[k]}"
                          for k in static)
        ax.set_title(f"{ax.get_title()}\n({swept})" if ax.get_title() else swept, fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
