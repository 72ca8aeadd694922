"""Find the submissions of one assignment in a folder or a zip.

Accepted layouts, for assignment ``A``, decided once for the whole source (never file by file):

1. nbgrader's *submitted* layout: ``<student>/A/<files>`` (what ``nbgrader collect`` / ``zip_collect``
   produce under ``submitted/``);
2. one folder per student: ``<student>/<files>`` (at least one ``.ipynb`` inside);
3. flat files named by an LMS, as ``nbgrader zip_collect`` reads them: ``<student>_<file>.ipynb``,
   parsed with :data:`DEFAULT_NAME_REGEX` (groups ``student_id`` and ``file_id``, as in nbgrader's
   ``FileNameCollectorPlugin.named_regexp``).

A source that mixes them (student folders of layouts 1 and 2, or student folders beside flat notebooks)
is refused with :class:`SubmissionLayoutError` naming the paths of each kind: one student adding
``mallory/A/<nb>.ipynb`` to a per-student-folder zip must not make every other student vanish.
A zip is read as the folder it would unpack to (a single top-level folder is looked through).

Submissions come in as **regular files only**. A symbolic link, a hard link, a device, a FIFO or a socket
(in a folder, or a zip entry marked as one), a name that is too long, a notebook that is a folder, or more
than :data:`MAX_FILES` files / :data:`MAX_SUBMISSION_BYTES` bytes make the student's :attr:`Submission.problem`
say why; the runner then grades nothing of it and flags it for manual grading. Files are read without
following any link (:mod:`gradekit.safe_files`). Zip entries with an absolute path or ``..`` are never
written anywhere; they are reported (:attr:`Found.ignored`) or, inside a student's folder, flag that student.

Each :class:`Submission` carries its files and a content digest
:math:`h = \\mathrm{SHA256}(\\Vert_{f \\text{ sorted}} \\, f \\Vert 0 \\Vert |b_f| \\Vert 0 \\Vert b_f)`,
so a resumed run can tell an already-graded submission from a resubmission.
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gradekit import safe_files

DEFAULT_NAME_REGEX = r"^(?P<student_id>[A-Za-z0-9][A-Za-z0-9.\-]*)_(?P<file_id>[^/]+\.ipynb)$"
SKIP = {".ipynb_checkpoints", "__pycache__", "__MACOSX", ".DS_Store", "feedback"}
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-@+]{0,127}$")
MAX_FILE_BYTES = 50 * 2**20
MAX_FILES = 200  # per submission
MAX_SUBMISSION_BYTES = 100 * 2**20
MAX_SOURCE_FILES = 200_000


class SubmissionLayoutError(ValueError):
    """The folder or zip holds no submission in any accepted layout, mixes layouts, or a student name is unsafe."""


@dataclass(frozen=True)
class Submission:
    """One student's submitted files for one assignment: ``files`` maps a relative POSIX path to bytes.

    ``problem`` is why it cannot be graded automatically ("" if it can): it then scores 0, flagged."""

    student: str
    files: dict[str, bytes]
    problem: str = ""

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name]
            h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        if self.problem:
            h.update(b"\0problem\0" + self.problem.encode())
        return h.hexdigest()


@dataclass(eq=False)
class Found(list):
    """The submissions found (a list, sorted by student), ``layout`` (1, 2 or 3, see the module) and
    ``ignored``: ``"path: why"`` for entries that belong to no student."""

    layout: int = 0
    ignored: list[str] = field(default_factory=list)


def _unsafe(path: str) -> str:
    """Why a relative path from a zip or folder cannot be used as one ("" if it can)."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or re.match(r"^[A-Za-z]:", path):
        return "an absolute path"
    if any(part == ".." for part in p.parts):
        return "a path with '..'"
    if any(len(part.encode()) > safe_files.MAX_NAME_BYTES for part in p.parts):
        return "a name longer than 255 bytes"
    if len(path.encode()) > safe_files.MAX_PATH_BYTES:
        return "a path longer than 1024 bytes"
    return ""


def _skipped(path: str) -> bool:
    return any(part in SKIP for part in path.replace("\\", "/").split("/"))


