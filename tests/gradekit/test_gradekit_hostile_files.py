"""Issue 20 end to end: submissions whose files are the attack, and a new instructor's path on a fresh clone.

* every case of :func:`tests.hostile.cases_files.container_cases` (links to the gradebook, the solutions and
  another student, hard links, FIFOs, a notebook that is a folder, long names, many files, zip entries with
  ``../``, absolute paths or link bits) is flagged with its reason and scores 0; the honest students keep
  their grades; no file of the course outside the grader's own folders changes; the CLI says so;
* the README's instructor commands on a fresh clone (no ``_grading/``): generate, an assignment with a due
  date made by ``nbgrader db assignment add`` first, late penalties, autograde, feedback, export, and
  ``make grade`` on a zip -- gradekit's grades equal stock ``nbgrader autograde``'s.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradekit.cli import main as gradekit_main
from tests.hostile.cases import controls
from tests.hostile.cases_files import container_cases, write_zip
from tools.nbgrader_course import REPO, SOLUTIONS, Course, nbgrader_env, run_nbgrader

pytestmark = [pytest.mark.slow, pytest.mark.hostile, pytest.mark.xdist_group("gradekit-runner")]
AID = "ex01_functions"


def _snapshot(root: Path) -> dict[str, str]:
    """Digest of every file of the course but the grader's own output folders."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(("_grading/autograded", "_grading/submitted", "_grading/feedback", "subs")) or \
                rel.startswith("_grading/gradekit-journal") or rel.startswith("_grading/grades-") or \
                rel == "_grading/gradebook.db" or p.is_dir() or p.is_symlink():
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    os.environ["PATH"] = nbgrader_env()["PATH"]
    root = tmp_path_factory.mktemp("files")
    course = Course(root / "course")
    course.release(AID)
    subs = controls(course.released_notebooks(AID), AID)
    return course, subs


