"""Grade many submissions in parallel, each in isolation, and merge them into the gradebook one at a time.

The pipeline for assignment :math:`A` and submissions :math:`s_1, \\dots, s_n`:

1. :func:`build_template` makes, once, a small *course template* -- the course's ``nbgrader_config.py``,
   :math:`A`'s source folder and a gradebook that holds :math:`A` (``nbgrader generate_assignment``) --
   packed as a tar.gz in memory, so a task can be shipped to a process pool *or* a remote Dask worker.
2. :func:`grade_one` (the task) unpacks the template into a fresh temporary course, writes its few
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
import re
import resource
import shutil
import signal
import subprocess
import sys
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
from gradekit.safe_files import read_tree
from gradekit.runtime import RUNTIME_ENV, prefer_this_gradekit
from gradekit.submissions import Submission
from gradekit.zygote import SHARED_ENV

JOURNAL_NAME = "gradekit-journal.jsonl"
MAX_AUTOGRADED_FILES, MAX_AUTOGRADED_BYTES = 500, 200 * 2**20  # read back per submission, at most


class GradingSetupError(RuntimeError):
    """The course or assignment cannot be graded (no config, unknown assignment, nbgrader failed)."""


@dataclass(frozen=True)
class Item:
    """One submission inside a task."""

    student: str
    digest: str
    files: dict[str, bytes]
    problem: str = ""  # why it must not be graded at all (refused files, see gradekit.submissions)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to grade a few submissions, independent of the machine it runs on.

    ``template`` is the tar.gz of the course template; ``nbgrader_args`` extra ``nbgrader autograde``
    options (e.g. ``--Execute.timeout=30``); ``timeout`` the wall-clock limit (s) per submission;
    ``memory_bytes`` the address-space limit of the nbgrader process. The ``items`` share one nbgrader
    process (its start-up cost is paid once), each in its own sandboxed kernel; any item that the shared
    run did not grade completely is graded again on its own, so no submission can spoil another's grade.
    """

    assignment: str
    items: tuple[Item, ...]
    template: bytes
    nbgrader_args: tuple[str, ...] = ()
    timeout: float = 1800.0
    memory_bytes: int = 8 * 2**30


@dataclass
class Result:
    """One graded submission. ``grades[(notebook, grade_id)] = (auto_score, max_score, needs_manual)``."""

    assignment: str
    student: str
    digest: str
    status: str
    grades: dict[tuple[str, str], tuple[float | None, float, bool]] = field(default_factory=dict)
    comments: dict[tuple[str, str], str | None] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)  # notebook -> late submission penalty
    autograded: dict[str, bytes] = field(default_factory=dict)
    timestamp: str | None = None
    error: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return float(sum(s or 0.0 for s, _, _ in self.grades.values()))

    @property
    def max_score(self) -> float:
        return float(sum(m for _, m, _ in self.grades.values()))


