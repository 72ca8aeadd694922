r""":func:`inverse`: the exact inverse of a torch model built from supported layers, or a precise
:class:`~invlib.NotInvertibleError` saying which layer cannot be inverted, why, and what to do.

For :math:`f = f_L \circ \dots \circ f_1` (an ``nn.Sequential``, nested ones included),

.. math:: f^{-1} = f_1^{-1} \circ \dots \circ f_L^{-1},

with each :math:`f_l^{-1}` built once from the layer's current weights (see
:class:`~invlib.compose.InverseModel`). Supported layers:

* affine: ``Linear`` (square, full rank), ``Conv1d/2d/3d`` with kernel 1, with kernel = stride
  (patches), or with ``padding_mode="circular"`` and stride 1 (FFT), ``BatchNorm1d/2d/3d`` in
  eval mode; with ``least_squares=True`` also narrowing, widening or rank-deficient ones
  (minimum-norm least squares);
* activations: ``LeakyReLU``, ``PReLU``, ``RReLU`` (eval), ``ELU``, ``CELU``, ``SELU``,
  ``Softplus``, ``Tanh``, ``Sigmoid``, ``LogSigmoid``, ``Softsign``;
* identities and permutations: ``Identity``, ``Dropout*`` (eval), ``Flatten``, ``Unflatten``,
  ``PixelShuffle``, ``PixelUnshuffle``, ``ChannelShuffle``, :class:`invlib.reshape.Reshape`,
  :class:`invlib.reshape.Permute`;
* invertible-by-design: :class:`~invlib.AdditiveCoupling`, :class:`~invlib.AffineCoupling`,
  :class:`~invlib.InvertibleResidualBlock`, :class:`~invlib.MaskedAutoregressiveAffine`, and any
  module with an ``inverse(y)`` method.

:data:`LAYER_BUILDERS` is the registry behind this list (class -> builder).
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invlib.activations import ACTIVATION_CLASSES, ActivationInverse, build_activation
from invlib.compose import (BuildOptions, IdentityInverse, InverseLayer, InverseModel, iter_layers, per_sample_sum,
                            unwrap_compiled)
from invlib.conv import build_conv
from invlib.errors import (CannotCertifyError, DomainError, InvalidInputError, NotInvertibleError, PrecisionWarning,
                           UnsupportedLayerError)
from invlib.flows import AdditiveCoupling, AffineCoupling, InvertibleResidualBlock, MaskedAutoregressiveAffine
from invlib.linear import build_batchnorm, build_dropout, build_identity, build_linear
from invlib.range_aware import MAX_TRIPLE_WIDTH, ReLUPairInverse, ReLUTripleInverse, full_column_rank
from invlib.reshape import RESHAPE_CLASSES, build_reshape
from invlib.validation import (PRECISION_LIMIT, check_finite, check_flag, check_module_weights, check_relative_tolerance,
                               check_tensor, default_rcond, format_shape, where)

__all__ = ["inverse", "ModuleInverse", "SUPPORTED", "LAYER_BUILDERS", "INVERTIBLE_BY_DESIGN", "InverseModel"]

#: A human-readable list of what :func:`inverse` supports (used in error messages).
SUPPORTED = (
    "Linear, Conv1d/Conv2d/Conv3d (kernel 1, kernel = stride, or padding_mode='circular' with stride 1), "
    "ConvTranspose1d/2d/3d (kernel = stride, groups 1), "
    "BatchNorm1d/2d/3d (eval), Dropout (eval), Identity, LeakyReLU, PReLU, RReLU (eval), ELU, CELU, "
    "SELU, Softplus, Tanh, Sigmoid, LogSigmoid, Softsign, Flatten, Unflatten, PixelShuffle, "
    "PixelUnshuffle, ChannelShuffle, invlib Reshape/Permute, AdditiveCoupling, AffineCoupling, "
    "InvertibleResidualBlock, MaskedAutoregressiveAffine, nested Sequential, and any module with an "
    "inverse(y) method"
)


#: The invertible-by-design modules of :mod:`invlib.flows` (and their subclasses, such as
#: :class:`~invlib.FunctionCoupling`): inverted by their own ``inverse(y)``.
INVERTIBLE_BY_DESIGN: tuple[type[nn.Module], ...] = (
    AdditiveCoupling, AffineCoupling, InvertibleResidualBlock, MaskedAutoregressiveAffine,
)


def _takes_two_arguments(fn: Callable) -> bool:
    """Whether ``fn(x, y)`` binds (``True`` when the signature cannot be read)."""
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): let the call decide
        return True
    return True


class ModuleInverse(InverseLayer):
    r"""The inverse of a module with its own ``inverse(y)`` (the coupling layers, i-ResNet blocks):
    calls it on a frozen eval-mode copy of the module taken at build time.
    :math:`\log|\det J|` comes from the module's ``log_abs_det_jacobian(x, y)`` when it has one
    (summed to one value per sample).

    Parameters
    ----------
    path, layer:
        The forward layer's ``named_modules`` path and class name (see ``invlib.compose.InverseLayer``).
    module:
        The frozen eval-mode copy of the module, with ``inverse(y)``; ``x`` and ``y`` have the
        shapes the module's own ``forward`` and ``inverse`` use.
    """

    event_ndim = 1  # the flows are row-wise: (batch, D)

    def __init__(self, path: str, layer: str, module: nn.Module) -> None:
        super().__init__(path, layer)
        self.module = module

    def check_shape(self, shape: torch.Size) -> torch.Size:
        if not isinstance(self.module, INVERTIBLE_BY_DESIGN):
            return shape  # a custom module checks its own inputs
        dim = self.module.dim
        if len(shape) < 1 or shape[-1] != dim:
            raise self.shape_error(f"(..., {dim})", shape)
        return shape

    def forward(self, y: Tensor) -> Tensor:
        return self.module.inverse(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        fn = getattr(self.module, "log_abs_det_jacobian", None)
        if fn is None:
            return super().log_abs_det_jacobian(x, y)
        if not _takes_two_arguments(fn):
            raise TypeError(
                f"{self.where}: log_abs_det_jacobian must take (x, y) -- the forward input and output, "
                "as in torch.distributions.Transform (see invlib.compose) -- but "
                f"{type(self.module).__name__}.log_abs_det_jacobian takes {inspect.signature(fn)}")
        return per_sample_sum(fn(x, y))


# ---------------------------------------------------------------------------------------------
# Layers that are not invertible, with the reason and what to do instead
# ---------------------------------------------------------------------------------------------
_MANY_TO_ONE_FIX = ("replace it by LeakyReLU (exactly invertible), use invlib.optimize_inverse to find "
                    "one preimage, or train a decoder")
_POOL_FIX = ("use a conv with kernel = stride and C_out = C_in*k*k channels (invertible), "
             "PixelUnshuffle, invlib.optimize_inverse, or train a decoder")
_NORM_FIX = "use BatchNorm in eval mode (an invertible affine map), invlib.optimize_inverse, or a decoder"


def _pool_reason(m: nn.Module) -> str:
    name = type(m).__name__
    kind = "max pooling keeps only the largest entry of each window" if "Max" in name else \
        "pooling averages each window"
    if "Adaptive" in name:
        return f"many-to-one: adaptive pooling to output size {m.output_size}: {kind} (many inputs -> 1 output)"
    k = getattr(m, "kernel_size", None)
    d = {"1d": 1, "2d": 2, "3d": 3}.get(name[-2:], 2)
    ks = tuple(k) if isinstance(k, (tuple, list)) else (k,) * d
    return f"many-to-one: {'*'.join(map(str, ks))} inputs -> 1 output; {kind}"


def _norm_reason(m: nn.Module) -> str:
    if isinstance(m, nn.LayerNorm):
        return ("many-to-one: LayerNorm removes each sample's mean and scale over "
                f"{tuple(m.normalized_shape)} (2 dimensions lost per sample)")
    if isinstance(m, nn.GroupNorm):
        return (f"many-to-one: GroupNorm removes the mean and scale of each of its {m.num_groups} "
                f"groups ({2 * m.num_groups} dimensions lost per sample)")
    if isinstance(m, nn.RMSNorm):
        return "many-to-one: RMSNorm removes each sample's scale (1 dimension lost per sample)"
    return "many-to-one: InstanceNorm removes each channel's mean and scale in every sample"


def _not_monotone(name: str, x_min: float, y_min: float) -> Callable[[nn.Module], str]:
    return lambda m: (f"not monotone: {name} decreases for x < {x_min:g}, so every output in "
                      f"({y_min:.4g}, 0) has two preimages")


_NOT_INVERTIBLE: list[tuple[tuple[type, ...], Callable[[nn.Module], str], str]] = [
    ((nn.ReLU,), lambda m: "many-to-one: maps every negative input to 0", _MANY_TO_ONE_FIX),
    ((nn.ReLU6,), lambda m: "many-to-one: maps every negative input to 0 and every input above 6 to 6",
     _MANY_TO_ONE_FIX),
    ((nn.Hardtanh,), lambda m: f"many-to-one: clamps every input to [{m.min_val:g}, {m.max_val:g}]",
     "use Tanh (exactly invertible on (-1, 1)) or invlib.optimize_inverse"),
    ((nn.Hardsigmoid,), lambda m: "many-to-one: maps every input <= -3 to 0 and >= 3 to 1",
     "use Sigmoid (exactly invertible) or invlib.optimize_inverse"),
    ((nn.Hardswish,), lambda m: "many-to-one and not monotone: maps every input <= -3 to 0",
     _MANY_TO_ONE_FIX),
    ((nn.Threshold,), lambda m: f"many-to-one: replaces every input <= {m.threshold:g} by {m.value:g}",
     _MANY_TO_ONE_FIX),
    ((nn.Softshrink, nn.Hardshrink),
     lambda m: f"many-to-one: maps every input in [-{m.lambd:g}, {m.lambd:g}] to 0", _MANY_TO_ONE_FIX),
    ((nn.GELU,), _not_monotone("GELU", -0.7518, -0.16997), _MANY_TO_ONE_FIX),
    ((nn.SiLU,), _not_monotone("SiLU", -1.2785, -0.27846), _MANY_TO_ONE_FIX),
    ((nn.Mish,), _not_monotone("Mish", -1.1924, -0.30884), _MANY_TO_ONE_FIX),
    ((nn.Softmax, nn.Softmin, nn.LogSoftmax),
     lambda m: f"many-to-one: unchanged when the same constant is added to every entry along dim "
               f"{m.dim} (one dimension lost per row)",
     "keep the logits, or fix the free constant and invert with log-ratios log(y_i / y_0)"),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
      nn.LPPool1d, nn.LPPool2d, nn.FractionalMaxPool2d, nn.FractionalMaxPool3d,
      nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
      nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), _pool_reason, _POOL_FIX),
    ((nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
     _norm_reason, _NORM_FIX),
]


def _unsupported(path: str, module: nn.Module) -> UnsupportedLayerError:
    name = type(module).__name__
    inner = [child for child, sub in module.named_children() if isinstance(sub, nn.Sequential)]
    hint = ""
    if inner:
        owner = "model" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path.split(".") if p)
        hint = (f"; if its forward only runs its nn.Sequential '{inner[0]}', invert that: "
                f"invlib.inverse({owner}.{inner[0]})")
    return UnsupportedLayerError(
        path, name, SUPPORTED,
        f"give {name} an inverse(y) method, rewrite it as an nn.Sequential of supported layers, "
        f"or use invlib.optimize_inverse{hint}")


def _build_module_inverse(module: nn.Module, path: str, opts: BuildOptions) -> InverseLayer:
    layer = type(module).__name__
    if isinstance(module, InvertibleResidualBlock):
        if module.training:
            raise NotInvertibleError(
                path, layer, "state-dependent: in training mode the spectral normalization runs power "
                "iterations on every forward call, so the map changes from call to call",
                "call model.eval() first (eval mode caps the spectral norms exactly, Lip(g) <= lipschitz)")
        bound = module.lipschitz_bound()
        if bound >= 1:
            raise NotInvertibleError(
                path, layer, f"the Lipschitz bound of the residual branch g is {bound:.4g} >= 1, so "
                "x + g(x) may be many-to-one and the fixed-point iteration need not converge",
                "lower `lipschitz` below 1, or use invlib.optimize_inverse")
    frozen = copy.deepcopy(module).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return ModuleInverse(path, layer, frozen)


#: ``builder(module, path, opts, in_shape) -> InverseLayer``: one layer's inverse, or a
#: :class:`~invlib.NotInvertibleError` saying why this instance (its shape, rank, mode) has none.
Builder = Callable[[nn.Module, str, BuildOptions, "torch.Size | None"], InverseLayer]

#: The registry of the layer classes :func:`inverse` builds an inverse for, each with its builder,
#: tried in this order (``isinstance``, so subclasses match; a private base such as ``_ConvNd`` stands
#: for all its public subclasses). ``tests/invlib/test_contract.py`` checks every entry.
LAYER_BUILDERS: tuple[tuple[tuple[type[nn.Module], ...], Builder], ...] = (
    ((nn.Identity,), lambda m, path, opts, shape: build_identity(m, path, opts)),
    ((nn.modules.dropout._DropoutNd,), lambda m, path, opts, shape: build_dropout(m, path, opts)),
    (ACTIVATION_CLASSES, lambda m, path, opts, shape: build_activation(m, path, opts)),
    ((nn.Linear,), lambda m, path, opts, shape: build_linear(m, path, opts)),
    ((nn.modules.conv._ConvNd,), build_conv),
    ((nn.modules.batchnorm._BatchNorm,), lambda m, path, opts, shape: build_batchnorm(m, path, opts)),
    (RESHAPE_CLASSES, build_reshape),
    (INVERTIBLE_BY_DESIGN, lambda m, path, opts, shape: _build_module_inverse(m, path, opts)),
)


def _build(path: str, module: nn.Module, opts: BuildOptions, in_shape: torch.Size | None) -> InverseLayer:
    """Dispatch one leaf layer to its builder (or raise the reason it is not invertible)."""
    for classes, builder in LAYER_BUILDERS:
        if isinstance(module, classes):
            return builder(module, path, opts, in_shape)
    for classes, reason, suggestion in _NOT_INVERTIBLE:
        if isinstance(module, classes):
            if (isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
                                    nn.AvgPool2d, nn.AvgPool3d))
                    and math.prod(_as_tuple(module.kernel_size)) == 1
                    and math.prod(_as_tuple(module.stride)) == 1
                    and all(p == 0 for p in _as_tuple(module.padding))):
                return build_identity(module, path, opts)  # a 1x1 window, stride 1: the identity
            raise NotInvertibleError(path, type(module).__name__, reason(module), suggestion)
    if callable(getattr(module, "inverse", None)):
        return _build_module_inverse(module, path, opts)
    raise _unsupported(path, module)


def _as_tuple(v: int | tuple[int, ...] | None) -> tuple[int, ...]:
    if v is None:
        return (1,)
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


_STATEFUL_IN_TRAINING = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.RReLU,
                         InvertibleResidualBlock)


def _check_example_dtype(model: nn.Module, example_input: Tensor) -> None:
    """:class:`InvalidInputError` when ``example_input``'s dtype differs from the model's weights'."""
    for name, p in model.named_parameters():
        if p.is_floating_point() and p.dtype != example_input.dtype:
            raise InvalidInputError(
                f"example_input is {example_input.dtype} but the model's '{name}' is {p.dtype}; "
                f"convert one of them: example_input.to({p.dtype}) or model.to({example_input.dtype})"
            )


