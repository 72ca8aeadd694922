"""Drive nbgrader on a throw-away copy of the course, as an instructor would.

Used by the test suite (``tests/course/test_assignments.py``) and by ``make exercises``
(``python -m tools.nbgrader_course release``), which regenerates ``exercises/`` from ``solutions/``.

A *submission* is a dict ``{notebook file name: nbformat NotebookNode}``. Three kinds are built here:

* the solution notebook itself, as the issue asks ("autograded as a student submission");
* the untouched release (every answer still ``raise NotImplementedError()``);
* *wrong* submissions: the correct answers with some answer cells replaced by plausible mistakes,
  declared in ``tests/wrong_submissions/<assignment>.py`` (see that folder's README);
* *right* submissions: the correct answers with some answer cells replaced by independently written
  correct answers, declared in ``tests/right_submissions/<assignment>.py``: they must earn full marks.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
WRONG_DIR = REPO / "tests" / "wrong_submissions"
RIGHT_DIR = REPO / "tests" / "right_submissions"

SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*\n?", re.S | re.M)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)


def assignment_ids() -> list[str]:
    """Every assignment in ``solutions/``: a folder holding at least one notebook."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def solution_notebooks(aid: str) -> list[Path]:
    return sorted((SOLUTIONS / aid).glob("*.ipynb"))


def nbgrader_env() -> dict[str, str]:
    """The environment nbgrader needs: this interpreter's bin/ first on PATH (nbgrader runs `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_nbgrader(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd``; raise with its output if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd, env=nbgrader_env(), capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def strip_solution_markers(source: str) -> str:
    """The source of an answer cell as a perfect student would write it: the solution, no markers."""
    return SOLUTION_REGION.sub(lambda m: m.group(1), source)


def hidden_test_lines(aid: str) -> set[str]:
    """Lines of the hidden tests that appear nowhere else in the assignment's source notebooks."""
    hidden: set[str] = set()
    visible: set[str] = set()
    for path in solution_notebooks(aid):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            blocks = HIDDEN_REGION.findall(cell.source)
            for block in blocks:
                hidden.update(line.strip() for line in block.splitlines())
            visible.update(line.strip() for line in HIDDEN_REGION.sub("", cell.source).splitlines())
    return {line for line in hidden - visible if len(line) > 8 and not line.startswith("#")}


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def load_wrong_submissions(aid: str) -> dict[str, dict]:
    """The deliberately wrong submissions declared for ``aid`` (``WRONG`` in its module), or ``{}``."""
    path = WRONG_DIR / f"{aid}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"wrong_{aid}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.WRONG)


def load_right_submissions(aid: str) -> dict[str, dict]:
    """The independently written correct submissions declared for ``aid`` (``RIGHT`` in its module), or ``{}``."""
    path = RIGHT_DIR / f"{aid}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"right_{aid}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.RIGHT)


@dataclass
class Grades:
    """One student's grades for one assignment, read back from the gradebook.

    ``score``, ``max_score`` and ``cells`` cover the autograded (code) test cells; answers graded by hand (nbgrader
    markdown cells with points) are in ``manual``, ``grade_id -> (score or None while ungraded, max)``.
    """

    score: float
    max_score: float
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    manual: dict[str, tuple[float | None, float]] = field(default_factory=dict)


