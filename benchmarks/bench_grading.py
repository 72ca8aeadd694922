"""Grading wall time: stock sequential ``nbgrader autograde`` vs ``gradekit`` on 1, 2 and 3 processes vs
a 2-worker Dask ``LocalCluster``, all on the same cores.

``python -m benchmarks.bench_grading [--n 100] [--assignment ex01_functions]``

The submissions are synthetic and mixed: 40 % correct, 40 % partial (the first answer missing, or a
declared wrong submission from ``tests/wrong_submissions/``), 20 % broken (the untouched release, a
malformed notebook). Stock runs this course's configuration without the hardening (no sandbox, no
guards); the gradekit runs use the full hardened configuration, so their times include the sandbox
(each kernel capped at 1 CPU), the trust boundary (test cells evaluated in a grader-side process,
:mod:`gradekit.boundary`) and the merge into the gradebook. Their kernels are
forks of a pre-loaded server (:mod:`gradekit.zygote`), one per worker, which imports torch once; stock
nbgrader starts a fresh kernel, which imports it again, for every notebook. The 1-worker row separates
what pre-loading gains from what parallelism gains.

The boundary's own cost: ``--boundary K`` grades K correct submissions on one worker twice, with the
course's configuration and with nbgrader's plain ``Execute`` in place of ``TrustedExecute`` (tests run
in the student's kernel, as before the boundary), and reports the difference per notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def _course(root: Path, aid: str, stock: bool) -> Course:
    course = Course(root)
    if stock:
        (course.root / "nbgrader_config.py").write_text(stock_config())
    course.release(aid)
    return course


def bench(n: int, aid: str, workers: int = 2) -> dict[str, float]:
    """Wall seconds of each way of grading the same ``n`` submissions."""
    os.environ["PATH"] = nbgrader_env()["PATH"]
    times = {}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        course = _course(tmp / "stock", aid, stock=True)
        subs = synthetic(course.released_notebooks(aid), aid, n)
        for s in subs:
            folder = course.root / "_grading" / "submitted" / s.student / aid
            folder.mkdir(parents=True)
            for name, data in s.files.items():
                (folder / name).write_bytes(data)
        start = time.monotonic()
        try:
            run_nbgrader(course.root, "autograde", aid, "--create", "--force")
        except RuntimeError:
            pass  # nbgrader exits 1 because the malformed notebooks fail; the rest is graded
        times["stock nbgrader autograde, sequential"] = time.monotonic() - start
        shutil.rmtree(course.root)

        # one worker: what pre-loading alone gains; one more process than cores: fills the cores' idle waits
        for n_workers in (1, workers, workers + 1):
            course = _course(tmp / f"pool{n_workers}", aid, stock=False)
            start = time.monotonic()
            grade_all(course.root, aid, subs, workers=n_workers, progress=False)
            times[f"gradekit, process pool ({n_workers} workers)"] = time.monotonic() - start
            shutil.rmtree(course.root)

        from distributed import LocalCluster

        course = _course(tmp / "dask", aid, stock=False)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            start = time.monotonic()
            grade_all(course.root, aid, subs, scheduler=cluster.scheduler_address, progress=False)
            times[f"gradekit, Dask LocalCluster ({workers} workers)"] = time.monotonic() - start
    return times


def boundary_cost(k: int, aid: str) -> dict[str, float]:
    """Wall seconds for ``k`` correct submissions on one worker, with and without the trust boundary."""
    os.environ["PATH"] = nbgrader_env()["PATH"]
    times = {}
    with tempfile.TemporaryDirectory(prefix="bench-boundary-") as tmp:
        for label, boundary in (("with the trust boundary", True), ("tests in the kernel (plain Execute)", False)):
            course = _course(Path(tmp) / label.split()[0], aid, stock=False)
            if not boundary:
                cfg = course.root / "nbgrader_config.py"
                text = cfg.read_text()
                assert "TrustedExecute, IgnorePattern" in text
                cfg.write_text(text.replace("TrustedExecute, IgnorePattern", "Execute, IgnorePattern").replace(
                    "from gradekit.boundary import TrustedExecute", "from nbgrader.preprocessors import Execute"))
            correct = controls(course.released_notebooks(aid), aid)["correct"]
            subs = [Submission(f"c{i:03d}", correct) for i in range(k)]
            start = time.monotonic()
            grade_all(course.root, aid, subs, workers=1, progress=False)
            times[label] = time.monotonic() - start
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions (default 100)")
    parser.add_argument("--assignment", default="ex01_functions")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--boundary", type=int, default=0, metavar="K",
                        help="only measure the trust boundary's cost on K correct submissions")
    if argv is None and __name__ != "__main__":
        argv = []  # called by `python -m benchmarks [bench_grading]`: sys.argv holds the runner's arguments
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.boundary:
        load_before = os.getloadavg()
        times = boundary_cost(args.boundary, args.assignment)
        on, off = times.values()
        print(f"{args.boundary} correct submissions of {args.assignment}, 1 worker (load average before: "
              f"{load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f})\n")
        print("| configuration | wall time (s) | s / notebook |\n|---|---:|---:|")
        for name, t in times.items():
            print(f"| {name} | {t:.1f} | {t / args.boundary:.2f} |")
        print(f"\nthe boundary costs {(on - off) / args.boundary:+.2f} s per notebook")
        return
    load_before = os.getloadavg()
    times = bench(args.n, args.assignment, args.workers)
    load_after = os.getloadavg()
    stock = next(iter(times.values()))
    print(f"Grading {args.n} synthetic submissions of {args.assignment} on {os.cpu_count()} CPU cores "
          f"(load average before: {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, "
          f"after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f})\n")
    print("| method | wall time (s) | s / submission | speed-up vs stock |")
    print("|---|---:|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {t:.1f} | {t / args.n:.2f} | {stock / t:.2f}x |")


if __name__ == "__main__":
    main()
