"""The worker side of :mod:`gradekit.runner`: what runs in a grading process (a pool worker or a Dask worker).

:func:`grade_one` unpacks a task's course template into a fresh temporary course, writes its few submissions
into it, runs the standard ``nbgrader autograde`` there (its own process group, a wall-clock and an
address-space limit; every notebook in its own sandboxed kernel), and returns one :class:`Result` per
submission. Any submission that shared run did not grade completely is graded again alone; one that fails
alone too, or was refused before grading (:attr:`Item.problem`, an unreadable notebook), gets 0 for every
test cell, flagged for manual grading, with the reason. Nothing here writes to the real course.
"""

from __future__ import annotations

import io
import json
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
from dataclasses import dataclass, field
from pathlib import Path

from gradekit.runtime import RUNTIME_ENV, prefer_this_gradekit
from gradekit.safe_files import read_tree
from gradekit.zygote import SHARED_ENV

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


def run_nbgrader(cwd: Path, args: list[str], timeout: float | None = None,
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
            env.update(_shared_servers(root))  # this worker's pre-loaded servers: torch is imported once per worker
            proc = run_nbgrader(root, args, timeout=task.timeout * len(items), memory_bytes=task.memory_bytes,
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


def _shared_servers(root: Path) -> dict[str, str]:
    """The environment naming this worker's pre-loaded servers that the course at ``root`` uses: the
    kernel server (:mod:`gradekit.zygote`) and the trusted evaluator server (:mod:`gradekit.boundary_server`)."""
    from gradekit import boundary_server
    from gradekit.kernel_manager import shared_server

    env = {}
    try:
        config = _load_course_config(root)
    except Exception:  # noqa: BLE001 -- without them each nbgrader run starts its own servers
        return env
    for name, start in ((SHARED_ENV, shared_server), (boundary_server.SERVER_ENV, boundary_server.shared_server)):
        try:
            value = start(config)
        except Exception:  # noqa: BLE001
            value = None
        if value:
            env[name] = value
    return env


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
                res = failed_result(task, item, unreadable[item.student], Path(tmp))
            res.seconds = (time.monotonic() - start) / len(task.items)
            results.append(res)
            continue
        res = done.get(item.student)
        if res is None and len(runnable) > 1:
            alone, error = _grade_items(task, (item,))
            res = alone.get(item.student)
        if res is None:
            with tempfile.TemporaryDirectory() as tmp:
                res = failed_result(task, item, error or "nbgrader did not grade this submission", Path(tmp))
        res.seconds = (time.monotonic() - start) / len(task.items)
        results.append(res)
    return results


def unreadable_notebook(item: Item) -> str:
    """Why nbgrader could not read one of ``item``'s notebooks (not UTF-8, not JSON, not a notebook), or ""."""
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


def failed_result(task: Task, item: Item, error: str, tmp: Path) -> Result:
    """0 for every test cell of ``item``, flagged for manual grading, with ``error`` (``tmp``: a scratch folder)."""
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
