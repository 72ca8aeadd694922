"""How many hostile submissions stock nbgrader withstands, and how many the hardened grading does.

``python -m tests.hostile.measure [--assignment ex01_functions] [--cell-timeout 15] [--unsafe]``

Both runs grade the same submissions -- the controls and every case of :mod:`tests.hostile.cases` -- in
a throw-away course:

* **stock**: ``nbgrader autograde`` with this course's configuration *before* the hardening (the part
  of ``nbgrader_config.py`` above the ``Hardening`` banner), sequentially, as nbgrader does;
* **hardened**: ``python -m gradekit grade`` (sandboxed kernels, guards, 2 worker processes).

A case is *withstood* when the run completed, the controls kept their exact grades, the case's maximum
score did not shrink, no test cell scored more than in its baseline control, and its outputs show no
leak (``LEAKED``/``CONNECTED``). The memory and fork bombs are not run stock unless ``--unsafe``: stock
nbgrader sets no memory or process limit, so they would take down this shared machine; they are
counted as not withstood (the reason is printed).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


from gradekit.sandbox import DISABLE_ENV
from tests.hostile.cases import controls, hostile_cases, leaked
from tools.nbgrader_course import REPO, Course, run_nbgrader

BANNER = "# Hardening (gradekit"
UNSAFE_STOCK = {"memory-bomb", "fork-bomb", "memory-children"}
EXPECTED = {"correct": "full", "release": "zero"}


@dataclass
class Run:
    """Grades per student: ``cells[student][(notebook, grade_id)] = score``; ``max_score[student]``."""

    completed: bool
    cells: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)
    max_score: dict[str, float] = field(default_factory=dict)
    leaks: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


def stock_config() -> str:
    """This course's ``nbgrader_config.py`` without the hardening section."""
    text = (REPO / "nbgrader_config.py").read_text()
    cut = text.find(BANNER)
    return text if cut < 0 else text[: text.rfind("\n", 0, cut)] + "\n"


def _listener() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                return
    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def _read_run(course: Course, aid: str, completed: bool, error: str = "") -> Run:
    from nbgrader.api import Gradebook, MissingEntry

    run = Run(completed, error=error)
    with Gradebook(course.db_url) as gb:
        # autograded cells only: a written answer (a markdown grade cell) waits for the instructor in every run
        total = sum(c.max_score for nb in gb.find_assignment(aid).notebooks for c in nb.grade_cells
                    if c.cell_type == "code")
        for student in gb.students:
            try:
                sub = gb.find_submission(aid, student.id)
            except MissingEntry:
                continue
            auto = [(snb.name, g) for snb in sub.notebooks for g in snb.grades if g.cell.cell_type == "code"]
            run.cells[student.id] = {(name, g.name): float(g.score) for name, g in auto}
            run.max_score[student.id] = float(sum(g.max_score for _, g in auto))
    run.max_score["__assignment__"] = float(total)
    root = course.root / "_grading" / "autograded"
    for student in run.cells:
        folder = root / student / aid
        files = {p.name: p.read_bytes() for p in folder.glob("*.ipynb")} if folder.is_dir() else {}
        run.leaks[student] = leaked(files)
    return run


def build_course(tmp: Path, aid: str, stock: bool, port: int, unsafe: bool) -> tuple[Course, dict, list[str]]:
    course = Course(tmp)
    if stock:
        (course.root / "nbgrader_config.py").write_text(stock_config())
    course.release(aid)
    release = course.released_notebooks(aid)
    cases = hostile_cases(release, aid, port=port)
    skipped = [n for n in cases if stock and n in UNSAFE_STOCK and not unsafe]
    subs = {**controls(release, aid), **{n: c.files for n, c in cases.items() if n not in skipped}}
    return course, {"cases": cases, "subs": subs}, skipped


