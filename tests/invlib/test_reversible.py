"""Reversible blocks from additive couplings: formulas, exact inverses, the memory-saving backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib
from invlib.reversible import (
    FunctionCoupling,
    ReversibleBlock,
    ReversibleRNNCell,
    reversible_forward,
    saved_activation_bytes,
)


class TokenAttention(nn.Module):
    """Pre-norm self-attention over (batch, tokens, k): neither injective nor invertible by itself."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(k)
        self.attn = nn.MultiheadAttention(k, 2, batch_first=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.norm(h)
        return self.attn(z, z, z, need_weights=False)[0]


def mlp(k: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(k), nn.Linear(k, 3 * k), nn.ReLU(), nn.Linear(3 * k, k))


def transformer_block(k: int = 4) -> ReversibleBlock:
    torch.manual_seed(0)
    return ReversibleBlock(TokenAttention(k), mlp(k), 2 * k).double().eval()


def test_function_coupling_uses_the_given_shift_and_inverts_it():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU())  # passive 2 entries -> active 3; not injective
    c = FunctionCoupling(5, m).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    y = c(x)
    assert torch.equal(y[:, :2], x[:, :2])
    torch.testing.assert_close(y[:, 2:], x[:, 2:] + m(x[:, :2]), rtol=0, atol=0)
    torch.testing.assert_close(c.inverse(y), x, rtol=0, atol=1e-15)
    assert isinstance(c, invlib.AdditiveCoupling)


def test_function_coupling_rejects_a_non_module_shift():
    with pytest.raises(TypeError, match="nn.Module"):
        FunctionCoupling(4, lambda v: v)


def test_reversible_block_is_the_revnet_formula():
    torch.manual_seed(1)
    f, g = mlp(3), mlp(3)
    block = ReversibleBlock(f, g, 6).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    x1, x2 = x[:, :3], x[:, 3:]
    y1 = x1 + f(x2)
    y2 = x2 + g(y1)
    torch.testing.assert_close(block(x), torch.cat([y1, y2], -1), rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 3, 7])
def test_reversible_block_needs_an_even_dim(dim):
    with pytest.raises(ValueError, match="even dim"):
        ReversibleBlock(nn.Identity(), nn.Identity(), dim)


def test_reversible_transformer_block_round_trip_and_invlib_inverse():
    block = transformer_block()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        y = block(x)
        assert (y - x).abs().max() > 0.1  # the block does something
        torch.testing.assert_close(block.inverse(y), x, rtol=0, atol=1e-14)
        inv = invlib.inverse(nn.Sequential(block, transformer_block()))
        stacked = nn.Sequential(block, transformer_block())
        torch.testing.assert_close(inv(stacked(x)), x, rtol=0, atol=1e-13)


def test_reversible_block_log_det_is_zero_like_its_jacobian():
    torch.manual_seed(2)
    block = ReversibleBlock(mlp(2), mlp(2), 4).double()
    x = torch.randn(4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(block, x)
    assert abs(torch.linalg.slogdet(jac).logabsdet.item()) < 1e-12
    assert torch.equal(block.log_abs_det_jacobian(x[None], block(x[None])), torch.zeros(1, dtype=torch.float64))


def test_rnn_cell_step_and_exact_inverse_along_a_sequence():
    torch.manual_seed(3)
    cell = ReversibleRNNCell(3, 6, hidden=8).double()
    u = torch.randn(10, 4, 3, dtype=torch.float64)  # 10 steps, batch 4
    h = torch.randn(4, 6, dtype=torch.float64)
    # one step is the stated formula
    h1, h2 = h[:, :3], h[:, 3:]
    n1 = h1 + cell.f(torch.cat([h2, u[0]], -1))
    n2 = h2 + cell.g(torch.cat([n1, u[0]], -1))
    torch.testing.assert_close(cell(u[0], h), torch.cat([n1, n2], -1), rtol=0, atol=0)
    states = [h]
    with torch.no_grad():
        for t in range(10):
            states.append(cell(u[t], states[-1]))
        back = states[-1]
        for t in reversed(range(10)):  # every earlier state from the last one and the inputs
            back = cell.inverse(u[t], back)
            torch.testing.assert_close(back, states[t], rtol=0, atol=1e-12)
        step = invlib.inverse(cell.block(u[0]))
        torch.testing.assert_close(step(states[1]), h, rtol=0, atol=1e-14)


def test_rnn_cell_rejects_odd_hidden_and_wrong_input():
    with pytest.raises(ValueError, match="even"):
        ReversibleRNNCell(2, 5)
    cell = ReversibleRNNCell(2, 4)
    with pytest.raises(invlib.InvalidInputError, match="u of shape"):
        cell(torch.randn(3, 5), torch.randn(3, 4))


def _grads(blocks, x, extra, loss_of):
    params = [p for b in blocks for p in b.parameters()]
    leaves = [x] + params + list(extra)
    return torch.autograd.grad(loss_of(), leaves)


def test_reversible_forward_matches_stored_activation_backprop():
    torch.manual_seed(4)
    blocks = [ReversibleBlock(mlp(4), mlp(4), 8).double() for _ in range(5)]
    x = torch.randn(6, 8, dtype=torch.float64, requires_grad=True)

    def plain():
        h = x
        for b in blocks:
            h = b(h)
        return (h.sin() * h).sum()

    y_rev = reversible_forward(blocks, x)
    h = x
    for b in blocks:
        h = b(h)
    torch.testing.assert_close(y_rev, h, rtol=0, atol=0)
    expected = _grads(blocks, x, (), plain)
    got = _grads(blocks, x, (), lambda: (lambda y: (y.sin() * y).sum())(reversible_forward(blocks, x)))
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-11)


