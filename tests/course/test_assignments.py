"""The autograding works, for every assignment in ``solutions/`` (new ones are covered automatically).

For each assignment, one throw-away nbgrader course grades, in one ``nbgrader autograde`` run:
the solution notebook, the untouched release, the release with correct answers filled in, and every
deliberately wrong submission in ``tests/wrong_submissions/<assignment>.py`` and every independently
written correct one in ``tests/right_submissions/<assignment>.py``. Grades are read back
from the gradebook, as an instructor would see them.
"""

from __future__ import annotations

import filecmp

import nbformat
import pytest

from tools.nbgrader_course import (
    EXERCISES,
    HIDDEN_REGION,
    SOLUTIONS,
    SOLUTION_REGION,
    Course,
    assignment_ids,
    correct_submission,
    hidden_test_lines,
    load_right_submissions,
    load_wrong_submissions,
    right_submission,
    solution_notebooks,
    wrong_submission,
)

pytestmark = pytest.mark.slow

# Each assignment's tests share one autograde run (the session fixture below): with pytest-xdist
# (--dist loadgroup) they are kept on one worker, and different assignments grade in parallel.
IDS = [pytest.param(aid, marks=pytest.mark.xdist_group(aid)) for aid in assignment_ids()]
WRONG = [
    pytest.param(aid, name, marks=pytest.mark.xdist_group(aid))
    for aid in assignment_ids() for name in load_wrong_submissions(aid)
]
# A right variant with a "known_loss" is a recorded finding (a hidden test that fails a correct answer): strict
# xfail, so the test turns red once the hidden test is fixed and the mark must go.
RIGHT = [
    pytest.param(aid, name, marks=[pytest.mark.xdist_group(aid)] + (
        [pytest.mark.xfail(strict=True, reason=spec["known_loss"])] if spec.get("known_loss") else []))
    for aid in assignment_ids() for name, spec in load_right_submissions(aid).items()
]
MIN_PARTS = 3  # every assignment has at least three autograded parts
MIN_WRONG = 3  # ... and at least three deliberately wrong submissions that must lose points
MIN_RIGHT = 3  # ... and at least three independently written correct submissions that must earn full marks


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """``graded(aid) -> (course, grades by student)``, computed once per assignment per session."""
    cache: dict[str, tuple[Course, dict]] = {}

    def get(aid: str):
        if aid not in cache:
            course = Course(tmp_path_factory.mktemp(aid))
            course.release(aid)
            release = course.released_notebooks(aid)
            correct = correct_submission(release, aid)
            course.submit(aid, "solution", {p.name: nbformat.read(p, as_version=4) for p in solution_notebooks(aid)})
            course.submit(aid, "untouched", release)
            course.submit(aid, "correct", correct)
            for name, spec in load_wrong_submissions(aid).items():
                course.submit(aid, f"wrong-{name}", wrong_submission(correct, spec["replace"]))
            for name, spec in load_right_submissions(aid).items():
                course.submit(aid, f"right-{name}", right_submission(correct, spec["replace"]))
            cache[aid] = (course, course.autograde(aid))
        return cache[aid]

    return get


def test_there_are_assignments():
    assert assignment_ids(), "solutions/ holds no assignment"


@pytest.mark.parametrize("aid", IDS)
def test_release_is_what_generate_assignment_produces_now(aid, graded):
    course, _ = graded(aid)
    fresh = course.root / "exercises" / aid  # generated from solutions/ by this session's run
    committed = EXERCISES / aid
    assert committed.is_dir(), f"exercises/{aid} is missing: run `make exercises`"
    cmp = filecmp.dircmp(fresh, committed)
    assert not cmp.left_only and not cmp.right_only, f"file sets differ: {cmp.left_only} vs {cmp.right_only}"
    _, mismatch, errors = filecmp.cmpfiles(fresh, committed, cmp.common_files, shallow=False)
    assert not mismatch and not errors, f"exercises/{aid} is stale ({mismatch}): run `make exercises`"


@pytest.mark.parametrize("aid", IDS)
def test_no_hidden_test_or_solution_text_in_release(aid):
    hidden = hidden_test_lines(aid)
    assert hidden, f"{aid} has no hidden tests"
    solution_lines = set()
    for path in solution_notebooks(aid):
        for cell in nbformat.read(path, as_version=4).cells:
            for block in SOLUTION_REGION.findall(cell.source):
                solution_lines.update(line.strip() for line in block.splitlines() if len(line.strip()) > 12)
    for path in (EXERCISES / aid).rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":  # compare cell sources, not JSON-escaped text
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"hidden test text in {path}: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        leaked = [line for line in solution_lines if line in text]
        assert not leaked, f"solution text in {path}: {leaked[:3]}"


@pytest.mark.parametrize("aid", IDS)
def test_every_part_has_visible_and_hidden_tests(aid):
    parts = []
    for path in solution_notebooks(aid):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                parts.append(meta["grade_id"])
                visible = HIDDEN_REGION.sub("", cell.source)
                assert "assert" in visible or "raise" in visible, f"{aid}/{meta['grade_id']}: no visible test"
                assert HIDDEN_REGION.search(cell.source), f"{aid}/{meta['grade_id']}: no hidden tests"
                assert meta.get("points", 0) > 0, f"{aid}/{meta['grade_id']}: no points"
    assert len(parts) >= MIN_PARTS, f"{aid} has {len(parts)} autograded parts; at least {MIN_PARTS} are required"