class Course:
    """A temporary nbgrader course directory seeded with this repo's config and ``solutions/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "nbgrader_config.py", self.root / "nbgrader_config.py")
        shutil.copytree(SOLUTIONS, self.root / "solutions", dirs_exist_ok=True)
        (self.root / "_grading").mkdir(exist_ok=True)

    @property
    def db_url(self) -> str:
        return "sqlite:///" + str(self.root / "_grading" / "gradebook.db")

    def release(self, aid: str) -> Path:
        run_nbgrader(self.root, "generate_assignment", aid, "--force", "--create")
        return self.root / "exercises" / aid

    def released_notebooks(self, aid: str) -> dict[str, nbformat.NotebookNode]:
        folder = self.root / "exercises" / aid
        return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}

    def submit(self, aid: str, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
        folder = self.root / "_grading" / "submitted" / student / aid
        folder.mkdir(parents=True, exist_ok=True)
        for name, nb in notebooks.items():
            nbformat.write(nb, folder / name)

    def autograde(self, aid: str) -> dict[str, Grades]:
        """Autograde every submission of ``aid`` in one nbgrader run; grades per student."""
        run_nbgrader(self.root, "autograde", aid, "--create", "--force")
        return self.read_grades(aid)

    def read_grades(self, aid: str) -> dict[str, Grades]:
        from nbgrader.api import Gradebook

        out: dict[str, Grades] = {}
        with Gradebook(self.db_url) as gb:
            for student in gb.students:
                try:
                    sub = gb.find_submission(aid, student.id)
                except Exception:  # noqa: BLE001 -- MissingEntry: this student did not submit
                    continue
                cells, manual = {}, {}
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell.cell_type == "markdown":  # a written answer: graded by hand
                            pending = grade.needs_manual_grade and grade.manual_score is None
                            manual[grade.name] = (None if pending else grade.score, grade.max_score)
                        else:
                            cells[grade.name] = (grade.score, grade.max_score)
                out[student.id] = Grades(sum(v[0] or 0 for v in cells.values()), sum(v[1] for v in cells.values()),
                                         cells, manual)
        return out

    def autograded_notebook(self, aid: str, student: str, name: str) -> nbformat.NotebookNode:
        return nbformat.read(self.root / "_grading" / "autograded" / student / aid / name, as_version=4)


def correct_submission(release: dict[str, nbformat.NotebookNode], aid: str) -> dict[str, nbformat.NotebookNode]:
    """The release with every answer cell filled in with the solution (markers stripped)."""
    answers: dict[str, str] = {}
    for path in solution_notebooks(aid):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution"):
                answers[meta["grade_id"]] = strip_solution_markers(cell.source)
    out = {}
    for name, nb in release.items():
        nb = nbformat.from_dict(nb)
        for cell in nb.cells:
            if _grade_id(cell) in answers:
                cell.source = answers[_grade_id(cell)]
        out[name] = nb
    return out


def wrong_submission(correct: dict[str, nbformat.NotebookNode], replace: dict[str, str]) -> dict[str, nbformat.NotebookNode]:
    """The correct submission with the answer cells named in ``replace`` (grade_id -> source) swapped."""
    found: set[str] = set()
    out = {}
    for name, nb in correct.items():
        nb = nbformat.from_dict(nb)
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in replace:
                cell.source = replace[gid]
                found.add(gid)
        out[name] = nb
    missing = set(replace) - found
    if missing:
        raise KeyError(f"wrong submission names answer cells that do not exist: {sorted(missing)}")
    return out


def right_submission(correct: dict[str, nbformat.NotebookNode], replace: dict[str, str]) -> dict[str, nbformat.NotebookNode]:
    """The correct submission with the answer cells named in ``replace`` swapped for other correct answers."""
    return wrong_submission(correct, replace)


def release_all() -> None:
    """Regenerate ``exercises/`` from ``solutions/`` (``make exercises``)."""
    ids = assignment_ids()
    for stale in EXERCISES.glob("*"):
        if stale.is_dir() and stale.name not in ids:
            shutil.rmtree(stale)
            print(f"removed stale release {stale.relative_to(REPO)}")
    (REPO / "_grading").mkdir(exist_ok=True)
    for aid in ids:
        run_nbgrader(REPO, "generate_assignment", aid, "--force", "--create")
        print(f"released {aid} -> exercises/{aid}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["release", "list"])
    args = parser.parse_args(argv)
    if args.command == "release":
        release_all()
    else:
        print("\n".join(assignment_ids()))


if __name__ == "__main__":
    main()
