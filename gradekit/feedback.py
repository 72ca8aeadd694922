"""Feedback without the hidden tests' source.

``nbgrader generate_feedback`` renders the autograded notebook, whose test cells still hold the hidden
tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; IPython tracebacks quote the
failing lines too. :class:`HideHiddenTests` (``c.GenerateFeedback.preprocessors``) rewrites, for every
code cell :math:`c` with hidden region :math:`H(c)` (a set of lines):

* the source: :math:`H(c)` becomes one placeholder comment saying how many hidden lines ran;
* an error output of :math:`c` raised from a line in :math:`H(c)` becomes
  ``"<ename>: <message>"`` plus "(raised by a hidden test)" -- which test cell failed and its message,
  never its code;
* every output line of every cell that quotes a hidden line (e.g. student code printing its caller's
  source via ``inspect``) is replaced by ``[hidden test line]``.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*(\n|\Z)", re.S | re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# where an error was raised: IPython's tracebacks, and gradekit.boundary's "(in test cell <id>, line N; ...)"
CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\]|Input In \[\d*\]|<ipython-input-[^>]*>|in test cell [^,;()]*),?\s*line (\d+)")
MIN_LINE = 6  # shorter hidden lines ("else:", ")") are not secret and too common to scrub


def hidden_spans(source: str) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of the hidden-test regions of ``source`` (markers included)."""
    spans = []
    for m in HIDDEN.finditer(source):
        first = source.count("\n", 0, m.start()) + 1
        last = source.count("\n", 0, m.end() - (1 if m.group(2) else 0)) + 1
        spans.append((first, last))
    return spans


def hidden_lines(source: str) -> set[str]:
    """The stripped non-trivial lines inside the hidden regions of ``source``."""
    out = set()
    for m in HIDDEN.finditer(source):
        out.update(s.strip() for s in m.group(1).splitlines() if len(s.strip()) >= MIN_LINE)
    return out


def _scrub(text: str, secret: set[str], replacement: str) -> str:
    if not secret:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        plain = ANSI.sub("", line)
        if any(s in plain for s in secret):
            lines[i] = replacement
    return "\n".join(lines)


class HideHiddenTests(NbGraderPreprocessor):
    """Hide hidden-test code from feedback, keeping which test failed and its message (see module doc)."""

    placeholder = Unicode("# [hidden tests: {n} lines, not shown]").tag(config=True)
    scrubbed = Unicode("[hidden test line]").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        secret: set[str] = set()
        for cell in nb.cells:
            if cell.cell_type == "code":
                secret |= hidden_lines(cell.source)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            spans = hidden_spans(cell.source)
            if spans:
                cell.source = HIDDEN.sub(
                    lambda m: self.placeholder.format(n=len(m.group(1).splitlines())) + "\n", cell.source
                ).rstrip("\n")
            for out in cell.get("outputs", []):
                self._clean_output(out, spans, secret)
        return nb, resources

    def _clean_output(self, out: NotebookNode, spans: list[tuple[int, int]], secret: set[str]) -> None:
        kind = out.get("output_type")
        if kind == "stream":
            out["text"] = _scrub(out.get("text", ""), secret, self.scrubbed)
        elif kind == "error":
            evalue = _scrub(str(out.get("evalue", "")), secret, self.scrubbed)
            out["evalue"] = evalue
            tb = [ANSI.sub("", t) for t in out.get("traceback", [])]
            lines = [int(n) for t in tb for n in CELL_LINE.findall(t)]
            in_hidden = any(a <= n <= b for n in lines[:1] for a, b in spans)
            if in_hidden or (spans and not lines):
                out["traceback"] = [f"{out.get('ename', 'Error')}: {evalue}", "(raised by a hidden test)"]
            else:
                out["traceback"] = [_scrub(t, secret, self.scrubbed) for t in out.get("traceback", [])]
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/") and isinstance(data[mime], str):
                    data[mime] = _scrub(data[mime], secret, self.scrubbed)
