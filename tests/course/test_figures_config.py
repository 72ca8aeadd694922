"""The book's figure settings reach the chapters' kernels: SVG figures with text kept as text, fonts >= 10 pt.

``make book`` sets IPYTHONDIR=book/_ipython (the kernels load ``profile_default/ipython_kernel_config.py``: figures
as SVG), and matplotlib reads ``matplotlibrc`` from a kernel's working directory, the chapter's folder. A kernel is
started here exactly as the build starts one, and the figure it sends back is inspected.
"""

from __future__ import annotations

import os
import re

import matplotlib
import nbformat
import pytest
from nbclient import NotebookClient

from tests.course.test_book import REPO

IPYTHONDIR = REPO / "book" / "_ipython"
PARTS = sorted(p.parent for p in (REPO / "book").glob("part*/matplotlibrc"))
FONT_KEYS = ["font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
             "legend.fontsize", "legend.title_fontsize", "figure.titlesize"]


def _points(size, base: float) -> float:
    """A matplotlib font size in points: a number, or a name ("small", "x-large") relative to font.size."""
    if isinstance(size, str) and size in matplotlib.font_manager.font_scalings:
        return matplotlib.font_manager.font_scalings[size] * base
    return float(size)


def test_every_part_has_the_same_matplotlibrc():
    chapter_dirs = {p.parent for p in (REPO / "book").glob("part*/*.md")}
    assert chapter_dirs and chapter_dirs <= set(PARTS), f"chapter folders without a matplotlibrc: {chapter_dirs - set(PARTS)}"
    texts = {p: (p / "matplotlibrc").read_text() for p in PARTS}
    assert len(set(texts.values())) == 1, "book/part*/matplotlibrc differ: keep them one file"


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_matplotlibrc_sets_legible_svg_figures(part):
    params = matplotlib.rc_params_from_file(str(part / "matplotlibrc"), use_default_template=True)
    assert params["svg.fonttype"] == "none", "SVG text must stay text (legible, searchable, measurable)"
    assert params["figure.figsize"][0] <= 7, "figures wider than 7 in are shrunk below 10 pt in the column"
    small = {k: params[k] for k in FONT_KEYS if _points(params[k], float(params["font.size"])) < 10}
    assert not small, f"font sizes below 10 pt: {small}"


def test_make_book_points_the_kernels_at_the_ipython_settings():
    makefile = (REPO / "Makefile").read_text()
    book = re.search(r"^book:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "IPYTHONDIR=$(abspath book/_ipython)" in book
    assert (IPYTHONDIR / "profile_default" / "ipython_kernel_config.py").exists()


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_a_chapter_kernel_draws_svg_with_the_book_fonts(part, monkeypatch):
    """Run a two-line figure cell the way the build does (cwd: the chapter's folder; IPYTHONDIR set)."""
    monkeypatch.setenv("IPYTHONDIR", str(IPYTHONDIR))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.set_xlabel('x')\nplt.show()\n"
        "import matplotlib; print(matplotlib.matplotlib_fname())")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(part)}}).execute()
    outputs = nb.cells[0].outputs
    images = [o for o in outputs if o.get("output_type") == "display_data"]
    assert images and "image/svg+xml" in images[0]["data"], f"the kernel sent {[list(o.get('data', {})) for o in images]}"
    assert "image/png" not in images[0]["data"]
    svg = images[0]["data"]["image/svg+xml"]
    assert "<text" in svg, "the SVG's text was turned into outlines (svg.fonttype)"
    sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", svg)]
    assert sizes and min(sizes) >= 10, f"font sizes in the figure: {sorted(set(sizes))}"
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert printed.strip() in ("matplotlibrc", os.path.join(str(part), "matplotlibrc")), printed
