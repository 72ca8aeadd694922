"""Find the submissions of one assignment in a folder or a zip.

Accepted layouts (the first that matches wins), for assignment ``A``:

1. nbgrader's *submitted* layout: ``<student>/A/<files>`` (what ``nbgrader collect`` / ``zip_collect``
   produce under ``submitted/``);
2. one folder per student: ``<student>/<files>`` (at least one ``.ipynb`` inside);
3. flat files named by an LMS, as ``nbgrader zip_collect`` reads them: ``<student>_<file>.ipynb``,
   parsed with :data:`DEFAULT_NAME_REGEX` (groups ``student_id`` and ``file_id``, as in nbgrader's
   ``FileNameCollectorPlugin.named_regexp``).

A zip is read as the folder it would unpack to (a single top-level folder is looked through).
Each :class:`Submission` carries its files and a content digest
:math:`h = \\mathrm{SHA256}(\\Vert_{f \\text{ sorted}} \\, f \\Vert 0 \\Vert |b_f| \\Vert 0 \\Vert b_f)`,
so a resumed run can tell an already-graded submission from a resubmission.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_NAME_REGEX = r"^(?P<student_id>[A-Za-z0-9][A-Za-z0-9.\-]*)_(?P<file_id>[^/]+\.ipynb)$"
SKIP = {".ipynb_checkpoints", "__pycache__", "__MACOSX", ".DS_Store", "feedback"}
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-@+]{0,127}$")
MAX_FILE_BYTES = 50 * 2**20


class SubmissionLayoutError(ValueError):
    """The folder or zip holds no submission in any accepted layout, or a file/student name is unsafe."""


@dataclass(frozen=True)
class Submission:
    """One student's submitted files for one assignment: ``files`` maps a relative POSIX path to bytes."""

    student: str
    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name]
            h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        return h.hexdigest()


def _safe_rel(path: str) -> str | None:
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or any(part in ("..", "") for part in p.parts):
        return None
    if any(part in SKIP for part in p.parts):
        return None
    return str(p)


def _read_tree(source: Path) -> dict[str, bytes]:
    """Every regular file under ``source`` (or in the zip ``source``) as ``{relative path: bytes}``."""
    files: dict[str, bytes] = {}
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise SubmissionLayoutError(f"{source} is neither a folder nor a zip archive")
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                rel = _safe_rel(info.filename)
                if info.is_dir() or rel is None or info.file_size > MAX_FILE_BYTES:
                    continue
                files[rel] = zf.read(info)
    elif source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                rel = _safe_rel(path.relative_to(source).as_posix())
                if rel is not None and path.stat().st_size <= MAX_FILE_BYTES:
                    files[rel] = path.read_bytes()
    else:
        raise SubmissionLayoutError(f"{source} does not exist")
    return files


def _group(files: dict[str, bytes], assignment: str, name_regex: str) -> dict[str, dict[str, bytes]]:
    by_student: dict[str, dict[str, bytes]] = {}
    for rel, data in files.items():
        parts = rel.split("/")
        if len(parts) >= 3 and parts[1] == assignment:
            by_student.setdefault(parts[0], {})["/".join(parts[2:])] = data
    if by_student:
        return by_student
    tops = {r.split("/")[0] for r in files}
    if len(tops) == 1 and all("/" in r for r in files):  # one enclosing folder: look inside it first
        top = tops.pop()
        inner = _group({r[len(top) + 1:]: b for r, b in files.items()}, assignment, name_regex)
        if inner:
            return inner
    for rel, data in files.items():
        parts = rel.split("/")
        if len(parts) >= 2:
            by_student.setdefault(parts[0], {})["/".join(parts[1:])] = data
    by_student = {s: f for s, f in by_student.items() if any(n.endswith(".ipynb") for n in f)}
    if by_student:
        return by_student
    regex = re.compile(name_regex)
    for rel, data in files.items():
        m = regex.match(rel)
        if m and "/" not in rel:
            by_student.setdefault(m.group("student_id"), {})[m.group("file_id")] = data
    return by_student


def find_submissions(source: str | Path, assignment: str, name_regex: str = DEFAULT_NAME_REGEX) -> list[Submission]:
    """The submissions of ``assignment`` in the folder or zip ``source``, sorted by student id.

    Raises :class:`SubmissionLayoutError` if none is found or a student id is unsafe as a folder name.
    """
    source = Path(source)
    groups = _group(_read_tree(source), assignment, name_regex)
    if not groups:
        raise SubmissionLayoutError(
            f"no submission of {assignment!r} found in {source}: expected <student>/{assignment}/<files>, "
            f"<student>/<files>.ipynb, or files named like <student>_<notebook>.ipynb"
        )
    bad = [s for s in groups if not STUDENT_ID.match(s)]
    if bad:
        raise SubmissionLayoutError(f"unsafe student ids {bad[:5]}: use letters, digits and _.-@+ only")
    return [Submission(s, groups[s]) for s in sorted(groups)]