def _read_tree(source: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """``(files, refused)``: every regular file under ``source`` (or in the zip ``source``) as
    ``{relative path: bytes}``, and ``{path: why}`` for every entry that is not one or breaks a bound."""
    files: dict[str, bytes] = {}
    refused: dict[str, str] = {}
    if source.is_file() and not source.is_symlink():
        if not zipfile.is_zipfile(source):
            raise SubmissionLayoutError(f"{source} is neither a folder nor a zip archive")
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_SOURCE_FILES:
                raise SubmissionLayoutError(f"{source} holds {len(infos)} entries; at most {MAX_SOURCE_FILES}")
            for info in infos:
                name = info.filename
                if _skipped(name):
                    continue
                mode = info.external_attr >> 16
                why = _unsafe(name)
                if not why and mode and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    why = safe_files.kind(mode)
                if not why and info.is_dir():
                    continue
                if not why and info.file_size > MAX_FILE_BYTES:
                    why = f"too large ({info.file_size} bytes; at most {MAX_FILE_BYTES})"
                if why:
                    refused[name] = why
                    continue
                rel = str(PurePosixPath(name.replace("\\", "/")))
                files[rel] = zf.read(info)
    elif source.is_dir() and not source.is_symlink():
        tree = safe_files.read_tree(str(source), max_files=MAX_SOURCE_FILES, max_bytes=1 << 40,
                                    max_file_bytes=MAX_FILE_BYTES, skip=SKIP)
        files = tree.files
        for line in tree.refused:
            path, _, why = line.partition(": ")
            refused[path.rstrip("/")] = why
    elif source.is_symlink():
        raise SubmissionLayoutError(f"{source} is a symbolic link: give the folder or zip itself")
    else:
        raise SubmissionLayoutError(f"{source} does not exist")
    return files, refused


def _examples(paths, n: int = 3) -> str:
    paths = sorted(paths)
    return ", ".join(paths[:n]) + (f" (and {len(paths) - n} more)" if len(paths) > n else "")


def _layout(paths: list[str], assignment: str, regex: re.Pattern, notebooks: set[str] | None):
    """Decide the layout of ``paths`` (relative, safe): ``(layout, {path: (student, relative path)},
    ignored paths)``; raises :class:`SubmissionLayoutError` for a mix. ``layout`` is 0 if none fits."""
    tops = {p.split("/")[0] for p in paths if "/" in p}
    loose = [p for p in paths if "/" not in p]
    flat = [p for p in loose if (m := regex.match(p)) and (notebooks is None or m.group("file_id") in notebooks)]
    if tops and flat:
        raise SubmissionLayoutError(
            f"mixed layouts: student folders ({_examples(t + '/' for t in tops)}) beside flat notebooks named "
            f"<student>_<notebook>.ipynb ({_examples(flat)}); submit one layout")
    if not tops:
        mapping = {}
        for p in flat:
            m = regex.match(p)
            mapping[p] = (m.group("student_id"), m.group("file_id"))
        return (3 if mapping else 0), mapping, [p for p in loose if p not in mapping]
    nbgrader_style, per_student = [], []
    for top in sorted(tops):
        inner = [p for p in paths if p.startswith(top + "/")]
        (nbgrader_style if any(p.split("/")[1] == assignment and p.count("/") >= 2 for p in inner)
         else per_student).append(top)
    if nbgrader_style and per_student:
        raise SubmissionLayoutError(
            f"mixed layouts: {_examples(t + '/' + assignment + '/' for t in nbgrader_style)} use "
            f"<student>/{assignment}/<files>, but {_examples(t + '/' for t in per_student)} use "
            f"<student>/<files>; submit one layout")
    mapping, ignored = {}, list(loose)
    for p in paths:
        if "/" not in p:
            continue
        top, rest = p.split("/", 1)
        if nbgrader_style:
            if rest.startswith(assignment + "/"):
                mapping[p] = (top, rest.split("/", 1)[1])
            else:
                ignored.append(p)  # another assignment's files
        else:
            mapping[p] = (top, rest)
    if per_student:  # a folder without any notebook is not a student's
        with_nb = {s for s, r in mapping.values() if r.endswith(".ipynb")}
        ignored += [p for p, (s, _) in mapping.items() if s not in with_nb]
        mapping = {p: v for p, v in mapping.items() if v[0] in with_nb}
    return (1 if nbgrader_style else 2) if mapping else 0, mapping, ignored


def _problem(files: dict[str, bytes], refused: list[str]) -> str:
    if refused:
        return "refused (submissions must be regular files only): " + "; ".join(sorted(refused)[:5]) + (
            f" (and {len(refused) - 5} more)" if len(refused) > 5 else "")
    folders = sorted({"/".join(r.split("/")[:i + 1]) for r in files for i, part in enumerate(r.split("/")[:-1])
                      if part.endswith(".ipynb")})
    if folders:
        return f"refused: the notebook {folders[0]} is a folder, not a file"
    if len(files) > MAX_FILES:
        return f"refused: {len(files)} files; a submission holds at most {MAX_FILES}"
    size = sum(len(b) for b in files.values())
    if size > MAX_SUBMISSION_BYTES:
        return f"refused: {size} bytes; a submission holds at most {MAX_SUBMISSION_BYTES}"
    return ""


def find_submissions(source: str | Path, assignment: str, name_regex: str = DEFAULT_NAME_REGEX,
                     notebooks: set[str] | None = None) -> Found:
    """The submissions of ``assignment`` in the folder or zip ``source``, sorted by student id
    (a :class:`Found`). ``notebooks``: the assignment's notebook file names, if known (a flat file must
    then be ``<student>_<one of them>``, and one wrapping folder holding them is one student's).

    Raises :class:`SubmissionLayoutError` if none is found, layouts are mixed, or a student id is unsafe
    as a folder name. A student whose files break the rules is returned with a :attr:`Submission.problem`.
    """
    source = Path(source)
    files, refused = _read_tree(source)
    regex = re.compile(name_regex)
    # where refused entries belong: by their path where it is safe (a link, a device...), else (an absolute
    # path, '..') by their first folder, if that is a student's
    placed = {r: str(PurePosixPath(r.replace("\\", "/"))) for r in refused if not _unsafe(r)}
    paths = sorted(set(files) | set(placed.values()))
    prefix = ""
    tops = {p.split("/")[0] for p in paths}
    if len(tops) == 1 and all("/" in p for p in paths):  # one enclosing folder: look through it
        top = tops.pop()
        inner = [p[len(top) + 1:] for p in paths]
        holds_notebooks = notebooks is not None and any(p in notebooks for p in inner)
        nbgrader_style = all(p.split("/")[0] == assignment for p in inner)
        if not holds_notebooks and not nbgrader_style:
            try:
                if _layout(inner, assignment, regex, notebooks)[0]:
                    prefix = top + "/"
            except SubmissionLayoutError:
                prefix = top + "/"  # the mix is inside: report it as such
    inner_paths = [p[len(prefix):] for p in paths]
    layout, mapping, ignored = _layout(inner_paths, assignment, regex, notebooks)
    groups: dict[str, dict[str, bytes]] = {}
    bad: dict[str, list[str]] = {}
    for rel, data in files.items():
        where = mapping.get(rel[len(prefix):])
        if where:
            groups.setdefault(where[0], {})[where[1]] = data
    ignored = [f"{p}: belongs to no student in this layout" for p in ignored]
    for raw in refused:
        p = placed.get(raw, raw.replace("\\", "/").lstrip("/"))
        where = mapping.get(p[len(prefix):]) if raw in placed else None
        student = where[0] if where else None
        if student is None and p.startswith(prefix) and "/" in p[len(prefix):]:
            first = p[len(prefix):].split("/")[0]
            student = first if first in groups else None
        if student is None:
            ignored.append(f"{raw}: {refused[raw]}")
        else:
            groups.setdefault(student, {})
            bad.setdefault(student, []).append(f"{(where[1] if where else raw)}: {refused[raw]}")
    if not groups:
        raise SubmissionLayoutError(
            f"no submission of {assignment!r} found in {source}: expected <student>/{assignment}/<files>, "
            f"<student>/<files>.ipynb, or files named like <student>_<notebook>.ipynb")
    unsafe_ids = [s for s in groups if not STUDENT_ID.match(s)]
    if unsafe_ids:
        raise SubmissionLayoutError(f"unsafe student ids {unsafe_ids[:5]}: use letters, digits and _.-@+ only")
    found = Found(layout=layout, ignored=sorted(ignored))
    for s in sorted(groups):
        found.append(Submission(s, groups[s], _problem(groups[s], bad.get(s, []))))
    return found


# --------------------------------------------------------------------------- plain `nbgrader autograde`
REFUSED_LOG = "GRADEKIT REFUSED"  # how the log line of a refused submission starts


def check_submitted_folder(folder: str | Path) -> str:
    """Why nbgrader's submitted folder ``<submitted>/<student>/<assignment>`` cannot be graded ("" if it
    can): the same rules as :func:`find_submissions` (regular files only, at most :data:`MAX_FILES` files
    and :data:`MAX_SUBMISSION_BYTES` bytes, no notebook that is a folder), checked without following any
    link -- neither the student's folder, nor the assignment's, nor anything inside is resolved.
    Nothing is skipped: a link anywhere in the folder refuses it."""
    folder = Path(folder)
    for level in (folder.parent, folder):
        try:
            mode = level.lstat().st_mode
        except OSError as exc:
            return f"refused: {level.name}: {exc.strerror}"
        if not stat.S_ISDIR(mode):
            return f"refused (submissions must be regular files only): {level.name}: {safe_files.kind(mode)}"
    tree = safe_files.read_tree(str(folder), max_files=MAX_FILES + 1, max_bytes=MAX_SUBMISSION_BYTES + 1,
                                max_file_bytes=MAX_FILE_BYTES, prefix=f"{folder.parent.name}/{folder.name}/")
    refused = [r for r in tree.refused if not r.endswith("over the limit on the number of files")]
    if len(tree.files) > MAX_FILES or len(refused) < len(tree.refused):
        return f"refused: more than {MAX_FILES} files; a submission holds at most {MAX_FILES}"
    return _problem(tree.files, refused)


def require_regular_submissions() -> None:
    """Make plain ``nbgrader autograde`` refuse a submission that is not regular files only, the way
    ``python -m gradekit grade`` does (``nbgrader_config.py`` calls it).

    nbgrader's ``Autograde`` reads ``timestamp.txt``, copies every file of the submitted folder into the
    autograded folder and reads the notebooks, all as root and following links, before any preprocessor
    runs. So the check runs first, in ``init_destination`` (the first thing nbgrader does with a student's
    folder): a refused submission is not opened, copied or executed; in the gradebook every test cell of it
    scores 0 and needs a manual grade (the reason in each notebook's automatic comments), a stale autograded
    copy is removed, and the log says ``GRADEKIT REFUSED <student>/<assignment>: <why>``. nbgrader then goes
    on with the other students.
    """
    from nbgrader.converters import Autograde

    if getattr(Autograde, "_gradekit_requires_regular_files", False):
        return
    original = Autograde.init_destination

    def init_destination(self, assignment_id: str, student_id: str) -> bool:
        problem = check_submitted_folder(self._format_source(assignment_id, student_id))
        if not problem:
            return original(self, assignment_id, student_id)
        self.log.error("%s %s/%s: %s -- not graded: every test cell scores 0, flagged for manual grading",
                       REFUSED_LOG, student_id, assignment_id, problem)
        _flag_refused(self, assignment_id, student_id, problem)
        return False

    Autograde.init_destination = init_destination
    Autograde._gradekit_requires_regular_files = True


def _flag_refused(app, assignment_id: str, student_id: str, problem: str) -> None:
    """In the gradebook: ``student_id``'s submission of ``assignment_id`` scores 0 on every cell, each
    needing a manual grade; the autograded folder left from an earlier run is removed."""
    import os
    import shutil

    from nbgrader.api import Gradebook, MissingEntry

    dest = app._format_dest(assignment_id, student_id)
    if os.path.islink(dest):
        os.unlink(dest)
    elif os.path.isdir(dest):
        shutil.rmtree(dest)
    with Gradebook(app.coursedir.db_url, app.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment_id)
        except MissingEntry:
            app.log.error("No assignment with ID '%s' exists in the database", assignment_id)
            return
        gb.update_or_create_student(student_id)
        sub = gb.update_or_create_submission(assignment_id, student_id)
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0.0
                grade.needs_manual_grade = True
            for comment in notebook.comments:
                comment.auto_comment = f"Not graded automatically: {problem[:500]}"
        gb.db.commit()
