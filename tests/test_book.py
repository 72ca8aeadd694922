"""The built book (``make book``, which ``make test`` runs first) is complete, executed and current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"


def toc_files() -> list[str]:
    """Every document named in ``_toc.yml`` (root included), without suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def source_of(doc: str) -> Path:
    for suffix in (".md", ".ipynb"):
        if (REPO / f"{doc}{suffix}").exists():
            return REPO / f"{doc}{suffix}"
    raise FileNotFoundError(doc)


def is_notebook(doc: str) -> bool:
    text = source_of(doc).read_text()
    return "```{code-cell}" in text


@pytest.fixture(scope="module")
def built() -> Path:
    index = HTML / "index.html"
    if not index.exists():
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    return HTML


@pytest.mark.parametrize("doc", toc_files())
def test_every_toc_page_is_built_and_current(doc, built):
    page = built / f"{doc}.html"
    assert page.exists(), f"{doc} is in _toc.yml but {page} was not built"
    assert page.stat().st_mtime >= source_of(doc).stat().st_mtime, f"{page} is older than its source: rebuild"


@pytest.mark.parametrize("doc", [d for d in toc_files() if is_notebook(d)])
def test_every_chapter_executed_without_error(doc, built):
    html = (built / f"{doc}.html").read_text()
    assert not (built / "reports" / f"{doc}.err.log").exists(), f"{doc} failed to execute"
    assert "cell_output" in html, f"{doc} has code cells but no outputs: it was not executed"
    for marker in ("Traceback (most recent call last)", "NotImplementedError"):
        assert marker not in html, f"{doc} shows {marker!r}"


def test_chapters_link_their_assignment(built):
    """Each chapter's page offers its assignment's released notebook for download."""
    exercises = {p.parent.name for p in (REPO / "exercises").glob("*/*.ipynb")}
    linked = set()
    for doc in toc_files():
        html = (built / f"{doc}.html").read_text()
        linked.update(re.findall(r'_downloads/[0-9a-f]+/(ex\d\d_[a-z0-9_]+)\.ipynb', html))
    missing = exercises - linked
    assert not missing, f"no chapter links these assignments: {sorted(missing)}"
