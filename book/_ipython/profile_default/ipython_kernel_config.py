"""IPython kernel settings for building the book (the Makefile's ``book`` target sets IPYTHONDIR to this folder's
parent, so every chapter's kernel loads this file).

Figures are sent as SVG: vector graphics stay sharp on any screen and at any zoom, and their text stays text,
which tests/course/test_browser.py measures to check it is legible at the size a reader sees. Everything else
about figures (sizes, fonts) comes from the matplotlibrc file in the chapter's folder (book/part1, book/part2).
"""

c = get_config()  # noqa: F821 -- provided by IPython when it loads this file

c.InlineBackend.figure_formats = {"svg"}
# matplotlib-inline may override rcParams for inline figures; let the chapter's matplotlibrc decide.
c.InlineBackend.rc = {}
# The build's kernels keep no input history (IPython would write a history database into this folder).
c.HistoryManager.enabled = False
