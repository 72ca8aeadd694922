"""The chapters as ``.ipynb`` notebooks, for the book's Colab launch button (``make notebooks``).

Colab opens only ``.ipynb`` files from GitHub. sphinx-book-theme (``header_buttons/launch.py``) builds every
launch link -- Colab, Binder, JupyterHub -- from the page's source path, and switches its suffix to ``.ipynb``
when a file ``<chapter>.ipynb`` sits next to the chapter's ``<chapter>.md``. So every chapter of ``_toc.yml``
that has code cells gets such a sibling, written here by jupytext from the ``.md``: the same cells, no outputs,
deterministic cell ids, so the files are small and change only when the chapter does. The ``.md`` stays the
source of truth; ``_config.yml`` excludes the ``.ipynb`` copies from the build (one source per document), and
``tests/course/test_notebooks_paired.py`` fails when one is missing or out of date.

Colab has no invlib. Every chapter therefore opens with a code cell, tagged ``remove-cell`` (the web page does
not show it), that pip-installs invlib from the repository named in ``_config.yml`` when it runs on Colab and
does nothing anywhere else. The cell is part of the ``.md`` too, so the two files hold the same cells.
That repository is the book's one setting for where its sources live: ``repository: url:``. While it is empty
(a copy of the course that has not said where it is published) the book hides its launch buttons
(``book/_ext/repository_buttons.py``) and the cell names no repository: on Colab it stops with a message that
says how to install invlib, instead of installing from a placeholder.

``python -m tools.paired_notebooks`` (``make notebooks``) adds or updates that cell in each chapter's ``.md``
and rewrites its ``.ipynb``; ``--check`` only reports what is stale.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
COLAB_TAG = "remove-cell"
COLAB_TEST = '"google.colab" in sys.modules'
# The Colab cell as it stands in a chapter's .md: the first cell, right after the jupytext header.
COLAB_BLOCK = re.compile(
    r"```\{code-cell\}[^\n]*\n:tags: \[" + COLAB_TAG + r"\]\n\n(?:(?!```)[^\n]*\n)*?"
    r"[^\n]*" + re.escape(COLAB_TEST) + r"[^\n]*\n(?:(?!```)[^\n]*\n)*```\n\n?"
)
HEADER = re.compile(r"\A---\n.*?\n---\n\n?", re.S)


def config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())


def repository_url(cfg: dict | None = None) -> str | None:
    """The course repository's URL (``repository: url:`` in ``_config.yml``), or None while it is unset."""
    repository = (cfg or config()).get("repository") or {}
    url = (repository.get("url") or "").strip().rstrip("/")
    return url or None


def install_target(cfg: dict | None = None) -> str | None:
    """What Colab pip-installs: ``git+<repository url>@<branch>``, from ``_config.yml``; None while the url is unset."""
    cfg = cfg or config()
    url = repository_url(cfg)
    if url is None:
        return None
    branch = (cfg.get("repository") or {}).get("branch") or "master"  # sphinx-book-theme's default, as in its links
    return f"git+{url}@{branch}"


# What the Colab cell says on Colab while no repository is set, one line of the cell each.
NO_REPOSITORY_MESSAGE = (
    "invlib is not installed, and this copy of the course names no repository to install it from. ",
    "Install it from your copy of the course: !pip install git+<its GitHub URL>",
)


def colab_cell_source(cfg: dict | None = None) -> str:
    target = install_target(cfg)
    if target is None:
        return (
            "# On Google Colab only: invlib must be installed from the course's repository, which this copy does not\n"
            "# name yet (`repository: url:` in _config.yml). Elsewhere this cell does nothing.\n"
            "import sys\n"
            "\n"
            f"if {COLAB_TEST}:\n"
            "    raise RuntimeError(\n"
            + "".join(f'        "{line}"\n' for line in NO_REPOSITORY_MESSAGE)
            + "    )"
        )
    return (
        "# On Google Colab only: install invlib from the course's repository (elsewhere this cell does nothing).\n"
        "import sys\n"
        "\n"
        f"if {COLAB_TEST}:\n"
        "    import subprocess\n"
        "\n"
        f'    invlib_source = "{target}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", invlib_source], check=True)'
    )


