"""``make student-repo``: the student tree has the book, the exercises and invlib, and no answer or hidden test."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from tools import student_repo
from tools.nbgrader_course import HIDDEN_REGION, SOLUTION_REGION, SOLUTIONS, assignment_ids, solution_notebooks


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student") / "repo"
    files = student_repo.write_student_repo(dest)
    return dest, files


def test_tree_holds_what_students_need(tree):
    dest, files = tree
    for aid in assignment_ids():
        assert (dest / "exercises" / aid / f"{aid}.ipynb").is_file(), f"the release of {aid} is missing"
    for path in ("_config.yml", "_toc.yml", "references.bib", "pyproject.toml", "requirements.txt", "README.md",
                 "invlib/__init__.py", "gradekit/testkit.py", "book/intro.md"):
        assert (dest / path).is_file(), f"{path} is missing from the student tree"
    assert sorted(p.name for p in (dest / "gradekit").iterdir()) == ["__init__.py", "testkit.py"], (
        "of the grader, students get only the callables their visible tests pass (gradekit.testkit)")
    assert "README.md" in files


def test_tree_holds_no_answers_tests_or_grader(tree):
    dest, _ = tree
    for name in ("solutions", "tests", "tools", "benchmarks", "nbgrader_config.py", "_grading", ".venv"):
        assert not (dest / name).exists(), f"{name} must not be in the student tree"
    assert not [p for p in dest.rglob("*") if "RUBRIC" in p.name.upper()], "an instructor rubric is in the tree"
    assert student_repo.leaks(dest) == {}


def test_every_assignment_has_secret_lines_to_look_for():
    """The check is not vacuous: each assignment contributes hidden-test and solution lines to the search."""
    forbidden = student_repo.forbidden_lines()
    for aid in assignment_ids():
        hidden, solution = set(), set()
        for path in solution_notebooks(aid):
            for cell in nbformat.read(path, as_version=4).cells:
                for block in HIDDEN_REGION.findall(cell.source):
                    hidden |= {line.strip() for line in block.splitlines()}
                for block in SOLUTION_REGION.findall(cell.source):
                    solution |= {line.strip() for line in block.splitlines()}
        assert len(hidden & forbidden) >= 3, f"{aid}: fewer than 3 hidden-test lines are searched for"
        assert solution & forbidden, f"{aid}: no solution line is searched for"


def test_a_planted_solution_notebook_is_found(tree, tmp_path):
    dest = tmp_path / "repo"
    shutil.copytree(tree[0], dest)
    aid = assignment_ids()[0]
    source = solution_notebooks(aid)[0]
    shutil.copy(source, dest / "exercises" / aid / "copy.ipynb")
    found = student_repo.leaks(dest)
    assert f"exercises/{aid}/copy.ipynb" in found


def test_hidden_lines_without_markers_are_found(tree, tmp_path):
    """A hidden test pasted without its markers (say, into a notes file) is still caught, line by line."""
    dest = tmp_path / "repo"
    shutil.copytree(tree[0], dest)
    nb = nbformat.read(solution_notebooks(assignment_ids()[-1])[0], as_version=4)
    block = next(b for c in nb.cells for b in HIDDEN_REGION.findall(c.source))
    (dest / "book" / "notes.md").write_text("# notes\n\n" + block)
    assert "book/notes.md" in student_repo.leaks(dest)


def test_writing_refuses_a_leaking_tree(tmp_path, monkeypatch):
    """If the selection ever included solutions/, nothing is written and the command says why."""
    real = student_repo.selected
    monkeypatch.setattr(student_repo, "selected", lambda paths: real(paths) + [
        p for p in paths if p.startswith("solutions/")])
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError, match="would publish answers or hidden tests"):
        student_repo.write_student_repo(dest)
    assert not dest.exists()
    assert SOLUTIONS.is_dir()  # the course itself is untouched


@pytest.mark.parametrize("where", ["", "book", "book/part1", ".."])
def test_refuses_to_overwrite_the_course(where):
    with pytest.raises(ValueError, match="over the course itself"):
        student_repo.write_student_repo(student_repo.REPO / where)


def test_refuses_to_replace_a_foreign_folder(tmp_path):
    (tmp_path / "thesis.tex").write_text("not a student tree")
    with pytest.raises(ValueError, match="not a student tree"):
        student_repo.write_student_repo(tmp_path)
    assert (tmp_path / "thesis.tex").is_file()


def test_a_second_run_replaces_the_first(tree):
    dest, _ = tree
    (dest / "stale.txt").write_text("left from an older run")
    student_repo.write_student_repo(dest)
    assert not (dest / "stale.txt").exists() and (dest / "exercises").is_dir()
