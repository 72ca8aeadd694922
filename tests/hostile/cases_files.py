"""Hostile submissions against what root does with *files* (issue 20): links, the working folder, zips.

Two kinds of case:

* :func:`kernel_cases` -- notebooks whose first answer cell attacks from inside the kernel: it plants
  symbolic links where root used to write and read (the kernel's working folder was the autograded
  folder: a link named like the notebook made root write the autograded notebook into the gradebook,
  and copy a linked solution into the feedback), fills the working folder with 8 x 50 MiB or 50 000
  files, holds 3 children of 1.5 GiB each against a 4 GiB limit, writes into its own socket folder
  (where root writes the connection file and reads ``owner.pid`` back), swaps its sockets for links to a
  socket of its choosing and cuts the grader's heartbeat connection (ZMQ reconnects by path), looks for the
  course's path (mount table, mapped files, environment, ``sys.path``, ``sys.prefix``, modules'
  ``__file__``) and the hidden tests. They are :class:`tests.hostile.cases.Case` s (registered in
  ``hostile_cases``), judged like the others: no undeserved point, no ``LEAKED`` line in any output.
* :func:`container_cases` -- submissions whose *files* are the attack: a notebook that is a symbolic
  link to the gradebook, the solutions or another student's notebook, a hard link, a FIFO, a notebook
  that is a folder, an over-long name, many small files, an unreadable file; and zip entries with
  ``../`` or an absolute path, or marked as symbolic links. Each must be flagged for manual grading with
  its reason, score 0, and change nothing outside the grader's own folders.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.hostile.cases import Case, _dump, _with_first_answer

# From inside the kernel: plant links where root used to write (the autograded notebook's name) and read
# (any file of the folder), relative to where the kernel used to work (_grading/autograded/<student>/<aid>).
PLANT_LINKS = r'''
import os
_targets = {
    "__NB__": "../../../gradebook.db",
    "solution.ipynb": "../../../../solutions/__AID__/__NB__",
    "victim.ipynb": "../../../submitted/correct/__AID__/__NB__",
    "shadow.txt": "/etc/shadow",
}
for _line in open("/proc/self/mountinfo"):
    _mnt = _line.split()[4]
    if _mnt.count("/") >= 2 and not _mnt.startswith(("/usr", "/etc", "/proc", "/dev", "/tmp", "/opt", "/home")):
        _targets["course-%d.db" % len(_targets)] = os.path.join(os.path.dirname(_mnt), "_grading", "gradebook.db")
for _name, _target in _targets.items():
    try:
        if os.path.lexists(_name):
            os.remove(_name)
        os.symlink(_target, _name)
    except OSError as exc:
        print("could not plant", _name, exc)
    try:
        _data = open(_name, "rb").read(200000)
        if b"SQLite format" in _data or b"BEGIN HIDDEN TESTS" in _data or b"root:" in _data:
            print("LEAKED through a link:", _name)
    except OSError:
        pass
'''

# 3 children x 1.5 GiB against the sandbox's 4 GiB: at most two can hold their block at once.
# Each child holds its 1.5 GiB until the parent has heard from all three (the parent closes the release pipe);
# a child counts as holding only if it also exited normally: the OOM killer may SIGKILL one that already reported.
# (Children that slept a fixed 4 s could exit before a slow third one allocated: a loaded CI runner saw 3 "held".)
MEMORY_CHILDREN = r'''
import os
_release_r, _release_w = os.pipe()
_kids = []
for _ in range(3):
    _r, _w = os.pipe()
    _pid = os.fork()
    if _pid == 0:
        os.close(_r)
        os.close(_release_w)
        try:
            _block = bytearray(1536 * 2**20)
            for _j in range(0, len(_block), 4096):
                _block[_j] = 1
            os.write(_w, b"ok")
            os.read(_release_r, 1)  # EOF once the parent closes _release_w
        except MemoryError:
            os.write(_w, b"me")
        os._exit(0)
    os.close(_w)
    _kids.append((_pid, _r))
_reported = [os.read(_r, 2) == b"ok" for _, _r in _kids]
os.close(_release_w)
_status = [os.waitpid(_pid, 0)[1] for _pid, _ in _kids]
_held = sum(_ok and _st == 0 for _ok, _st in zip(_reported, _status))
print("children that held 1.5 GiB at once:", _held)
if _held == 3:
    print("LEAKED memory: 4.5 GiB held by one sandbox under a 4 GiB limit")
'''

BIG_FILES = r'''
_written = 0
for _i in range(8):
    try:
        with open("big-%d.bin" % _i, "wb") as _fh:
            _fh.write(b"x" * (50 * 2**20))
        _written += 1
    except OSError as exc:
        print("stopped:", exc)
        break
print("50 MiB files written:", _written)
'''

MANY_FILES = r'''
_made = 0
try:
    for _i in range(50000):
        open("small-%d.txt" % _i, "w").close()
        _made += 1
except OSError as exc:
    print("stopped:", exc)
print("small files:", _made)
'''

# The course's folders must not be mounted, and no file the kernel can read may hold hidden tests.
LOOK_AROUND = r'''
import os
_mounts = open("/proc/self/mountinfo").read()
for _word in ("/_grading", "/solutions", "/submitted", "/autograded", "/exercises"):
    if _word in _mounts:
        print("LEAKED course path in mountinfo:", _word)
import base64
# this assignment's own hidden-test lines, encoded so that no file this cell is saved to holds them in clear
_needles = [base64.b64decode(_n) for _n in __NEEDLES__]
for _top in (os.getcwd(), "/tmp", "/home", "/opt"):
    for _d, _, _fs in os.walk(_top):
        for _f in _fs:
            _p = os.path.join(_d, _f)
            try:
                _data = open(_p, "rb").read(5000000)
            except OSError:
                continue
            # nbgrader's own (public) sources and test notebooks in the library define the marker: not a leak
            _library = "site-packages" in _p or "dist-packages" in _p
            if (b"BEGIN HIDDEN TESTS" in _data and not _library) or any(_n in _data for _n in _needles):
                print("LEAKED hidden tests in", _p)
'''


# The kernel's socket folder: root writes the connection file and owner.pid there, reads owner.pid back (the
# sweep of stale folders) and removes the folder; the kernel may make its sockets in a subfolder, nothing more.
SOCKET_FOLDER = r'''
import os, sys
try:
    _conn = sys.argv[sys.argv.index("-f") + 1]
except ValueError:
    from ipykernel.connect import get_connection_file
    _conn = get_connection_file()
_dir = os.path.dirname(os.path.abspath(_conn))
_done = []
for _what, _act in [
    ("planted a file", lambda: open(os.path.join(_dir, "planted.txt"), "w").write("x")),
    ("linked owner.pid", lambda: (os.remove(os.path.join(_dir, "owner.pid")),
                                  os.symlink("/etc/shadow", os.path.join(_dir, "owner.pid")))),
    ("rewrote the connection file", lambda: open(_conn, "a").write(" ")),
    ("chmod the folder", lambda: os.chmod(_dir, 0o777)),
]:
    try:
        _act()
        _done.append(_what)
    except OSError:
        pass
if _done:
    print("LEAKED socket folder writable by the kernel:", _done)
'''


# The kernel makes its ZMQ sockets in <socket folder>/ipc/; the grader connects to them by path, and ZMQ
# reconnects by path whenever a connection drops. connect() follows links: a kernel that could still change that
# folder would swap each socket for a link to a unix socket of its choosing (another kernel's, a root daemon's),
# then cut the grader's heartbeat connection (it reconnects at once) -- and root connects wherever the link points.
# __TARGET__: the host socket the links point to; None: a socket the kernel binds next to its own (it can tell,
# and say so, when root connects there). Withstood: nothing swapped, root never connects there, the kernel
# goes on answering.
SOCKET_SWAP = r'''
import json, os, socket, sys, time
try:
    _conn = sys.argv[sys.argv.index("-f") + 1]
except ValueError:
    from ipykernel.connect import get_connection_file
    _conn = get_connection_file()
_info = json.load(open(_conn))
_target, _trap = __TARGET__, None
if _target is None:
    _target = os.path.join(os.path.dirname(_info["ip"]), "trap")
    try:
        _trap = socket.socket(socket.AF_UNIX)
        _trap.bind(_target)
        _trap.listen(8)
        _trap.settimeout(3)
    except OSError:
        _trap = None
_swapped = []
for _ch in ("shell", "iopub", "stdin", "control", "hb"):
    _path = "%s-%d" % (_info["ip"], _info[_ch + "_port"])
    try:
        os.rename(_path, _path + ".moved")
        os.symlink(_target, _path)
        _swapped.append(_ch)
    except OSError:
        pass
print("SWAPPED", _swapped)
_hb = "%s-%d" % (_info["ip"], _info["hb_port"])
for _fd in os.listdir("/proc/self/fd"):
    try:
        _s = socket.socket(fileno=os.dup(int(_fd)))
    except (OSError, ValueError):
        continue
    try:
        if (_s.family == socket.AF_UNIX and not _s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                and _s.getsockname() == _hb):
            _s.shutdown(socket.SHUT_RDWR)  # the grader's heartbeat connection: it reconnects by path
    except OSError:
        pass
    finally:
        _s.close()
if _trap is not None:
    try:
        _trap.accept()
        print("LEAKED the grader connected to a socket the kernel chose, through a link in its socket folder")
    except OSError:
        pass
else:
    time.sleep(3)
'''


# The course's path (and the venv's, which lives in it) must show nowhere a kernel can look: it would name the
# gradebook and the solutions for a link (issue 20: /proc/self/mountinfo showed the venv's bind mount).
COURSE_PATH = r'''
import base64, os, sys
_roots = [base64.b64decode(_r).decode() for _r in __ROOTS__]
_seen = {}
for _where in ("/proc/self/mountinfo", "/proc/self/maps", "/proc/self/environ", "/proc/self/cmdline"):
    try:
        _seen[_where] = open(_where, "rb").read().decode(errors="replace")
    except OSError:
        pass
_seen["sys.path"] = repr(sys.path)
_seen["sys.prefix"] = repr((sys.prefix, sys.exec_prefix, sys.executable, sys.argv))
_seen["__file__"] = repr([getattr(_m, "__file__", None) for _m in list(sys.modules.values())])
_seen["os.environ"] = repr(dict(os.environ))
for _k, _v in _seen.items():
    for _r in _roots:
        if _r in _v:
            print("LEAKED course path in", _k)
'''


def _course_roots() -> list[str]:
    """This checkout's folder and the Python environment's (usually inside it), base64."""
    import base64
    import sys

    from tools.nbgrader_course import REPO

    roots = {str(REPO), os.path.realpath(str(REPO)), sys.prefix, os.path.realpath(sys.prefix)}
    return [base64.b64encode(r.encode()).decode() for r in sorted(roots) if len(r) > 4]


def _needles(aid: str, most: int = 6) -> list[str]:
    """Up to ``most`` of the longest hidden-test lines of ``aid`` (lines nowhere else in its source), base64."""
    import base64

    from tools.nbgrader_course import hidden_test_lines

    lines = sorted(hidden_test_lines(aid), key=len, reverse=True)[:most]
    return [base64.b64encode(line.encode()).decode() for line in lines]


def kernel_cases(correct: dict, aid: str) -> dict[str, Case]:
    """The in-kernel file attacks for ``aid``, built on the ``correct`` submission (baseline
    ``first-removed``: the first answer is the payload, the rest stay correct)."""
    nb = sorted(correct)[0]

    def first(src: str) -> dict[str, bytes]:
        return _dump(_with_first_answer(correct, src))

    return {
        "plant-links": Case(first(PLANT_LINKS.replace("__NB__", nb).replace("__AID__", aid)), "first-removed"),
        "memory-children": Case(first(MEMORY_CHILDREN), "first-removed"),
        "big-files": Case(first(BIG_FILES), "first-removed"),
        "many-small-files": Case(first(MANY_FILES), "first-removed"),
        "socket-folder": Case(first(SOCKET_FOLDER), "first-removed"),
        "socket-swap": Case(first(SOCKET_SWAP.replace("__TARGET__", "None")), "first-removed"),
        "course-path": Case(first(COURSE_PATH.replace("__ROOTS__", repr(_course_roots()))), "first-removed"),
        "look-around": Case(first(LOOK_AROUND.replace("__NEEDLES__", repr(_needles(aid)))), "first-removed"),
    }


@dataclass
class ContainerCase:
    """A submission whose files are the attack: ``make(folder, course)`` writes the student's entries into
    ``folder`` (the student's ``<aid>/`` folder of a submissions tree) for the course at ``course``;
    ``reason`` is a substring the flag must give."""

    make: Callable[[Path, Path], None]
    reason: str
    zip_only: bool = False
    zip_entries: list[tuple[zipfile.ZipInfo | str, bytes]] = field(default_factory=list)


def container_cases(correct_files: dict[str, bytes], aid: str) -> dict[str, ContainerCase]:
    """Submissions that must be flagged, not graded. ``correct_files``: the correct submission's bytes."""
    nb = sorted(correct_files)[0]

    def copy_correct(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in correct_files.items():
            (folder / name).write_bytes(data)

    def link(target: Callable[[Path], Path]):
        def make(folder: Path, course: Path) -> None:
            copy_correct(folder)
            (folder / nb).unlink()
            (folder / nb).symlink_to(target(course))
        return make

    def hardlink(folder: Path, course: Path) -> None:
        copy_correct(folder)
        os.link(course / "solutions" / aid / nb, folder / "answers.ipynb")

    def fifo(folder: Path, course: Path) -> None:
        copy_correct(folder)
        os.mkfifo(folder / "data.csv")

    def notebook_folder(folder: Path, course: Path) -> None:
        (folder / nb).mkdir(parents=True)
        (folder / nb / "cells.json").write_bytes(correct_files[nb])

    def long_name(folder: Path, course: Path) -> None:
        copy_correct(folder)
        (folder / ("x" * 250 + ".txt")).write_text("x")  # fits the disk, but 250 + "big" prefixes would not
        (folder / "deep").mkdir()
        path = folder / "deep"
        for _ in range(5):
            path = path / ("d" * 200)
        try:
            path.mkdir(parents=True)
        except OSError:
            pass

    def many_files(folder: Path, course: Path) -> None:
        copy_correct(folder)
        for i in range(5000):
            (folder / f"small-{i}.txt").write_text("x")

    def unreadable(folder: Path, course: Path) -> None:
        copy_correct(folder)
        (folder / "data.csv").write_text("1,2")
        os.chmod(folder / "data.csv", 0)
        os.mkfifo(folder / "pipe")  # root reads a 0-mode file anyway; a FIFO would block an unwary reader

    symlink_entry = zipfile.ZipInfo(f"zip-symlink/{aid}/{nb}")
    symlink_entry.external_attr = (stat.S_IFLNK | 0o777) << 16
    return {
        "link-to-gradebook": ContainerCase(link(lambda c: c / "_grading" / "gradebook.db"), "a symbolic link"),
        "link-to-solutions": ContainerCase(link(lambda c: c / "solutions" / aid / nb), "a symbolic link"),
        "link-to-other-student": ContainerCase(
            link(lambda c: c / "_grading" / "submitted" / "correct" / aid / nb), "a symbolic link"),
        "relative-link": ContainerCase(link(lambda c: Path("../../../gradebook.db")), "a symbolic link"),
        "hard-link": ContainerCase(hardlink, "a hard link"),
        "fifo": ContainerCase(fifo, "a FIFO"),
        "notebook-is-a-folder": ContainerCase(notebook_folder, "is a folder"),
        "long-names": ContainerCase(long_name, "too long"),
        "many-small-files": ContainerCase(many_files, "at most"),
        "unreadable": ContainerCase(unreadable, "a FIFO"),
        # zip entries (the zip source only)
        "zip-symlink": ContainerCase(lambda f, c: None, "a symbolic link", zip_only=True,
                                     zip_entries=[(symlink_entry, b"../../../_grading/gradebook.db")]),
        "zip-dotdot": ContainerCase(lambda f, c: None, "'..'", zip_only=True, zip_entries=[
            (f"zip-dotdot/{aid}/{nb}", correct_files[nb]),
            (f"zip-dotdot/{aid}/../../../../_grading/gradebook.db", b"not a gradebook")]),
    }


def write_zip(path: Path, folder: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> None:
    """Zip the regular files and links of ``folder`` (links as link entries), plus ``extra`` entries, and
    the absolute-path entries every hostile zip carries."""
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                info = zipfile.ZipInfo(rel)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, os.readlink(p))
            elif p.is_file() and stat.S_ISREG(p.stat().st_mode):
                try:
                    zf.write(p, rel)
                except OSError:
                    pass
        for entry, data in extra:
            zf.writestr(entry, data)
        zf.writestr("/etc/gradekit-absolute-entry", b"must never be written")
        zf.writestr("../gradekit-escaping-entry", b"must never be written")