# ------------------------------------------------------------------------------------------ helpers
def nbgrader_env() -> dict[str, str]:
    """This interpreter's ``bin/`` first on PATH (nbgrader runs ``alembic`` by name), quiet warnings, and
    this gradekit first on PYTHONPATH (the course's ``nbgrader_config.py`` imports it: it must be the
    same code as the runner's, whatever an editable install elsewhere points to)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    prefer_this_gradekit(env)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _run_nbgrader(cwd: Path, args: list[str], timeout: float | None = None,
                  memory_bytes: int | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:  # runs in the child: its own process group, bounded address space
        os.setsid()
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    proc = subprocess.Popen([sys.executable, "-m", "gradekit.nbgrader_main", *args], cwd=cwd,
                            env={**nbgrader_env(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", preexec_fn=limit)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise TimeoutError(f"nbgrader {args[0]} ran longer than {timeout:.0f} s and was killed") from None
    finally:
        try:  # kernels or strays left in the group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def _load_course_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    cfg_path = course / "nbgrader_config.py"
    if not cfg_path.is_file():
        raise GradingSetupError(f"{course} is not an nbgrader course: no nbgrader_config.py")
    return PyFileConfigLoader(cfg_path.name, str(course)).load_config()


def course_paths(course: Path) -> dict[str, Path]:
    """``source``, ``submitted``, ``autograded`` folders and the ``gradebook`` file of ``course``."""
    cfg = _load_course_config(course).CourseDirectory
    get = lambda key, default: Path(cfg[key]) if key in cfg else Path(default)  # noqa: E731
    db_url = str(cfg["db_url"]) if "db_url" in cfg else f"sqlite:///{course / 'gradebook.db'}"
    if not db_url.startswith("sqlite:///"):
        raise GradingSetupError(f"only sqlite gradebooks are supported, got {db_url}")
    return {
        "source": course / get("source_directory", "source"),
        "submitted": course / get("submitted_directory", "submitted"),
        "autograded": course / get("autograded_directory", "autograded"),
        "gradebook": Path(db_url[len("sqlite:///"):]),
    }


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
        proc = _run_nbgrader(root, ["generate_assignment", assignment, "--create", "--force"], timeout=600)
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


def _read_result(root: Path, assignment: str, item: Item, status: str, error: str) -> Result:
    from nbgrader.api import Gradebook, MissingEntry

    paths = course_paths(root)
    result = Result(assignment, item.student, item.digest, status, error=error)
    with Gradebook("sqlite:///" + str(paths["gradebook"])) as gb:
        a = gb.find_assignment(assignment)
        try:
            sub = gb.find_submission(assignment, item.student)
        except MissingEntry:
            sub = None
        for nb in a.notebooks:
            for cell in nb.grade_cells:
                result.grades[(nb.name, cell.name)] = (None, float(cell.max_score), True)
        if sub is not None and status == "ok":
            result.timestamp = sub.timestamp.isoformat() if sub.timestamp else None
            for snb in sub.notebooks:
                for grade in snb.grades:
                    result.grades[(snb.name, grade.name)] = (grade.auto_score, float(grade.max_score),
                                                             bool(grade.needs_manual_grade))
                for comment in snb.comments:
                    result.comments[(snb.name, comment.name)] = comment.auto_comment
                result.penalties[snb.name] = float(snb.late_submission_penalty or 0.0)
    if status != "ok":  # graded by nobody: zero, flagged for the instructor
        result.grades = {k: (0.0, m, True) for k, (_, m, _) in result.grades.items()}
    out = paths["autograded"] / item.student / assignment
    if out.is_dir():  # written by nbgrader alone (kernels work in a scratch copy), read as if it were not
        tree = read_tree(str(out), max_files=MAX_AUTOGRADED_FILES, max_bytes=MAX_AUTOGRADED_BYTES)
        result.autograded = tree.files
    return result


def _complete(result: Result) -> bool:
    """Did nbgrader grade every test cell (an autograded notebook exists, no test left unscored)?"""
    return any(n.endswith(".ipynb") for n in result.autograded) and all(
        s is not None or manual for s, _, manual in result.grades.values())


def _grade_items(task: Task, items: tuple[Item, ...]) -> tuple[dict[str, Result], str]:
    """Grade ``items`` in one throw-away course and one nbgrader run; results of complete items."""
    # the kernels' socket folders live in a folder of their own, removed with the course (a killed nbgrader
    # leaks none), outside the course: a kernel sees its socket folder's path
    with tempfile.TemporaryDirectory(prefix="gradekit-") as tmp, \
            tempfile.TemporaryDirectory(prefix="gk-sockets-") as sockets:
        root = Path(tmp)
        with tarfile.open(fileobj=io.BytesIO(task.template), mode="r:gz") as tar:
            tar.extractall(root, filter="data")
        paths = course_paths(root)
        paths["gradebook"].parent.mkdir(parents=True, exist_ok=True)
        shutil.move(root / "gradekit-template.db", paths["gradebook"])
        for item in items:
            folder = paths["submitted"] / item.student / task.assignment
            for rel, data in item.files.items():
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        args = ["autograde", task.assignment, "--create", "--force", *task.nbgrader_args]
        if len(items) == 1:
            args[2:2] = ["--student", items[0].student]
        error = ""
        try:
            env = {RUNTIME_ENV: sockets}
            shared = _shared_server(root)
            if shared:  # this worker's pre-loaded kernel server: torch is imported once per worker
                env[SHARED_ENV] = shared
            proc = _run_nbgrader(root, args, timeout=task.timeout * len(items), memory_bytes=task.memory_bytes,
                                 env=env)
            if proc.returncode != 0:
                error = "nbgrader autograde failed: " + _tail(proc.stdout)
        except TimeoutError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 -- any failure is this task's alone
            error = f"{type(exc).__name__}: {exc}"
        out = {}
        for item in items:
            res = _read_result(root, task.assignment, item, "ok", "")
            if _complete(res):
                out[item.student] = res
        return out, error


def _shared_server(root: Path) -> str | None:
    from gradekit.kernel_manager import shared_server

    try:
        return shared_server(_load_course_config(root))
    except Exception:  # noqa: BLE001 -- without it each nbgrader run starts its own server
        return None


def grade_one(task: Task) -> list[Result]:
    """Grade a task's submissions (in a worker process or on a Dask worker); one :class:`Result` each.

    All items run in one nbgrader process first; each item not completely graded there runs again
    alone, and if that fails too it gets 0 on every test cell, flagged, with the error. An item with a
    notebook nbgrader cannot even read (not JSON, not a notebook) gets that at once, without a run.
    """
    start = time.monotonic()
    unreadable = {item.student: why for item in task.items if (why := item.problem or unreadable_notebook(item))}
    runnable = tuple(item for item in task.items if item.student not in unreadable)
    done, error = _grade_items(task, runnable) if runnable else ({}, "")
    results = []
    for item in task.items:
        if item.student in unreadable:  # nbgrader cannot read it either: no nbgrader run, no retry
            with tempfile.TemporaryDirectory() as tmp:
                res = _failed_result(task, item, unreadable[item.student], Path(tmp))
            res.seconds = (time.monotonic() - start) / len(task.items)
            results.append(res)
            continue
        res = done.get(item.student)
        if res is None and len(runnable) > 1:
            alone, error = _grade_items(task, (item,))
            res = alone.get(item.student)
        if res is None:
            with tempfile.TemporaryDirectory() as tmp:
                res = _failed_result(task, item, error or "nbgrader did not grade this submission", Path(tmp))
        res.seconds = (time.monotonic() - start) / len(task.items)
        results.append(res)
    return results


def unreadable_notebook(item: Item) -> str:
    """Why nbgrader could not read one of ``item``'s notebooks (not UTF-8, not JSON, not a notebook), or ""."""
    import json

    for name, data in sorted(item.files.items()):
        if not name.endswith(".ipynb"):
            continue
        try:
            nb = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return f"the notebook {name} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})"
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
            return f"the notebook {name} is valid JSON but not a Jupyter notebook (no cells / nbformat)"
    return ""


