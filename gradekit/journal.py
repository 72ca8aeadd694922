"""The resume journal: one JSON line per submission whose grades reached the gradebook.

A run writes a submission's grades to the gradebook, then its autograded files, then -- last -- its
journal line (flushed and fsync'd). On a restart, a submission is skipped iff the journal holds a line
with the same ``(assignment, student, digest)``: a crash between the gradebook write and the journal
line only causes that one submission to be graded again, and merging replaces (never adds) its grades,
so nothing is duplicated. Only the parent process writes the journal (one writer).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Entry:
    """One graded submission: ``cells`` maps ``"notebook/grade_id"`` to ``[score, max_score]``."""

    assignment: str
    student: str
    digest: str
    status: str  # "ok" or "failed"
    score: float
    max_score: float
    cells: dict[str, list[float]] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


class Journal:
    """An append-only JSON-lines file (``path``); a corrupt last line (killed mid-write) is ignored."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def entries(self) -> dict[tuple[str, str], Entry]:
        """The latest entry per ``(assignment, student)``."""
        out: dict[tuple[str, str], Entry] = {}
        if not self.path.exists():
            return out
        for line in self.path.read_text().splitlines():
            try:
                entry = Entry(**json.loads(line))
            except (ValueError, TypeError):
                continue
            out[(entry.assignment, entry.student)] = entry
        return out

    def done(self, assignment: str, student: str, digest: str) -> bool:
        entry = self.entries().get((assignment, student))
        return entry is not None and entry.digest == digest

    def append(self, entry: Entry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(asdict(entry), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
