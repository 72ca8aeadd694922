r"""Reversible blocks (RevNet, Reformer, reversible RNNs) built from invlib's additive couplings,
and a backward pass that recomputes activations from outputs instead of storing them.

* :class:`FunctionCoupling` -- an :class:`~invlib.AdditiveCoupling` whose shift is any module
  :math:`m` (attention, a convolutional net, layer norm + MLP ...), not only the built-in MLP:
  :math:`y_p = x_p,\ y_a = x_a + m(x_p)`, inverted exactly by :math:`x_a = y_a - m(y_p)` whatever
  :math:`m` is (Dinh et al. 2014).
* :class:`ReversibleBlock` -- the RevNet block (Gomez et al. 2017), two couplings:

  .. math:: y_1 = x_1 + F(x_2), \qquad y_2 = x_2 + G(y_1); \qquad
            x_2 = y_2 - G(y_1), \qquad x_1 = y_1 - F(x_2).

  With :math:`F` = attention and :math:`G` = MLP (each behind a layer norm) it is the reversible
  transformer layer of the Reformer (Kitaev et al. 2020).
* :class:`ReversibleRNNCell` -- one step of a reversible RNN (in the spirit of MacKay et al. 2018): with
  the input :math:`u_t` known, the step is a :class:`ReversibleBlock` in the hidden state,
  :math:`h_1' = h_1 + F([h_2, u_t]),\ h_2' = h_2 + G([h_1', u_t])`, so :math:`h_{t-1}` is recovered
  exactly from :math:`h_t` and :math:`u_t`.
* :func:`reversible_forward` -- runs a chain of blocks so that autograd stores only the **last**
  output; the backward pass rebuilds each block's input with its ``inverse`` and recomputes that
  one block. The activations held for the backward pass no longer grow with the depth.
* :func:`saved_activation_bytes` -- the bytes autograd holds for the backward pass of a step
  (tensors saved by the forward, parameters excluded): the memory that reversibility saves.

Every block maps ``(..., D) -> (..., D)`` on the last dim, like the couplings it is made of, and
can sit inside an ``nn.Sequential`` handed to :func:`invlib.inverse`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from invlib.errors import InvalidInputError
from invlib.flows import AdditiveCoupling, _check_last_dim, _check_pair, _Coupling
from invlib.validation import check_tensor

__all__ = ["FunctionCoupling", "ReversibleBlock", "ReversibleRNNCell", "reversible_forward",
           "saved_activation_bytes"]


class FunctionCoupling(AdditiveCoupling):
    r"""An additive coupling :math:`y_p = x_p,\ y_a = x_a + m(x_p)` with a given shift module ``m``.

    ``m`` maps ``(..., n_p)`` to ``(..., n_a)``, where the passive half :math:`x_p` is the first
    ``dim // 2`` entries of the last dim (the last ``dim - dim // 2`` with ``swap=True``). It need
    not be invertible, injective or even deterministic across calls in training mode: the inverse
    :math:`x_a = y_a - m(y_p)` only evaluates it again, at the same point. (Put modules with
    batch statistics or dropout in eval mode before inverting.)

    Parameters
    ----------
    dim:
        :math:`D \ge 2`, the size of the last dim; ``x`` and ``y`` have shape ``(..., D)``.
    m:
        The shift, an ``nn.Module`` mapping ``(..., n_p) -> (..., n_a)``.
    swap:
        ``False``: the passive half is the first :math:`n_p = \lfloor D/2 \rfloor` entries;
        ``True``: the last :math:`n_p = D - \lfloor D/2 \rfloor`. :math:`n_a = D - n_p`.
    """

    def __init__(self, dim: int, m: nn.Module, *, swap: bool = False) -> None:
        _Coupling.__init__(self, dim, swap)  # no built-in MLP: the shift is `m`
        if not isinstance(m, nn.Module):
            raise TypeError(f"FunctionCoupling needs an nn.Module as m, got {type(m).__name__}")
        self.m = m


class ReversibleBlock(nn.Sequential):
    r"""RevNet block on ``(..., 2k)``: :math:`y_1 = x_1 + F(x_2)`, :math:`y_2 = x_2 + G(y_1)`, with
    :math:`x = [x_1, x_2]` split on the last dim.

    An ``nn.Sequential`` of two :class:`~invlib.FunctionCoupling` layers (so :func:`invlib.inverse`
    inverts it layer by layer); ``F`` and ``G`` map ``(..., k) -> (..., k)`` and may be anything
    (attention, MLPs, normalisations). :math:`\log|\det J| = 0`. ``inverse(y)`` is exact up to two
    roundings per entry.

    Parameters
    ----------
    f:
        :math:`F`, an ``nn.Module`` mapping ``(..., k) -> (..., k)``, applied to :math:`x_2`.
    g:
        :math:`G`, an ``nn.Module`` mapping ``(..., k) -> (..., k)``, applied to :math:`y_1`.
    dim:
        :math:`D = 2k`, even; ``x`` and ``y`` have shape ``(..., D)``.
    """

    def __init__(self, f: nn.Module, g: nn.Module, dim: int) -> None:
        if dim < 2 or dim % 2:
            raise ValueError(f"a ReversibleBlock needs an even dim >= 2 (two equal halves), got dim={dim}")
        # first coupling: passive = second half x_2, active = first half x_1  (y_1 = x_1 + F(x_2))
        # second coupling: passive = first half y_1, active = second half x_2 (y_2 = x_2 + G(y_1))
        super().__init__(FunctionCoupling(dim, f, swap=True), FunctionCoupling(dim, g, swap=False))
        self.dim = dim

    def inverse(self, y: Tensor) -> Tensor:
        r""":math:`x_2 = y_2 - G(y_1)`, then :math:`x_1 = y_1 - F(x_2)`."""
        for coupling in reversed(self):
            y = coupling.inverse(y)
        return y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """Zero (both couplings are volume preserving); shape ``x.shape[:-1]``; ``y = f(x)``."""
        x = _check_pair(x, y, self.dim, "ReversibleBlock.log_abs_det_jacobian")
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)


class _WithContext(nn.Module):
    """``net(cat([h, context], -1))``: a shift that also reads the (known) input of an RNN step."""

    def __init__(self, net: nn.Module, context: Tensor) -> None:
        super().__init__()
        self.net = net
        self.context = context

    def forward(self, h: Tensor) -> Tensor:
        context = self.context.expand(*h.shape[:-1], self.context.shape[-1])
        return self.net(torch.cat([h, context], dim=-1))


class ReversibleRNNCell(nn.Module):
    r"""One reversible recurrent step on a hidden state :math:`h = [h_1, h_2] \in \mathbb{R}^{2k}`:

    .. math:: h_1' = h_1 + F([h_2, u]), \qquad h_2' = h_2 + G([h_1', u]),

    :math:`F, G` two-layer tanh MLPs of width ``hidden``. For a known input :math:`u` the step is
    the :class:`~invlib.ReversibleBlock` ``cell.block(u)`` in :math:`h`, so
    ``cell.inverse(u, h')`` returns :math:`h` exactly and a whole sequence of states can be
    recomputed backwards from the last one and the inputs.

    Parameters
    ----------
    input_size:
        The size of the input :math:`u`, shape ``(batch, input_size)``.
    hidden_size:
        :math:`2k`, even, the size of the state :math:`h`, shape ``(batch, hidden_size)``;
        ``cell(u, h)`` and ``cell.inverse(u, h_next)`` return that shape.
    hidden:
        Width of the hidden layer of :math:`F` and :math:`G` (each ``k + input_size -> hidden -> k``).
    """

    def __init__(self, input_size: int, hidden_size: int, hidden: int = 32) -> None:
        super().__init__()
        if hidden_size < 2 or hidden_size % 2:
            raise ValueError(f"hidden_size must be even and >= 2 (two halves), got {hidden_size}")
        k = hidden_size // 2
        self.input_size, self.hidden_size = input_size, hidden_size
        self.f = nn.Sequential(nn.Linear(k + input_size, hidden), nn.Tanh(), nn.Linear(hidden, k))
        self.g = nn.Sequential(nn.Linear(k + input_size, hidden), nn.Tanh(), nn.Linear(hidden, k))

    def block(self, u: Tensor) -> ReversibleBlock:
        """The step as a :class:`~invlib.ReversibleBlock` in ``h`` for the input ``u``, shape
        ``(batch, input_size)``."""
        u = _check_last_dim(u, self.input_size, "ReversibleRNNCell", "u", finite=False)
        return ReversibleBlock(_WithContext(self.f, u), _WithContext(self.g, u), self.hidden_size)

    def forward(self, u: Tensor, h: Tensor) -> Tensor:
        return self.block(u)(h)

    def inverse(self, u: Tensor, h_next: Tensor) -> Tensor:
        """The previous state ``h`` from the next one and the step's input ``u``."""
        return self.block(u).inverse(h_next)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class _Reversible(torch.autograd.Function):
    """Forward without a graph, keeping only the output; backward that inverts and recomputes."""

    @staticmethod
    def forward(ctx, x: Tensor, blocks: tuple[nn.Module, ...], *extra: Tensor) -> Tensor:
        with torch.no_grad():
            for block in blocks:
                x = block(x)
        ctx.blocks = blocks
        ctx.save_for_backward(x, *extra)  # the last output (and the parameters and extra inputs)
        return x

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        y, *extra = ctx.saved_tensors
        grads: list[Tensor | None] = [None] * len(extra)
        wanted = [i for i, t in enumerate(extra) if t.requires_grad]
        for block in reversed(ctx.blocks):
            with torch.no_grad():
                x = block.inverse(y)
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                out = block(x)
                got = torch.autograd.grad(out, [x] + [extra[i] for i in wanted], grad_y, allow_unused=True)
            grad_y = got[0]
            for i, g in zip(wanted, got[1:]):
                if g is not None:
                    grads[i] = g if grads[i] is None else grads[i] + g
            y = x.detach()
        return (grad_y, None, *grads)


def reversible_forward(blocks: Sequence[nn.Module], x: Tensor, *, extra: Sequence[Tensor] = ()) -> Tensor:
    r""":math:`f_L \circ \dots \circ f_1(x)` for invertible ``blocks`` (each with ``inverse``), with a
    memory-saving backward pass.

    The forward runs without building a graph and autograd keeps only the output
    :math:`y = f_L(\dots)`. The backward walks the chain in reverse: :math:`x_{l-1} =
    f_l^{-1}(x_l)`, recompute :math:`f_l(x_{l-1})` with a graph, and backpropagate through that one
    block. The activations held between forward and backward are one output instead of every
    block's intermediates; the price is one extra forward and one inverse per block, and gradients
    that differ from stored-activation backprop by the rounding error of the reconstruction.

    Gradients reach the blocks' parameters and the tensors in ``extra`` (inputs the blocks read
    besides ``x``, e.g. the inputs of an RNN step; pass them here or they get no gradient).

    The blocks must compute the same function on every call: dropout in training mode (a new mask
    per call) is refused. Batch norm in training mode is recomputed on the same batch, so its
    output is reproduced, but its running statistics are updated twice per step.
    """
    x = check_tensor(x, "x")
    blocks = tuple(blocks)
    for i, block in enumerate(blocks):
        if not callable(getattr(block, "inverse", None)):
            raise InvalidInputError(f"block {i} ({type(block).__name__}) has no inverse(y) method; "
                                    "reversible_forward needs invertible blocks")
        for name, sub in block.named_modules():
            if isinstance(sub, nn.modules.dropout._DropoutNd) and sub.training and sub.p > 0:
                raise InvalidInputError(
                    f"block {i} has dropout in training mode ({name or type(sub).__name__}): its mask "
                    "changes from call to call, so the recomputed backward pass would not match the "
                    "forward; call .eval() on the dropout layers or use p=0")
    params: dict[int, Tensor] = {}
    for block in blocks:
        for p in block.parameters():
            params.setdefault(id(p), p)
    extra_all = tuple(params.values()) + tuple(extra)
    if not torch.is_grad_enabled() or not (x.requires_grad or any(t.requires_grad for t in extra_all)):
        with torch.no_grad():
            for block in blocks:
                x = block(x)
        return x
    return _Reversible.apply(x, blocks, *extra_all)


def saved_activation_bytes(step: Callable[[], object], *, exclude: Sequence[Tensor] = ()) -> int:
    r"""The peak number of bytes that autograd holds for backward passes while ``step()`` runs.

    Every tensor an operation saves for its backward pass is seen through
    ``torch.autograd.graph.saved_tensors_hooks`` and counted, each storage once, from the
    moment it is saved until autograd releases it (after its backward ran, or with its graph).
    Storages shared with ``exclude`` (e.g. the model's parameters, held anyway) are left out.
    Run a whole training step (forward and ``backward()``) inside ``step`` to get the activation
    memory it needs at its peak, recomputations in the backward pass included.
    """
    if not callable(step):
        raise TypeError(f"step must be a callable with no arguments, got {type(step).__name__}")
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    live: dict[int, list[int]] = {}  # storage -> [number of saved references, bytes]
    state = {"now": 0, "peak": 0}

    class _Held:
        __slots__ = ("tensor", "key")

        def __init__(self, tensor: Tensor, key: int) -> None:
            self.tensor, self.key = tensor, key

        def __del__(self) -> None:
            entry = live.get(self.key)
            if entry is not None:
                entry[0] -= 1
                if entry[0] == 0:
                    state["now"] -= entry[1]
                    del live[self.key]

    def pack(t: Tensor) -> object:
        key = t.untyped_storage().data_ptr()
        if key in skip or key == 0:
            return t
        if key in live:
            live[key][0] += 1
        else:
            live[key] = [1, t.untyped_storage().nbytes()]
            state["now"] += live[key][1]
            state["peak"] = max(state["peak"], state["now"])
        return _Held(t, key)

    def unpack(held: object) -> Tensor:
        return held.tensor if isinstance(held, _Held) else held

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        step()
    return state["peak"]
