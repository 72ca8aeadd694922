"""gradekit.nbgrader_main: nbgrader's command line without the optional import that slows its start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_it_runs_nbgrader_without_importing_the_skipped_modules():
    out = _python("""
        import sys
        import gradekit.nbgrader_main as entry
        sys.argv = ["nbgrader", "--version"]
        try:
            entry.main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        print("nbgrader" in sys.modules, [m for m in entry.SKIPPED_MODULES if sys.modules.get(m) is not None])
    """)
    assert "nbgrader version 0.9.6" in out
    assert out.strip().splitlines()[-1] == "True []"


def test_notebook_validation_still_rejects_a_broken_notebook_with_the_modules_skipped():
    out = _python("""
        import sys
        from gradekit.nbgrader_main import SKIPPED_MODULES
        for name in SKIPPED_MODULES:
            sys.modules[name] = None
        import nbformat
        from nbformat.v4 import new_code_cell, new_notebook
        nb = new_notebook(cells=[new_code_cell("1 + 1")])
        nbformat.validate(nb)
        nb.cells[0]["cell_type"] = "not-a-cell-type"
        try:
            nbformat.validate(nb)
            print("accepted")
        except nbformat.ValidationError:
            print("rejected")
    """)
    assert out.strip() == "rejected"
