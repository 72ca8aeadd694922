"""Speed of invlib's exact inverses relative to the forward pass (CPU, after a warm-up call).

Rows (median of ``repeats`` timings, ``torch.inference_mode``, forward and inverse interleaved
so that load on a shared machine hits both alike):

(a) a 4-layer width-256 leaky-ReLU MLP at batch 4096 (target: inverse <= 2x forward), once with
    the default ``solver="explicit"`` (cached inverse matrices, one GEMM per layer) and once with
    ``solver="lu"`` (cached LU factors, triangular solves);
(b) a circular-conv net: 3 x (Conv2d 8->8 3x3 circular + LeakyReLU) on 32x32 images;
(c) an invlib coupling flow: 4 ``AffineCoupling(64, hidden=256)`` layers, alternating halves;
(d) FrEIA 0.2's equivalent net (2 ``GLOWCouplingBlock`` = 4 one-sided affine couplings with the
    same subnets), reverse vs forward pass with ``jac=False``; "FrEIA not installed" otherwise.

The round-trip error column is ``max |f^{-1}(f(x)) - x|`` in float32 (weights of (a) are
orthogonal so the composition stays well conditioned; with PyTorch's default init the 4-layer
product of condition numbers is ~1e10 and float32 round trips are meaningless).

Run: ``python -m benchmarks.bench_exact`` (or via ``make bench``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import invlib


def _time_pair(fwd: Callable[[], object], inv: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``fwd()`` and ``inv()`` over ``repeats`` interleaved runs, after a warm-up."""
    fwd()
    inv()
    tf, ti = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fwd()
        t1 = time.perf_counter()
        inv()
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        ti.append(t2 - t1)
    return statistics.median(tf), statistics.median(ti)


def _row(name: str, fwd_s: float, inv_s: float, err: float | None, note: str = "") -> dict:
    return {"case": name, "forward_ms": 1e3 * fwd_s, "inverse_ms": 1e3 * inv_s,
            "ratio": inv_s / fwd_s, "max_abs_err": err, "note": note}


def mlp(width: int = 256, depth: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        lin = nn.Linear(width, width)
        nn.init.orthogonal_(lin.weight)
        layers += [lin, nn.LeakyReLU(0.1)]
    return nn.Sequential(*layers).eval()


def conv_net(channels: int = 8, depth: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="circular")
        with torch.no_grad():
            conv.weight.mul_(0.5)
            conv.weight[:, :, 1, 1] += torch.eye(channels)
        layers += [conv, nn.LeakyReLU(0.1)]
    return nn.Sequential(*layers).eval()


def _subnet(n_in: int, n_out: int, hidden: int = 256) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


def bench_mlp(repeats: int, batch: int = 4096) -> list[dict]:
    torch.manual_seed(0)
    model = mlp()
    x = torch.randn(batch, 256)
    rows = []
    with torch.inference_mode():
        y = model(x)
        for solver in ("explicit", "lu"):
            inv = invlib.inverse(model, solver=solver)
            err = (inv(y) - x).abs().max().item()
            tf, ti = _time_pair(lambda: model(x), lambda: inv(y), repeats)
            rows.append(_row(f"(a) MLP 4x256 leaky-ReLU, batch {batch}, solver={solver}", tf, ti, err,
                             "target ratio <= 2" if solver == "explicit" else ""))
    return rows


def bench_conv(repeats: int, batch: int = 256) -> list[dict]:
    torch.manual_seed(1)
    model = conv_net()
    x = torch.randn(batch, 8, 32, 32)
    with torch.inference_mode():
        y = model(x)
        inv = invlib.inverse(model)
        err = (inv(y) - x).abs().max().item()
        tf, ti = _time_pair(lambda: model(x), lambda: inv(y), repeats)
    return [_row(f"(b) circular conv 3x(8ch 3x3), 32x32, batch {batch}", tf, ti, err)]


def bench_flow(repeats: int, batch: int = 4096, dim: int = 64) -> list[dict]:
    torch.manual_seed(2)
    flow = nn.Sequential(*[invlib.AffineCoupling(dim, 256, swap=bool(i % 2)) for i in range(4)]).eval()
    x = torch.randn(batch, dim)
    rows = []
    with torch.inference_mode():
        y = flow(x)
        inv = invlib.inverse(flow)
        err = (inv(y) - x).abs().max().item()
        tf, ti = _time_pair(lambda: flow(x), lambda: inv(y), repeats)
        rows.append(_row(f"(c) invlib 4x AffineCoupling({dim}, hidden 256), batch {batch}", tf, ti, err))
    try:
        import FrEIA.framework as Ff
        import FrEIA.modules as Fm
    except ImportError:
        rows.append({"case": "(d) FrEIA 2x GLOWCouplingBlock (4 couplings)", "forward_ms": None,
                     "inverse_ms": None, "ratio": None, "max_abs_err": None, "note": "FrEIA not installed"})
        return rows
    torch.manual_seed(2)
    inn = Ff.SequenceINN(dim)
    for _ in range(2):
        inn.append(Fm.GLOWCouplingBlock, subnet_constructor=_subnet, clamp=2.0, clamp_activation="TANH")
    inn.eval()
    with torch.inference_mode():
        z, _ = inn(x, jac=False)
        x_rev, _ = inn(z, rev=True, jac=False)
        err = (x_rev - x).abs().max().item()
        tf, ti = _time_pair(lambda: inn(x, jac=False), lambda: inn(z, rev=True, jac=False), repeats)
    import FrEIA

    version = getattr(FrEIA, "__version__", "0.2")
    rows.append(_row(f"(d) FrEIA {version} 2x GLOWCouplingBlock (4 couplings), batch {batch}", tf, ti, err,
                     "reverse vs forward, jac=False"))
    return rows


def _fmt(v: object, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main(repeats: int = 7) -> list[dict]:
    """Run every case, print a markdown table, return the rows (dicts)."""
    rows = bench_mlp(repeats) + bench_conv(repeats) + bench_flow(repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {repeats} after warm-up\n")
    print("| case | forward ms | inverse ms | inverse/forward | max abs round-trip error | note |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['case']} | {_fmt(r['forward_ms'], '.2f')} | {_fmt(r['inverse_ms'], '.2f')} | "
              f"{_fmt(r['ratio'], '.2f')} | {_fmt(r['max_abs_err'], '.2e')} | {r['note']} |")
    return rows


if __name__ == "__main__":
    main()
