"""invlib.range_aware: the range-aware inverses of Linear -> ReLU (-> Linear) blocks, sample by sample."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invlib
from invlib.errors import UnrecoverableSamplesError
from invlib.range_aware import MAX_TRIPLE_WIDTH, ReLUPairInverse, ReLUTripleInverse, full_column_rank


from tests.invlib.test_inverse import plus_minus_identity as pm_identity  # noqa: E402 -- one builder of the net


def test_the_plus_minus_net_is_the_identity_and_its_triple_inverse_is_exact() -> None:
    net = pm_identity()
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(net(x), x)
    inv = ReLUTripleInverse("0", "block", net[0].weight, None, net[2].weight, None)
    assert (inv(net(x).detach()) - x).abs().max().item() <= 1e-12


def test_pair_recovers_x_where_the_active_rows_span() -> None:
    g = torch.Generator().manual_seed(1)
    lin = nn.Linear(3, 12).double()
    with torch.no_grad():
        lin.weight.copy_(torch.randn(12, 3, generator=g, dtype=torch.float64))
        lin.bias.copy_(0.1 * torch.randn(12, generator=g, dtype=torch.float64))
    x = torch.randn(500, 3, generator=g, dtype=torch.float64)
    z = torch.relu(lin(x)).detach()
    active = z > 0
    rank = torch.linalg.matrix_rank(lin.weight.detach().unsqueeze(0) * active.unsqueeze(-1))
    ok = rank == 3
    assert ok.sum() > 400  # with 12 random rows most samples have >= 3 independent active rows
    inv = ReLUPairInverse("0", "Linear -> 1: ReLU", lin.weight, lin.bias)
    x_hat = inv(z[ok])
    assert (x_hat - x[ok]).abs().max().item() <= 1e-10
    if (~ok).any():
        with pytest.raises(UnrecoverableSamplesError) as info:
            inv(z)
        assert info.value.samples == torch.nonzero(~ok).flatten().tolist()[: len(info.value.samples)]


def test_pair_names_the_rank_deficient_samples() -> None:
    w = torch.cat([torch.eye(2), -torch.eye(2)]).double()  # 2 -> 4
    inv = ReLUPairInverse("0", "Linear -> 1: ReLU", w, None)
    z = torch.tensor([[1.0, 2.0, 0.0, 0.0],    # x = (1, 2): rows 0, 1 active -> rank 2
                      [0.5, 0.0, 0.0, 0.0],    # x = (0.5, 0): only row 0 active -> rank 1
                      [0.0, 0.0, 1.0, 3.0]],   # x = (-1, -3)
                     dtype=torch.float64)
    with pytest.raises(UnrecoverableSamplesError, match=r"cannot recover samples \[1\]: .*rank 1 < 2") as info:
        inv(z)
    assert info.value.samples == [1]
    assert isinstance(info.value, invlib.DomainError)
    torch.testing.assert_close(inv(z[[0, 2]]), torch.tensor([[1.0, 2.0], [-1.0, -3.0]], dtype=torch.float64),
                               atol=1e-15, rtol=0)


def test_pair_refuses_values_outside_its_image() -> None:
    w = torch.cat([torch.eye(2), -torch.eye(2)]).double()
    inv = ReLUPairInverse("0", "Linear -> 1: ReLU", w, None)
    with pytest.raises(UnrecoverableSamplesError, match=r"samples \[0\] have negative entries"):
        inv(torch.tensor([[-1.0, 1.0, 0.0, 0.0]], dtype=torch.float64))
    # x = (1, 2) forces z_2 = relu(-1) = 0, so z_2 = 1 cannot happen (both rows 0 and 2 active)
    with pytest.raises(UnrecoverableSamplesError, match=r"samples \[1\] have no preimage") as info:
        inv(torch.tensor([[1.0, 2.0, 0.0, 0.0], [1.0, 2.0, 1.0, 0.0]], dtype=torch.float64))
    assert info.value.samples == [1]


def test_triple_finds_two_preimages_and_no_preimage() -> None:
    # y = relu(x) + relu(-x) = |x| in 1-D, written as Linear(1, 2) -> ReLU -> Linear(2, 1)
    w1 = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    w2 = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    inv = ReLUTripleInverse("0", "block", w1, None, w2, None)
    with pytest.raises(UnrecoverableSamplesError, match=r"samples \[0\] have two different preimages"):
        inv(torch.tensor([[2.0]], dtype=torch.float64))
    with pytest.raises(UnrecoverableSamplesError, match=r"samples \[0\] have no preimage"):
        inv(torch.tensor([[-2.0]], dtype=torch.float64))


def test_triple_refuses_wider_than_the_enumeration_limit() -> None:
    m = MAX_TRIPLE_WIDTH + 1
    with pytest.raises(ValueError, match=r"2\^m patterns"):
        ReLUTripleInverse("0", "block", torch.randn(m, 2), None, torch.randn(2, m), None)


def test_float32_inputs_are_solved_in_float64_and_returned_in_float32() -> None:
    net = pm_identity(torch.float32)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(2))
    inv = ReLUTripleInverse("0", "block", net[0].weight, None, net[2].weight, None)
    out = inv(net(x).detach())
    assert out.dtype == torch.float32
    assert (out - x).abs().max().item() <= 1e-6


@pytest.mark.parametrize("seed", [9, 18])  # draws with an active entry below sqrt(eps) * max|z|
def test_float32_pair_keeps_tiny_active_entries_when_it_needs_them(seed: int) -> None:
    torch.manual_seed(seed)
    x = torch.randn(256, 3)
    pair = nn.Sequential(nn.Linear(3, 8), nn.ReLU())
    z = pair(x).detach()
    spans = torch.linalg.matrix_rank((z > 0).unsqueeze(-1) * pair[0].weight.detach().double()) == 3
    x_hat = invlib.inverse(pair)(z[spans])
    assert (x_hat - x[spans]).abs().max().item() <= 1e-3


@pytest.mark.parametrize("seed", [0, 1])  # draws where a loose float32 tolerance accepted wrong patterns
def test_float32_triples_pick_the_best_fitting_pattern(seed: int) -> None:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 3))
    x = torch.randn(200, 2)
    y = net(x).detach()
    inv = invlib.inverse(net)
    recovered = 0
    for i in range(len(x)):
        try:
            x_hat = inv(y[i:i + 1])
        except UnrecoverableSamplesError as err:
            # only samples in a region where the block has rank < 2 may be refused
            assert "rank deficient" in str(err), str(err)
            continue
        assert (x_hat - x[i]).abs().max().item() <= 1e-3
        recovered += 1
    assert recovered >= 150


def test_full_column_rank() -> None:
    assert full_column_rank(torch.cat([torch.eye(3), -torch.eye(3)]))
    assert not full_column_rank(torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_range_aware_inverses_on_cuda(dtype: torch.dtype, tol: float) -> None:
    net = pm_identity(dtype).cuda()
    x = torch.randn(256, 3, device="cuda", dtype=dtype)
    inv = invlib.inverse(net)
    with torch.no_grad():
        out = inv(net(x))
    assert out.device.type == "cuda" and out.dtype == dtype
    assert (out - x).abs().max().item() <= tol
    pair = nn.Sequential(nn.Linear(3, 8), nn.ReLU()).to(device="cuda", dtype=dtype)
    z = pair(x).detach()
    spans = torch.linalg.matrix_rank((z > 0).unsqueeze(-1) * pair[0].weight.detach().double()) == 3
    with torch.no_grad():
        x_hat = invlib.inverse(pair)(z[spans])
    assert (x_hat - x[spans]).abs().max().item() <= 1e3 * tol


@pytest.mark.parametrize("seed", range(5))
def test_pair_behind_a_rotation_calls_rank_deficient_samples_unrecoverable_not_outside_the_image(seed: int) -> None:
    """Found by the optimisation benchmark: y = Q ReLU(W x + b) with n - 1 active rows. The rotation's
    inverse turns the zeros of ReLU's output into +-1e-16; counting those as active gave an inconsistent x
    and the error said "no preimage" for a y the net produced. It must say the sample cannot be recovered."""
    n = 6
    gen = torch.Generator().manual_seed(seed)
    first = nn.Linear(n, 2 * n).double()
    q = torch.linalg.qr(torch.randn(2 * n, 2 * n, generator=gen, dtype=torch.float64))[0]
    last = nn.Linear(2 * n, 2 * n).double()
    with torch.no_grad():
        first.weight.copy_(torch.randn(2 * n, n, generator=gen, dtype=torch.float64))
        x = torch.randn(1, n, generator=gen, dtype=torch.float64)
        want = torch.full((2 * n,), -1.0, dtype=torch.float64)
        want[: n - 1] = 1.0                                     # exactly n - 1 active rows: rank n - 1
        first.bias.copy_(want - (x @ first.weight.T).squeeze(0))
        last.weight.copy_(q)
        last.bias.zero_()
    net = nn.Sequential(first, nn.ReLU(), last)
    with torch.no_grad():
        y = net(x)
    with pytest.raises(UnrecoverableSamplesError, match="cannot recover") as info:
        invlib.inverse(net)(y)
    assert info.value.samples == [0]