def _record_input_shapes(model: nn.Module, layers: list[tuple[str, nn.Module]],
                         example_input: Tensor) -> list[torch.Size]:
    """Run ``model`` once on ``example_input`` and return each leaf layer's input shape."""
    seen: dict[int, list[torch.Size]] = {}
    handles = []

    def hook(mod: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], Tensor):
            seen.setdefault(id(mod), []).append(args[0].shape)

    for _, mod in {id(m): (p, m) for p, m in layers}.values():
        handles.append(mod.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(example_input)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        if isinstance(err, (NotInvertibleError, DomainError, InvalidInputError)):
            raise
        raise InvalidInputError(
            f"example_input of shape {format_shape(example_input.shape)} ({example_input.dtype}, "
            f"{example_input.device}) does not run through the model ({type(err).__name__}: {err}); "
            "pass a batch the model accepts, batch dim first"
        ) from err
    finally:
        for h in handles:
            h.remove()
    shapes = []
    for _, mod in layers:
        queue = seen.get(id(mod), [])
        shapes.append(queue.pop(0) if queue else None)
    return shapes


# ---------------------------------------------------------------------------------------------
# What the layers before a layer can produce: decides "not invertible" vs "cannot certify"
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Image:
    r"""What is known of the image :math:`S = f_{l-1} \circ \dots \circ f_1(\mathbb{R}^n)`, the set of
    inputs layer :math:`l` can receive.

    ``kind``: ``"box"`` -- :math:`S` is the open box :math:`(lo, hi)^d` (``(-inf, inf)``: all of
    :math:`\mathbb{R}^d`); ``"open"`` -- :math:`S` is a non-empty open set (the image of a box under
    bijections that map open sets to open sets); ``"other"`` -- nothing known (a widening map, a
    range-aware block, a custom module). ``culprits`` are the layers that made it smaller than
    :math:`\mathbb{R}^d`.
    """

    kind: str = "box"
    lo: float = -math.inf
    hi: float = math.inf
    culprits: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return self.kind == "box" and self.lo == -math.inf and self.hi == math.inf

    def shrunk(self, kind: str, by: str, lo: float = -math.inf, hi: float = math.inf) -> "_Image":
        return _Image(kind, lo, hi, self.culprits + (by,))


#: Elementwise layers that are many-to-one on some interval (their flat or folded parts).
_ELEMENTWISE_LOSSY = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Threshold,
                      nn.Softshrink, nn.Hardshrink, nn.GELU, nn.SiLU, nn.Mish, nn.LeakyReLU, nn.PReLU,
                      nn.RReLU, nn.ELU, nn.CELU, nn.Softplus)