def run_stock(aid: str, tmp: Path, cell_timeout: int, unsafe: bool = False) -> tuple[Run, dict, list[str]]:
    """Grade everything with stock nbgrader, sequentially."""
    srv, port = _listener()
    saved = os.environ.get(DISABLE_ENV)
    os.environ[DISABLE_ENV] = "1"  # belt and braces: the stock configuration does not use the sandbox at all
    try:
        course, data, skipped = build_course(tmp, aid, True, port, unsafe)
        for student, files in data["subs"].items():
            folder = course.root / "_grading" / "submitted" / student / aid
            folder.mkdir(parents=True, exist_ok=True)
            for name, blob in files.items():
                (folder / name).write_bytes(blob)
        start = time.monotonic()
        try:
            run_nbgrader(course.root, "autograde", aid, "--create", "--force", f"--Execute.timeout={cell_timeout}")
            completed, error = True, ""
        except RuntimeError as exc:  # nbgrader exits 1 when any submission errored; others may be graded
            completed, error = True, str(exc)[-2000:]
        run = _read_run(course, aid, completed, error)
        run.seconds = time.monotonic() - start
        return run, data, skipped
    finally:
        srv.close()
        if saved is None:
            os.environ.pop(DISABLE_ENV, None)
        else:
            os.environ[DISABLE_ENV] = saved


def run_hardened(aid: str, tmp: Path, cell_timeout: int, workers: int = 2) -> tuple[Run, dict, list[str]]:
    """Grade everything with gradekit (the hardened configuration, ``workers`` processes)."""
    from gradekit.runner import grade_all
    from gradekit.submissions import Submission

    srv, port = _listener()
    try:
        course, data, _ = build_course(tmp, aid, False, port, True)
        subs = [Submission(student, files) for student, files in data["subs"].items()]
        start = time.monotonic()
        try:
            grade_all(course.root, aid, subs, workers=workers, progress=False, timeout=20 * cell_timeout,
                      nbgrader_args=[f"--Execute.timeout={cell_timeout}"])
            completed, error = True, ""
        except Exception as exc:  # noqa: BLE001 -- the run did not complete: that is the measurement
            completed, error = False, f"{type(exc).__name__}: {exc}"
        run = _read_run(course, aid, completed, error)
        run.seconds = time.monotonic() - start
        return run, data, []
    finally:
        srv.close()


def judge(run: Run, data: dict, skipped: list[str]) -> dict[str, str]:
    """``{case: "" if withstood else why not}``."""
    total = run.max_score.get("__assignment__", 0.0)
    controls_ok = run.completed and all(
        s in run.cells and (sum(run.cells[s].values()) == total if want == "full" else sum(run.cells[s].values()) == 0)
        for s, want in EXPECTED.items()
    )
    verdict = {}
    for name, case in data["cases"].items():
        if name in skipped:
            verdict[name] = "not run: stock nbgrader has no memory/process limit (would exhaust the machine)"
            continue
        why = []
        if not run.completed:
            why.append("the run did not complete")
        if not controls_ok:
            why.append("a control student's grades changed")
        cells, base = run.cells.get(name), run.cells.get(case.baseline, {})
        if cells is None:
            why.append("no grade recorded")
        else:
            if run.max_score.get(name, 0.0) < total:
                why.append(f"max score shrank to {run.max_score.get(name)} of {total}")
            extra = {k[1]: v for k, v in cells.items() if v > base.get(k, 0.0) + 1e-9}
            if extra:
                why.append(f"undeserved points {extra}")
        if run.leaks.get(name):
            why.append("leak: " + "; ".join(run.leaks[name][:3]))
        verdict[name] = ", ".join(why)
    return verdict


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="ex01_functions")
    parser.add_argument("--cell-timeout", type=int, default=60)
    parser.add_argument("--unsafe", action="store_true", help="also run the memory and fork bombs stock")
    parser.add_argument("--only", choices=["stock", "hardened"], default=None)
    args = parser.parse_args(argv)
    results = {}
    for mode in ("stock", "hardened"):
        if args.only and mode != args.only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"hostile-{mode}-") as tmp:
            fn = run_stock if mode == "stock" else run_hardened
            extra = {"unsafe": args.unsafe} if mode == "stock" else {}
            run, data, skipped = fn(args.assignment, Path(tmp), args.cell_timeout, **extra)
            results[mode] = (judge(run, data, skipped), run)
    names = sorted(next(iter(results.values()))[0])
    print(f"| hostile submission ({args.assignment}) | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for n in names:
        print(f"| {n} | " + " | ".join("withstood" if results[m][0][n] == "" else "NO: " + results[m][0][n]
                                       for m in results) + " |")
    counts = []
    for mode, (verdict, run) in results.items():
        ok = sum(1 for v in verdict.values() if v == "")
        counts.append(f"{mode} withstands {ok} of {len(verdict)}")
        print(f"{mode}: withstands {ok} of {len(verdict)} hostile submissions "
              f"(run completed: {run.completed}, {run.seconds:.0f} s)")
    print("; ".join(counts))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
