r"""invlib.optimize_inverse against the usual baselines, on seven nets, float64.

For every net: targets :math:`y = f(x^\star)` with :math:`x^\star \sim N(0, I)`, the same start
:math:`x_0 = 0` for every method, and

* invlib ``optimize_inverse(f, y)`` (``method="auto"``, default tol 1e-10);
* ``torch.optim.Adam`` on :math:`\sum_i \|f(x_i) - y_i\|^2` for 5000 steps, with the best of a few
  learning rates (the best = most samples recovered, then lowest median error; its time is the
  time of its 5000 steps);
* ``torch.optim.LBFGS`` (``line_search_fn="strong_wolfe"``, no tolerance stops, the better of
  history sizes 20 and 100) on the same summed objective, checked after every evaluation (line-search
  trial points included) by an *oracle* that knows :math:`x^\star` and stopped at the first point where
  every sample is recovered, or after 5000 iterations; the oracle's own time is not counted (so L-BFGS's
  time is the most favourable one it could get: in practice it cannot know when to stop);
* the exact inverse where one exists (``invlib.inverse(model)``; for the residual net the
  i-ResNet blocks' own fixed-point ``inverse``).

"recovered" is the fraction of samples with :math:`\|x - x^\star\| / \|x^\star\| \le 10^{-8}`
for injective nets; for the expansive ReLU net (injective only where enough ReLUs are active) it
is the fraction with relative residual :math:`\le 10^{-10}` ("(res)"), and the note gives the
fraction of samples at which the net is locally injective.

``main(device="cpu", batch=256, dim=64)`` prints a markdown table and returns the rows.
``python -m benchmarks.bench_optimize --device cuda`` is the GPU run (:func:`gpu_vs_cpu`): batch 4096,
d = 256, invlib on the GPU against invlib on a 2-thread CPU in the same process (``--suite`` runs
the whole baseline table on the GPU instead).
One process, all timings in the same run; a warm-up call (imports, lazy initialisation) runs
first and is not timed.  A timed run shorter than 1 s (invlib's, L-BFGS's) is repeated 5 times and
its median time reported (the results are deterministic); where both invlib's and L-BFGS's runs are that
short, the ratio column is the median ratio of 5 interleaved pairs (the machine's speed drifts over minutes).
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

import invlib

DTYPE = torch.float64
ADAM_LRS = (1e-3, 1e-2, 1e-1)
LBFGS_HISTORY = (20, 100)  # 100 is torch's default; 20 is often faster per iteration
ADAM_STEPS = 5000
LBFGS_MAX_ITER = 5000
TOL = 1e-10
RECOVERY = 1e-8
#: Runs shorter than SHORT_S seconds are repeated REPEATS times and their median time is reported (their results
#: are deterministic): one run of a few tens of milliseconds varies by +-20% on a shared machine.
SHORT_S = 1.0
REPEATS = 5


# ----------------------------------------------------------------------------------------------
# The nets
# ----------------------------------------------------------------------------------------------


def _orthogonal_linear(n_in: int, n_out: int, gen: torch.Generator, bias: float = 0.1) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    with torch.no_grad():
        a = torch.randn(max(n_in, n_out), max(n_in, n_out), generator=gen, dtype=DTYPE)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        lin.weight.copy_(q[:n_out, :n_in])
        lin.bias.copy_(bias * torch.randn(n_out, generator=gen, dtype=DTYPE))
    return lin


def leaky_mlp(dim: int, slope: float, depth: int = 4, seed: int = 0) -> nn.Sequential:
    r"""Bijective :math:`(L \circ \mathrm{LeakyReLU}_{\alpha})^{\circ 4}` with orthogonal weights."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [_orthogonal_linear(dim, dim, gen), nn.LeakyReLU(slope)]
    return nn.Sequential(*layers)


