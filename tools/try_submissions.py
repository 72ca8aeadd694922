"""Grade candidate answers against an assignment's hidden tests and print the score of each, cell by cell.

``python -m tools.try_submissions ex02_nonlinearity candidates.py [--workers 2]``

For course authors and for anyone attacking an assignment from its release: write a module defining
``CANDIDATES`` (or ``WRONG`` / ``RIGHT``, the formats of ``tests/wrong_submissions`` and
``tests/right_submissions``)::

    CANDIDATES = {
        "forgot_the_bias": {"replace": {"<grade_id of an answer cell>": "<student code for that cell>"}},
    }

Each candidate is the release with every answer filled in correctly except the cells it replaces. All are
graded in one ``nbgrader autograde`` run of a throw-away course with this repo's configuration (the
hardened grader: sandboxed kernels, hidden tests across the trust boundary), and the grades are read back
from the gradebook. Printed per candidate: the score, and each test cell it lost with the first line of
the feedback the student would see there (the test's own message, never its code). A ``loses`` list in the
spec, if present, is compared with what was lost.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import nbformat

from tools.nbgrader_course import Course, correct_submission, wrong_submission


def load_candidates(path: Path) -> dict[str, dict]:
    """The ``CANDIDATES`` (or ``WRONG`` / ``RIGHT``) dict of the module at ``path``."""
    spec = importlib.util.spec_from_file_location("candidates", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("CANDIDATES", "WRONG", "RIGHT"):
        if hasattr(module, name):
            return dict(getattr(module, name))
    raise SystemExit(f"{path} defines none of CANDIDATES, WRONG, RIGHT")


def _feedback(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the first line of the error a failed test cell shows in the autograded notebook."""
    out = {}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                out[gid] = f"{output.get('ename', '')}: {output.get('evalue', '')}".splitlines()[0][:200]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", help="an assignment id, e.g. ex02_nonlinearity")
    parser.add_argument("candidates", type=Path, help="a .py file defining CANDIDATES (or WRONG / RIGHT)")
    args = parser.parse_args(argv)
    candidates = load_candidates(args.candidates)
    with tempfile.TemporaryDirectory(prefix="try-") as tmp:
        course = Course(Path(tmp))
        course.release(args.assignment)
        release = course.released_notebooks(args.assignment)
        correct = correct_submission(release, args.assignment)
        course.submit(args.assignment, "reference", correct)
        for i, (name, spec) in enumerate(candidates.items()):
            course.submit(args.assignment, f"c{i:03d}", wrong_submission(correct, spec["replace"]))
        grades = course.autograde(args.assignment)
        ref = grades["reference"]
        print(f"{args.assignment}: the correct answers score {ref.score:g}/{ref.max_score:g}")
        mismatches = 0
        for i, (name, spec) in enumerate(candidates.items()):
            g = grades.get(f"c{i:03d}")
            if g is None:
                print(f"{name}: NOT GRADED")
                mismatches += 1
                continue
            lost = sorted(gid for gid, (s, m) in g.cells.items() if s < m)
            feedback = {}
            for nb_name in release:
                feedback |= _feedback(course.autograded_notebook(args.assignment, f"c{i:03d}", nb_name))
            line = f"{name}: {g.score:g}/{g.max_score:g}"
            if "loses" in spec and set(spec["loses"]) != set(lost):
                line += f"   (declared loses {sorted(spec['loses'])})"
                mismatches += 1
            print(line)
            for gid in lost:
                print(f"    lost {gid}: {feedback.get(gid, '(no error output)')}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
