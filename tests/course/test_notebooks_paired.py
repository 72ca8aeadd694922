"""Every chapter with code has a current ``.ipynb`` copy next to its ``.md``, for the Colab launch button.

``make notebooks`` (``python -m tools.paired_notebooks``) writes them; see that module for why they exist.
Fast: nothing is executed, the notebooks are only read.
"""

from __future__ import annotations

import nbformat
import pytest

from tools.paired_notebooks import (
    COLAB_TAG,
    REPO,
    chapters,
    colab_cell_source,
    config,
    install_target,
    notebook_from_md,
)

FIX = "run `make notebooks`"
CHAPTERS = chapters()


def cells(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def test_chapters_with_code_are_found():
    assert CHAPTERS, "no chapter of _toc.yml has code cells"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_ipynb_has_the_cells_of_its_md(doc):
    ipynb = REPO / f"{doc}.ipynb"
    assert ipynb.exists(), f"{ipynb.relative_to(REPO)} is missing: {FIX}"
    committed = nbformat.read(ipynb, as_version=4)
    nbformat.validate(committed)
    assert cells(committed) == cells(notebook_from_md(REPO / f"{doc}.md")), \
        f"{ipynb.relative_to(REPO)} is out of sync with {doc}.md: {FIX}"
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{ipynb.relative_to(REPO)} holds outputs (saved from Jupyter?): {FIX}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_starts_with_the_colab_install_cell(doc):
    """The first cell installs invlib on Colab, from the repository and branch in _config.yml, hidden in the book."""
    nb = notebook_from_md(REPO / f"{doc}.md")
    first = nb.cells[0]
    assert first.cell_type == "code" and first.source == colab_cell_source(config()), \
        f"{doc}.md does not start with the current Colab cell (installing {install_target()}): {FIX}"
    assert COLAB_TAG in first.metadata.get("tags", []), f"{doc}.md: the Colab cell is not tagged {COLAB_TAG}"


def test_install_target_is_the_configured_repository():
    repository = config()["repository"]
    if not repository.get("url"):
        assert install_target() is None  # unset: the Colab cell names no repository (tested below)
        return
    assert install_target() == f"git+{repository['url'].rstrip('/')}@{repository['branch']}"
    assert install_target().startswith("git+https://github.com/"), "Colab launch buttons need a GitHub repository"


def test_colab_cell_follows_the_one_repository_setting():
    """Set: the cell pip-installs from url@branch. Unset: it installs nothing and points at no address at all."""
    published = {"repository": {"url": "https://github.com/someone/course/", "branch": "spring"}}
    source = colab_cell_source(published)
    assert 'invlib_source = "git+https://github.com/someone/course@spring"' in source
    for unset in ({"repository": {"url": ""}}, {"repository": {"url": None}}, {"repository": {}}, {}):
        source = colab_cell_source(unset)
        assert install_target(unset) is None
        assert "pip install" not in source.split("raise")[0] and "subprocess" not in source
        assert "http" not in source and "github.com/" not in source, source
        assert "raise RuntimeError(" in source  # on Colab: a clear stop, not an install from a placeholder
        compile(source, "<colab cell>", "exec")


def test_no_stray_chapter_notebooks():
    """An .ipynb under book/ without a chapter .md (a renamed or removed chapter) would go stale unnoticed."""
    expected = {REPO / f"{doc}.ipynb" for doc in CHAPTERS}
    stray = sorted(str(p.relative_to(REPO)) for p in (REPO / "book").rglob("*.ipynb")
                   if p not in expected and ".ipynb_checkpoints" not in p.parts)
    assert not stray, f"notebooks under book/ that no chapter produces: {stray} (delete them, then {FIX})"
