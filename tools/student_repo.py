"""Write the student-facing repository: the book, the released exercises and invlib -- no answers.

``make student-repo DEST=<folder>`` (``python -m tools.student_repo <folder>``, default ``_build/student-repo``)
copies the committed files that students need into ``<folder>``:

* the book (``book/``, ``_config.yml``, ``_toc.yml``, ``references.bib``) with its Colab ``.ipynb`` copies;
* ``exercises/`` (the nbgrader release: visible tests only);
* ``invlib/`` and the packaging files (``pyproject.toml``, ``requirements.txt``);
* ``gradekit/testkit.py`` (and the package's tiny ``__init__``), because released notebooks import the callables
  their visible tests pass to student code -- never the grader itself;
* a student README (this module writes it).

Never copied: ``solutions/`` (answers and hidden tests), ``tests/`` (wrong and right submissions, hostile
cases), the rest of ``gradekit/``, ``tools/``, ``benchmarks/``, ``nbgrader_config.py``, any ``RUBRIC*`` file,
anything git does not track. Afterwards every text file of the tree is searched for every line of every
``### BEGIN SOLUTION`` and ``### BEGIN HIDDEN TESTS`` block, as whole lines (:func:`leaks`; lines the book or
invlib print anyway are not secrets, :func:`public_lines`); if one is found the tree is
deleted and the command fails. The repository URL the launch buttons and the Colab cells point to is the one
in ``_config.yml`` (``repository: url:``), copied unchanged: set it to where this tree is published.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from tools.nbgrader_course import HIDDEN_REGION, REPO, SOLUTION_REGION, SOLUTIONS

DEFAULT_DEST = REPO / "_build" / "student-repo"
# What students get: folders (every tracked file under them) and single files.
INCLUDE_DIRS = ("book", "exercises", "invlib")
INCLUDE_FILES = (
    "_config.yml", "_toc.yml", "references.bib", "pyproject.toml", "requirements.txt", ".gitignore",
    "gradekit/__init__.py", "gradekit/testkit.py",
)
# Never, wherever it sits (a rubric or answer file dropped into an included folder).
NEVER_NAMES = ("RUBRIC", "SOLUTION", "HIDDEN")
MIN_LINE = 12
MARKER = ".student-repo"  # a folder holding it may be replaced by the next run; no other non-empty folder is  # shorter block lines ("return x", "pass") are too generic to count as a leak

STUDENT_README = """\
# Are Neural Networks Invertible? (student edition)

An interactive course on one question -- given a neural network's output, can you recover its input? --
and **invlib**, the PyTorch library it is built on.

- `book/`: the chapters, as MyST Markdown notebooks (open them in Jupyter: `jupyter lab`), each with an `.ipynb`
  copy for Colab. Build the HTML book with `jupyter-book build .` (after `pip install -r requirements.txt`).
- `exercises/`: one assignment per chapter. Replace every `raise NotImplementedError()` with your code and run
  the test cell below each answer: its **visible tests** tell you what is wrong. When your course grades the
  assignment, hidden tests check more cases; they are not in this repository.
- `invlib/`: the library (`pip install -e .`).

Set up: `python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt`.
"""


def tracked_files(repo: Path = REPO) -> list[str]:
    """The files git tracks in ``repo`` (relative paths), so that no untracked scratch file is shipped."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def selected(paths: list[str]) -> list[str]:
    """The student-facing subset of ``paths``."""
    keep = []
    for p in paths:
        top = p.split("/", 1)[0]
        if not (top in INCLUDE_DIRS or p in INCLUDE_FILES):
            continue
        if any(word in Path(p).name.upper() for word in NEVER_NAMES):
            continue
        keep.append(p)
    return sorted(keep)


