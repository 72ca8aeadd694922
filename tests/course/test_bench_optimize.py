"""``benchmarks/bench_optimize.py``: the L-BFGS baseline's oracle and the repeated timing of short runs."""

from __future__ import annotations

import time

import torch
from torch import nn

from benchmarks import bench_optimize as bench

DT = torch.float64


def _tanh_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)).to(DT).requires_grad_(False)


def test_the_oracle_stops_lbfgs_at_the_first_evaluation_it_accepts_and_returns_that_point():
    model = _tanh_net()
    x_true = torch.randn(3, 4, dtype=DT)
    y = model(x_true)
    seen: list[torch.Tensor] = []

    def done(x: torch.Tensor) -> bool:
        seen.append(x.clone())
        return len(seen) == 5  # the fifth evaluated point, wherever L-BFGS then is

    x, t, iters, evals = bench.run_lbfgs(model, y, torch.zeros_like(x_true), done=done, history_size=20)
    assert evals == 5 and len(seen) == 5
    assert torch.equal(x, seen[-1])
    assert t >= 0 and iters <= 5


def test_the_oracles_own_time_is_not_charged_to_lbfgs():
    model = _tanh_net()
    x_true = torch.randn(3, 4, dtype=DT)
    y = model(x_true)
    calls = []

    def slow_done(x: torch.Tensor) -> bool:
        calls.append(1)
        end = time.process_time() + 0.05  # CPU time, as the benchmark measures on the CPU
        while time.process_time() < end:
            pass
        return len(calls) == 4

    _, t, _, evals = bench.run_lbfgs(model, y, torch.zeros_like(x_true), done=slow_done, history_size=20)
    assert evals == 4
    assert t < 0.1, f"{t:.3f} s charged to L-BFGS: the oracle burned 0.2 s of CPU time in 4 calls"


def test_short_runs_are_repeated_and_their_median_time_reported(monkeypatch):
    times = iter([0.5, 0.1, 0.3, 0.2, 0.4])
    runs = []

    def run():
        runs.append(1)
        return ("x", next(times), "info")

    assert bench._median_time(run) == ("x", 0.3, "info") and len(runs) == bench.REPEATS
    runs.clear()

    def long_run():
        runs.append(1)
        return ("x", bench.SHORT_S + 1.0, "info")

    assert bench._median_time(long_run) == ("x", bench.SHORT_S + 1.0, "info") and len(runs) == 1


def test_the_gpu_script_runs_end_to_end_on_the_cpu_as_a_smoke_test(capsys):
    """``python -m benchmarks.bench_optimize --device cuda`` (gpu_vs_cpu) on a machine without a GPU: the same
    code path with the CPU standing in for the accelerator, on a tiny batch."""
    rows = bench.gpu_vs_cpu(batch=16, dim=8, cpu_threads=1, accelerator="cpu")
    assert [r["net"] for r in rows] == [n["name"] for i, n in enumerate(bench.suite(8)) if i in (0, 3, 6)]
    for r in rows:
        assert r["cuda"]["recovered"] == 1.0 and r["cpu"]["recovered"] == 1.0, r
    assert "| net | GPU time |" in capsys.readouterr().out
