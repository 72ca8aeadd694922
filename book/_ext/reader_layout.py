"""Sphinx extension: the book's own stylesheet, ``book/_static/reader.css`` (code and outputs wrap, long links
break, wide tables and equations scroll inside their box), so pages fit a phone's screen as well as a laptop's,
and ``book/_static/reader.js``, which makes every figure open full size with one tap.

Jupyter Book's ``html_static_path`` is the repository root's ``_static``; the book keeps its static files in
``book/_static``, which this adds.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "_static"
STYLESHEET = "reader.css"
SCRIPT = "reader.js"


def _add_static_path(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("config-inited", _add_static_path)
    app.add_css_file(STYLESHEET)
    app.add_js_file(SCRIPT)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
