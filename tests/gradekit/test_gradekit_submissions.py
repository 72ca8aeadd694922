"""gradekit.submissions: every accepted layout, zips, unsafe names, digests."""

from __future__ import annotations

import zipfile

import pytest

from gradekit.submissions import Submission, SubmissionLayoutError, find_submissions

NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _write(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_nbgrader_layout_folder(tmp_path):
    _write(tmp_path, {"alice/ex01/ex01.ipynb": NB, "alice/ex01/data.csv": b"1,2", "bob/ex01/ex01.ipynb": NB + b" ",
                      "bob/ex02/ex02.ipynb": NB, "bob/ex01/.ipynb_checkpoints/ex01-checkpoint.ipynb": NB})
    subs = find_submissions(tmp_path, "ex01")
    assert [s.student for s in subs] == ["alice", "bob"]
    assert set(subs[0].files) == {"ex01.ipynb", "data.csv"}
    assert set(subs[1].files) == {"ex01.ipynb"}, "other assignments and checkpoints must be left out"


def test_zip_with_enclosing_folder_and_per_student_folders(tmp_path):
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/carol/ex01.ipynb", NB)
        zf.writestr("export/dave/ex01.ipynb", NB)
        zf.writestr("export/../../evil.ipynb", NB)
    subs = find_submissions(archive, "ex01")
    assert [s.student for s in subs] == ["carol", "dave"]
    assert subs[0].files == {"ex01.ipynb": NB}


def test_flat_lms_names(tmp_path):
    _write(tmp_path, {"erin_ex01.ipynb": NB, "frank_ex01.ipynb": NB, "README.txt": b"x"})
    subs = find_submissions(tmp_path, "ex01")
    assert {s.student: list(s.files) for s in subs} == {"erin": ["ex01.ipynb"], "frank": ["ex01.ipynb"]}


def test_nothing_found_says_what_is_expected(tmp_path):
    _write(tmp_path, {"notes.txt": b"x"})
    with pytest.raises(SubmissionLayoutError, match="expected <student>/ex01/<files>"):
        find_submissions(tmp_path, "ex01")
    with pytest.raises(SubmissionLayoutError, match="does not exist"):
        find_submissions(tmp_path / "missing", "ex01")
    (tmp_path / "plain.txt").write_text("not a zip")
    with pytest.raises(SubmissionLayoutError, match="neither a folder nor a zip"):
        find_submissions(tmp_path / "plain.txt", "ex01")


def test_unsafe_student_id_is_rejected(tmp_path):
    _write(tmp_path, {"-rf/ex01/ex01.ipynb": NB})
    with pytest.raises(SubmissionLayoutError, match="unsafe student ids"):
        find_submissions(tmp_path, "ex01")


def test_digest_tracks_content_and_names():
    a = Submission("a", {"x.ipynb": NB})
    assert a.digest == Submission("other", {"x.ipynb": NB}).digest
    assert a.digest != Submission("a", {"x.ipynb": NB + b" "}).digest
    assert a.digest != Submission("a", {"y.ipynb": NB}).digest
