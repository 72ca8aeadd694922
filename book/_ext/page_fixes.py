"""Sphinx extension: two fixes that keep the book's pages free of browser console errors.

Both were caught by tests/course/test_browser.py on a fresh headless browser:

* Under Jupyter Book 1.x, sphinx-thebe registers its inline ``const THEBE_JS_URL = ...`` script twice
  (once with filename ``None``, once ``""``), so every page raised "Identifier 'THEBE_JS_URL' has already
  been declared". Exact duplicates are dropped from each page's script list.
* pydata-sphinx-theme's head snippet sets ``data-mode=""`` for a reader with no saved colour mode, and the
  theme's script then logs "Got invalid theme mode: ." on every first visit. An inline script that runs
  before the theme's defaults the empty mode to ``auto`` (the theme's own fallback); a saved choice wins.
"""

from __future__ import annotations

DEFAULT_MODE_JS = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # inline scripts: None or "", depending on who added them
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: the list is the builder's own, and later handlers (sphinx.ext.mathjax) append to it.
    scripts[:] = unique


def setup(app):
    app.add_js_file(None, body=DEFAULT_MODE_JS, priority=1)
    # html-page-context is emitted with emit_firstresult: a late handler may never run, so run first.
    app.connect("html-page-context", drop_duplicate_scripts, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