def colab_block(cfg: dict | None = None) -> str:
    """The Colab cell in MyST Markdown, as jupytext writes a code cell tagged ``remove-cell``."""
    return f"```{{code-cell}} ipython3\n:tags: [{COLAB_TAG}]\n\n{colab_cell_source(cfg)}\n```\n\n"


def toc_files() -> list[str]:
    from tests.course.test_book import toc_files as from_toc

    return from_toc()


def chapters() -> list[str]:
    """Every document of ``_toc.yml`` with code cells, without suffix (``book/part1/01_inverting_a_function``)."""
    return [doc for doc in toc_files()
            if (REPO / f"{doc}.md").exists() and "```{code-cell}" in (REPO / f"{doc}.md").read_text()]


def with_colab_cell(text: str, cfg: dict | None = None) -> str:
    """The chapter's MyST Markdown with its Colab cell first (added, or brought up to date with _config.yml)."""
    block = colab_block(cfg)
    if COLAB_BLOCK.search(text):
        return COLAB_BLOCK.sub(lambda _: block, text, count=1)
    header = HEADER.match(text)
    if header is None:
        raise ValueError("a chapter must start with its jupytext header (--- ... ---)")
    return text[:header.end()].rstrip("\n") + "\n\n" + block + text[header.end():]


def _cell_id(source: str, taken: set[str]) -> str:
    base = hashlib.sha1(source.encode()).hexdigest()[:8]
    cell_id, n = base, 1
    while cell_id in taken:
        n += 1
        cell_id = f"{base}-{n}"
    taken.add(cell_id)
    return cell_id


def notebook_from_md(md: Path) -> nbformat.NotebookNode:
    """The chapter as a notebook: its cells, no outputs, cell ids from their sources, minimal metadata."""
    nb = jupytext.read(md)
    taken: set[str] = set()
    for cell in nb.cells:
        cell.id = _cell_id(cell.source, taken)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {
        "jupytext": {"default_lexer": "ipython3"},
        "kernelspec": nb.metadata.get("kernelspec", {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"}),
        "language_info": {"name": "python"},
    }
    return nb


def ipynb_text(nb: nbformat.NotebookNode) -> str:
    return jupytext.writes(nb, fmt="ipynb") + "\n"  # as Jupyter writes it


def stale(doc: str, cfg: dict | None = None) -> list[str]:
    """Why ``doc``'s .md or .ipynb needs ``make notebooks`` (empty when both are current)."""
    md, ipynb = REPO / f"{doc}.md", REPO / f"{doc}.ipynb"
    reasons = []
    if with_colab_cell(md.read_text(), cfg) != md.read_text():
        reasons.append(f"{md.relative_to(REPO)} lacks the current Colab cell")
    if not ipynb.exists():
        reasons.append(f"{ipynb.relative_to(REPO)} is missing")
    elif ipynb.read_text() != ipynb_text(notebook_from_md(md)):
        reasons.append(f"{ipynb.relative_to(REPO)} differs from what {md.relative_to(REPO)} gives")
    return reasons


def write(doc: str, cfg: dict | None = None) -> list[Path]:
    """Bring ``doc``'s Colab cell and .ipynb up to date; return the files it changed."""
    md, ipynb = REPO / f"{doc}.md", REPO / f"{doc}.ipynb"
    changed = []
    text = md.read_text()
    new_text = with_colab_cell(text, cfg)
    if new_text != text:
        md.write_text(new_text)
        changed.append(md)
    nb_text = ipynb_text(notebook_from_md(md))
    if not ipynb.exists() or ipynb.read_text() != nb_text:
        ipynb.write_text(nb_text)
        changed.append(ipynb)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.paired_notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale notebooks, change nothing")
    parser.add_argument("docs", nargs="*", help="chapters to process (default: every chapter with code)")
    args = parser.parse_args(argv)
    cfg = config()
    docs = [d.removesuffix(".md").removesuffix(".ipynb") for d in args.docs] or chapters()
    if args.check:
        reasons = [r for doc in docs for r in stale(doc, cfg)]
        print("\n".join(reasons) or "every chapter's .ipynb is current")
        return 1 if reasons else 0
    for doc in docs:
        for path in write(doc, cfg):
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