def _grade(course: Course, source: Path, capsys) -> str:
    code = gradekit_main(["grade", AID, str(source), "--course", str(course.root), "--no-progress",
                          "--cell-timeout", "30", "--regrade"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_file_attacks_are_flagged_and_change_nothing(world, tmp_path, capsys):
    course, subs = world
    cases = container_cases(subs["correct"], AID)
    folder = course.root / "subs"
    for student in ("correct", "release"):
        (folder / student / AID).mkdir(parents=True)
        for name, data in subs[student].items():
            (folder / student / AID / name).write_bytes(data)
    for name, case in cases.items():
        if not case.zip_only:
            case.make(folder / name / AID, course.root)
    before = _snapshot(course.root)
    shadow = Path("/etc/shadow").read_bytes() if Path("/etc/shadow").exists() else b""
    out = _grade(course, folder, capsys)
    folder_cases = [n for n, c in cases.items() if not c.zip_only]
    assert out.startswith(f"found {len(folder_cases) + 2} students: graded 2, flagged {len(folder_cases)}"), out
    for name in folder_cases:
        assert f"flagged {name}: " in out, (name, out)
        line = next(ln for ln in out.splitlines() if ln.startswith(f"  flagged {name}: "))
        assert cases[name].reason in line, line
    grades = course.read_grades(AID)
    total = grades["correct"].max_score
    assert grades["correct"].score == total > 0 and grades["release"].score == 0
    for name in folder_cases:
        assert grades[name].score == 0 and grades[name].max_score == total, name
    assert _snapshot(course.root) == before, "a course file outside the grader's folders changed"
    if shadow:
        assert Path("/etc/shadow").read_bytes() == shadow
    # the zip: link entries, '..' and absolute paths; nothing is ever extracted
    archive = tmp_path / "subs.zip"
    zfolder = tmp_path / "zsubs"
    (zfolder / "correct" / AID).mkdir(parents=True)
    for name, data in subs["correct"].items():
        (zfolder / "correct" / AID / name).write_bytes(data)
    cases["link-to-gradebook"].make(zfolder / "link-to-gradebook" / AID, course.root)
    write_zip(archive, zfolder, [e for c in cases.values() if c.zip_only for e in c.zip_entries])
    out = _grade(course, archive, capsys)
    assert out.startswith("found 4 students: graded 1, flagged 3"), out
    for name in ("zip-symlink", "zip-dotdot", "link-to-gradebook"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"  flagged {name}: "))
        assert (cases[name].reason if name != "link-to-gradebook" else "a symbolic link") in line, line
    assert "/etc/gradekit-absolute-entry: an absolute path" in out and "../gradekit-escaping-entry" in out
    assert not Path("/etc/gradekit-absolute-entry").exists() and not (tmp_path / "gradekit-escaping-entry").exists()
    grades = course.read_grades(AID)
    assert grades["correct"].score == total and grades["zip-symlink"].score == 0
    assert _snapshot(course.root) == before


def test_plain_nbgrader_autograde_refuses_what_is_not_a_regular_file(tmp_path):
    """Plain ``nbgrader autograde`` (the course's nbgrader_config.py, no gradekit CLI) must refuse the same
    submissions, before anything of them is opened or copied: flagged for manual grading with the reason,
    every test cell 0, no link followed (the gradebook, the solutions and the other student intact)."""
    os.environ["PATH"] = nbgrader_env()["PATH"]
    course = Course(tmp_path / "course")
    course.release(AID)
    subs = controls(course.released_notebooks(AID), AID)
    cases = {n: c for n, c in container_cases(subs["correct"], AID).items() if not c.zip_only}
    submitted = course.root / "_grading" / "submitted"
    for student in ("correct", "release"):
        (submitted / student / AID).mkdir(parents=True)
        for name, data in subs[student].items():
            (submitted / student / AID / name).write_bytes(data)
    for name, case in cases.items():
        case.make(submitted / name / AID, course.root)
    # a student's folder that is itself a link: to the solutions' parent, so that <student>/<aid> is the solution
    (submitted / "linked-folder").symlink_to(course.root / "solutions")
    solution = course.root / "solutions" / AID / sorted(subs["correct"])[0]
    mode = solution.stat().st_mode
    run_nbgrader(course.root, "db", "assignment", "add", AID)
    before = _snapshot(course.root)
    proc = run_nbgrader(course.root, "autograde", AID, "--create")
    log = proc.stdout + proc.stderr
    assert (course.root / "_grading" / "gradebook.db").read_bytes().startswith(b"SQLite format 3")
    assert solution.stat().st_mode == mode, "root chmodded a file through a link"
    assert _snapshot(course.root) == before, "a course file outside the grader's folders changed"
    grades = course.read_grades(AID)
    total = grades["correct"].max_score
    assert grades["correct"].score == total > 0 and grades["release"].score == 0
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        for name in [*cases, "linked-folder"]:
            reason = cases[name].reason if name in cases else "a symbolic link"
            assert f"GRADEKIT REFUSED {name}/{AID}: " in log, (name, log[-3000:])
            line = next(ln for ln in log.splitlines() if f"GRADEKIT REFUSED {name}/{AID}: " in ln)
            assert reason in line, line
            assert grades[name].score == 0 and grades[name].max_score == total, name
            sub = gb.find_submission(AID, name)
            assert all(g.needs_manual_grade for nb in sub.notebooks for g in nb.grades), name
            assert not (course.root / "_grading" / "autograded" / name).exists(), name


def test_new_instructor_path_on_a_fresh_clone(tmp_path):
    """README's commands, typed on a fresh clone, with a due date set first and late penalty 'zero'."""
    root = tmp_path / "clone"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write("\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
    shutil.copytree(SOLUTIONS / AID, root / "solutions" / AID)
    shutil.copy(REPO / "Makefile", root / "Makefile")
    run_nbgrader(root, "generate_assignment", AID, "--force")
    run_nbgrader(root, "db", "assignment", "add", AID, "--duedate=2030-01-01 12:00:00 UTC")
    import nbformat

    release = {p.name: nbformat.read(p, as_version=4) for p in sorted((root / "exercises" / AID).glob("*.ipynb"))}
    subs = controls(release, AID)
    stamps = {"ontime": "2029-12-31 12:00:00.000000 UTC", "late": "2030-01-02 12:00:00.000000 UTC"}
    # the stock way first: nbgrader autograde on _grading/submitted
    stock_root = tmp_path / "stock"
    shutil.copytree(root, stock_root)
    for student, stamp in stamps.items():
        folder = stock_root / "_grading" / "submitted" / student / AID
        folder.mkdir(parents=True)
        for name, data in subs["correct"].items():
            (folder / name).write_bytes(data)
        (folder / "timestamp.txt").write_text(stamp)
    run_nbgrader(stock_root, "autograde", AID)
    # gradekit on a zip, through make grade
    zfolder = tmp_path / "z"
    for student, stamp in stamps.items():
        (zfolder / student / AID).mkdir(parents=True)
        for name, data in subs["correct"].items():
            (zfolder / student / AID / name).write_bytes(data)
        (zfolder / student / AID / "timestamp.txt").write_text(stamp)
    write_zip(tmp_path / "subs.zip", zfolder, [])
    # this checkout's venv (-o: taken as installed; a fresh clone's `make grade` would make its own first)
    venv = Path(sys.executable).parent.parent
    proc = subprocess.run(["make", "grade", f"ASSIGNMENT={AID}", f"SUBMISSIONS={tmp_path / 'subs.zip'}",
                           f"VENV={venv}", "WORKERS=1", "-o", f"{venv}/.installed"], cwd=root, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "found 2 students: graded 2, flagged 0" in proc.stdout, proc.stdout
    for where in (stock_root, root):
        run_nbgrader(where, "generate_feedback", AID)
        run_nbgrader(where, "export", "--to", str(where / "grades.csv"))
    rows = {w: {r["student_id"]: r for r in csv.DictReader(open(w / "grades.csv"))} for w in (stock_root, root)}
    for student in stamps:
        for key in ("raw_score", "late_submission_penalty", "score", "max_score", "duedate"):
            assert rows[root][student][key] == rows[stock_root][student][key], (student, key)
    # every autograded point; the written answers (markdown grade cells) wait for the instructor
    manual = sum(c.metadata["nbgrader"].get("points", 0) for p in (SOLUTIONS / AID).glob("*.ipynb")
                 for c in nbformat.read(p, as_version=4).cells
                 if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade"))
    assert float(rows[root]["ontime"]["score"]) == float(rows[root]["ontime"]["max_score"]) - manual > 0
    assert float(rows[root]["late"]["score"]) == 0.0, "penalty 'zero' for a late submission"
    assert any((root / "_grading" / "feedback" / "ontime" / AID).glob("*.html"))