@pytest.mark.parametrize("aid", IDS)
def test_solution_earns_full_marks(aid, graded):
    _, grades = graded(aid)
    for student in ("solution", "correct"):
        g = grades[student]
        lost = {k: v for k, v in g.cells.items() if v[0] != v[1]}
        assert g.max_score > 0
        assert g.score == g.max_score, f"{aid}: the {student} submission lost points in {lost}"


@pytest.mark.parametrize("aid", IDS)
def test_untouched_release_earns_zero(aid, graded):
    _, grades = graded(aid)
    g = grades["untouched"]
    assert g.max_score == grades["solution"].max_score
    assert g.score == 0, f"{aid}: the untouched release earned {g.score}: {g.cells}"


@pytest.mark.parametrize("aid", IDS)
def test_test_cells_write_nothing_to_stderr(aid, graded):
    course, _ = graded(aid)
    for path in solution_notebooks(aid):
        nb = course.autograded_notebook(aid, "solution", path.name)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
                stderr = [o.get("text", "") for o in cell.outputs if o.get("name") == "stderr"]
                assert not stderr, f"{aid}/{cell.metadata['nbgrader']['grade_id']} wrote to stderr: {stderr}"


@pytest.mark.parametrize("aid", IDS)
def test_assignment_has_wrong_submissions(aid):
    assert len(load_wrong_submissions(aid)) >= MIN_WRONG, (
        f"tests/wrong_submissions/{aid}.py must declare at least {MIN_WRONG} wrong submissions"
    )


@pytest.mark.parametrize(("aid", "name"), WRONG)
def test_wrong_submission_loses_points(aid, name, graded):
    _, grades = graded(aid)
    spec = load_wrong_submissions(aid)[name]
    g = grades[f"wrong-{name}"]
    assert g.score < g.max_score, f"{aid}: wrong submission {name!r} earned full marks"
    for gid in spec["loses"]:
        score, max_score = g.cells[gid]
        assert score < max_score, f"{aid}: wrong submission {name!r} kept its points in {gid}"
    kept = spec.get("keeps", [gid for gid in g.cells if gid not in spec["loses"]])
    for gid in kept:
        score, max_score = g.cells[gid]
        assert score == max_score, f"{aid}: wrong submission {name!r} lost points in unrelated part {gid}"


@pytest.mark.parametrize("aid", IDS)
def test_assignment_has_right_submissions(aid):
    assert len(load_right_submissions(aid)) >= MIN_RIGHT, (
        f"tests/right_submissions/{aid}.py must declare at least {MIN_RIGHT} independently written correct submissions"
    )


@pytest.mark.parametrize(("aid", "name"), RIGHT)
def test_right_submission_earns_full_marks(aid, name, graded):
    _, grades = graded(aid)
    g = grades[f"right-{name}"]
    lost = {k: v for k, v in g.cells.items() if v[0] != v[1]}
    assert g.max_score == grades["solution"].max_score
    assert g.score == g.max_score, f"{aid}: the correct submission {name!r} lost points in {lost}"


@pytest.mark.parametrize("aid", IDS)
def test_written_answers_wait_for_the_instructor(aid, graded):
    """A hand-graded answer is left for the instructor when answered, and scores 0 when left as released."""
    _, grades = graded(aid)
    for gid, (score, max_score) in grades["solution"].manual.items():
        assert max_score > 0, f"{aid}/{gid}: a written answer without points"
        assert score is None, f"{aid}/{gid}: an answered written question was scored {score} without an instructor"
    for gid, (score, _) in grades["untouched"].manual.items():
        assert score == 0, f"{aid}/{gid}: an unanswered written question scored {score}"


@pytest.mark.parametrize("aid", IDS)
def test_no_instructor_rubric_in_release(aid):
    rubrics = [p.name for p in (EXERCISES / aid).rglob("*") if "RUBRIC" in p.name.upper()]
    assert not rubrics, f"exercises/{aid} holds instructor rubrics {rubrics}: they must stay in solutions/"


def _cells(aid: str) -> list:
    return [cell for path in solution_notebooks(aid) for cell in nbformat.read(path, as_version=4).cells]


MIN_WRONG_PER_CELL = 3  # issue 15: three plausible mistakes per test cell, each caught by a hidden test


@pytest.mark.parametrize("aid", IDS)
def test_every_test_cell_is_lost_by_three_wrong_submissions(aid):
    """Each autograded test cell has at least three deliberately wrong submissions that must lose it (the
    grading run above proves they do): a hidden test no mistake fails is a hidden test nobody showed to work."""
    cells = [c.metadata["nbgrader"]["grade_id"] for c in _cells(aid)
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    wrong = load_wrong_submissions(aid)
    short = {gid: n for gid in cells
             if (n := sum(gid in spec["loses"] for spec in wrong.values())) < MIN_WRONG_PER_CELL}
    assert not short, f"{aid}: test cells lost by fewer than {MIN_WRONG_PER_CELL} wrong submissions: {short}"


@pytest.mark.parametrize("aid", IDS)
def test_assignment_has_an_experiment_and_a_written_answer_with_a_rubric(aid):
    """Issue 15: each assignment has an experiment-and-interpret part and a hand-graded written answer,
    with a rubric for the instructor next to the solution (never released: see the test above)."""
    cells = _cells(aid)
    manual = [c for c in cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    assert manual, f"{aid}: no written answer graded by hand (a markdown cell with nbgrader solution + grade)"
    assert (SOLUTIONS / aid / "RUBRIC.md").is_file(), f"{aid}: no RUBRIC.md for the written answer"
    headings = [line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("#")]
    assert any("experiment" in h.lower() for h in headings), f"{aid}: no part titled as an experiment: {headings}"
