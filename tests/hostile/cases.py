"""Hostile and broken submissions, each built from an assignment's release, plus the controls they are
judged against.

A case is ``(files, baseline)``: ``files`` maps a notebook file name to the bytes the "student" submits;
``baseline`` names the control submission whose grades the case may never beat, cell by cell (what the
submission *deserves* once its hostile part is ignored). Controls:

* ``correct`` -- every answer correct (full marks); ``release`` -- every answer untouched (zero);
* ``first-removed`` -- correct, but the first answer cell is ``pass``;
* ``magic`` -- every answer function returns an object equal to everything, with no patching.

Most payloads replace the *first answer cell* (the rest of the answers stay correct), so the baseline
is ``first-removed``. Payloads that print ``LEAKED`` or ``CONNECTED`` make the case fail whatever the
score: reading the hidden tests or other students' files, or reaching the network, is the harm.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass

import nbformat

from tools.nbgrader_course import correct_submission

LEAK_MARKERS = ("LEAKED", "CONNECTED")
DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.M)

MAGIC = '''
class _Magic:
    """Equal to everything, true, and every attribute / item / call / operation is another _Magic."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __len__(self): return 2
    def __iter__(self): return iter([_Magic(), _Magic()])
    def __getattr__(self, name): return _Magic()
    def __getitem__(self, key): return _Magic()
    def __call__(self, *a, **k): return _Magic()
    def __float__(self): return 0.0
    def __index__(self): return 0
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __matmul__ = __neg__ = __abs__ = __call__
'''

PATCH = '''
import builtins, math, sys
def _true(*a, **k): return True
def _none(*a, **k): return None
def _patch():
    import numpy, numpy.testing
    numpy.allclose = numpy.isclose = numpy.array_equal = _true
    for _n in dir(numpy.testing):
        if _n.startswith("assert"):
            setattr(numpy.testing, _n, _none)
    math.isclose = _true
    try:
        import torch, torch.testing
        torch.allclose = torch.equal = _true
        torch.isclose = lambda *a, **k: torch.tensor(True)
        torch.testing.assert_close = torch.testing.assert_allclose = _none
        torch.Tensor.__eq__ = lambda self, other: torch.tensor(True)
        torch.Tensor.allclose = _true
    except ImportError:
        pass
_patch()
isinstance = lambda *a, **k: True
len = lambda x: 2
'''

TRANSFORM = '''
def _skip_tests(lines):
    return ["pass\\n"] if any("assert" in line for line in lines) else lines
get_ipython().input_transformers_post.append(_skip_tests)
'''

SNOOP = r'''
import os
def _snoop():
    here = os.path.realpath(os.getcwd())
    seen = 0
    for top in ("/", os.path.dirname(os.path.dirname(os.path.dirname(here)))):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in ("proc", "sys", "usr", "lib", "lib64", ".venv", ".git",
                                                            "site-packages", ".pyenv", "node_modules", "dev")]
            if dirpath.count(os.sep) > 8:
                dirnames[:] = []
            for name in filenames:
                path = os.path.join(dirpath, name)
                seen += 1
                if seen > 20000:
                    return
                if path.startswith(here + os.sep):
                    continue
                if name.endswith((".ipynb", ".db")):
                    try:
                        data = open(path, "rb").read(5_000_000)
                    except OSError:
                        continue
                    if b"BEGIN HIDDEN TESTS" in data or b"SQLite format" in data or b"nbgrader" in data:
                        print("LEAKED", path)
_snoop()
'''

NETWORK = '''
import socket
for _host in ("127.0.0.1", "1.1.1.1"):
    try:
        socket.create_connection((_host, __PORT__), timeout=3).close()
        print("CONNECTED", _host)
    except OSError as exc:
        print("no network:", exc)
