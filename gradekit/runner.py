"""Grade many submissions in parallel, each in isolation, and merge them into the gradebook one at a time.

The pipeline for assignment :math:`A` and submissions :math:`s_1, \\dots, s_n`:

1. :func:`build_template` makes, once, a small *course template* -- the course's ``nbgrader_config.py``,
   :math:`A`'s source folder and a gradebook that holds :math:`A` (``nbgrader generate_assignment``) --
   packed as a tar.gz in memory, so a task can be shipped to a process pool *or* a remote Dask worker.
2. :func:`gradekit.worker.grade_one` (the task, in a worker process; :mod:`gradekit.worker`) unpacks the template into a fresh temporary course, writes its few
   submissions into it, runs the standard ``nbgrader autograde`` there (in its own process group, with
   a wall-clock limit and an address-space limit; every notebook in its own sandboxed kernel), and
   returns one :class:`Result` per submission: the scores per test cell, the autograded files. Any
   submission that shared run did not grade completely is graded again alone, in a fresh course, so one
   crashing submission cannot affect another's grade; one that fails alone too gets score :math:`0` for
   every test cell (the maximum never shrinks), flagged for manual grading, with the error.
3. The parent alone (one writer) merges each result into the real gradebook, writes the autograded
   files, then appends the journal line (:mod:`gradekit.journal`); an interrupted run restarted later
   grades only the submissions whose ``(student, digest)`` is not in the journal.
4. :func:`export_csv` writes one row per student: total, maximum, status and one column per test cell.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tarfile
import tempfile
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from gradekit.journal import Entry, Journal
from gradekit.submissions import Submission
# the worker side, and what the command line and callers use of it
from gradekit.worker import (GradingSetupError, Item, Result, Task, course_paths, failed_result,  # noqa: F401
                             grade_one, nbgrader_env, run_nbgrader, unreadable_notebook)

JOURNAL_NAME = "gradekit-journal.jsonl"


def build_template(course: str | Path, assignment: str) -> bytes:
    """The course template for ``assignment`` as tar.gz bytes (config, source folder, gradebook).

    Raises :class:`GradingSetupError` if the course has no such assignment or nbgrader fails.
    """
    course = Path(course).resolve()
    paths = course_paths(course)
    src = paths["source"] / assignment
    if not src.is_dir() or not any(src.glob("*.ipynb")):
        raise GradingSetupError(f"no assignment {assignment!r} in {paths['source']} (a folder with notebooks)")
    with tempfile.TemporaryDirectory(prefix="gradekit-template-") as tmp:
        root = Path(tmp)
        shutil.copy(course / "nbgrader_config.py", root / "nbgrader_config.py")
        rel_src = paths["source"].relative_to(course)
        shutil.copytree(src, root / rel_src / assignment, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        tpaths = course_paths(root)
        tpaths["gradebook"].parent.mkdir(parents=True, exist_ok=True)
        proc = run_nbgrader(root, ["generate_assignment", assignment, "--create", "--force"], timeout=600)
        if proc.returncode != 0:
            raise GradingSetupError(f"nbgrader generate_assignment {assignment} failed:\n{proc.stdout[-3000:]}")
        _copy_duedate(paths["gradebook"], tpaths["gradebook"], assignment)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in ("nbgrader_config.py", str(rel_src)):
                tar.add(root / name, arcname=name)
            tar.add(tpaths["gradebook"], arcname="gradekit-template.db")
        return buf.getvalue()


def _copy_duedate(real: Path, template: Path, assignment: str) -> None:
    """Give the template's assignment the due date the course's gradebook has for it (late penalties are
    computed in the temporary course, from the submission's timestamp.txt and this date)."""
    from nbgrader.api import Gradebook, MissingEntry

    if not real.is_file():
        return
    with Gradebook("sqlite:///" + str(real)) as gb:
        try:
            duedate = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return
    if duedate is not None:
        with Gradebook("sqlite:///" + str(template)) as gb:
            gb.update_or_create_assignment(assignment, duedate=duedate)


# ------------------------------------------------------------------------------------------- merging
def ensure_assignment(gradebook: Path, template: bytes, assignment: str) -> None:
    """Copy ``assignment``'s notebooks and cells from the template into the real gradebook if missing."""
    from nbgrader.api import Gradebook, MissingEntry

    gradebook.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook("sqlite:///" + str(gradebook)) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:  # `nbgrader db assignment add` makes one without
                return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(template), mode="r:gz") as tar:
            tar.extract("gradekit-template.db", tmp, filter="data")
        with Gradebook("sqlite:///" + os.path.join(tmp, "gradekit-template.db")) as src, \
                Gradebook("sqlite:///" + str(gradebook)) as gb:
            a = src.find_assignment(assignment)
            try:  # keep the due date the instructor set (`nbgrader db assignment add --duedate`)
                gb.find_assignment(assignment)
            except MissingEntry:
                gb.update_or_create_assignment(assignment, duedate=a.duedate)
            for nb in a.notebooks:
                gb.update_or_create_notebook(nb.name, assignment, kernelspec=nb.kernelspec)
                for c in nb.source_cells:
                    gb.update_or_create_source_cell(c.name, nb.name, assignment, cell_type=c.cell_type,
                                                    locked=c.locked, source=c.source, checksum=c.checksum)
                for c in nb.grade_cells:
                    gb.update_or_create_grade_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                                   cell_type=c.cell_type)
                for c in nb.solution_cells:
                    gb.update_or_create_solution_cell(c.name, nb.name, assignment)
                for c in nb.task_cells:
                    gb.update_or_create_task_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                                  cell_type=c.cell_type)