def _lossy_on_every_open_set(module: nn.Module, err: NotInvertibleError) -> bool:
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)):
        return err.reason.startswith(("narrowing", "rank"))
    pooling_or_norm = tuple(c for classes, _, _ in _NOT_INVERTIBLE for c in classes
                            if not issubclass(c, _ELEMENTWISE_LOSSY))
    return isinstance(module, pooling_or_norm)


def _grid(module: nn.Module, lo: float, hi: float) -> Tensor:
    """Points of :math:`(lo, hi)` (clipped to :math:`[-60, 60]`, where every activation here is
    already linear or constant), with the breakpoints of piecewise activations added."""
    a, b = max(lo, -60.0), min(hi, 60.0)
    points = [torch.linspace(a, b, 20001, dtype=torch.float64)]
    marks = [0.0, 3.0, -3.0, 6.0, -1.5]
    for attr in ("lambd", "threshold", "min_val", "max_val"):
        v = getattr(module, attr, None)
        if isinstance(v, (int, float)):
            marks += [float(v), -float(v)]
    extra = torch.tensor([m + d for m in marks for d in (-1e-9, 0.0, 1e-9)], dtype=torch.float64)
    points.append(extra[(extra > a) & (extra < b)])
    return torch.cat(points).sort().values


def _on_box(module: nn.Module, lo: float, hi: float) -> str:
    """``"lossy"``, ``"identity"``, ``"injective"`` or ``"unknown"``: the elementwise ``module`` on
    :math:`(lo, hi)`."""
    t = _grid(module, lo, hi)
    try:
        with torch.no_grad():
            v = copy.deepcopy(module).double().eval()(t.unsqueeze(1)).squeeze(1)
    except (RuntimeError, TypeError):
        return "unknown"  # e.g. a per-channel PReLU: no 1-channel evaluation
    d = v.diff()
    if torch.equal(v, t):
        return "identity"
    return "injective" if bool((d > 0).all() or (d < 0).all()) else "lossy"