def _stripped(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


def public_lines(repo: Path = REPO) -> set[str]:
    """Lines the course publishes on purpose: its teaching text and library (``book/**.md``, ``invlib/**.py``) and
    the parts of the solution notebooks outside answer and hidden-test blocks (the release carries them)."""
    lines: set[str] = set()
    for rel in tracked_files(repo):
        if (rel.startswith("book/") and rel.endswith(".md")) or (rel.startswith("invlib/") and rel.endswith(".py")):
            path = repo / rel
            if path.is_file():
                lines |= _stripped(path.read_text(errors="replace"))
    for path in sorted((repo / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            lines |= _stripped(HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source)))
    return lines


def forbidden_lines(solutions: Path = SOLUTIONS, repo: Path = REPO) -> set[str]:
    """Every line (stripped, longer than ``MIN_LINE``) of every solution and hidden-test block in ``solutions``,
    except generic lines the course publishes anyway (:func:`public_lines`: ``loss.backward()``, ``raise
    ValueError(``, a line the book's chapter shows): a line that the book prints is no secret."""
    lines: set[str] = set()
    for path in sorted(solutions.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for region in (SOLUTION_REGION, HIDDEN_REGION):
                for block in region.findall(cell.source):
                    lines |= {s for s in _stripped(block) if len(s) > MIN_LINE}
    return lines - public_lines(repo)


def _text(path: Path) -> str | None:
    """A file's text to search (an .ipynb's cell sources, not its JSON escaping); None for binary files."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if b"\0" in raw[:4096]:
        return None
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.reads(text, as_version=4)
        except Exception:  # noqa: BLE001 -- not a notebook after all: search its text as is
            return text
        return "\n".join(c.source for c in nb.cells)
    return text


def leaks(dest: Path, lines: set[str] | None = None) -> dict[str, list[str]]:
    """``{relative path: [forbidden lines found in it]}`` for the tree at ``dest`` (empty when it is clean).

    Also flags any ``BEGIN SOLUTION``/``BEGIN HIDDEN TESTS`` marker and any ``solutions`` or ``tests`` folder.
    """
    lines = forbidden_lines() if lines is None else lines
    found: dict[str, list[str]] = {}
    for path in sorted(Path(dest).rglob("*")):
        rel = path.relative_to(dest).as_posix()
        if path.is_dir():
            if path.name in ("solutions", "tests") or "right_submissions" in rel or "wrong_submissions" in rel:
                found.setdefault(rel, []).append("folder that must not be published")
            continue
        text = _text(path)
        if text is None:
            continue
        hits = sorted(_stripped(text) & lines)  # whole lines: "x = 1" is not a leak of "x = 10"
        hits += [m for m in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS") if m in text]
        if hits:
            found[rel] = sorted(hits)
    return found


def write_student_repo(dest: Path = DEFAULT_DEST, repo: Path = REPO) -> list[str]:
    """Write the student tree to ``dest`` (replacing what is there); return the files written.

    Raises ``RuntimeError`` (and removes ``dest``) if any solution or hidden-test line ends up in it.
    """
    dest, repo = Path(dest).resolve(), Path(repo).resolve()
    if dest == repo or dest in repo.parents or (repo in dest.parents and repo / "_build" not in dest.parents):
        raise ValueError(f"refusing to write the student tree over the course itself: {dest} "
                         f"(inside the course only under {repo / '_build'})")
    if dest.exists():
        if any(dest.iterdir()) and not (dest / MARKER).is_file():
            raise ValueError(f"{dest} exists and is not a student tree written by this tool: choose an empty folder")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / MARKER).write_text("written by `make student-repo` (tools/student_repo.py); replaced by the next run\n")
    files = selected(tracked_files(repo))
    for rel in files:
        src = repo / rel
        if not src.is_file():  # tracked but deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    (dest / "README.md").write_text(STUDENT_README)
    found = leaks(dest)
    if found:
        shutil.rmtree(dest)
        detail = "; ".join(f"{p}: {hits[:2]}" for p, hits in list(found.items())[:5])
        raise RuntimeError(f"the student tree would publish answers or hidden tests ({detail}); nothing written")
    return [*files, "README.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", default=str(DEFAULT_DEST), help="output folder (replaced)")
    args = parser.parse_args(argv)
    try:
        files = write_student_repo(Path(args.dest))
    except (RuntimeError, ValueError) as err:
        print(f"student-repo: {err}", file=sys.stderr)
        return 1
    print(f"student repository: {len(files)} files in {Path(args.dest).resolve()} (no solutions, no hidden tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
