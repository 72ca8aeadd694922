"""gradekit.runner, the parts that need no nbgrader run: task sizes and unreadable submissions."""

from __future__ import annotations

import json

import pytest

from gradekit.runner import Item, chunked, unreadable_notebook


@pytest.mark.parametrize("n", [0, 1, 3, 21, 100, 257])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_guided_chunks_cover_everything_in_order_large_first(n, workers):
    tasks = chunked(list(range(n)), workers, None)
    assert [i for t in tasks for i in t] == list(range(n))
    sizes = [len(t) for t in tasks]
    assert all(1 <= s <= 16 for s in sizes)
    assert sizes == sorted(sizes, reverse=True), "large tasks first, small ones last (workers finish together)"
    if n >= 100 and workers <= 2:
        assert len(tasks) < n / 4, "one nbgrader start-up should serve several submissions"


def test_fixed_chunks_and_nonsense():
    assert [len(t) for t in chunked(list(range(7)), 2, 3)] == [3, 3, 1]
    with pytest.raises(ValueError, match="chunk_size"):
        chunked([1], 2, 0)


def test_unreadable_notebooks_are_recognised():
    good = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    assert unreadable_notebook(Item("a", "d", {"n.ipynb": good, "data.csv": b"\xff not json"})) == ""
    assert "not valid JSON" in unreadable_notebook(Item("a", "d", {"n.ipynb": b'{"cells": [ this is not'}))
    assert "not valid JSON" in unreadable_notebook(Item("a", "d", {"n.ipynb": b"\xff\xfe"}))
    assert "not a Jupyter notebook" in unreadable_notebook(Item("a", "d", {"n.ipynb": b"[1, 2]"}))


def _gradebook_with_a_written_answer(tmp_path):
    """A course whose gradebook has one assignment: an autograded test (2 points) and a written answer (3 points,
    graded by hand). ``waiting``'s written answer is not graded yet; ``graded``'s is (1.5), and ``graded`` was
    late (penalty 1.0)."""
    from nbgrader.api import Gradebook

    db = tmp_path / "gradebook.db"
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.db_url = 'sqlite:///{db}'\n")
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.add_assignment("a1")
        gb.add_notebook("nb", "a1")
        gb.add_grade_cell("test-1", "nb", "a1", max_score=2, cell_type="code")
        gb.add_grade_cell("written", "nb", "a1", max_score=3, cell_type="markdown")
        gb.add_solution_cell("written", "nb", "a1")
        for student in ("waiting", "graded"):
            gb.add_student(student)
            gb.add_submission("a1", student)
            test = gb.find_grade("test-1", "nb", "a1", student)
            test.auto_score, test.needs_manual_grade = 2.0, False
            written = gb.find_grade("written", "nb", "a1", student)
            written.auto_score, written.needs_manual_grade = None, True  # what nbgrader autograde leaves
        written = gb.find_grade("written", "nb", "a1", "graded")
        written.manual_score, written.needs_manual_grade = 1.5, False  # the instructor graded it
        gb.find_submission_notebook("nb", "a1", "graded").late_submission_penalty = 1.0
        gb.db.commit()
    return db


def test_export_leaves_a_written_answer_the_instructor_has_not_graded_blank(tmp_path):
    """A pending hand-graded answer is not a 0: its column is empty and the row says the total is incomplete;
    the totals are nbgrader's own (``nbgrader export``: raw score, late penalty, score after it)."""
    import csv

    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    from gradekit.runner import export_csv

    db = _gradebook_with_a_written_answer(tmp_path)
    rows = {r["student"]: r for r in csv.DictReader(open(export_csv(tmp_path, "a1", tmp_path / "grades.csv")))}
    assert rows["waiting"]["nb/written"] == "" and rows["waiting"]["nb/test-1"] == "2.0"
    assert rows["waiting"]["needs_manual_grade"] == "True"
    assert rows["graded"]["nb/written"] == "1.5" and rows["graded"]["needs_manual_grade"] == "False"
    plugin = CsvExportPlugin(to=str(tmp_path / "nbgrader.csv"))
    with Gradebook(f"sqlite:///{db}") as gb:
        plugin.export(gb)
    stock = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "nbgrader.csv"))}
    for student in rows:
        for key in ("raw_score", "late_submission_penalty", "score", "max_score"):
            assert float(rows[student][key]) == float(stock[student][key]), (student, key)
    assert float(rows["graded"]["score"]) == 2.5 and float(rows["graded"]["raw_score"]) == 3.5
