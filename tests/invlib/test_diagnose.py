"""diagnose(): per-layer Jacobian spectra, ranks, dead ReLUs, lost dimensions, table and plot."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import invlib  # noqa: E402
from invlib import Diagnosis, LayerReport  # noqa: E402


@pytest.fixture
def model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Sequential(nn.Linear(10, 3), nn.Tanh())).double()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(64, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_layers_dims_and_linear_spectrum(model: nn.Sequential, x: torch.Tensor) -> None:
    d = invlib.diagnose(model, x)
    assert isinstance(d, Diagnosis) and all(isinstance(r, LayerReport) for r in d.layers)
    assert [(r.path, r.layer, r.in_dim, r.out_dim) for r in d.layers] == [
        ("0", "Linear", 6, 10), ("1", "ReLU", 10, 10), ("2.0", "Linear", 10, 3), ("2.1", "Tanh", 3, 3)]
    lin = d.layers[0]
    # the Jacobian of a Linear layer is its weight: same singular values
    torch.testing.assert_close(lin.singular_values, torch.linalg.svdvals(model[0].weight.detach()))
    assert lin.rank == 6 and lin.dims_lost == 0
    assert lin.cond == pytest.approx(lin.sv_max / lin.sv_min)
    # narrowing 10 -> 3: 7 exact zeros appended, rank 3, cond inf
    narrow = d.layers[2]
    assert narrow.singular_values.shape == (10,)
    assert torch.all(narrow.singular_values[3:] == 0)
    assert narrow.rank == 3 and narrow.dims_lost == 7 and narrow.cond == math.inf and narrow.sv_min == 0


def test_relu_inactive_fraction_and_local_rank(model: nn.Sequential, x: torch.Tensor) -> None:
    d = invlib.diagnose(model, x)
    pre = model[0](x).detach()
    relu = d.layers[1]
    assert relu.inactive_fraction == pytest.approx((pre <= 0).double().mean().item())
    # at sample 0 the ReLU Jacobian is diag(1[pre > 0]): its rank counts the active units
    active0 = int((pre[0] > 0).sum())
    assert relu.rank == active0 and relu.dims_lost == 10 - active0
    assert d.layers[0].inactive_fraction is None and d.layers[3].inactive_fraction is None
    assert d.total.inactive_fraction == pytest.approx(relu.inactive_fraction)


def test_total_is_the_whole_model_jacobian(model: nn.Sequential, x: torch.Tensor) -> None:
    d = invlib.diagnose(model, x, sample=3)
    jac = torch.autograd.functional.jacobian(model, x[3])
    torch.testing.assert_close(d.total.singular_values[:3], torch.linalg.svdvals(jac))
    assert (d.total.path, d.total.layer, d.total.in_dim, d.total.out_dim) == ("", "model", 6, 3)
    assert d.total.rank <= 3 and d.total.dims_lost >= 3


def test_rtol_changes_the_numerical_rank() -> None:
    layer = nn.Linear(3, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.diag(torch.tensor([1.0, 1e-3, 1e-9], dtype=torch.float64)))
    x = torch.randn(2, 3, dtype=torch.float64)
    assert invlib.diagnose(layer, x).layers[0].rank == 3
    r = invlib.diagnose(layer, x, rtol=1e-6).layers[0]
    assert r.rank == 2 and r.dims_lost == 1 and r.cond == math.inf
    assert r.sv_min == pytest.approx(1e-9)


def test_float32_default_tolerance_uses_float32_eps() -> None:
    layer = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.diag(torch.tensor([1.0, 1e-3, 1e-7])))
    assert invlib.diagnose(layer, torch.randn(2, 3)).layers[0].rank == 2  # 1e-7 < 3 * 1.2e-7


def test_table_html_records(model: nn.Sequential, x: torch.Tensor) -> None:
    d = invlib.diagnose(model, x)
    text = str(d)
    lines = text.splitlines()
    header = lines[0]
    for col in ("path", "layer", "in", "out", "sv_min", "sv_max", "cond", "rank", "lost", "inactive"):
        assert col in header
    # aligned: the "layer" column starts at the same offset in every table row
    offset = header.index("layer")
    for line in lines[2:6]:
        assert line[offset - 2:offset] == "  " and line[offset] != " "
    assert "2.0" in text and "model" in text and "inf" in text
    html = d._repr_html_()
    assert html.startswith("<table>") and html.count("<tr") == 1 + 4 + 1
    recs = d.to_records()
    assert len(recs) == 5 and recs[-1]["layer"] == "model"
    assert recs[0]["singular_values"] == pytest.approx(d.layers[0].singular_values.tolist())
    assert set(recs[0]) >= {"path", "layer", "in_dim", "out_dim", "sv_min", "sv_max", "cond", "rank",
                            "inactive_fraction", "dims_lost", "singular_values"}


def test_plot_is_a_labelled_log_spectrum(model: nn.Sequential, x: torch.Tensor) -> None:
    import matplotlib.pyplot as plt

    d = invlib.diagnose(model, x)
    fig = d.plot()
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "0: Linear" in labels and "model (3 zero)" in labels and "2.0: Linear (7 zero)" in labels
    # plotting onto a given axis returns that axis' figure
    fig2, ax2 = plt.subplots()
    assert d.plot(ax=ax2) is fig2
    plt.close("all")


def test_training_mode_layers_are_diagnosed_in_eval_without_side_effects() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    assert model.training
    before = model[1].running_mean.clone()
    d = invlib.diagnose(model, torch.randn(16, 4))
    assert torch.equal(model[1].running_mean, before) and model[1].num_batches_tracked == 0
    assert model.training and model[1].training
    assert "diagnosed as in eval mode" in d.layers[1].note
    assert d.layers[2].singular_values.tolist() == pytest.approx([1.0] * 4)  # eval Dropout = identity
    assert "diagnosed as in eval mode" in str(d)


def test_max_dim_skips_large_spectra() -> None:
    conv = nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular")
    d = invlib.diagnose(conv, torch.randn(2, 2, 8, 8), max_dim=64)
    r = d.layers[0]
    assert r.in_dim == 128 and r.singular_values is None and r.rank is None
    assert "exceeds max_dim=64" in r.note


def test_bad_inputs(model: nn.Sequential) -> None:
    with pytest.raises(invlib.InvalidInputError, match="x contains 1 NaN"):
        invlib.diagnose(model, torch.tensor([[float("nan")] + [0.0] * 5], dtype=torch.float64))
    with pytest.raises(invlib.InvalidInputError, match="dtype torch.int64"):
        invlib.diagnose(model, torch.zeros(2, 6, dtype=torch.int64))
    with pytest.raises(invlib.InvalidInputError, match="sample=5 is out of range for a batch of 2"):
        invlib.diagnose(model, torch.zeros(2, 6, dtype=torch.float64), sample=5)
    with pytest.raises(invlib.InvalidInputError, match=r"layer 0: Linear failed on an input of shape \(2, 7\)"):
        invlib.diagnose(model, torch.zeros(2, 7, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        invlib.diagnose(lambda v: v, torch.zeros(2, 6))


def test_a_layer_returning_a_tuple_gets_a_typed_error():
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    with pytest.raises(invlib.InvalidInputError, match=r"LSTM.*returns a tuple.*\[0\]"):
        invlib.diagnose(lstm, torch.randn(3, 5, 4))


# --- outsider findings --------------------------------------------------------------------------
def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)).double()


def test_x_without_a_batch_dim_is_a_typed_error() -> None:
    # a (4,) x used to reach Linear as a (1,)-shaped sample: a raw RuntimeError
    with pytest.raises(invlib.InvalidInputError, match=r"batch dim first.*\(4,\).*unsqueeze\(0\)"):
        invlib.diagnose(_mlp(), torch.randn(4, dtype=torch.float64))


def test_empty_batch_says_at_least_one_sample() -> None:
    with pytest.raises(invlib.InvalidInputError, match="at least one sample"):
        invlib.diagnose(_mlp(), torch.randn(0, 4, dtype=torch.float64))


def test_x_on_the_meta_device_is_a_typed_error() -> None:
    with pytest.raises(invlib.InvalidInputError, match="meta device"):
        invlib.diagnose(_mlp(), torch.empty(3, 4, dtype=torch.float64, device="meta"))


@pytest.mark.parametrize("rtol", [-1.0, float("nan"), 1.5])
def test_rtol_outside_zero_one_is_a_typed_error(rtol: float) -> None:
    # rtol=nan used to report rank 0 and cond inf for every layer, silently
    with pytest.raises(invlib.InvalidInputError, match=r"rtol must be .*\[0, 1\)"):
        invlib.diagnose(_mlp(), torch.randn(3, 4, dtype=torch.float64), rtol=rtol)


def test_non_finite_x_message_names_x_not_y() -> None:
    x = torch.randn(3, 4, dtype=torch.float64)
    x[1, 2] = float("nan")
    with pytest.raises(invlib.InvalidInputError) as info:
        invlib.diagnose(_mlp(), x)
    assert "isfinite(x)" in str(info.value) and "(y)" not in str(info.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch._dynamo's own import
def test_compiled_model_is_diagnosed_layer_by_layer() -> None:
    model = _mlp()
    d = invlib.diagnose(torch.compile(model), torch.randn(3, 4, dtype=torch.float64))
    assert [r.layer for r in d.layers] == ["Linear", "Tanh", "Linear"]
