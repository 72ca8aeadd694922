"""gradekit.guard: a submission's cells are reconciled with the gradebook (deleted or edited tests score 0)."""

from __future__ import annotations

import os
import sys

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook

from gradekit.guard import DELETED_TEST, ReconcileCells


def _cell(source, gid, grade=False, solution=False, locked=False, points=None, kind="code"):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": gid, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


@pytest.fixture
def gradebook(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(url) as gb:
        gb.update_or_create_assignment("a1")
        gb.update_or_create_notebook("nb", "a1")
        cells = [("intro", "markdown", "# Task", True), ("answer", "code", "# YOUR CODE HERE", False),
                 ("test-1", "code", "assert f(1) == 1", True), ("test-2", "code", "assert f(2) == 4", True)]
        for name, kind, source, locked in cells:
            gb.update_or_create_source_cell(name, "nb", "a1", cell_type=kind, source=source, locked=locked)
        gb.update_or_create_solution_cell("answer", "nb", "a1")
        gb.update_or_create_grade_cell("test-1", "nb", "a1", max_score=2, cell_type="code")
        gb.update_or_create_grade_cell("test-2", "nb", "a1", max_score=3, cell_type="code")
    return {"nbgrader": {"db_url": url, "notebook": "nb", "assignment": "a1"}}


def test_reconcile_restores_metadata_and_puts_back_deleted_tests(gradebook):
    nb = new_notebook(cells=[
        _cell("# Task", "intro", locked=True, kind="markdown"),
        _cell("def f(x): return x", "answer", solution=True),
        _cell("pass", "test-1", grade=False, locked=False, points=100),  # edited: not graded, unlocked, 100 points
        _cell("assert True", "bogus-test", grade=True, locked=True, points=50),  # not in this assignment
    ])
    nb, _ = ReconcileCells().preprocess(nb, gradebook)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert by_id["test-1"].source == "assert f(1) == 1"
    assert by_id["test-1"].metadata.nbgrader["grade"] is True and by_id["test-1"].metadata.nbgrader["points"] == 2
    assert by_id["test-2"].source == f"raise AssertionError({DELETED_TEST.format(gid='test-2')!r})"
    assert by_id["test-2"].metadata.nbgrader["points"] == 3
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == ["intro", "answer", "test-1",
                                                                                   "test-2", None]
    assert "nbgrader" not in nb.cells[-1].metadata, "a cell of another assignment must not be graded"
    assert by_id["answer"].source == "def f(x): return x", "the student's answer must be kept"


def test_reconcile_is_deterministic_keeps_intact_cells_and_fits_old_formats(gradebook):
    import copy

    import nbformat

    intact = _cell("assert f(1) == 1", "test-1", grade=True, locked=True, points=2)
    intact.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    intro = _cell("# Changed ![x](attachment:x.png)", "intro", locked=True, kind="markdown")
    intro["attachments"] = {"x.png": {"image/png": "iVBORw0KGgo="}}
    nb = new_notebook(cells=[intro, _cell("def f(x): return x", "answer", solution=True), intact,
                             _cell("pass", "test-2", grade=True, locked=True, points=3)])
    first, _ = ReconcileCells().preprocess(copy.deepcopy(nb), gradebook)
    second, _ = ReconcileCells().preprocess(copy.deepcopy(nb), gradebook)
    assert nbformat.writes(first) == nbformat.writes(second), "identical submissions must give identical notebooks"
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in first.cells}
    assert by_id["test-1"].outputs == intact.outputs, "an intact locked cell keeps its outputs (--no-execute)"
    assert by_id["intro"].source == "# Task" and by_id["intro"].attachments == intro["attachments"]
    assert by_id["test-2"].source == "assert f(2) == 4" and by_id["test-2"].id == nb.cells[3].id
    old = copy.deepcopy(nb)
    old.nbformat_minor = 4
    for cell in old.cells:
        cell.pop("id", None)
    old, _ = ReconcileCells().preprocess(old, gradebook)
    assert not any("id" in c for c in old.cells), "nbformat 4.4 has no cell ids"
    nbformat.validate(old)