def _image_after(img: _Image, module: nn.Module, inv: InverseLayer, label: str, opts: BuildOptions) -> _Image:
    r"""The image after a layer that was inverted: bijections of :math:`\mathbb{R}^d` keep
    "everything", open maps keep "open", activations map a box to a box."""
    if isinstance(inv, (ReLUPairInverse, ReLUTripleInverse)):
        return img.shrunk("other", label)
    if isinstance(module, (nn.Identity, nn.modules.dropout._DropoutNd) + RESHAPE_CLASSES) or (
            isinstance(inv, IdentityInverse)):
        return img  # the identity or a permutation of entries: the same box
    if isinstance(inv, ActivationInverse):
        if img.kind != "box":
            return img
        if img.everything:
            if inv.lower == -math.inf and inv.upper == math.inf:
                return img
            return img.shrunk("box", label, inv.lower, inv.upper)
        try:
            ends = torch.tensor([[max(img.lo, -1e300)], [min(img.hi, 1e300)]], dtype=torch.float64)
            with torch.no_grad():
                lo, hi = (float(v) for v in copy.deepcopy(module).double().eval()(ends).flatten())
        except (RuntimeError, TypeError):
            return _Image("open", culprits=img.culprits)
        if not lo < hi:
            return _Image("open", culprits=img.culprits)
        lo = -math.inf if lo <= -1e250 else lo
        hi = math.inf if hi >= 1e250 else hi
        return _Image("box", lo, hi, img.culprits)
    exact = getattr(inv, "exact", not opts.least_squares)
    known_bijection = (isinstance(module, (nn.Linear, nn.modules.conv._ConvNd,
                                           nn.modules.batchnorm._BatchNorm, AdditiveCoupling,
                                           AffineCoupling, InvertibleResidualBlock)) and exact)
    if known_bijection:
        return img if img.everything else _Image("open" if img.kind != "other" else "other",
                                                   culprits=img.culprits)
    return img.shrunk("other", label)