def test_reversible_forward_gives_gradients_to_extra_inputs_of_an_rnn():
    torch.manual_seed(5)
    cell = ReversibleRNNCell(2, 4, hidden=6).double()
    u = torch.randn(7, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)

    def plain():
        h = h0
        for t in range(7):
            h = cell(u[t], h)
        return h.square().sum()

    def reversible():
        steps = [u[t] for t in range(7)]
        return reversible_forward([cell.block(s) for s in steps], h0, extra=[u]).square().sum()

    leaves = [h0, u] + list(cell.parameters())
    for e, g in zip(torch.autograd.grad(plain(), leaves), torch.autograd.grad(reversible(), leaves)):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-11)


def test_reversible_forward_without_grad_and_with_a_block_that_cannot_invert():
    torch.manual_seed(6)
    block = ReversibleBlock(mlp(2), mlp(2), 4).double()
    x = torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(reversible_forward([block], x), block(x), rtol=0, atol=0)
    with pytest.raises(invlib.InvalidInputError, match="no inverse"):
        reversible_forward([block, nn.Linear(4, 4)], x)


def test_saved_activation_bytes_counts_each_storage_once_and_excludes():
    x = torch.randn(100, dtype=torch.float32, requires_grad=True)
    w = torch.randn(100, dtype=torch.float32, requires_grad=True)
    assert saved_activation_bytes(lambda: (x * x).sum()) == 400  # x saved twice, one storage
    assert saved_activation_bytes(lambda: (x * w).sum()) == 800
    assert saved_activation_bytes(lambda: (x * w).sum(), exclude=[w]) == 400
    assert saved_activation_bytes(lambda: (x + w).sum()) == 0  # addition saves nothing
    with pytest.raises(TypeError, match="callable"):
        saved_activation_bytes(3)


def test_reversible_backward_holds_the_same_bytes_at_every_depth():
    torch.manual_seed(7)
    x = torch.randn(32, 16)
    held = {"stored": [], "reversible": []}
    for depth in (1, 2, 4):
        blocks = [ReversibleBlock(mlp(8), mlp(8), 16) for _ in range(depth)]
        params = [p for b in blocks for p in b.parameters()]

        def stored():
            h = x
            for b in blocks:
                h = b(h)
            h.square().sum().backward()

        held["stored"].append(saved_activation_bytes(stored, exclude=params))
        held["reversible"].append(saved_activation_bytes(
            lambda: reversible_forward(blocks, x).square().sum().backward(), exclude=params))
    s, r = held["stored"], held["reversible"]
    assert r[0] == r[1] == r[2]
    assert s[0] < s[1] < s[2] and s[2] - s[1] == 2 * (s[1] - s[0])  # linear in the depth
    assert r[2] < s[2] / 3


def test_reversible_forward_refuses_dropout_in_training_mode():
    torch.manual_seed(8)
    k = 2
    block = ReversibleBlock(nn.Sequential(nn.Linear(k, k), nn.Dropout(0.5)), mlp(k), 2 * k)
    x = torch.randn(3, 2 * k, requires_grad=True)
    with pytest.raises(invlib.InvalidInputError, match="dropout in training mode"):
        reversible_forward([block], x)
    block.eval()
    reversible_forward([block], x).sum().backward()  # eval mode: a fixed function
    assert x.grad is not None
