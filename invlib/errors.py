"""Typed errors: each says what went wrong and what to do instead.

The hierarchy is small on purpose:

* :class:`NotInvertibleError` -- the *model* cannot be inverted exactly (a layer is
  many-to-one, narrowing, rank deficient, random, ...). Raised by :func:`invlib.inverse`.
  Its subclass :class:`CannotCertifyError` says less: a layer is many-to-one on its whole input
  space, but the layers before it never produce some of those inputs, so a layer-by-layer check
  cannot decide whether the *model* is invertible.
* :class:`DomainError` -- the *value* handed to an inverse lies outside the range of the
  forward map (``|y| >= 1`` for tanh, ``y <= 0`` for softplus, ...).
* :class:`InvalidInputError` -- the value is malformed: NaN/inf, wrong shape, dtype or device.

All three subclass :class:`ValueError`, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "NotInvertibleError",
    "CannotCertifyError",
    "DomainError",
    "UnrecoverableSamplesError",
    "InvalidInputError",
    "UnsupportedLayerError",
    "NonFiniteResultError",
    "SaturationWarning",
    "StaleInverseWarning",
    "ConvergenceWarning",
    "TrainingModeWarning",
]


class NotInvertibleError(ValueError):
    """A layer of the model has no exact inverse.

    Attributes
    ----------
    path:
        Where the layer sits in the model, in ``named_modules`` notation (``"2.1"``);
        ``""`` for the model itself.
    layer:
        The layer's class name, e.g. ``"ReLU"``.
    reason:
        Why it is not invertible (rank found vs needed, many-to-one activation, ...).
    suggestion:
        What to do instead (pseudo-inverse, :func:`invlib.optimize_inverse`, a decoder, ...).
    """

    def __init__(self, path: str, layer: str, reason: str, suggestion: str) -> None:
        self.path = path
        self.layer = layer
        self.reason = reason
        self.suggestion = suggestion
        where = f"{path}: {layer}" if path else layer
        super().__init__(f"{where} is not invertible: {reason}. Instead: {suggestion}.")


class CannotCertifyError(NotInvertibleError):
    r"""A layer is not injective on its whole input space, but it may be injective on the inputs the
    layers before it actually produce, so invertibility cannot be decided layer by layer.

    A layer-wise check is *sufficient*, not necessary: for :math:`f = f_2 \circ f_1`, :math:`f` is
    injective iff :math:`f_2` is injective on the image :math:`f_1(\mathbb{R}^n)`, which may be a
    small part of :math:`f_2`'s input space when :math:`f_1` is not onto (a widening ``Linear``, a
    ``ReLU``, a bounded activation, a custom module). Example: ``Linear(3, 6)`` with
    :math:`W = [I; -I]`, ``ReLU``, ``Linear(6, 3)`` with :math:`[I, -I]` is the identity, although
    the ``ReLU`` and the narrowing ``Linear`` are each many-to-one on :math:`\mathbb{R}^6`.

    A subclass of :class:`NotInvertibleError`, so existing handlers still catch it.

    Attributes
    ----------
    path, layer, reason, suggestion:
        As for :class:`NotInvertibleError`: the layer that is many-to-one on its whole input space.
    culprits:
        ``"path: Layer"`` of the earlier layers whose image is not their whole output space.
    """

    def __init__(self, path: str, layer: str, reason: str, suggestion: str,
                 culprits: list[str]) -> None:
        self.path = path
        self.layer = layer
        self.reason = reason
        self.suggestion = suggestion
        self.culprits = list(culprits)
        where = f"{path}: {layer}" if path else layer
        before = ", ".join(self.culprits) if self.culprits else "the earlier layers"
        ValueError.__init__(
            self,
            f"cannot certify layer by layer that the model is invertible: {where} is not injective "
            f"on its whole input space ({reason}), but its inputs come through {before}, whose image is not "
            f"their whole output space, so {where} may be injective on the inputs it receives. "
            f"To decide: {suggestion}.")


class DomainError(ValueError):
    """A value lies outside the range of the forward map, so no preimage exists."""


class UnrecoverableSamplesError(DomainError):
    """A range-aware inverse cannot recover some samples of ``y`` (their indices are in
    :attr:`samples`): the values it sees do not determine a unique preimage, or show two.

    Attributes
    ----------
    message:
        The explanation (also ``str(err)``).
    samples:
        Indices (along dim 0 of the flattened batch) of the samples that cannot be recovered.
    """

    def __init__(self, message: str, samples: list[int]) -> None:
        self.samples = list(samples)
        super().__init__(message)


class InvalidInputError(ValueError):
    """An input is malformed: NaN or inf entries, or a shape, dtype or device mismatch."""


class UnsupportedLayerError(NotInvertibleError):
    """:func:`invlib.inverse` has no rule for this layer class (``LSTM``, a custom module, ...).

    A subclass of :class:`NotInvertibleError` (so of :class:`ValueError`): the layer may well be
    invertible, but invlib cannot say how.  The message names the class and lists the supported ones.
    A custom module can opt in by defining ``inverse(self, y)``.

    Attributes
    ----------
    path, layer, suggestion:
        As for :class:`NotInvertibleError`.
    supported:
        The human-readable list of supported layers (``invlib.inverse.SUPPORTED``), put into
        ``reason``.
    """

    def __init__(self, path: str, layer: str, supported: str, suggestion: str) -> None:
        self.path = path
        self.layer = layer
        self.reason = f"{layer} is not supported by invlib.inverse; supported: {supported}"
        self.suggestion = suggestion
        where = f"{path}: {layer}" if path else layer
        ValueError.__init__(self, f"{where}: {self.reason}. Instead: {suggestion}.")


class NonFiniteResultError(DomainError):
    """Every input entry was finite and inside the range, yet the inverse produced NaN or inf.

    This happens when the preimage is too large for the dtype (a float32 inverse of a badly
    conditioned layer, ``y`` within rounding of an activation's bound). The message names the
    first layer whose inverse produced the non-finite values.
    """


class SaturationWarning(UserWarning):
    """``clamp=True`` moved entries of ``y`` that lay outside an activation's range just inside it.

    Their preimages are then only bounds (e.g. ``atanh(1 - eps)`` for ``y >= 1`` under tanh),
    not true preimages.
    """


class StaleInverseWarning(UserWarning):
    """The forward model's weights changed after :func:`invlib.inverse` built the inverse.

    The inverse is a snapshot of the weights at build time; call :func:`invlib.inverse` again.
    """


class ConvergenceWarning(UserWarning):
    """A fixed-point inverse stopped at ``max_iter`` before its error bound reached ``tol``."""


class TrainingModeWarning(UserWarning):
    """A module handed to :func:`invlib.optimize_inverse` is in training mode, and some of its layers
    behave differently there (dropout draws new masks, batch norm uses and updates batch statistics,
    spectral normalisation changes the weights on every call): the map being inverted moves while it
    is solved.  Call ``model.eval()`` first.
    """


class PrecisionWarning(UserWarning):
    """The dtype cannot deliver the accuracy asked for: some samples' Jacobians are so badly conditioned
    that :math:`\\kappa(J)\\,\\varepsilon` (or the estimated forward error of the returned ``x``) exceeds
    the requested accuracy in ``x``.  Their residual may be small while ``x`` is far from the true
    preimage; compute in float64 (``model.double()``, ``y.double()``) or accept the larger error.
    """