_CERTIFY_FIX = ("run invlib.optimize_inverse on your data and check that the Jacobian has full column "
                "rank along it (invlib.diagnose(model, x)); or, where a widening full-rank Linear is "
                "directly followed by ReLU (and at most one more Linear), invlib.inverse inverts that "
                "block range-aware, exactly on its image")


def _through_fewer_dims(err: NotInvertibleError, module: nn.Module, n_in: int | None,
                        opts: BuildOptions) -> NotInvertibleError | None:
    r"""A plain refusal for a ``Linear`` of rank :math:`r` below the model's input dimension
    :math:`n`: the model then factors through :math:`\mathbb{R}^r`, and no continuous map from
    an open set of :math:`\mathbb{R}^n` to :math:`\mathbb{R}^r`, :math:`r < n`, is one-to-one
    (invariance of domain), whatever the image of the earlier layers."""
    if n_in is None or not isinstance(module, nn.Linear):
        return None
    s = torch.linalg.svdvals(module.weight.detach().to(torch.float64))
    rcond = opts.rcond if opts.rcond is not None else default_rcond(*module.weight.shape, module.weight.dtype)
    rank = int((s > rcond * float(s[0])).sum()) if s.numel() and float(s[0]) > 0 else 0
    if rank >= n_in:
        return None
    return NotInvertibleError(
        err.path, err.layer, f"{err.reason}; its rank {rank} is below the model's input dimension "
        f"{n_in}, and no continuous map from R^{n_in} to R^{rank} is one-to-one", err.suggestion)