def tanh_mlp(dim: int, depth: int = 3, seed: int = 1) -> nn.Sequential:
    r"""Bijective onto its image: orthogonal :math:`L` and tanh, three times, then a final :math:`L`."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [_orthogonal_linear(dim, dim, gen), nn.Tanh()]
    layers.append(_orthogonal_linear(dim, dim, gen))
    return nn.Sequential(*layers)


def expansive_relu(dim: int, seed: int = 2) -> nn.Sequential:
    r""":math:`\mathbb{R}^d \to \mathbb{R}^{2d}`: :math:`W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2`, :math:`W_1` Gaussian
    :math:`2d \times d`, :math:`W_2` orthogonal."""
    gen = torch.Generator().manual_seed(seed)
    first = nn.Linear(dim, 2 * dim)
    with torch.no_grad():
        first.weight.copy_(torch.randn(2 * dim, dim, generator=gen, dtype=DTYPE) / math.sqrt(dim))
        first.bias.copy_(0.1 * torch.randn(2 * dim, generator=gen, dtype=DTYPE))
    return nn.Sequential(first, nn.ReLU(), _orthogonal_linear(2 * dim, 2 * dim, gen))


def circular_conv_net(dim: int, depth: int = 3, slope: float = 0.2, seed: int = 3) -> nn.Sequential:
    r"""On :math:`C \times 8 \times 8` images (:math:`C = d/64`): three circular 3x3 convolutions
    (centre tap orthogonal, other taps small: invertible) with leaky ReLU in between."""
    channels = max(1, dim // 64)
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="circular")
        with torch.no_grad():
            w = 0.08 * torch.randn(channels, channels, 3, 3, generator=gen, dtype=DTYPE)
            q, r = torch.linalg.qr(torch.randn(channels, channels, generator=gen, dtype=DTYPE))
            w[:, :, 1, 1] = q * torch.sign(torch.diagonal(r))
            conv.weight.copy_(w)
            conv.bias.copy_(0.1 * torch.randn(channels, generator=gen, dtype=DTYPE))
        layers.append(conv)
        if i < depth - 1:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


def residual_net(dim: int, blocks: int = 4, seed: int = 4) -> nn.Sequential:
    r"""Four :class:`invlib.InvertibleResidualBlock` (:math:`\mathrm{Lip}(g) \le 0.7`)."""
    torch.manual_seed(seed)
    return nn.Sequential(*[invlib.InvertibleResidualBlock(dim, hidden=dim, lipschitz=0.7) for _ in range(blocks)])


def suite(dim: int) -> list[dict]:
    """The nets: name, model, per-sample input shape, injective?"""
    side = 8
    channels = max(1, dim // 64)
    return [
        dict(name=f"leaky-ReLU MLP slope 0.5 (d={dim})", model=leaky_mlp(dim, 0.5), shape=(dim,), injective=True),
        dict(name=f"leaky-ReLU MLP slope 0.2 (d={dim})", model=leaky_mlp(dim, 0.2), shape=(dim,), injective=True),
        dict(name=f"leaky-ReLU MLP slope 0.1 (d={dim})", model=leaky_mlp(dim, 0.1), shape=(dim,), injective=True),
        dict(name=f"tanh MLP (d={dim})", model=tanh_mlp(dim), shape=(dim,), injective=True),
        dict(name=f"expansive ReLU MLP (d={dim} -> {2 * dim})", model=expansive_relu(dim), shape=(dim,), injective=False),
        dict(name=f"circular-conv net ({channels}x{side}x{side})", model=circular_conv_net(dim),
             shape=(channels, side, side), injective=True),
        dict(name=f"invertible residual net (4 blocks, d={dim})", model=residual_net(dim), shape=(dim,), injective=True),
    ]


# ----------------------------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------------------------



def _clock(device: torch.device) -> float:
    """Seconds for timing on ``device``: the process's CPU time on the CPU (what a run costs on a shared
    machine, unaffected by other processes' load; with one thread it equals the wall time on a quiet
    machine), wall-clock time on accelerators (the CPU waits for the device)."""
    return time.process_time() if torch.device(device).type == "cpu" else time.perf_counter()

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _x_error(x: Tensor, x_true: Tensor) -> Tensor:
    b = x.shape[0]
    return (x - x_true).reshape(b, -1).norm(dim=1) / x_true.reshape(b, -1).norm(dim=1)


def _rel_residual(f: Callable[[Tensor], Tensor], x: Tensor, y: Tensor) -> Tensor:
    b = y.shape[0]
    with torch.no_grad():
        return (f(x) - y).reshape(b, -1).norm(dim=1) / y.reshape(b, -1).norm(dim=1)


def _score(f: Callable[[Tensor], Tensor], x: Tensor, x_true: Tensor, y: Tensor, injective: bool) -> tuple[float, float]:
    """(fraction recovered, median x error or residual)."""
    if not bool(torch.isfinite(x).all()):
        bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
        x = torch.where(bad.reshape(-1, *([1] * (x.dim() - 1))), torch.zeros_like(x), x)
    if injective:
        err = _x_error(x, x_true)
        return float((err <= RECOVERY).double().mean()), float(err.median())
    res = _rel_residual(f, x, y)
    return float((res <= TOL).double().mean()), float(res.median())


def _median_time(run: Callable[[], tuple]) -> tuple:
    """``run()`` returns ``(x, time, ...)``; a run under :data:`SHORT_S` is repeated, and the median time kept."""
    out = run()
    if out[1] >= SHORT_S:
        return out
    times = [out[1]] + [run()[1] for _ in range(REPEATS - 1)]
    return (out[0], statistics.median(times), *out[2:])


def run_invlib(model: nn.Module, y: Tensor, shape: tuple[int, ...], **options) -> tuple[Tensor, float, str]:
    _sync(y.device)
    t0 = _clock(y.device)
    res = invlib.optimize_inverse(model, y, input_shape=shape, **options)
    _sync(y.device)
    return res.x, _clock(y.device) - t0, (f"{res.method}, {res.iterations} it, "
                                          f"{res.evaluations['jacobian_rows']} Jacobian rows")


def run_adam(model: nn.Module, y: Tensor, x0: Tensor, lr: float, steps: int = ADAM_STEPS) -> tuple[Tensor, float]:
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    _sync(y.device)
    t0 = _clock(y.device)
    for _ in range(steps):
        opt.zero_grad()
        loss = (model(x) - y).pow(2).sum()
        loss.backward()
        opt.step()
    _sync(y.device)
    return x.detach(), _clock(y.device) - t0


class _Recovered(Exception):
    """Raised by the oracle inside L-BFGS's closure to end the run at the point just evaluated."""


