"""gradekit.runner: parallel, isolated, resumable grading -- and every hostile submission withstood.

One hardened run grades the controls and every case of ``tests/hostile/cases.py`` (2 worker processes,
60 s cell timeout); the other tests reuse it. A second, small course checks resume and Dask.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import tempfile
import time

import pytest

from gradekit.journal import Journal
from gradekit.runner import JOURNAL_NAME, export_csv, grade_all
from gradekit.submissions import Submission
from tests.hostile.cases import controls
from tests.hostile.measure import judge, run_hardened
from tools.nbgrader_course import Course, hidden_test_lines, nbgrader_env, run_nbgrader

# one xdist worker for the whole module: the hostile run is shared, and each run uses 2 processes itself.
# Part of `make test` (each sandbox is capped at 1 CPU, and a timed-out cell's processes are killed, so the
# fork bomb costs one core for one cell timeout); `make test-hostile` runs this module alone.
pytestmark = [pytest.mark.slow, pytest.mark.hostile, pytest.mark.xdist_group("gradekit-runner")]
AID = "ex01_functions"
CELL_TIMEOUT = 20


# session scope: xdist may run another module's test between two of this group's on the same worker, and a
# module-scoped fixture would then be torn down and the whole hostile run (minutes) done a second time
@pytest.fixture(scope="session")
def hostile(tmp_path_factory):
    os.environ["PATH"] = nbgrader_env()["PATH"]
    root = tmp_path_factory.mktemp("hostile")
    # every temporary course, kernel socket folder of this run lives here: what is left afterwards leaked
    scratch = tempfile.mkdtemp(prefix="gk-")  # short: unix socket paths are limited to 107 bytes
    saved = tempfile.tempdir
    tempfile.tempdir = scratch
    try:
        run, data, skipped = run_hardened(AID, root, cell_timeout=CELL_TIMEOUT)
    finally:
        tempfile.tempdir = saved
    time.sleep(2)  # launchers that were SIGKILLed take a moment to be reaped
    leftovers = {"files": sorted(os.listdir(scratch)), "processes": _processes_mentioning(scratch)}
    shutil.rmtree(scratch, ignore_errors=True)
    return root, run, data, skipped, leftovers


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if text in cmd or cwd.startswith(text):
                found.append(f"{pid}: {cmd[:200]}")
    return found


def test_nothing_outlives_the_grading_run(hostile):
    *_, leftovers = hostile
    assert not leftovers["processes"], f"sandbox or nbgrader processes outlived the run: {leftovers['processes']}"
    assert not leftovers["files"], f"temporary courses or kernel socket folders leaked: {leftovers['files']}"


def test_fork_bomb_and_infinite_loop_are_graded_not_failed(hostile):
    _, run, _, _, _ = hostile
    # the cell timed out and scored 0, its processes were killed, and the notebook was graded to the end
    # (never above the submission without that answer). Equality with `first-removed` held on a quiet
    # machine but not under a load average of ~200, so it is not asserted.
    base = run.cells["first-removed"]
    for case in ("fork-bomb", "infinite-loop"):
        assert set(run.cells[case]) == set(base), case
        assert all(v <= base[k] + 1e-9 for k, v in run.cells[case].items()), (case, run.cells[case])


def test_every_hostile_submission_is_withstood(hostile):
    _, run, data, skipped, _ = hostile
    assert run.completed, run.error
    verdict = judge(run, data, skipped)
    failed = {k: v for k, v in verdict.items() if v}
    assert not failed, f"hostile submissions not withstood: {failed}"
    assert len(verdict) == len(data["cases"]) >= 17


def test_controls_and_maximum(hostile):
    _, run, _, _, _ = hostile
    total = run.max_score["__assignment__"]
    assert sum(run.cells["correct"].values()) == total > 0
    assert sum(run.cells["release"].values()) == 0
    assert all(run.max_score[s] == total for s in run.cells), "no submission may shrink the maximum score"


def test_csv_has_one_row_per_student_and_a_column_per_test(hostile):
    root, run, _, _, _ = hostile
    path = export_csv(root, AID, root / "grades.csv")
    rows = list(csv.DictReader(open(path)))
    assert sorted(r["student"] for r in rows) == sorted(run.cells)
    correct = next(r for r in rows if r["student"] == "correct")
    parts = [k for k in correct if k.startswith(f"{AID}/")]
    auto = [f"{AID}/{gid}" for _, gid in run.cells["correct"]]  # autograded cells (run.cells counts only those)
    assert set(auto) <= set(parts) and len(auto) == len(run.cells["correct"])
    # the written answers wait for the instructor: the autograded cells make the whole score
    assert sum(float(correct[k]) for k in auto) == float(correct["score"]) == run.max_score["correct"]
    assert float(correct["max_score"]) >= float(correct["score"])
    malformed = next(r for r in rows if r["student"] == "malformed-json")
    assert malformed["status"] == "failed" and "JSON" in malformed["error"]


def test_feedback_hides_hidden_tests(hostile):
    root, _, _, _, _ = hostile
    run_nbgrader(root, "generate_feedback", AID, "--student", "first-removed", "--force")
    page = next((root / "_grading" / "feedback" / "first-removed" / AID).glob("*.html")).read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # what the student reads
    assert "assert" in text, "the visible tests must stay in the feedback"
    # a hidden line is leaked if the page shows it as a line of its own, or inside a longer one when it is long
    # enough to be unmistakable (a short one such as `raise AssertionError(` also begins visible test lines)
    lines = {line.strip() for line in text.splitlines()}
    leaked = [line for line in hidden_test_lines(AID) if line in lines or (len(line) >= 40 and line in text)]
    assert not leaked, f"hidden test code in the feedback: {leaked[:3]}"
    assert "hidden tests:" in text


def _small_course(tmp_path) -> tuple[Course, list[Submission]]:
    course = Course(tmp_path / "course")
    course.release(AID)
    subs = controls(course.released_notebooks(AID), AID)
    return course, [Submission(s, subs[s]) for s in ("correct", "release", "first-removed")]


def test_interrupted_run_resumes_without_regrading_or_duplicates(tmp_path):
    os.environ["PATH"] = nbgrader_env()["PATH"]
    course, subs = _small_course(tmp_path)

    def stop(result):
        raise KeyboardInterrupt

    # one nbgrader process per run (chunk_size=3): the parallel pool itself is covered by the hostile run
    with pytest.raises(KeyboardInterrupt):
        grade_all(course.root, AID, subs, workers=2, progress=False, on_result=stop, chunk_size=3)
    journal = Journal(course.root / "_grading" / JOURNAL_NAME)
    first = set(s for _, s in journal.entries())
    assert len(first) == 1, "exactly the merged submission is journaled"
    summary = grade_all(course.root, AID, subs, workers=2, progress=False, chunk_size=3)
    assert sorted(summary.skipped) == sorted(first)
    assert sorted(summary.graded) == sorted({s.student for s in subs} - first)
    grades = course.read_grades(AID)
    assert set(grades) == {"correct", "release", "first-removed"}
    assert grades["correct"].score == grades["correct"].max_score and grades["release"].score == 0
    assert 0 < grades["first-removed"].score < grades["first-removed"].max_score
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 3, "each submission journaled once"
    # a changed submission is graded again, an unchanged one is not
    changed = Submission("release", subs[0].files)
    again = grade_all(course.root, AID, [changed, subs[0]], workers=1, progress=False)
    assert again.graded == ["release"] and again.skipped == ["correct"]
    assert course.read_grades(AID)["release"].score == grades["correct"].max_score
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        assert len(gb.find_assignment(AID).submissions) == 3


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    os.environ["PATH"] = nbgrader_env()["PATH"]
    course, subs = _small_course(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = grade_all(course.root, AID, subs[:2], scheduler=cluster.scheduler_address, progress=False)
    assert sorted(summary.graded) == ["correct", "release"]
    grades = course.read_grades(AID)
    assert grades["correct"].score == grades["correct"].max_score > 0 and grades["release"].score == 0
    autograded = course.root / "_grading" / "autograded" / "correct" / AID
    assert any(autograded.glob("*.ipynb"))
