r"""The inverse of a chain of layers, and the base class of every per-layer inverse.

For a model :math:`f = f_L \circ \dots \circ f_1`, the inverse is

.. math:: f^{-1} = f_1^{-1} \circ \dots \circ f_L^{-1},

and, by the chain rule, the log-determinant of its Jacobian at :math:`y` is

.. math:: \log\left|\det \frac{\partial f^{-1}}{\partial y}\right|
          = -\sum_{l=1}^{L} \log\left|\det J_{f_l}(x_{l-1})\right|,
   \qquad x_l = f_l(x_{l-1}),\ x_L = y.

:class:`InverseModel` holds the :math:`f_l^{-1}` in that (reversed) order, validates ``y`` once
(type, dtype, device, shape, finiteness) before any arithmetic, and checks the result for
NaN/inf, naming the first layer that produced them.

**The log-determinant convention** (the one of ``torch.distributions.Transform`` and zuko),
shared by every invlib layer that offers a log-determinant -- the per-layer inverses here and the
invertible-by-design modules of :mod:`invlib.flows` and :mod:`invlib.reversible`:

``log_abs_det_jacobian(x, y)`` returns :math:`\log\left|\det \frac{\partial f}{\partial x}(x)\right|`
for :math:`y = f(x)`:

* **which side:** ``x`` is always the input of the *forward* map :math:`f` and ``y = f(x)`` its
  output, whichever direction the object itself computes (an :class:`InverseLayer` maps ``y`` to
  ``x``, a coupling maps ``x`` to ``y``); both are passed, and a layer uses whichever is cheaper;
* **sign:** the forward map's log-determinant; the inverse's is its negative,
  :math:`\log|\det \partial f^{-1}/\partial y| = -\log|\det \partial f/\partial x|`
  (what :meth:`InverseModel.inverse_and_log_abs_det` returns);
* **shape:** summed over the event dims, one value per sample: ``(batch,)`` for the per-layer
  inverses (the event is every dim but dim 0) and ``x.shape[:-1]`` for the row-wise flows (the
  event is the last dim), i.e. ``(batch,)`` for a ``(batch, D)`` input.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invlib.errors import InvalidInputError, NonFiniteResultError, NotInvertibleError, StaleInverseWarning
from invlib.validation import all_finite, check_dtype_device, check_finite, check_tensor, format_shape, where

__all__ = ["BuildOptions", "InverseLayer", "IdentityInverse", "InverseModel", "iter_layers"]


@dataclass(frozen=True)
class BuildOptions:
    """The options of :func:`invlib.inverse`, handed to every per-layer builder.

    Attributes
    ----------
    least_squares:
        Non-square or rank-deficient linear parts get the minimum-norm least-squares inverse.
    clamp:
        Activation inverses clamp ``y`` just inside their open range (with a warning).
    rcond:
        Relative singular-value cutoff for rank decisions and pseudo-inverses; ``None`` for
        :func:`invlib.validation.default_rcond`.
    solver:
        ``"explicit"`` (precomputed inverse matrix, one GEMM per call) or ``"lu"`` (cached LU
        factors, two triangular solves per call) for square linear layers.
    """

    least_squares: bool = False
    clamp: bool = False
    rcond: float | None = None
    solver: str = "explicit"


class InverseLayer(nn.Module):
    r"""The inverse :math:`f_l^{-1}` of one forward layer :math:`f_l`.

    Subclasses implement :meth:`forward` (``y -> x``) and, where they can, :meth:`check_shape`
    (validate the shape of ``y`` and return the shape of ``x`` without touching the data) and
    :meth:`log_abs_det_jacobian` (:math:`\log|\det J_{f_l}(x)|` per sample, see the module's
    convention).

    Attributes
    ----------
    path:
        The forward layer's name in ``model.named_modules()`` (``"2.1"``); ``""`` for the model.
    layer:
        The forward layer's class name (``"Linear"``).
    event_ndim:
        How many trailing dims of ``y`` one sample occupies, where the layer fixes it (1 for ``Linear``,
        :math:`N + 1` for ``ConvNd``); 0 for layers that always take dim 0 as the batch (reshapes,
        batch norm); ``None`` (the default) for elementwise layers, which take any shape.
        :meth:`InverseModel.inverse_and_log_abs_det` reads a ``y`` with that many dims as one unbatched sample.
    """

    event_ndim: int | None = None

    def __init__(self, path: str, layer: str) -> None:
        super().__init__()
        self.path = path
        self.layer = layer
        #: check the data (ranges, pivots...) before inverting; see :attr:`InverseModel.validate`
        self.validate = True

    @property
    def where(self) -> str:
        """``"path: Layer"``, the way every message names this layer."""
        return where(self.path, self.layer)

    def check_shape(self, shape: torch.Size) -> torch.Size:
        """Validate the shape of ``y`` and return the shape of ``x``; the default keeps the shape."""
        return shape

    def shape_error(self, expected: str, got: Sequence[int]) -> InvalidInputError:
        """The :class:`InvalidInputError` for a ``y`` of the wrong shape, saying expected vs got."""
        return InvalidInputError(
            f"wrong shape at the inverse of {self.where}: expected {expected}, got {format_shape(got)}"
        )

    def channels_first_shape(self, shape: torch.Size, c_out: int, c_in: int, n_spatial: int) -> torch.Size:
        """Check ``y`` is ``(N, c_out, *spatial)`` with ``n_spatial`` spatial dims (or unbatched
        ``(c_out, *spatial)``, as torch's convolutions accept); ``x`` is ``(N, c_in, *spatial)``
        (or ``(c_in, *spatial)``)."""
        if len(shape) == n_spatial + 1 and shape[0] == c_out:
            return torch.Size((c_in,) + tuple(shape[1:]))
        if len(shape) != n_spatial + 2 or shape[1] != c_out:
            spatial = ", ".join(["..."] * n_spatial)
            raise self.shape_error(f"(N, {c_out}, {spatial}) ({c_out} channels)", shape)
        return torch.Size((shape[0], c_in) + tuple(shape[2:]))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        r""":math:`\log|\det J_{f_l}(x)|` of the *forward* layer at its input ``x`` (``y = f_l(x)`` is
        its output, the inverse's input), shape ``(batch,)``: one value per sample (dim 0).
        See the convention in :mod:`invlib.compose`."""
        raise NotInvertibleError(
            self.path, self.layer, "log|det J| is not defined for this layer's inverse (its Jacobian is not "
            "square, e.g. a widening layer inverted on its image, or the inverse is only a least-squares one)",
            "use square, exactly invertible layers (or couplings) where a density is needed")

    def extra_repr(self) -> str:
        return f"path={self.path!r}, layer={self.layer}"


_INVLIB_DIR = os.path.dirname(os.path.abspath(__file__))
_TORCH_NN_DIR = os.path.dirname(os.path.abspath(nn.Module.__call__.__code__.co_filename))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside invlib and ``torch.nn``'s module machinery.

    A warning then names the user's line (``inv(y)``), and Python's default once-per-location
    filter shows it for every such line, not once per session for invlib's own line.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_INVLIB_DIR + os.sep) or path.startswith(_TORCH_NN_DIR + os.sep)):
            return level
        frame = frame.f_back
        level += 1
    return level


def unwrap_compiled(model: nn.Module) -> nn.Module:
    """The module ``torch.compile(module)`` wraps (its ``_orig_mod``), else ``model`` itself.

    A compiled module computes the same map with the same parameters, so it is inverted and
    diagnosed through the original one. Detected by name, so ``torch._dynamo`` is never imported.
    """
    while type(model).__name__ == "OptimizedModule" and isinstance(getattr(model, "_orig_mod", None), nn.Module):
        model = model._orig_mod
    return model


def iter_layers(model: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The leaf layers of ``model`` in forward order, with their ``named_modules`` paths.

    ``nn.Sequential`` containers (nested ones included) are expanded; a ``torch.compile``'d
    module stands for the module it wraps; every other module is a leaf. A model that is not a
    ``Sequential`` is its own single leaf, with path ``""``.
    """
    model = unwrap_compiled(model)
    if isinstance(model, nn.Sequential):
        for name, child in model._modules.items():
            if child is None:
                continue
            path = f"{prefix}.{name}" if prefix else name
            yield from iter_layers(child, path)
    else:
        yield prefix, model


def per_sample_sum(t: Tensor) -> Tensor:
    """Sum every dimension but the first: elementwise log-derivatives -> one log-det per sample."""
    if t.ndim <= 1:
        return t
    return t.reshape(t.shape[0], -1).sum(dim=1)


def constant_per_sample(value: Tensor | float, y: Tensor, repeats: int = 1) -> Tensor:
    """``value * repeats`` for every sample of ``y`` (dim 0): the log-det of a linear layer."""
    n = y.shape[0] if y.ndim > 0 else 1
    v = torch.as_tensor(value, dtype=y.dtype, device=y.device) * repeats
    return v.expand(n).clone()


class IdentityInverse(InverseLayer):
    r"""The inverse of a layer that is the identity map :math:`x = y` (``Identity``, eval ``Dropout``).

    :math:`\log|\det J| = 0`.

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    """

    def forward(self, y: Tensor) -> Tensor:
        return y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.zeros(y.shape[0] if y.ndim else 1, dtype=y.dtype, device=y.device)


def _identity(model: nn.Module) -> list[tuple]:
    """``(name, id, storage address, version)`` of every parameter and buffer: cheap, and changes with
    any in-place change, ``weight.data = ...`` or a copy of the model -- but also when nothing changed."""
    out = []
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        try:
            version = t._version
        except RuntimeError:  # inference tensors have no version counter
            version = -1
        out.append((name, id(t), t.data_ptr(), version))
    return out


def _content(model: nn.Module) -> list[tuple]:
    """A fingerprint of every parameter's and buffer's values: shape, dtype, sum, sum of squares and up to 64
    evenly spaced entries (in float64). Equal for a deep copy or an unpickled copy; different after training."""
    out = []
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            flat = t.detach().reshape(-1)
            if flat.is_floating_point() or flat.is_complex():
                flat = flat.to(torch.float64) if not flat.is_complex() else torch.view_as_real(flat).reshape(-1)
            else:
                flat = flat.to(torch.float64)
            step = max(1, flat.numel() // 64)
            probe = torch.cat([flat.sum().reshape(1), flat.pow(2).sum().reshape(1), flat[::step][:64]])
            out.append((name, tuple(t.shape), str(t.dtype), tuple(probe.cpu().tolist())))
    return out


class InverseModel(nn.Module):
    r"""The exact inverse :math:`x = f^{-1}(y)` of a model :math:`f`, built by :func:`invlib.inverse`.

    Calling it on ``y`` runs the per-layer inverses :math:`f_L^{-1}, \dots, f_1^{-1}` (in
    :attr:`layers`, already in that order). Before any arithmetic it checks that ``y`` is a
    finite floating-point tensor on the weights' dtype and device and of a shape the last layer
    can have produced; it raises :class:`~invlib.InvalidInputError` otherwise.

    **A snapshot.** The factorizations (inverse matrices, FFTs of kernels, copies of coupling
    nets) are computed from the model's weights *when* :func:`invlib.inverse` *is called*, once,
    and reused on every call. They do not follow later changes to the model: after training
    further, call :func:`invlib.inverse` again. If the model's weights change after the snapshot,
    calling the inverse emits a :class:`~invlib.errors.StaleInverseWarning` (once).

    Attributes
    ----------
    model:
        The forward model (a reference, not a copy and not a registered submodule: moving or
        converting the inverse does not touch it).
    layers:
        The per-layer inverses, in inverse order (the last forward layer first).
    """

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module]) -> None:
        # ``layers`` are InverseLayer instances (annotated as nn.Module for the API docs)
        super().__init__()
        self.__dict__["model"] = model  # a reference only; see the class docstring
        self.layers = nn.ModuleList(layers)
        self._ident = _identity(model)
        self._content = _content(model)
        self._warned_stale = False
        self._validate_inputs = True
        self._ref: tuple[torch.dtype | None, torch.device | None] | None = None

    # -- bookkeeping -----------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):  # noqa: ANN001 - nn.Module's signature
        out = super()._apply(fn, recurse)
        self._ref = None
        return out

    def _reference(self) -> tuple[torch.dtype | None, torch.device | None]:
        """The dtype and device of the inverse's weights (``None, None`` when it has none)."""
        if self._ref is None:
            ref: tuple[torch.dtype | None, torch.device | None] = (None, None)
            for t in list(self.layers.parameters()) + list(self.layers.buffers()):
                if torch.is_floating_point(t):
                    ref = (t.dtype, t.device)
                    break
            self._ref = ref
        return self._ref

    @property
    def validate(self) -> bool:
        """Whether calls check ``y`` (type, dtype, device, shape, finiteness, each activation's range) and the
        weights' staleness first. ``False`` skips every check that reads data on the host, so the inverse
        composes with ``torch.func.vmap``, ``torch.compile(fullgraph=True)`` and ``torch.export``; bad
        input then gives NaN/inf or a torch error instead of a typed one. Set it with
        ``invlib.inverse(model, validate=False)`` or by assigning this attribute."""
        return self._validate_inputs

    @validate.setter
    def validate(self, value: bool) -> None:
        self._validate_inputs = bool(value)
        for layer in self.layers:
            layer.validate = bool(value)

    def _check_stale(self) -> None:
        if self._warned_stale:
            return
        ident = _identity(self.model)
        if ident == self._ident:
            return
        # something moved (a copy, .data = ..., an optimizer step): compare the values themselves
        if _content(self.model) == self._content:
            self._ident = ident
            return
        self._warned_stale = True
        warnings.warn(
            "the model's weights changed after invlib.inverse(model) built this inverse; "
            "it still inverts the old weights: call invlib.inverse(model) again",
            StaleInverseWarning,
            stacklevel=_caller_stacklevel(),
        )

    def expected_input_shape(self, y_shape: Sequence[int]) -> torch.Size:
        """Run only the shape checks of every layer on ``y_shape``; return the shape of ``x``."""
        shape = torch.Size(y_shape)
        for layer in self.layers:
            shape = layer.check_shape(shape)
        return shape

    def _validate(self, y: object) -> Tensor:
        y = check_tensor(y)
        dtype, device = self._reference()
        check_dtype_device(y, dtype, device)
        self.expected_input_shape(y.shape)
        check_finite(y)
        self._check_stale()
        return y

    def _nonfinite_error(self, y: Tensor) -> NonFiniteResultError:
        """Re-run layer by layer to name the first layer whose inverse left NaN/inf."""
        h = y
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for layer in self.layers:
                h_new = layer(h)
                if not all_finite(h_new):
                    bad = int((~torch.isfinite(h_new)).sum())
                    return NonFiniteResultError(
                        f"the inverse of {layer.where} produced {bad} non-finite entries (of "
                        f"{h_new.numel()}) from finite inputs: the preimage is too large for "
                        f"{h_new.dtype} (a badly conditioned layer, or y within rounding of an "
                        "activation's bound); try float64, or invlib.diagnose(model, x) to see the "
                        "conditioning"
                    )
                h = h_new
        return NonFiniteResultError("the inverse produced non-finite entries from finite inputs")

    # -- the map ---------------------------------------------------------------------------------
    def forward(self, y: Tensor) -> Tensor:
        r""":math:`x = f^{-1}(y)`; raises a typed error instead of returning NaN or inf (see :attr:`validate`)."""
        if not self._validate_inputs:
            x = y
            for layer in self.layers:
                x = layer(x)
            return x
        y = self._validate(y)
        x = y
        for layer in self.layers:
            x = layer(x)
        if not all_finite(x):
            raise self._nonfinite_error(y)
        return x

    def inverse_and_log_abs_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(x, log|det ∂x/∂y|)``: the preimage and the log-determinant of the inverse's Jacobian.

        .. math:: \log\left|\det \tfrac{\partial f^{-1}}{\partial y}\right|
                  = -\sum_l \log|\det J_{f_l}(x_{l-1})|,

        one value per sample (dim 0 of ``y``), or a scalar for one unbatched sample (``y`` of shape
        ``(D,)`` for an MLP, ``(C, H, W)`` for a 2-d convolution: see ``invlib.compose.InverseLayer.event_ndim``).
        Every layer must be square (no least-squares parts); the change-of-variables formula
        :math:`\log p_Y(y) = \log p_X(x) + \log|\det \partial x/\partial y|` then gives the density of ``y``.
        """
        if isinstance(y, Tensor) and y.ndim and y.ndim == self._event_ndim():
            x, logdet = self.inverse_and_log_abs_det(y.unsqueeze(0))
            return x.squeeze(0), logdet.squeeze(0)
        y = self._validate(y)
        x = y
        logdet = torch.zeros(y.shape[0] if y.ndim else 1, dtype=y.dtype, device=y.device)
        for layer in self.layers:
            x_new = layer(x)
            logdet = logdet - layer.log_abs_det_jacobian(x_new, x)
            x = x_new
        if not all_finite(x):
            raise self._nonfinite_error(y)
        return x, logdet

    def _event_ndim(self) -> int | None:
        """The dims of one sample of ``y``: the first layer (in inverse order) that fixes it decides."""
        return next((layer.event_ndim for layer in self.layers if layer.event_ndim is not None), None)

    def extra_repr(self) -> str:
        return f"model={type(self.model).__name__}, {len(self.layers)} layer inverses"
