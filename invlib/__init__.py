r"""invlib: invert PyTorch models exactly where possible, by optimization where not,
and explain precisely why a model is not invertible.

Public API
----------
- :func:`inverse` -- the exact (or least-squares) inverse of a model built from supported layers.
- :func:`diagnose` -- a per-layer report: dimensions, Jacobian spectrum, rank, dead ReLUs, lost dimensions.
- :func:`optimize_inverse` -- a robust batched inverse of any differentiable map, CPU or CUDA.
- :class:`AdditiveCoupling`, :class:`AffineCoupling`, :class:`InvertibleResidualBlock`,
  :class:`MaskedAutoregressiveAffine` --
  invertible-by-design modules with ``inverse`` and ``log_abs_det_jacobian(x, y)`` (the forward
  map's :math:`\log|\det \partial y/\partial x|` at ``x``, ``y = f(x)``, one value per sample: the
  convention of ``torch.distributions`` and zuko, stated in :mod:`invlib.compose`);
  :func:`residual_logdet_estimate`, the stochastic log-determinant of a residual block.
- :class:`FunctionCoupling`, :class:`ReversibleBlock`, :class:`ReversibleRNNCell`,
  :func:`reversible_forward`, :func:`saved_activation_bytes` -- reversible (RevNet, Reformer,
  reversible RNN) blocks from additive couplings, and a backward pass that recomputes activations.
- Errors: :class:`NotInvertibleError` (and its subclass :class:`CannotCertifyError`: a layer-wise
  check cannot decide), :class:`DomainError` (and :class:`UnrecoverableSamplesError`),
  :class:`InvalidInputError`.
"""

from invlib.errors import (
    CannotCertifyError,
    ConvergenceWarning,
    DomainError,
    InvalidInputError,
    NonFiniteResultError,
    NotInvertibleError,
    PrecisionWarning,
    SaturationWarning,
    StaleInverseWarning,
    TrainingModeWarning,
    UnrecoverableSamplesError,
    UnsupportedLayerError,
)
from invlib.inverse import InverseModel, inverse
from invlib.diagnose import Diagnosis, LayerReport, diagnose
from invlib.flows import (
    AdditiveCoupling,
    AffineCoupling,
    InvertibleResidualBlock,
    MaskedAutoregressiveAffine,
    residual_logdet_estimate,
)
from invlib.optimize import InversionResult, optimize_inverse
from invlib.reversible import (
    FunctionCoupling,
    ReversibleBlock,
    ReversibleRNNCell,
    reversible_forward,
    saved_activation_bytes,
)

__all__ = [
    "inverse",
    "InverseModel",
    "diagnose",
    "Diagnosis",
    "LayerReport",
    "optimize_inverse",
    "InversionResult",
    "AdditiveCoupling",
    "AffineCoupling",
    "InvertibleResidualBlock",
    "MaskedAutoregressiveAffine",
    "residual_logdet_estimate",
    "FunctionCoupling",
    "ReversibleBlock",
    "ReversibleRNNCell",
    "reversible_forward",
    "saved_activation_bytes",
    "NotInvertibleError",
    "CannotCertifyError",
    "DomainError",
    "UnrecoverableSamplesError",
    "InvalidInputError",
    "UnsupportedLayerError",
    "NonFiniteResultError",
    "PrecisionWarning",
    "SaturationWarning",
    "StaleInverseWarning",
    "ConvergenceWarning",
    "TrainingModeWarning",
]

__version__ = "0.1.0"