def run_lbfgs(
    model: nn.Module,
    y: Tensor,
    x0: Tensor,
    max_iter: int = LBFGS_MAX_ITER,
    done: Callable[[Tensor], bool] | None = None,
    history_size: int = 100,
) -> tuple[Tensor, float, int, int]:
    """torch.optim.LBFGS on the summed objective, stopped by an oracle; returns ``(x, time, iterations, evaluations)``.

    ``done(x)`` is asked after *every* evaluation of the objective, line-search trial points included: the
    first point it accepts ends the run and is returned, and the time the oracle itself takes is not
    counted -- the most favourable stop L-BFGS could get (in practice it cannot know when to stop).
    (Until session 11 the oracle looked only every 20 iterations, which on a net solved in 17 iterations
    charged L-BFGS for 3 more: up to ~40% of its time there.)
    """
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=20, history_size=history_size, tolerance_grad=0.0,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")
    state = {"evals": 0, "oracle": 0.0, "hit": None}

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (model(x) - y).pow(2).sum()
        loss.backward()
        state["evals"] += 1
        if done is not None:
            _sync(y.device)
            t_in = _clock(y.device)
            if done(x.detach()):
                state["hit"] = x.detach().clone()
            _sync(y.device)
            state["oracle"] += _clock(y.device) - t_in
            if state["hit"] is not None:
                raise _Recovered
        return loss

    _sync(y.device)
    t0 = _clock(y.device)
    iters = 0
    try:
        while iters < max_iter:
            opt.step(closure)
            n_iter = opt.state[x]["n_iter"]
            if n_iter == iters:  # no progress possible (zero gradient)
                break
            iters = n_iter
    except _Recovered:
        iters = opt.state[x].get("n_iter", iters)
    _sync(y.device)
    t = _clock(y.device) - t0 - state["oracle"]
    return (x.detach() if state["hit"] is None else state["hit"]), t, iters, state["evals"]


