"""gradekit.safe_files: a tree is read without following any link, and within its bounds."""

from __future__ import annotations

import os

import pytest

from gradekit.safe_files import read_tree, write_tree


def test_regular_files_only_nothing_followed(tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "a.txt").write_text("a")
    (top / "sub" / "b.txt").write_text("b")
    (tmp_path / "secret").write_text("secret")
    (top / "link").symlink_to(tmp_path / "secret")
    (top / "dirlink").symlink_to(tmp_path)
    os.link(tmp_path / "secret", top / "hard")
    os.mkfifo(top / "fifo")
    tree = read_tree(str(top))
    assert tree.files == {"a.txt": b"a", "sub/b.txt": b"b"}
    assert sorted(tree.refused) == ["dirlink: a symbolic link", "fifo: a FIFO",
                                    "hard: a hard link (2 names for one file)", "link: a symbolic link"]
    with pytest.raises(OSError):  # the top itself may not be a link either
        read_tree(str(top / "dirlink"))


def test_bounds_exclusions_and_skips(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.txt").write_bytes(b"x" * 10)
    (tmp_path / "nb.ipynb").write_text("hidden")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"c")
    tree = read_tree(str(tmp_path), max_files=3, exclude=("*.ipynb",), skip={"__pycache__"})
    assert sorted(tree.files) == ["0.txt", "1.txt", "2.txt"]
    assert tree.refused == ["3.txt: over the limit on the number of files", "4.txt: over the limit on the number of files"]
    tree = read_tree(str(tmp_path), max_bytes=25, exclude=("*.ipynb",), skip={"__pycache__"})
    assert len(tree.files) == 2 and "too large" in tree.refused[0]
    assert "too large" in read_tree(str(tmp_path), max_file_bytes=5).refused[0]


def test_write_tree_refuses_escapes_and_sets_the_owner(tmp_path):
    write_tree(str(tmp_path), {"d/e/f.txt": b"f"}, uid=os.getuid())
    assert (tmp_path / "d" / "e" / "f.txt").read_bytes() == b"f"
    with pytest.raises(ValueError, match="unsafe relative path"):
        write_tree(str(tmp_path), {"../x": b"x"})
    (tmp_path / "planted").symlink_to(tmp_path / "target")
    with pytest.raises(FileExistsError):  # never written through an existing name or link
        write_tree(str(tmp_path), {"planted": b"x"})
    assert not (tmp_path / "target").exists()