def merge_result(course: Path, result: Result, submission: Submission | None = None) -> None:
    """Write ``result`` into the real course: gradebook first (replacing, never adding), then files."""
    from datetime import datetime

    from nbgrader.api import Gradebook

    paths = course_paths(course)
    with warnings.catch_warnings(), Gradebook("sqlite:///" + str(paths["gradebook"])) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy autoflush notes from nbgrader's own API
        gb.update_or_create_student(result.student)
        kwargs = {"timestamp": datetime.fromisoformat(result.timestamp)} if result.timestamp else {}
        sub = gb.update_or_create_submission(result.assignment, result.student, **kwargs)
        for snb in sub.notebooks:
            for grade in snb.grades:
                score, _, manual = result.grades.get((snb.name, grade.name), (0.0, 0.0, True))
                grade.auto_score = score
                grade.needs_manual_grade = manual
            for comment in snb.comments:
                comment.auto_comment = result.comments.get((snb.name, comment.name))
            snb.late_submission_penalty = result.penalties.get(snb.name, 0.0)
        gb.db.commit()
    if submission is not None:
        folder = paths["submitted"] / result.student / result.assignment
        _replace_folder(folder, submission.files)
    _replace_folder(paths["autograded"] / result.student / result.assignment, result.autograded)


def _replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    tmp = folder.with_name(folder.name + ".gradekit-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, data in files.items():
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(folder)


# ------------------------------------------------------------------------------------------- drivers
def _pool_results(tasks: list[Task], workers: int) -> Iterator[Result]:
    """Results as they complete, from a process pool; a broken pool is rebuilt for the tasks left."""
    left = dict(enumerate(tasks))
    while left:
        try:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(grade_one, t): i for i, t in left.items()}
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = futures[fut]
                        try:
                            results = fut.result()
                        except BrokenProcessPool:
                            raise
                        except Exception as exc:  # noqa: BLE001
                            results = _failure(left[i], exc)
                        left.pop(i, None)
                        yield from results
        except BrokenProcessPool:
            continue  # a worker was killed from outside: grade what is left in a fresh pool


def _dask_results(tasks: list[Task], scheduler) -> Iterator[Result]:
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {client.submit(grade_one, t, pure=False,
                                 key=f"grade-{t.items[0].student}-{t.items[0].digest[:12]}-{len(t.items)}"): t
                   for t in tasks}
        for fut in as_completed(list(futures)):
            try:
                results = fut.result()
            except Exception as exc:  # noqa: BLE001
                results = _failure(futures[fut], exc)
            yield from results
    finally:
        if client is not scheduler:
            client.close()


def _failure(task: Task, exc: BaseException) -> list[Result]:
    """A task that raised instead of returning: zero for every test cell, flagged, for each item."""
    with tempfile.TemporaryDirectory() as tmp:
        return [failed_result(task, item, f"{type(exc).__name__}: {exc}", Path(tmp)) for item in task.items]