def run_exact(model: nn.Module, y: Tensor) -> tuple[Tensor | None, float, str]:
    try:
        inv = invlib.inverse(model)
    except (ValueError, NotImplementedError, TypeError) as exc:  # NotInvertibleError is a ValueError
        return None, float("nan"), f"no exact inverse ({type(exc).__name__})"
    try:
        with torch.no_grad():
            inv(y[:2])  # warm-up (factorisations happen at build time or on first call)
            _sync(y.device)
            t0 = _clock(y.device)
            x = inv(y)
            _sync(y.device)
    except invlib.UnrecoverableSamplesError as exc:  # a many-to-one net: some samples have no unique preimage
        return None, float("nan"), f"exact inverse refuses {len(exc.samples)} samples ({type(exc).__name__})"
    return x, _clock(y.device) - t0, ""


def _locally_injective(model: nn.Sequential, x: Tensor) -> float:
    """Fraction of samples where the expansive net's Jacobian has full column rank."""
    from invlib._newton import batched_jacobian

    J = batched_jacobian(lambda z: model(z), x)
    rank = torch.linalg.matrix_rank(J)
    return float((rank == x.shape[1]).double().mean())


def unit_costs(model: nn.Module, y: Tensor, shape: tuple[int, ...], repeats: int = 5) -> tuple[float, float]:
    """Median seconds of one forward pass of the batch and of one batched Jacobian plus its inverse.

    These are the units a Newton-type method spends: they turn a time budget (a tenth of L-BFGS's
    time) into a number of full-batch forward passes or exact Newton steps.
    """
    from invlib._newton import batched_jacobian, inverse_and_condition

    b = y.shape[0]
    x = torch.randn((b, *shape), dtype=y.dtype, device=y.device)

    def flat(z: Tensor) -> Tensor:
        return model(z.reshape(z.shape[0], *shape)).reshape(z.shape[0], -1)

    def timed(fn: Callable[[], object]) -> float:
        fn()
        times = []
        for _ in range(repeats):
            _sync(y.device)
            t0 = _clock(y.device)
            fn()
            _sync(y.device)
            times.append(_clock(y.device) - t0)
        return sorted(times)[len(times) // 2]

    with torch.no_grad():
        t_fwd = timed(lambda: model(x))
    xf = x.reshape(b, -1)
    t_jac = timed(lambda: inverse_and_condition(batched_jacobian(flat, xf))) if xf.shape[1] == y[0].numel() else float("nan")
    return t_fwd, t_jac


def bench_net(net: dict, batch: int, device: torch.device, adam_steps: int = ADAM_STEPS) -> dict:
    model = net["model"].to(device=device, dtype=DTYPE).eval().requires_grad_(False)
    shape = net["shape"]
    gen = torch.Generator().manual_seed(123)
    x_true = torch.randn((batch, *shape), generator=gen, dtype=DTYPE).to(device)
    with torch.no_grad():
        y = model(x_true)
    x0 = torch.zeros_like(x_true)
    injective = net["injective"]
    row: dict = {"net": net["name"]}
    # invlib
    x, t, info = _median_time(lambda: run_invlib(model, y, shape))
    row["invlib"] = (*_score(model, x, x_true, y, injective), t)
    row["invlib_info"] = info
    # the same with Newton's inverse Jacobians stored in float32 (jacobian_dtype=torch.float32, opt-in)
    x, t, _ = _median_time(lambda: run_invlib(model, y, shape, jacobian_dtype=torch.float32))
    row["invlib_f32"] = (*_score(model, x, x_true, y, injective), t)
    # Newton on the whole map only (stagewise=False): differs from the default on stacks of affine layers and
    # ReLU-family activations, which the default starts stage by stage from x0 = 0
    x, t, info = _median_time(lambda: run_invlib(model, y, shape, stagewise=False))
    row["invlib_whole"] = (*_score(model, x, x_true, y, injective), t)
    row["invlib_whole_info"] = info
    # L-BFGS, stopped by an oracle as soon as every sample is recovered (most favourable to it)
    def recovered(x: Tensor) -> bool:
        return _score(model, x, x_true, y, injective)[0] == 1.0

    best_lbfgs = None
    for history in LBFGS_HISTORY:
        x, t, iters, evals = _median_time(lambda: run_lbfgs(model, y, x0, done=recovered, history_size=history))
        frac, med = _score(model, x, x_true, y, injective)
        key = (frac, -t)
        if best_lbfgs is None or key > best_lbfgs[0]:
            best_lbfgs = (key, (frac, med, t), f"history {history}, {iters} it, {evals} evaluations", history)
    assert best_lbfgs is not None
    row["lbfgs"] = best_lbfgs[1]
    row["lbfgs_info"] = best_lbfgs[2]
    # The headline ratio of short runs from interleaved pairs (invlib, then L-BFGS with the chosen history): the
    # machine's speed drifts by 10-40% over minutes on a shared host, and runs timed minutes apart carry that
    # drift into their ratio; the ratio is the median of the pairs' ratios, the cells the medians of their times.
    if row["lbfgs"][0] >= 0.99 and max(row["invlib"][2], row["lbfgs"][2]) < SHORT_S:
        pairs = [(run_invlib(model, y, shape)[1],
                  run_lbfgs(model, y, x0, done=recovered, history_size=best_lbfgs[3])[1]) for _ in range(REPEATS)]
        row["invlib"] = (*row["invlib"][:2], statistics.median(p[0] for p in pairs))
        row["lbfgs"] = (*row["lbfgs"][:2], statistics.median(p[1] for p in pairs))
        row["ratio"] = statistics.median(p[1] / p[0] for p in pairs)
    # Adam: best lr
    best = None
    for lr in ADAM_LRS:
        x, t = run_adam(model, y, x0, lr, adam_steps)
        frac, med = _score(model, x, x_true, y, injective)
        key = (frac, -med if math.isfinite(med) else -math.inf)
        if best is None or key > best[0]:
            best = (key, (frac, med, t), lr)
    assert best is not None
    row["adam"] = best[1]
    row["adam_info"] = f"lr {best[2]:g}"
    # exact inverse
    if isinstance(model[0], invlib.InvertibleResidualBlock):
        with torch.no_grad():
            _sync(device)
            t0 = _clock(y.device)
            x = y
            for block in reversed(model):
                x = block.inverse(x)
            _sync(device)
        row["exact"] = (*_score(model, x, x_true, y, injective), _clock(y.device) - t0)
        row["exact_info"] = "blocks' fixed-point inverse"
    else:
        x, t, info = run_exact(model, y)
        row["exact"] = None if x is None else (*_score(model, x, x_true, y, injective), t)
        row["exact_info"] = info
    row["injective"] = injective
    row["unit_costs"] = unit_costs(model, y, shape)
    if not injective:
        row["note"] = f"locally injective at {100 * _locally_injective(model, x_true[:64]):.0f}% of x*"
    return row


def _cell(v: tuple[float, float, float] | None, injective: bool) -> str:
    if v is None:
        return "-"
    frac, med, t = v
    tag = "" if injective else " (res)"
    return f"{100 * frac:.1f}%{tag}, {t:.2f} s"


def main(device: str = "cpu", batch: int = 256, dim: int = 64, adam_steps: int = ADAM_STEPS,
         nets: tuple[int, ...] | None = None) -> list[dict]:
    """Run the suite (or the nets of :func:`suite` numbered in ``nets``), print a markdown table, return the rows."""
    dev = torch.device(device)
    # warm-up: imports and lazy initialisation of torch.func / autograd / LBFGS
    warm = leaky_mlp(8, 0.5).to(device=dev, dtype=DTYPE).eval().requires_grad_(False)
    xw = torch.randn(4, 8, dtype=DTYPE, device=dev)
    invlib.optimize_inverse(warm, warm(xw))
    run_lbfgs(warm, warm(xw), torch.zeros_like(xw), max_iter=20, history_size=LBFGS_HISTORY[0])
    run_adam(warm, warm(xw), torch.zeros_like(xw), 1e-2, steps=5)
    rows = []
    for i, net in enumerate(suite(dim)):
        if nets is not None and i not in nets:
            continue
        row = bench_net(net, batch, dev, adam_steps)
        rows.append(row)
    print(
        f"optimize_inverse vs baselines: float64, batch {batch}, d = {dim}, device {device}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads). Cells: fraction recovered to "
        f"1e-8 relative error in x ('(res)': relative residual <= 1e-10, for the non-injective net), "
        f"{'CPU' if dev.type == 'cpu' else 'wall'} time. Adam: {adam_steps} steps, best lr of {ADAM_LRS}; L-BFGS: strong Wolfe, best "
        f"history size of {LBFGS_HISTORY}, stopped by an oracle at the first evaluated point "
        f"where all samples are recovered (checked after every evaluation, its own time not counted) or after "
        f"{LBFGS_MAX_ITER} iterations.\n"
    )
    print("invlib auto: `optimize_inverse` with its defaults, which on the leaky-ReLU MLPs and the conv net (stacks "
          "of affine layers and ReLU-family activations) start from x0 = 0 stage by stage, one layer at a time "
          "('it' then counts the whole-map Newton iterations after that start; the Jacobian rows count all). "
          "'whole map': the same with stagewise=False.\n")
    print("| net | invlib auto | Adam | L-BFGS | exact inverse | L-BFGS time / invlib time (f32: with "
          "float32 inverse Jacobians; whole map: stagewise=False) | notes |")
    print("|---|---|---|---|---|---:|---|")
    for r in rows:
        inj = r["injective"]
        speed, budget = "L-BFGS fails", ""
        f32 = r.get("invlib_f32")
        if r["lbfgs"][0] >= 0.99:  # and what a tenth of L-BFGS's time buys
            speed = f"{r.get('ratio', r['lbfgs'][2] / r['invlib'][2]):.1f}x"
            if f32 is not None:
                speed += f" ({r['lbfgs'][2] / f32[2]:.1f}x f32)"
            whole = r.get("invlib_whole")
            if whole is not None:
                speed += f" ({r['lbfgs'][2] / whole[2]:.1f}x whole map)"
            t_fwd, t_jac = r["unit_costs"]
            tenth = r["lbfgs"][2] / 10
            budget = f"a tenth of L-BFGS's time ({1e3 * tenth:.0f} ms) = {tenth / t_fwd:.0f} forward passes"
            if math.isnan(t_jac):  # non-square: no inverse to count
                budget += f" of the whole batch ({1e3 * t_fwd:.2f} ms each)"
            else:
                budget += (f" or {tenth / t_jac:.1f} Jacobians + inverses of the whole batch ({1e3 * t_fwd:.2f} / "
                           f"{1e3 * t_jac:.1f} ms each)")
        f32_note = "" if f32 is None else f"jacobian_dtype=float32: {_cell(f32, inj)}"
        whole_note = "" if "invlib_whole" not in r else (
            f"stagewise=False: {_cell(r['invlib_whole'], inj)}, {r['invlib_whole_info']}")
        notes = "; ".join(
            s for s in (f"invlib: {r['invlib_info']}", f32_note, whole_note, f"Adam {r['adam_info']}", f"L-BFGS {r['lbfgs_info']}",
                        r.get("exact_info", ""), r.get("note", ""), budget) if s
        )
        print(f"| {r['net']} | {_cell(r['invlib'], inj)} | {_cell(r['adam'], inj)} | {_cell(r['lbfgs'], inj)} | "
              f"{_cell(r['exact'], inj)} | {speed} | {notes} |")
    return rows


def gpu_vs_cpu(batch: int = 4096, dim: int = 256, cpu_threads: int = 2, cpu_batch: int | None = None,
               nets: tuple[int, ...] = (0, 3, 6), accelerator: str = "cuda") -> list[dict]:
    """invlib on CUDA against invlib on a ``cpu_threads``-thread CPU, same problems, same process.

    For each chosen net of :func:`suite` (default: the slope-0.5 leaky MLP, the tanh MLP and the
    invertible residual net): targets of ``batch`` random inputs, ``optimize_inverse`` with defaults on
    the GPU (after a warm-up), then on the CPU with ``torch.set_num_threads(cpu_threads)``.  The CPU may
    solve only the first ``cpu_batch`` rows (samples are independent, so time scales linearly in the
    batch; the table says when this extrapolation was used).  Prints a markdown table.
    """
    if accelerator == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_vs_cpu needs CUDA")
    gpu = torch.device(accelerator)  # "cpu" only to smoke-test this function on a machine without a GPU
    cpu_batch = batch if cpu_batch is None else min(cpu_batch, batch)
    warm = leaky_mlp(dim, 0.5).to(device=gpu, dtype=DTYPE).eval().requires_grad_(False)
    xw = torch.randn(8, dim, dtype=DTYPE, device=gpu)
    invlib.optimize_inverse(warm, warm(xw))
    chosen = [n for i, n in enumerate(suite(dim)) if i in nets]
    rows = []
    for net in chosen:
        shape = net["shape"]
        gen = torch.Generator().manual_seed(123)
        x_true = torch.randn((batch, *shape), generator=gen, dtype=DTYPE)
        row: dict = {"net": net["name"]}
        for where in ("cuda", "cpu"):
            dev = gpu if where == "cuda" else torch.device("cpu")
            if where == "cpu":
                net = dict(net, model=copy.deepcopy(net["model"]).cpu())
            n_rows = batch if where == "cuda" else cpu_batch
            old_threads = torch.get_num_threads()
            if where == "cpu":
                torch.set_num_threads(cpu_threads)
            try:
                model = net["model"].to(device=dev, dtype=DTYPE).eval().requires_grad_(False)
                xt = x_true[:n_rows].to(dev)
                with torch.no_grad():
                    y = model(xt)
                _sync(dev)
                t0 = time.perf_counter()
                res = invlib.optimize_inverse(model, y, input_shape=shape)
                _sync(dev)
                t = time.perf_counter() - t0
            finally:
                torch.set_num_threads(old_threads)
            frac, med = _score(model, res.x, xt, y, net["injective"])
            row[where] = dict(time=t * batch / n_rows, measured_rows=n_rows, recovered=frac, median_err=med,
                              iterations=res.iterations, chunks=res.chunks, status=res.status_counts())
            print(f"  {net['name']} on {where}: {t:.2f} s for {n_rows} rows, recovered {100 * frac:.1f}%, "
                  f"{res.iterations} it, {res.chunks} chunk(s), {res.status_counts()}", flush=True)
        rows.append(row)
    name = torch.cuda.get_device_name(gpu) if gpu.type == "cuda" else str(gpu)
    print(f"\noptimize_inverse, GPU vs {cpu_threads}-thread CPU: float64, batch {batch}, d = {dim}, {name}, "
          f"torch {torch.__version__}. Recovered: relative error in x <= 1e-8.\n")
    print(f"| net | GPU time | GPU recovered | CPU ({cpu_threads} threads) time | CPU recovered | CPU / GPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        g, c = r["cuda"], r["cpu"]
        extra = "" if c["measured_rows"] == batch else f" (measured on {c['measured_rows']} rows, scaled)"
        print(f"| {r['net']} | {g['time']:.2f} s | {100 * g['recovered']:.1f}% | {c['time']:.1f} s{extra} | "
              f"{100 * c['recovered']:.1f}% | {c['time'] / g['time']:.1f}x |")
    return rows


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dim", type=int, default=64, help="input dimension (a multiple of 64 for the conv net)")
    parser.add_argument("--adam-steps", type=int, default=ADAM_STEPS)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--nets", type=int, nargs="+", default=None,
                        help="only these nets of the suite (0-based, in the table's order)")
    parser.add_argument("--suite", action="store_true",
                        help="with --device cuda: the whole baseline suite on the GPU instead of GPU vs CPU")
    parser.add_argument("--cpu-threads", type=int, default=2, help="GPU vs CPU: threads of the CPU run")
    parser.add_argument("--cpu-batch", type=int, default=None,
                        help="GPU vs CPU: rows the CPU solves (time scaled to the batch); default all")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda requested but torch.cuda.is_available() is False")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not args.suite:
        batch = 4096 if args.batch == parser.get_default("batch") else args.batch
        dim = 256 if args.dim == parser.get_default("dim") else args.dim
        gpu_vs_cpu(batch=batch, dim=dim, cpu_threads=args.cpu_threads, cpu_batch=args.cpu_batch)
        return
    main(device=args.device, batch=args.batch, dim=args.dim, adam_steps=args.adam_steps,
         nets=None if args.nets is None else tuple(args.nets))


if __name__ == "__main__":
    _cli()