'''


@dataclass
class Case:
    files: dict[str, bytes]
    baseline: str


def _cells(nbs):
    for nb in nbs.values():
        yield from nb.cells


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _answers(nbs) -> list:
    return [c for c in _cells(nbs) if _meta(c).get("solution") and c.cell_type == "code"]


def _tests(nbs) -> list:
    return [c for c in _cells(nbs) if _meta(c).get("grade") and not _meta(c).get("solution") and c.cell_type == "code"]


def _dump(nbs) -> dict[str, bytes]:
    return {name: nbformat.writes(nb).encode() for name, nb in nbs.items()}


def _with_first_answer(correct, source: str):
    nbs = copy.deepcopy(correct)
    _answers(nbs)[0].source = source
    return nbs


def _magic_answers(correct, prefix: str = "", in_call: str = ""):
    nbs = copy.deepcopy(correct)
    for i, cell in enumerate(_answers(nbs)):
        names = DEF.findall(cell.source) or [f"_answer_{i}"]
        body = "".join(f"def {n}(*args, **kwargs):\n{in_call}    return _Magic()\n" for n in names)
        cell.source = (MAGIC + prefix if i == 0 else "") + body
    return nbs


def controls(release: dict, aid: str) -> dict[str, dict[str, bytes]]:
    """The control submissions: ``correct``, ``release``, ``first-removed``, ``magic``."""
    correct = correct_submission(release, aid)
    return {
        "correct": _dump(correct),
        "release": _dump(release),
        "first-removed": _dump(_with_first_answer(correct, "pass")),
        "magic": _dump(_magic_answers(correct)),
    }


def hostile_cases(release: dict, aid: str, port: int = 9) -> dict[str, Case]:
    """Every hostile or broken submission of the issue, for assignment ``aid`` with release ``release``.

    ``port``: a TCP port on 127.0.0.1 where the caller listens (the network case tries to connect to it).
    """
    correct = correct_submission(release, aid)
    first = lambda src: _dump(_with_first_answer(correct, src))  # noqa: E731
    cases = {
        "infinite-loop": Case(first("while True:\n    pass"), "first-removed"),
        "memory-bomb": Case(first("_hog = []\nwhile True:\n    _hog.append(bytearray(2**27))"), "first-removed"),
        "fork-bomb": Case(first("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"),
                          "first-removed"),
        "sys-exit": Case(first("import sys\nsys.exit(0)"), "first-removed"),
        "os-exit": Case(first("import os\nos._exit(0)"), "first-removed"),
        "kill-kernel": Case(first("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), "first-removed"),
        "huge-output": Case(first("for _i in range(200_000):\n    print('spam ' * 16)"), "first-removed"),
        "monkeypatch": Case(_dump(_magic_answers(correct, prefix=PATCH)), "magic"),
        "monkeypatch-in-call": Case(_dump(_magic_answers(correct, prefix=PATCH, in_call="    _patch()\n")), "magic"),
        "ipython-transformer": Case(_dump(_magic_answers(correct, prefix=TRANSFORM)), "magic"),
        "read-hidden-and-others": Case(first(SNOOP), "first-removed"),
        "network": Case(first(NETWORK.replace("__PORT__", str(port))), "first-removed"),
        "malformed-json": Case({name: b'{"cells": [ this is not json' for name in release}, "release"),
    }
    # tests edited to pass, answers left as released
    edited = copy.deepcopy(release)
    for cell in _tests(edited):
        cell.source = "pass"
    cases["edit-test-cells"] = Case(_dump(edited), "release")
    # tests deleted, answers correct: the deleted tests must score 0 and the maximum must not shrink
    deleted = copy.deepcopy(correct)
    for nb in deleted.values():
        nb.cells = [c for c in nb.cells if not (_meta(c).get("grade") and not _meta(c).get("solution"))]
    cases["delete-test-cells"] = Case(_dump(deleted), "release")
    # metadata: tests no longer graded / worth 1000 points / renamed, answers left as released
    meta = copy.deepcopy(release)
    for i, cell in enumerate(_tests(meta)):
        m = cell.metadata["nbgrader"]
        if i % 3 == 0:
            m["grade"], m["locked"] = False, False
        elif i % 3 == 1:
            m["points"] = 1000
        else:
            m["grade_id"] = m["grade_id"] + "-renamed"
        cell.source = "pass"
    cases["change-metadata"] = Case(_dump(meta), "release")
    # a notebook of another assignment, under this assignment's file name
    other = nbformat.v4.new_notebook()
    other.cells = [nbformat.v4.new_code_cell("pass")]
    other.cells[0].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                           "grade_id": "other-assignment-test", "schema_version": 3}
    cases["other-assignment"] = Case({name: nbformat.writes(other).encode() for name in release}, "release")
    from tests.hostile.cases_boundary import boundary_cases  # issue 14: attacks on the trust boundary

    cases.update(boundary_cases(release, correct))
    from tests.hostile.cases_files import kernel_cases  # issue 20: attacks on what root does with files

    cases.update(kernel_cases(correct, aid))
    return cases


def leaked(autograded: dict[str, bytes]) -> list[str]:
    """Output lines of the autograded notebooks that show a leak (``LEAKED ...`` / ``CONNECTED ...``)."""
    found = []
    for name, data in autograded.items():
        if not name.endswith(".ipynb"):
            continue
        try:
            nb = json.loads(data)
        except ValueError:
            continue
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []):
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                found += [ln for ln in text.splitlines() if ln.startswith(LEAK_MARKERS)]
    return found
