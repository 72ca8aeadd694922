"""The nbgrader preprocessor that keeps a submitted notebook from earning points it does not deserve.

A submission is a file the student controls:

* :class:`ReconcileCells` (``Autograde.sanitize_preprocessors``, after ``OverwriteCells``) rebuilds every
  locked cell and every cell's nbgrader metadata from the gradebook (``grade``, ``points``, ``locked``,
  ``cell_type``), demotes cells whose ``grade_id`` the assignment does not have, and puts back each
  **deleted or renamed test cell as a failing cell**: for every test cell :math:`t` of the source notebook,
  :math:`\\text{max}(t)` is kept and :math:`\\text{score}(t) = 0` unless :math:`t`'s original code ran and passed.
  So :math:`\\sum_t \\text{max}(t)` can never shrink.

Test cells themselves are not run in the student's kernel at all (:mod:`gradekit.boundary`): no
monkeypatching, subclass or hook in the student's process can change how they judge. What is left to
guard is the notebook the student hands in, which :class:`ReconcileCells` makes what the gradebook says.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

DELETED_TEST = "gradekit: the test cell {gid!r} was deleted, renamed or altered in this submission; it scores 0."


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


class ReconcileCells(NbGraderPreprocessor):
    """Make every nbgrader cell of a submission what the gradebook says it is; put back deleted tests.

    For a source notebook with test cells :math:`T` and a submission with cells :math:`S`:
    cells of :math:`S` whose ``grade_id`` is not in the source lose their nbgrader metadata; locked
    cells get the source's type and text; every cell gets the source's ``grade``/``solution``/``locked``/
    ``points``; each :math:`t \\in T` missing from :math:`S` is inserted (after the cell that preceded
    it in the source) as ``raise AssertionError(...)``, so it scores 0 of its points.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            src = gb.find_notebook(info["notebook"], info["assignment"])
            order = [c.name for c in src.source_cells]
            source = {c.name: (c.cell_type, c.source, c.locked, c.checksum) for c in src.source_cells}
            points = {c.name: float(c.max_score) for c in src.grade_cells}
            grade_types = {c.name: c.cell_type for c in src.grade_cells}
            solutions = {c.name for c in src.solution_cells}
            tasks = {c.name for c in src.task_cells}
        cells: list[NotebookNode] = []
        seen: set[str] = set()
        for cell in nb.cells:
            gid = _nbgrader(cell).get("grade_id")
            if gid is None:
                cells.append(cell)
                continue
            if gid not in source or gid in seen:
                self.log.warning("gradekit: cell %r is not a cell of this assignment: treated as a plain cell", gid)
                del cell.metadata["nbgrader"]
                cells.append(cell)
                continue
            seen.add(gid)
            cell_type, text, locked, checksum = source[gid]
            if (locked or cell.cell_type != cell_type) and (cell.cell_type != cell_type or cell.source != text):
                # only an altered cell is rebuilt: an intact one keeps its outputs (`--no-execute` grades them),
                # its attachments and its id; a rebuilt one gets the submitted id (or one from its grade_id),
                # none where the notebook's format has no cell ids (nbformat < 4.5): identical input, identical output
                self.log.warning("gradekit: locked cell %r was altered: restored from the source", gid)
                keep = {k: v for k, v in cell.metadata.items() if k != "nbgrader"}
                fresh = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}[cell_type](text)
                fresh.metadata.update(keep)
                if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5):
                    fresh["id"] = cell.get("id") or re.sub(r"[^A-Za-z0-9_-]", "-", gid)[:64]
                else:
                    fresh.pop("id", None)
                if cell_type != "code" and cell.get("attachments"):
                    fresh["attachments"] = cell["attachments"]  # the restored text may show them
                cell = fresh
            meta = {"grade": gid in points, "solution": gid in solutions, "locked": bool(locked),
                    "grade_id": gid, "schema_version": 3}
            if gid in points:
                meta["points"] = points[gid]
            if gid in tasks:
                meta["task"] = True
            if checksum:
                meta["checksum"] = checksum
            cell.metadata["nbgrader"] = meta
            cells.append(cell)
        for gid in order:
            if gid in points and gid not in seen and grade_types[gid] == "code" and gid not in solutions:
                self.log.warning("gradekit: test cell %r is missing from the submission: it scores 0", gid)
                stub = new_code_cell(f"raise AssertionError({DELETED_TEST.format(gid=gid)!r})")
                stub.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": gid,
                                             "points": points[gid], "schema_version": 3}
                before = order[: order.index(gid)]
                at = 0
                for i, c in enumerate(cells):
                    if _nbgrader(c).get("grade_id") in before:
                        at = i + 1
                cells.insert(at, stub)
                seen.add(gid)
        nb.cells = cells
        return nb, resources
