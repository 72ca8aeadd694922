"""``python -m gradekit.nbgrader_main ARGS``: nbgrader's own command line, with a shorter start-up.

The runner starts one nbgrader process per task, so its start-up is paid many times per class. About
1.5 s of the 2.6 s it takes to import nbgrader go to one optional module: ``jsonschema`` imports
``rfc3987_syntax`` (when installed, as a ``jupyter-events`` extra) to check the ``"iri"`` string
format, and that module builds a Lark grammar at import. Nothing nbgrader does uses that format --
the notebook schemas of ``nbformat`` have no ``"format"`` keyword, and nbformat validates without a
format checker -- so this entry point makes the import fail (``jsonschema`` then leaves the ``"iri"``
check out, as it does wherever the package is not installed) and runs nbgrader unchanged.
"""

from __future__ import annotations

import sys

#: Optional imports that only cost start-up time in an nbgrader process (see the module docstring).
SKIPPED_MODULES = ("rfc3987_syntax",)


def main() -> None:
    for name in SKIPPED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]  # `import name` raises ImportError
    from nbgrader.apps.nbgraderapp import main as nbgrader

    nbgrader()


if __name__ == "__main__":
    main()
