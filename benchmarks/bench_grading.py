"""Grading wall time: stock sequential ``nbgrader autograde`` vs ``gradekit`` on 2 processes, with each of
its parts switched off in turn, and the trust boundary's evaluator: CPU seconds per notebook.

``python -m benchmarks.bench_grading [--n 100] [--assignment ex01_functions] [--rounds 2] [--evaluators 10]
[--rows stock,full,...] [--more-workers 3]``

The submissions are synthetic and mixed: 40 % correct, 40 % partial (the first answer missing, or a
declared wrong submission from ``tests/wrong_submissions/``), 20 % broken (the untouched release, a
malformed notebook). Stock runs this course's configuration without the hardening (no sandbox, no
guards, no boundary); the gradekit rows use the full hardened configuration -- the sandbox (each kernel
capped at 1 CPU), the trust boundary (test cells evaluated in a grader-side process,
:mod:`gradekit.boundary`) and the merge into the gradebook -- less the one part a row switches off:

* the kernel server (:mod:`gradekit.zygote`): off, every notebook's kernel is a fresh process that
  imports torch again, instead of a fork of a server that imported it once per worker;
* the evaluator server (:mod:`gradekit.boundary_server`): off, every notebook's trusted evaluator is a
  fresh ``python -m gradekit.trusted`` that imports torch again;
* the trust boundary itself: nbgrader's plain ``Execute`` runs the tests in the student's kernel (as
  before the boundary); the difference to the full row is the boundary's cost.

One more row, the full configuration with ``--more-workers`` worker processes on the same cores: a worker
spends part of each notebook waiting (the grader for the kernel, the kernel for the evaluator, one message
at a time), so a third process on two cores may fill that time. ``--rows`` picks the rows to run (keys:
:data:`ROW_KEYS`; the stock row always runs: every speed-up is against it).

The machine is shared, so the configurations run interleaved: the submissions are cut into ``rounds``
slices, each slice is graded by every configuration in turn, in the opposite order in every other round
(a drift of the load hits all rows alike), and each row's load average is the mean of the 1-minute load
averages read before each of its slices.

The evaluator table starts ``evaluators`` trusted evaluators each way (fresh process, fork of the
server; alternating), runs an instructor cell and a test cell in each, and reads the evaluator's own
CPU time (``/proc/PID/stat``, in clock ticks of 10 ms) before closing it: the CPU the boundary's evaluator
costs per notebook. The server's own imports (once per worker) are not in it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gradekit.runner import grade_all
from gradekit.submissions import Submission
from tests.hostile.cases import controls
from tests.hostile.measure import stock_config
from tools.nbgrader_course import (Course, load_wrong_submissions, nbgrader_env, run_nbgrader,
                                   wrong_submission, correct_submission)
import nbformat

STOCK = "stock nbgrader autograde, sequential"
FULL = "gradekit, 2 workers: kernel server + evaluator server (the course's configuration)"
NO_EVALUATOR_SERVER = "gradekit, 2 workers, evaluator server off (a fresh evaluator per notebook)"
NO_KERNEL_SERVER = "gradekit, 2 workers, kernel server off (a fresh kernel per notebook)"
NO_BOUNDARY = "gradekit, 2 workers, no trust boundary (tests in the kernel: plain Execute)"
MORE_WORKERS = "gradekit, more workers than cores: kernel server + evaluator server"
CONFIGS = {  # row -> how the course's nbgrader_config.py is changed (None: stock nbgrader)
    STOCK: None,
    FULL: "",
    NO_EVALUATOR_SERVER: "\nc.TrustedExecute.evaluator_server = False\n",
    NO_KERNEL_SERVER: "\nc.SandboxKernelManager.use_zygote = False\n",
    NO_BOUNDARY: "plain Execute",
    MORE_WORKERS: "",
}
ROW_KEYS = {"stock": STOCK, "full": FULL, "no-evaluator-server": NO_EVALUATOR_SERVER,
            "no-kernel-server": NO_KERNEL_SERVER, "no-boundary": NO_BOUNDARY, "more-workers": MORE_WORKERS}


def synthetic(release: dict, aid: str, n: int) -> list[Submission]:
    """``n`` mixed submissions (see module doc), student ids ``s000``..."""
    base = controls(release, aid)
    correct = correct_submission(release, aid)
    wrong = [{k: nbformat.writes(v).encode() for k, v in wrong_submission(correct, spec["replace"]).items()}
             for spec in load_wrong_submissions(aid).values()]
    partial = [base["first-removed"], *wrong]
    broken = [base["release"], {name: b"{ not a notebook" for name in release}]
    out = []
    for i in range(n):
        kind = i % 10
        files = base["correct"] if kind < 4 else partial[i % len(partial)] if kind < 8 else broken[i % 2]
        out.append(Submission(f"s{i:03d}", files))
    return out


def _course(root: Path, aid: str, change: str | None) -> Course:
    course = Course(root)
    cfg = course.root / "nbgrader_config.py"
    if change is None:
        cfg.write_text(stock_config())
    elif change == "plain Execute":
        text = cfg.read_text()
        assert "TrustedExecute, IgnorePattern" in text
        cfg.write_text(text.replace("TrustedExecute, IgnorePattern", "Execute, IgnorePattern").replace(
            "from gradekit.boundary import TrustedExecute", "from nbgrader.preprocessors import Execute"))
    elif change:
        cfg.write_text(cfg.read_text() + change)
    course.release(aid)
    return course


def _grade_stock(course: Course, aid: str, subs: list[Submission]) -> None:
    grading = course.root / "_grading"
    for folder in ("submitted", "autograded"):  # this slice only: nbgrader grades every submitted folder
        shutil.rmtree(grading / folder, ignore_errors=True)
    for s in subs:
        folder = grading / "submitted" / s.student / aid
        folder.mkdir(parents=True)
        for name, data in s.files.items():
            (folder / name).write_bytes(data)
    try:
        run_nbgrader(course.root, "autograde", aid, "--create", "--force")
    except RuntimeError:
        pass  # nbgrader exits 1 because the malformed notebooks fail; the rest is graded


def bench(n: int, aid: str, workers: int = 2, rounds: int = 2, rows: list[str] | None = None,
          more_workers: int = 3) -> dict[str, dict[str, float]]:
    """Per configuration (:data:`CONFIGS`, or the ``rows`` named): wall ``seconds`` for the same ``n``
    submissions, graded in ``rounds`` interleaved slices, and the mean 1-minute ``load`` average before its
    slices. The gradekit rows use ``workers`` processes, the :data:`MORE_WORKERS` row ``more_workers``."""
    os.environ["PATH"] = nbgrader_env()["PATH"]
    configs = {name: change for name, change in CONFIGS.items() if rows is None or name in rows or name == STOCK}
    out = {name: {"seconds": 0.0, "load": 0.0} for name in configs}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        courses = {name: _course(Path(tmp) / f"c{i}", aid, change) for i, (name, change) in enumerate(configs.items())}
        subs = synthetic(courses[STOCK].released_notebooks(aid), aid, n)
        for r in range(rounds):
            part = subs[r::rounds]
            for name in (list(configs) if r % 2 == 0 else list(reversed(configs))):
                load = os.getloadavg()[0]
                out[name]["load"] += load / rounds
                start = time.monotonic()
                if configs[name] is None:
                    _grade_stock(courses[name], aid, part)
                else:
                    grade_all(courses[name].root, aid, part, progress=False,
                              workers=more_workers if name == MORE_WORKERS else workers)
                seconds = time.monotonic() - start
                out[name]["seconds"] += seconds
                print(f"bench_grading: round {r + 1}/{rounds}, {name}: {len(part)} submissions in {seconds:.1f} s "
                      f"(load {load:.2f})", file=sys.stderr, flush=True)
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the running process ``pid`` (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def evaluator_cost(k: int) -> dict[str, dict[str, float]]:
    """Mean CPU seconds of one notebook's trusted evaluator, fresh process vs fork of the server (``k`` each,
    alternating), and mean wall seconds until it is ready; the mean load average before each."""
    from gradekit import boundary_server
    from gradekit.boundary import Evaluator

    os.environ.pop(boundary_server.SERVER_ENV, None)
    path, pid = boundary_server.server()
    ready = Evaluator(use_server=True)  # the server's own imports are paid once per worker, not measured here
    ready.wait_ready(300)
    ready.close()
    names = {False: "fresh `python -m gradekit.trusted` per notebook", True: "fork of the evaluator server"}
    out = {name: {"cpu": 0.0, "ready": 0.0, "load": 0.0} for name in names.values()}
    cells = [("import math\nimport torch\nimport numpy as np", True),
             ("assert torch.allclose(torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))\n"
              "assert math.isclose(float(np.float64(2.0)), 2.0)", False)]
    for i in range(k):
        for use_server in ((False, True) if i % 2 == 0 else (True, False)):
            row = out[names[use_server]]
            row["load"] += os.getloadavg()[0] / k
            start = time.monotonic()
            ev = Evaluator(use_server=use_server)
            try:
                ev.wait_ready(300)
                row["ready"] += (time.monotonic() - start) / k
                for source, instructor in cells:
                    ev.channel.send({"op": "cell", "source": source, "label": "bench", "instructor": instructor})
                    answer = ev.channel.recv(300)
                    assert answer and answer.get("error") is None, answer
                row["cpu"] += _cpu_seconds(ev.pid) / k
            finally:
                ev.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions (default 100)")
    parser.add_argument("--assignment", default="ex01_functions")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved slices of the submissions (default 2)")
    parser.add_argument("--evaluators", type=int, default=10, metavar="K",
                        help="trusted evaluators started each way for the evaluator table (default 10; 0: none)")
    parser.add_argument("--only-evaluators", action="store_true", help="measure only the evaluator table")
    parser.add_argument("--rows", default=",".join(ROW_KEYS), help=f"comma-separated rows to run, of {', '.join(ROW_KEYS)} "
                        "(default all; stock always runs)")
    parser.add_argument("--more-workers", type=int, default=3, help="worker processes of the more-workers row (default 3)")
    if argv is None and __name__ != "__main__":
        argv = []  # called by `python -m benchmarks [bench_grading]`: sys.argv holds the runner's arguments
    args = parser.parse_args(argv)
    if args.n < args.rounds or args.rounds < 1:
        parser.error("--rounds must be at least 1 and --n at least --rounds")
    unknown = [key for key in args.rows.split(",") if key not in ROW_KEYS]
    if unknown:
        parser.error(f"unknown rows {unknown}; valid: {', '.join(ROW_KEYS)}")
    rows = [ROW_KEYS[key] for key in args.rows.split(",")]
    if args.evaluators:
        cost = evaluator_cost(args.evaluators)
        print(f"The trust boundary's evaluator, one per graded notebook: {args.evaluators} started each way, "
              "alternating; CPU time of the evaluator process itself (its imports, an instructor cell and a "
              "test cell), wall time until it is ready.\n")
        print("| evaluator | CPU s / notebook | s until ready | load average (1 min) |\n|---|---:|---:|---:|")
        for name, row in cost.items():
            print(f"| {name} | {row['cpu']:.2f} | {row['ready']:.2f} | {row['load']:.2f} |")
        print()
    if args.only_evaluators:
        return
    load_before = os.getloadavg()
    times = bench(args.n, args.assignment, args.workers, args.rounds, rows, args.more_workers)
    load_after = os.getloadavg()
    stock = times[STOCK]["seconds"]
    print(f"Grading {args.n} synthetic submissions of {args.assignment} on {os.cpu_count()} CPU cores, the "
          f"configurations interleaved in {args.rounds} rounds (load average before: {load_before[0]:.2f} / "
          f"{load_before[1]:.2f} / {load_before[2]:.2f}, after: {load_after[0]:.2f} / {load_after[1]:.2f} / "
          f"{load_after[2]:.2f}; the machine is shared)\n")
    print("| method | wall time (s) | s / submission | speed-up vs stock | load average (1 min) |")
    print("|---|---:|---:|---:|---:|")
    for name, row in times.items():
        t = row["seconds"]
        label = name.replace("more workers than cores", f"{args.more_workers} workers") if name == MORE_WORKERS else name
        print(f"| {label} | {t:.1f} | {t / args.n:.2f} | {stock / t:.2f}x | {row['load']:.2f} |")
    per = {name: row["seconds"] / args.n for name, row in times.items()}
    parts = [f"{what} {per[other] - per[FULL]:+.2f}" for what, other in (
        ("tests in the kernel instead of across the trust boundary:", NO_BOUNDARY),
        ("the kernel server off:", NO_KERNEL_SERVER), ("the evaluator server off:", NO_EVALUATOR_SERVER),
        (f"{args.more_workers} workers instead of {args.workers}:", MORE_WORKERS)) if other in per and FULL in per]
    if parts:
        print(f"\nWall seconds per submission against the full configuration on {args.workers} workers: "
              + "; ".join(parts) + ".")


if __name__ == "__main__":
    main()
