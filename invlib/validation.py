"""Input checks shared by the inverse layers: every bad input becomes a typed error with a message.

Nothing here computes an inverse; these helpers only decide whether a value may be handed to one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from invlib.errors import InvalidInputError

__all__ = [
    "where",
    "check_tensor",
    "check_finite",
    "all_finite",
    "check_dtype_device",
    "format_shape",
    "default_rcond",
    "check_relative_tolerance",
    "check_module_weights",
    "check_flag",
    "PRECISION_LIMIT",
]

#: the estimated relative error in ``x`` above which the exact inverses warn (:class:`invlib.PrecisionWarning`)
PRECISION_LIMIT = 1e-3


def where(path: str, layer: str) -> str:
    """The way every message names a layer: ``"2.1: ReLU"``, or just ``"ReLU"`` for the model itself."""
    return f"{path}: {layer}" if path else layer


def format_shape(shape: Sequence[int | str]) -> str:
    """``(8, 16)`` for a full shape; ``(..., 16)`` when the leading entry is the string ``"..."``."""
    parts = [str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_tensor(y: object, name: str = "y") -> torch.Tensor:
    """Raise :class:`InvalidInputError` unless ``y`` is a floating-point tensor."""
    if not isinstance(y, torch.Tensor):
        raise InvalidInputError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if not torch.is_floating_point(y):
        raise InvalidInputError(
            f"{name} has dtype {y.dtype}; invlib needs a floating-point tensor here "
            f"(float32 or float64), e.g. {name}.float()"
        )
    if y.device.type == "meta":
        raise InvalidInputError(
            f"{name} is on the meta device: it has a shape but no values. Create it on a real "
            f"device (cpu or cuda), e.g. {name}.to_empty(device='cpu') filled with data"
        )
    return y


def check_finite(y: torch.Tensor, name: str = "y") -> None:
    """Raise :class:`InvalidInputError` if ``y`` holds NaN or inf entries, saying how many of each.

    One pass over ``y`` in the common (all finite) case; the counts are only taken on failure.
    """
    if all_finite(y):
        return
    n_nan = int(torch.isnan(y).sum())
    n_inf = int(torch.isinf(y).sum())
    raise InvalidInputError(
        f"{name} contains {n_nan} NaN and {n_inf} inf entries (of {y.numel()}); "
        "an inverse is only defined for finite values: find where they came from "
        f"(torch.isfinite({name})) and drop or replace them"
    )


def all_finite(y: torch.Tensor) -> bool:
    """Whether every entry of ``y`` is finite.

    Uses ``torch.aminmax`` (NaN propagates to both results, an inf shows up as the min or max):
    one vectorized reduction, several times faster on CPU than ``torch.isfinite(y).all()``.
    """
    if y.numel() == 0:
        return True
    lo, hi = torch.aminmax(y.detach())
    return math.isfinite(float(lo)) and math.isfinite(float(hi))


def check_dtype_device(y: torch.Tensor, dtype: torch.dtype | None, device: torch.device | None,
                       name: str = "y") -> None:
    """Raise :class:`InvalidInputError` when ``y``'s dtype or device differs from the weights'."""
    if dtype is not None and y.dtype != dtype:
        raise InvalidInputError(
            f"{name} has dtype {y.dtype} but the inverse's weights are {dtype}; "
            f"convert one of them: {name}.to({dtype}) or inv.to({y.dtype})"
        )
    if device is not None and y.device != device:
        raise InvalidInputError(
            f"{name} is on device {y.device} but the inverse's weights are on {device}; "
            f"move one of them: {name}.to('{device}') or inv.to('{y.device}')"
        )


def default_rcond(m: int, n: int, dtype: torch.dtype) -> float:
    r"""The relative singular-value cutoff used for rank decisions: :math:`\max(m, n)\,\varepsilon`.

    A singular value :math:`\sigma_i \le \mathrm{rcond}\cdot\sigma_{\max}` is treated as zero, the
    convention of ``numpy.linalg.matrix_rank``: below it, the inverse's rounding error
    :math:`\approx \varepsilon\,\sigma_{\max}/\sigma_i` exceeds one.
    """
    return max(m, n, 1) * torch.finfo(dtype).eps


def check_relative_tolerance(value: object, name: str) -> float | None:
    r"""``None`` or ``value`` as a float in :math:`[0, 1)`; :class:`InvalidInputError` otherwise.

    For relative singular-value cutoffs (``rcond``, ``rtol``): a cutoff :math:`\ge 1` (or NaN)
    would call every singular value zero, a negative one none.
    """
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and 0.0 <= value < 1.0
    if not ok:
        raise InvalidInputError(
            f"{name} must be None (the default, max(m, n) * eps of the dtype) or a number in [0, 1), "
            f"got {value!r}"
        )
    return value


def check_flag(value: object, name: str) -> bool:
    """``value`` if it is a bool; :class:`InvalidInputError` otherwise (``clamp="no"`` is truthy: it would
    switch the option on)."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def check_module_weights(model: torch.nn.Module) -> None:
    """Raise :class:`InvalidInputError` if a parameter or buffer of ``model`` has no usable values.

    A tensor on the meta device (a model built with ``device='meta'`` and never loaded) or a
    floating-point one with NaN/inf entries is named by its ``named_parameters`` path; so are two
    floating-point parameters of different dtypes or devices (the model's own forward would fail).
    """
    first: tuple[str, torch.Tensor] | None = None
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            if kind == "parameter" and t.is_floating_point():
                if first is None:
                    first = (name, t)
                elif (t.dtype, t.device) != (first[1].dtype, first[1].device):
                    what = "dtype" if t.dtype != first[1].dtype else "device"
                    a = first[1].dtype if what == "dtype" else first[1].device
                    b = t.dtype if what == "dtype" else t.device
                    fix = "model.double() or model.float()" if what == "dtype" else "model.to(device)"
                    raise InvalidInputError(
                        f"the model's parameters differ in {what}: '{first[0]}' is {a} but '{name}' is {b}, so "
                        f"the model cannot run as it is; convert it to one {what} first, e.g. {fix}"
                    )
            if t.device.type == "meta":
                raise InvalidInputError(
                    f"the model's {kind} '{name}' is on the meta device: it has a shape but no values, "
                    "so there is nothing to invert; materialize and load the weights first, e.g. "
                    "model.to_empty(device='cpu') then model.load_state_dict(...)"
                )
            if t.is_floating_point() and not all_finite(t):
                bad = int((~torch.isfinite(t.detach())).sum())
                raise InvalidInputError(
                    f"the model's {kind} '{name}' has {bad} NaN or inf entries (of {t.numel()}); "
                    "a model with non-finite weights has no inverse: find where training diverged "
                    "(or reload a checkpoint) first"
                )
