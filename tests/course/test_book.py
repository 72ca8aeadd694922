"""The built book (``make book``, which ``make test`` runs first) is complete, executed and current."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# The built book; BOOK_HTML points the checks at another build (e.g. one made with --path-output).
HTML = Path(os.environ.get("BOOK_HTML") or REPO / "_build" / "html")


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


def launch_links(html: str) -> dict[str, str]:
    """The launch buttons of a built page: ``{"Colab": href, "Binder": href, ...}`` (sphinx-book-theme's dropdown)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    menu = soup.select_one(".dropdown-launch-buttons")
    if menu is None:
        return {}
    return {a.get_text(strip=True): a["href"] for a in menu.select("a[href]")}


@pytest.mark.parametrize("doc", [d for d in toc_files() if is_notebook(d)])
def test_launch_buttons_open_the_chapter_notebook(doc, built):
    """Colab opens only .ipynb files from GitHub: the chapter's Colab button must name its committed .ipynb copy
    (``make notebooks``), not its .md; Binder and JupyterHub open that same notebook."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    repository = config["repository"]
    if not (repository.get("url") or "").strip():
        # The one setting is unset: no button may lead to a repository (book/_ext/repository_buttons.py).
        html = (built / f"{doc}.html").read_text()
        assert not launch_links(html), f"{doc}: launch buttons shown although `repository: url:` is unset"
        from bs4 import BeautifulSoup

        header = BeautifulSoup(html, "html.parser").select(".article-header-buttons a[href]")
        to_github = [a["href"] for a in header if "github.com" in a["href"]]
        assert not to_github, f"{doc}: repository buttons although `repository: url:` is unset: {to_github}"
        return
    org_repo = repository["url"].rstrip("/").removeprefix("https://github.com/")
    book_dir = (repository.get("path_to_book") or "").strip("/")
    path = f"{book_dir}/{doc}.ipynb" if book_dir else f"{doc}.ipynb"  # in the repository
    assert (REPO / f"{doc}.ipynb").exists(), f"{doc}.ipynb does not exist: run `make notebooks`, then `make book`"
    links = launch_links((built / f"{doc}.html").read_text())
    colab = config["launch_buttons"].get("colab_url", "").rstrip("/")
    if colab:
        assert links.get("Colab") == f"{colab}/github/{org_repo}/blob/{repository['branch']}/{path}", \
            f"{doc}: Colab button is {links.get('Colab')!r} (an .md? run `make notebooks`, then `make book`)"
    for name in ("Binder", "JupyterHub"):
        if name in links:
            assert f"/{path}" in links[name], f"{doc}: the {name} button does not open {path}: {links[name]}"
