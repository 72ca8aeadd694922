"""gradekit.submissions: every accepted layout, zips, unsafe names, digests."""

from __future__ import annotations

import os
import stat
import zipfile

import pytest

from gradekit.submissions import MAX_FILES, Submission, SubmissionLayoutError, find_submissions

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


# ------------------------------------------------------------------- issue 20: layout per source, regular files only
def test_one_student_cannot_hijack_the_layout(tmp_path):
    _write(tmp_path, {"alice/ex01.ipynb": NB, "bob/ex01.ipynb": NB, "mallory/ex01/ex01.ipynb": NB})
    with pytest.raises(SubmissionLayoutError, match=r"mixed layouts: mallory/ex01/ .* but alice/, bob/"):
        find_submissions(tmp_path, "ex01")


def test_flat_notebooks_beside_student_folders_are_a_mix(tmp_path):
    _write(tmp_path, {"alice/ex01.ipynb": NB, "bob_ex01.ipynb": NB})
    with pytest.raises(SubmissionLayoutError, match=r"mixed layouts: student folders \(alice/\) .* \(bob_ex01.ipynb\)"):
        find_submissions(tmp_path, "ex01")


def test_single_student_zip_named_like_the_notebook_is_that_student(tmp_path):
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/ex01_functions.ipynb", NB)
    subs = find_submissions(archive, "ex01_functions", notebooks={"ex01_functions.ipynb"})
    assert [(s.student, list(s.files)) for s in subs] == [("alice", ["ex01_functions.ipynb"])]


def test_links_devices_and_fifos_flag_the_student(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_bytes(b"SQLite format 3")
    root = tmp_path / "subs"
    _write(root, {"alice/ex01/ex01.ipynb": NB, "bob/ex01/data.csv": b"1", "carol/ex01/ex01.ipynb": NB,
                  "dave/ex01/ex01.ipynb": NB, "erin/ex01/ex01.ipynb": NB})
    (root / "bob" / "ex01" / "ex01.ipynb").symlink_to(secret)
    os.link(secret, root / "carol" / "ex01" / "data.db")
    os.mkfifo(root / "dave" / "ex01" / "pipe")
    (root / "erin" / "ex01" / "other.ipynb").symlink_to(root / "alice" / "ex01" / "ex01.ipynb")
    subs = {s.student: s for s in find_submissions(root, "ex01")}
    assert subs["alice"].problem == "" and subs["alice"].files == {"ex01.ipynb": NB}
    assert "ex01.ipynb: a symbolic link" in subs["bob"].problem and "ex01.ipynb" not in subs["bob"].files
    assert "data.db: a hard link" in subs["carol"].problem
    assert "pipe: a FIFO" in subs["dave"].problem
    assert "other.ipynb: a symbolic link" in subs["erin"].problem
    assert all(b"SQLite" not in data for s in subs.values() for data in s.files.values())
    assert subs["bob"].digest != Submission("bob", subs["bob"].files).digest


def test_zip_entries_that_are_links_or_escape_are_refused(tmp_path):
    archive = tmp_path / "subs.zip"
    link = zipfile.ZipInfo("bob/ex01/ex01.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/ex01/ex01.ipynb", NB)
        zf.writestr(link, "../../../_grading/gradebook.db")
        zf.writestr("carol/ex01/ex01.ipynb", NB)
        zf.writestr("carol/ex01/../../../../etc/cron.d/x", b"* * * * * root rm -rf /")
        zf.writestr("dave/ex01/" + "n" * 300 + ".ipynb", NB)
        zf.writestr("dave/ex01/ex01.ipynb", NB)
        zf.writestr("/etc/passwd", b"root::0:0")
    found = find_submissions(archive, "ex01")
    subs = {s.student: s for s in found}
    assert set(subs) == {"alice", "bob", "carol", "dave"}
    assert subs["alice"].problem == ""
    assert "a symbolic link" in subs["bob"].problem and subs["bob"].files == {}
    assert "a path with '..'" in subs["carol"].problem
    assert "longer than 255 bytes" in subs["dave"].problem
    assert any(i.startswith("/etc/passwd: an absolute path") for i in found.ignored), found.ignored


def test_notebook_that_is_a_folder_and_too_many_files_are_refused(tmp_path):
    files = {"alice/ex01/ex01.ipynb/cells.json": NB, "bob/ex01/ex01.ipynb": NB}
    files.update({f"bob/ex01/many/{i}.txt": b"x" for i in range(MAX_FILES + 1)})
    _write(tmp_path, files)
    subs = {s.student: s for s in find_submissions(tmp_path, "ex01")}
    assert "the notebook ex01.ipynb is a folder" in subs["alice"].problem
    assert f"at most {MAX_FILES}" in subs["bob"].problem


def test_submitted_folder_check_follows_no_link(tmp_path):
    """What plain `nbgrader autograde` checks first (gradekit.submissions.require_regular_submissions)."""
    from gradekit.submissions import check_submitted_folder

    def folder(student: str) -> "os.PathLike":
        path = tmp_path / "submitted" / student / "ex01"
        path.mkdir(parents=True)
        (path / "ex01.ipynb").write_text("{}")
        return path

    assert check_submitted_folder(folder("ok")) == ""
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    (folder("link") / "ex02.ipynb").symlink_to(secret)
    assert "ex02.ipynb: a symbolic link" in check_submitted_folder(tmp_path / "submitted" / "link" / "ex01")
    os.link(secret, folder("hard") / "data.csv")
    assert "a hard link" in check_submitted_folder(tmp_path / "submitted" / "hard" / "ex01")
    os.mkfifo(folder("fifo") / "pipe")
    assert "a FIFO" in check_submitted_folder(tmp_path / "submitted" / "fifo" / "ex01")
    many = folder("many")
    for i in range(MAX_FILES + 5):
        (many / f"f{i}.txt").write_text("x")
    assert f"at most {MAX_FILES}" in check_submitted_folder(many)
    # the student's folder or the assignment's folder itself a link: refused without looking inside
    (tmp_path / "submitted" / "linked").symlink_to(tmp_path / "submitted" / "ok")
    assert "a symbolic link" in check_submitted_folder(tmp_path / "submitted" / "linked" / "ex01")
    (tmp_path / "submitted" / "inner").mkdir()
    (tmp_path / "submitted" / "inner" / "ex01").symlink_to(tmp_path / "submitted" / "ok" / "ex01")
    assert "a symbolic link" in check_submitted_folder(tmp_path / "submitted" / "inner" / "ex01")
    assert secret.read_text() == "secret"