def _refusal(err: NotInvertibleError, module: nn.Module, img: _Image, path: str,
             opts: BuildOptions, n_in: int | None = None) -> NotInvertibleError | InverseLayer:
    """Given the plain refusal ``err`` of ``module``, decide with what its inputs can be:

    * plain :class:`NotInvertibleError` when it loses information on inputs it does receive
      (its inputs are all of :math:`\\mathbb{R}^d`; or an open set and it is many-to-one near every
      point; or a box on which this elementwise layer is many-to-one);
    * an inverse, when the layer is the identity on the box its inputs lie in;
    * :class:`CannotCertifyError` otherwise.
    """
    if isinstance(err, (UnsupportedLayerError, CannotCertifyError)) or img.everything:
        return err
    culprits = list(img.culprits)
    if _lossy_on_every_open_set(module, err):
        if img.kind != "other":
            return err
        fewer = _through_fewer_dims(err, module, n_in, opts)
        if fewer is not None:
            return fewer
        return CannotCertifyError(err.path, err.layer, err.reason, _CERTIFY_FIX, culprits)
    if not isinstance(module, _ELEMENTWISE_LOSSY) or module.training and isinstance(module, nn.RReLU):
        return err  # training mode, missing shapes, zero padding...: not about the inputs
    if img.kind == "box":
        verdict = _on_box(module, img.lo, img.hi)
        if verdict == "lossy":
            return err
        if verdict == "identity":
            return IdentityInverse(path, type(module).__name__)
        if verdict == "unknown":
            return CannotCertifyError(err.path, err.layer, err.reason, _CERTIFY_FIX, culprits)
        return CannotCertifyError(
            err.path, err.layer, err.reason,
            f"it is injective on ({img.lo:g}, {img.hi:g}), the box its inputs lie in, so the model may "
            f"well be invertible, but invlib has no exact inverse for it there; {_CERTIFY_FIX}", culprits)
    return CannotCertifyError(err.path, err.layer, err.reason, _CERTIFY_FIX, culprits)


def _range_aware_block(layers: list[tuple[str, nn.Module]], i: int, opts: BuildOptions,
                       ) -> tuple[InverseLayer, int] | None:
    """A range-aware inverse for ``Linear (widening, full column rank) -> ReLU`` at ``layers[i]``,
    extended by a following ``Linear`` that has no exact inverse of its own; ``None`` if none applies.
    Returns the inverse and the number of layers it covers."""
    if i + 1 >= len(layers):
        return None
    (p0, lin), (p1, act) = layers[i], layers[i + 1]
    if not (type(lin) is nn.Linear and type(act) is nn.ReLU and lin.out_features > lin.in_features
            and full_column_rank(lin.weight, opts.rcond)):
        return None
    label = f"Linear -> {where(p1, 'ReLU')}"
    if i + 2 < len(layers) and type(layers[i + 2][1]) is nn.Linear:
        p2, nxt = layers[i + 2]
        square = (nxt.in_features == nxt.out_features
                  and full_column_rank(nxt.weight, opts.rcond))
        if not square and nxt.out_features >= lin.in_features and lin.out_features <= MAX_TRIPLE_WIDTH:
            inv = ReLUTripleInverse(p0, f"{label} -> {where(p2, 'Linear')}", lin.weight, lin.bias,
                                    nxt.weight, nxt.bias, opts.rcond)
            return inv, 3
    return ReLUPairInverse(p0, label, lin.weight, lin.bias, opts.rcond), 2