def _failed_result(task: Task, item: Item, error: str, tmp: Path) -> Result:
    from nbgrader.api import Gradebook

    res = Result(task.assignment, item.student, item.digest, "failed", error=error)
    with tarfile.open(fileobj=io.BytesIO(task.template), mode="r:gz") as tar:
        tar.extract("gradekit-template.db", tmp, filter="data")
    with Gradebook("sqlite:///" + str(tmp / "gradekit-template.db")) as gb:
        for nb in gb.find_assignment(task.assignment).notebooks:
            for cell in nb.grade_cells:
                res.grades[(nb.name, cell.name)] = (0.0, float(cell.max_score), True)
    return res


def _tail(text: str, n: int = 1500) -> str:
    lines = [ln for ln in text.splitlines() if "| ERROR]" in ln or re.search(r"\w(Error|Exception)\b", ln)]
    return ("\n".join(lines) or text)[-n:]


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
        return [_failed_result(task, item, f"{type(exc).__name__}: {exc}", Path(tmp)) for item in task.items]


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
    """Write one row per student of ``assignment``: id, status, score, max_score, then one column per
    test cell (``notebook/grade_id``), from the gradebook (status and error from the journal)."""
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
            cells = {f"{snb.name}/{g.name}": g.score for snb in sub.notebooks for g in snb.grades}
            entry = journal.get((assignment, student.id))
            rows.append({"student": student.id, "status": entry.status if entry else "nbgrader",
                         "score": sub.score, "max_score": sub.max_score,
                         **{c: cells.get(c, 0.0) for c in columns},
                         "error": (entry.error if entry else "").replace("\n", " ")[:500]})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["student", "status", "score", "max_score", *columns, "error"])
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["student"]))
    return path
