"""Read a folder tree the way root must read anything a student may have touched: no link followed.

Every entry is opened relative to its parent folder's file descriptor (``openat``) with ``O_NOFOLLOW``
(a symlink is refused, never resolved, at every level), a file is read only if ``fstat`` says it is a
regular file with one link (a hardlink could name the gradebook), FIFOs and devices are not opened for
reading (``O_NONBLOCK``, then the type check), and the walk stops at ``max_files`` entries and
``max_bytes`` bytes in all. What was left out, and why, comes back with the files, so a caller can
refuse the whole tree (a submission) or just report it (a kernel's scratch copy).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field

MAX_NAME_BYTES = 255  # a name longer than this cannot be created on Linux file systems
MAX_PATH_BYTES = 1024


@dataclass
class Tree:
    """Regular files read from a folder: ``files[relative POSIX path] = bytes``; ``refused`` lists
    ``"path: why"`` for every entry that was not read (a link, a device, over a bound...)."""

    files: dict[str, bytes] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def kind(mode: int) -> str:
    """What a non-regular file is, in words (for a refusal message)."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def read_tree(top: str, *, max_files: int = 2000, max_bytes: int = 100 * 2**20, max_file_bytes: int | None = None,
              exclude: tuple[str, ...] = (), skip: frozenset[str] | set[str] = frozenset(), prefix: str = "") -> Tree:
    """Read every regular file under the folder ``top`` without following any link.

    ``exclude``: glob patterns of relative paths left out silently; ``skip``: names (files or folders)
    left out silently wherever they occur; ``prefix`` (e.g. ``"student/assignment/"``) starts every
    relative path, so that the bound on path lengths counts it too. At most ``max_files`` files and ``max_bytes`` bytes in all
    (``max_file_bytes`` per file) are read; everything else is listed in :attr:`Tree.refused`.
    Raises ``OSError`` if ``top`` itself is not a folder (or is a link to one).
    """
    tree = Tree()
    budget = [max_files, max_bytes]
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _walk(fd, prefix, tree, budget, max_file_bytes, exclude, skip)
    finally:
        os.close(fd)
    return tree


def _walk(dir_fd: int, prefix: str, tree: Tree, budget: list[int], max_file_bytes: int | None,
          exclude: tuple[str, ...], skip) -> None:
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as exc:
        tree.refused.append(f"{prefix or '.'}: cannot list the folder ({exc.strerror})")
        return
    for name in names:
        rel = prefix + name
        if name in skip or any(fnmatch.fnmatchcase(rel, p) for p in exclude):
            continue
        size = lambda text: len(text.encode(errors="surrogateescape"))  # noqa: E731
        if size(name) > MAX_NAME_BYTES or size(rel) > MAX_PATH_BYTES:
            tree.refused.append(f"{rel[:80]}...: the name is too long")
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            tree.refused.append(f"{rel}: {exc.strerror}")
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                tree.refused.append(f"{rel}/: cannot open the folder ({exc.strerror})")
                continue
            try:
                _walk(sub, rel + "/", tree, budget, max_file_bytes, exclude, skip)
            finally:
                os.close(sub)
            continue
        if not stat.S_ISREG(st.st_mode):
            tree.refused.append(f"{rel}: {kind(st.st_mode)}")
            continue
        data, why = _read_regular(name, dir_fd, budget, max_file_bytes)
        if why:
            tree.refused.append(f"{rel}: {why}")
        else:
            tree.files[rel] = data


def _read_regular(name: str, dir_fd: int, budget: list[int], max_file_bytes: int | None) -> tuple[bytes, str]:
    if budget[0] <= 0:
        return b"", "over the limit on the number of files"
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        return b"", f"cannot open ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else since the stat above
            return b"", kind(st.st_mode)
        if st.st_nlink != 1:
            return b"", f"a hard link ({st.st_nlink} names for one file)"
        limit = budget[1] if max_file_bytes is None else min(budget[1], max_file_bytes)
        if st.st_size > limit:
            return b"", f"too large ({st.st_size} bytes; at most {limit})"
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # grew while it was read
            return b"", f"too large (more than {limit} bytes)"
    except OSError as exc:
        return b"", f"cannot read ({exc.strerror})"
    finally:
        os.close(fd)
    budget[0] -= 1
    budget[1] -= len(data)
    return data, ""


def write_tree(top: str, files: dict[str, bytes], uid: int | None = None) -> None:
    """Write ``files`` (relative POSIX paths, no ``..``) under the folder ``top``, which only the caller
    can write to (e.g. a fresh tmpfs); with ``uid``, the files and folders are then owned by ``uid``."""
    for rel, data in sorted(files.items()):
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"unsafe relative path {rel!r}")
        folder = top
        for part in parts[:-1]:
            folder = os.path.join(folder, part)
            if not os.path.isdir(folder):
                os.mkdir(folder, 0o755)
                if uid is not None:
                    os.lchown(folder, uid, uid)
        path = os.path.join(folder, parts[-1])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if uid is not None:
                os.fchown(fd, uid, uid)
        finally:
            os.close(fd)