def inverse(model: nn.Module, *, least_squares: bool = False, clamp: bool = False,
            rcond: float | None = None, solver: str = "explicit",
            example_input: Tensor | None = None, range_aware: bool = True,
            validate: bool = True) -> InverseModel:
    r"""The exact inverse :math:`f^{-1}` of ``model`` (:math:`f`), so that
    ``inverse(model)(model(x))`` :math:`\approx x`.

    The inverse is built **once**, from the model's **current** weights: matrix inverses (or
    LU factors), FFTs of circular kernels and copies of coupling networks are computed here and
    reused on every call. It does not follow later weight changes: call ``inverse(model)``
    again after training (a :class:`~invlib.errors.StaleInverseWarning` reminds you).

    Parameters
    ----------
    model:
        An ``nn.Sequential`` (nested ones included) of supported layers, or one supported layer.
    least_squares:
        Linear / 1x1-conv / circular-conv parts that are narrowing (:math:`m < n`), widening
        (:math:`m > n`) or rank deficient use the minimum-norm least-squares inverse
        :math:`x = W^{+}(y - b)` (truncated SVD, computed once) instead of raising. The result
        is then a per-layer least-squares inverse, not a global one.
    clamp:
        Activation inverses clamp ``y`` just inside their open range (e.g. ``(-1, 1)`` for
        tanh) instead of raising :class:`~invlib.DomainError`, and warn with
        :class:`~invlib.SaturationWarning` how many entries were clamped.
    rcond:
        Singular values :math:`\sigma_i \le \mathrm{rcond}\,\sigma_{\max}` count as zero, for rank
        decisions and pseudo-inverses. Default :math:`\max(m, n)\,\varepsilon` of the weights'
        dtype (``invlib.validation.default_rcond``).
    solver:
        ``"explicit"`` (default: the precomputed inverse matrix, one GEMM per call, as fast as
        the forward pass) or ``"lu"`` (cached LU factors and triangular solves).
    example_input:
        A batch ``x`` for the model. If given, the model is run once on it (under ``no_grad``)
        to record every layer's input shape: needed for ``nn.Flatten``, and it lets circular
        convolutions be checked and factorized for the actual size now rather than on a
        default 32-point grid (and again on the first call of each new size).
    range_aware:
        Decide each layer against what the layers before it can produce (default), not against
        its whole input space. A layer-by-layer check is *sufficient*, not necessary: for
        :math:`f = f_2 \circ f_1`, :math:`f` is injective iff :math:`f_2` is injective on the
        image :math:`f_1(\mathbb{R}^n)`. With ``range_aware=True``:

        * a widening ``Linear`` of full column rank directly followed by ``ReLU`` is inverted on
          its image, per sample, from the active rows: :math:`W_A x = z_A - b_A` (unique when
          :math:`W_A` has rank :math:`n`; see :mod:`invlib.range_aware`); a following ``Linear``
          with no exact inverse of its own (narrowing, rank deficient) joins the block, which is
          then inverted by enumerating its activation patterns (hidden width
          :math:`\le 12`). Samples that cannot be recovered raise
          :class:`~invlib.errors.UnrecoverableSamplesError` naming them, at call time;
        * a layer that is many-to-one on its whole input space but whose inputs are restricted by
          earlier layers raises :class:`~invlib.errors.CannotCertifyError` (a
          :class:`NotInvertibleError`) naming the layer and the earlier ones, with how to decide;
        * a plain :class:`NotInvertibleError` is kept for layers that lose information on inputs
          they do receive: the earlier layers are onto (a ``ReLU`` on the raw input, after a square
          ``Linear`` or a ``LeakyReLU``), or their image is open and the layer is many-to-one near
          every point (a narrowing ``Linear``, pooling, normalization), or their image is a box
          :math:`(lo, hi)^d` (after ``Tanh``, ``Sigmoid``, ...) on which the elementwise layer is
          many-to-one (``ReLU`` after ``Tanh``); an elementwise layer that is the identity on that
          box (``ReLU`` after ``Sigmoid``) is inverted as the identity.

        ``range_aware=False`` restores the strict layer-by-layer decision.
    validate:
        Check every ``y`` before inverting it (default): type, dtype and device, shape, finiteness,
        each activation's range, and that the model's weights did not change since this call. ``False``
        skips every check that reads data on the host, so the inverse composes with
        ``torch.func.vmap``, ``torch.compile(fullgraph=True)`` and ``torch.export``; bad input then
        gives NaN/inf instead of a typed error. Switchable later: ``inv.validate = True``.

    Returns
    -------
    InverseModel
        An ``nn.Module``; calling it on ``y`` returns ``x``. ``.model`` is the forward model,
        ``.layers`` the per-layer inverses in inverse order.

    Raises
    ------
    NotInvertibleError
        For the first layer that cannot be inverted (its path in the model, the reason, and
        what to do instead); :class:`~invlib.errors.UnsupportedLayerError` (a subclass) for
        layer classes invlib does not know; :class:`~invlib.errors.CannotCertifyError` (a
        subclass) when a layer-by-layer check cannot decide (see ``range_aware``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"invlib.inverse expects a torch.nn.Module, got {type(model).__name__}")
    if solver not in ("explicit", "lu"):
        raise InvalidInputError(f"solver must be 'explicit' or 'lu', got {solver!r}")
    rcond = check_relative_tolerance(rcond, "rcond")
    for flag, value in (("least_squares", least_squares), ("clamp", clamp), ("range_aware", range_aware),
                        ("validate", validate)):
        check_flag(value, flag)
    model = unwrap_compiled(model)
    check_module_weights(model)
    opts = BuildOptions(least_squares=least_squares, clamp=clamp, rcond=rcond, solver=solver)
    layers = list(iter_layers(model))
    shapes: list[torch.Size | None] = [None] * len(layers)
    if example_input is not None:
        check_tensor(example_input, "example_input")
        check_finite(example_input, "example_input")
        _check_example_dtype(model, example_input)
        # Refuse training-mode random/batch-dependent layers before running the model: the run
        # would update BatchNorm's running statistics.
        for path, mod in layers:
            if isinstance(mod, _STATEFUL_IN_TRAINING) and mod.training:
                _build(path, mod, opts, None)
        shapes = _record_input_shapes(model, layers, example_input)
    built: list[InverseLayer] = []
    img = _Image()
    # the model's input dimension, where the first layer says it (an MLP)
    n_in = layers[0][1].in_features if layers and isinstance(layers[0][1], nn.Linear) else None
    i = 0
    while i < len(layers):
        path, mod = layers[i]
        block = _range_aware_block(layers, i, opts) if range_aware else None
        if block is not None:
            inv, covered = block
            img = _image_after(img, mod, inv, inv.where, opts)
            built.append(inv)
            i += covered
            continue
        try:
            inv = _build(path, mod, opts, shapes[i])
        except NotInvertibleError as err:
            if not range_aware:
                raise
            decided = _refusal(err, mod, img, path, opts, n_in)
            if isinstance(decided, NotInvertibleError):
                if decided is err:
                    raise
                raise decided from err
            inv = decided
        img = _image_after(img, mod, inv, inv.where, opts)
        built.append(inv)
        i += 1
    inv = InverseModel(model, list(reversed(built)))
    inv.validate = validate
    _warn_if_weights_too_ill_conditioned(layers)
    return inv


def _warn_if_weights_too_ill_conditioned(layers: list[tuple[str, nn.Module]]) -> None:
    r""":class:`~invlib.errors.PrecisionWarning` when the linear layers alone can amplify rounding past 1e-3.

    For the composition, :math:`\kappa(f) \le \prod_l \kappa(W_l)` over the linear layers (the
    activations multiply in data-dependent factors on top); the inverse's relative error from rounding
    alone can reach about :math:`\kappa\,\varepsilon`.  Computed once, at build time, from the
    singular values of every ``Linear`` weight (in float64).
    """
    conds = []
    dtype = None
    for path, mod in layers:
        if isinstance(mod, nn.Linear) and mod.weight.is_floating_point():
            dtype = mod.weight.dtype
            s = torch.linalg.svdvals(mod.weight.detach().to(torch.float64))
            if not s.numel() or float(s[0]) == 0.0:
                continue
            # the singular values a (pseudo-)inverse keeps: a least-squares inverse drops those below
            # max(m, n) * eps * s_max, so they cannot amplify rounding
            kept = s[s > max(mod.weight.shape) * torch.finfo(mod.weight.dtype).eps * s[0]]
            conds.append((path or "<model>", float(s[0]) / float(kept[-1])))
    if not conds or dtype is None:
        return
    eps = torch.finfo(dtype).eps
    total = math.prod(c for _, c in conds)
    if total * eps <= PRECISION_LIMIT:
        return
    worst = max(conds, key=lambda pc: pc[1])
    advice = "compute in float64 (model.double(), y.double())" if dtype != torch.float64 else (
        "the weights are too ill-conditioned for float64 too; treat the inverse as approximate")
    warnings.warn(
        f"the product of the Linear layers' condition numbers is {total:.3g} (largest: {worst[1]:.3g} at "
        f"'{worst[0]}'); in {dtype} (eps = {eps:.2g}) rounding alone can change the inverse by up to about "
        f"{min(total * eps, math.inf):.2g} relative, before the activations amplify it further; {advice}. "
        f"invlib.diagnose(model, x) shows the conditioning layer by layer.",
        PrecisionWarning,
        stacklevel=3,
    )