def chunked(items: list, workers: int, chunk_size: int | None) -> list[tuple]:
    """Split ``items`` into tasks of ``chunk_size``, or, by default, of *guided* sizes: each task takes
    half of what is left per worker (at least 2, at most 16), so the first tasks are large (one nbgrader
    start-up for many submissions) and the last ones small (the workers finish at about the same time).
    """
    if chunk_size is not None:
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        return [tuple(items[i:i + chunk_size]) for i in range(0, len(items), chunk_size)]
    out, i, workers = [], 0, max(1, workers)
    while i < len(items):
        size = max(2, min(16, (len(items) - i) // (2 * workers)))
        out.append(tuple(items[i:i + size]))
        i += size
    return out


@dataclass
class RunSummary:
    """What :func:`grade_all` did: students graded now, skipped (already in the journal), failed."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reasons: dict[str, str] = field(default_factory=dict)  # failed (flagged) student -> why


def grade_all(course: str | Path, assignment: str, submissions: Iterable[Submission], *, workers: int = 2,
              scheduler=None, nbgrader_args: Iterable[str] = (), timeout: float = 1800.0,
              regrade: bool = False, progress: bool = True, chunk_size: int | None = None,
              on_result: Callable[[Result], None] | None = None) -> RunSummary:
    """Autograde ``submissions`` of ``assignment`` into ``course``; return a :class:`RunSummary`.

    ``workers`` processes grade in parallel (``scheduler``: a Dask scheduler address or ``Client``
    instead), ``chunk_size`` submissions per nbgrader process (default: automatic); each result is merged by this process alone, in completion order, then journaled.
    Submissions already journaled with the same digest are skipped unless ``regrade``.
    """
    if scheduler is None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    start = time.monotonic()
    course = Path(course).resolve()
    paths = course_paths(course)
    journal = Journal(paths["gradebook"].parent / JOURNAL_NAME)
    subs = {s.student: s for s in submissions}
    done = journal.entries()
    summary = RunSummary()
    todo = []
    for s in subs.values():
        entry = done.get((assignment, s.student))
        if not regrade and entry is not None and entry.digest == s.digest:
            summary.skipped.append(s.student)
        else:
            todo.append(s)
    template = build_template(course, assignment)
    ensure_assignment(paths["gradebook"], template, assignment)
    items = [Item(s.student, s.digest, s.files, getattr(s, "problem", "")) for s in todo]
    n_workers = workers if scheduler is None else _dask_workers(scheduler, workers)
    tasks = [Task(assignment, chunk, template, tuple(nbgrader_args), timeout)
             for chunk in chunked(items, n_workers, chunk_size)]
    results = _dask_results(tasks, scheduler) if scheduler is not None else _pool_results(tasks, workers)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc=f"autograde {assignment}", unit="submission")
    try:
        for res in results:
            merge_result(course, res, subs[res.student])
            journal.append(Entry(assignment, res.student, res.digest, res.status, res.score, res.max_score,
                                 {f"{nb}/{gid}": [s or 0.0, m] for (nb, gid), (s, m, _) in res.grades.items()},
                                 res.error, round(res.seconds, 2)))
            (summary.graded if res.status == "ok" else summary.failed).append(res.student)
            if res.status != "ok":
                summary.reasons[res.student] = res.error or "not graded"
            if on_result is not None:
                on_result(res)
            if bar is not None:
                bar.set_postfix_str(f"{res.student}: {res.score:g}/{res.max_score:g}")
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.monotonic() - start
    return summary


def _dask_workers(scheduler, default: int) -> int:
    try:
        from distributed import Client

        client = scheduler if isinstance(scheduler, Client) else None
        if client is not None:
            return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 -- only used to size chunks
        pass
    return max(1, default)


def export_csv(course: str | Path, assignment: str, path: str | Path) -> Path:
    """Write one row per student of ``assignment``: id, status, score, max_score, whether a hand-graded answer
    still waits for the instructor (``needs_manual_grade``, nbgrader's flag: the total is then incomplete),
    raw_score and late_submission_penalty, then one column per test cell (``notebook/grade_id``; empty while
    nobody has graded it), from the gradebook (status and error from the journal). The totals are the ones
    ``nbgrader export`` writes: score = max(0, raw_score - late_submission_penalty)."""
    from nbgrader.api import Gradebook, MissingEntry

    course = Path(course).resolve()
    paths = course_paths(course)
    journal = Journal(paths["gradebook"].parent / JOURNAL_NAME).entries()
    rows = []
    with Gradebook("sqlite:///" + str(paths["gradebook"])) as gb:
        a = gb.find_assignment(assignment)
        columns = [f"{nb.name}/{c.name}" for nb in a.notebooks for c in nb.grade_cells]
        for student in gb.students:
            try:
                sub = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            # a grade with neither an autograder's nor the instructor's score is pending, not 0
            cells = {f"{snb.name}/{g.name}": "" if g.auto_score is None and g.manual_score is None else g.score
                     for snb in sub.notebooks for g in snb.grades}
            entry = journal.get((assignment, student.id))
            penalty = sub.late_submission_penalty or 0.0
            rows.append({"student": student.id, "status": entry.status if entry else "nbgrader",
                         "score": max(0.0, sub.score - penalty), "max_score": sub.max_score,
                         "needs_manual_grade": bool(sub.needs_manual_grade), "raw_score": sub.score,
                         "late_submission_penalty": penalty,
                         **{c: cells.get(c, 0.0) for c in columns},
                         "error": (entry.error if entry else "").replace("\n", " ")[:500]})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["student", "status", "score", "max_score", "needs_manual_grade",
                                                "raw_score", "late_submission_penalty", *columns, "error"])
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["student"]))
    return path
