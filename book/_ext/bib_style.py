"""Sphinx extension: the bibliography labels its entries the way the text cites them ("Dinh et al., 2017").

The book cites author-year (``bibtex_reference_style: author_year``: ``{cite}`` gives "[Dinh et al., 2017]",
``{cite:t}`` "Dinh et al. [2017]"). pybtex's ``plain`` style labels the bibliography's entries [1], [2], ...,
so a reader who follows "[Dinh et al., 2017]" lands on "[12]" and must read the entry to be sure it is the one.
This registers a pybtex formatting style ``authoryear`` -- ``plain`` with labels built as sphinxcontrib-bibtex
builds its author-year citations (one author: "Surname"; two: "A and B"; more: "A et al."; then ", year", or
"n.d." without a year) and entries sorted by author, year, title. ``_config.yml`` selects it with
``bibtex_default_style: authoryear``.
"""

from __future__ import annotations

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

STYLE_NAME = "authoryear"


def _last_name(person) -> str:
    """A person's last name as a reader sees it (LaTeX accents decoded: ``Dokmani{\\'c}`` -> ``Dokmanić``)."""
    parts = person.prelast_names + person.last_names  # "de Hoop", as the "last" name style writes it
    return Text.from_latex(" ".join(parts)).render_as("text")


def author_year_label(entry) -> str:
    """The label of one entry: "Surname, 2019", "A and B, 2019", "A et al., 2019" (editors, then title, if no author)."""
    persons = list(entry.persons.get("author") or entry.persons.get("editor") or [])
    if len(persons) == 2 and str(persons[1]) == "others":  # BibTeX's "A and others": "A et al."
        persons.append(persons[1])
    if len(persons) == 1:
        who = _last_name(persons[0])
    elif len(persons) == 2:
        who = f"{_last_name(persons[0])} and {_last_name(persons[1])}"
    elif persons:
        who = f"{_last_name(persons[0])} et al."
    else:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    year = Text.from_latex(entry.fields.get("year", "")).render_as("text").strip() or "n.d."
    return f"{who}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year_label(entry)


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


def register() -> None:
    """Make ``authoryear`` known to pybtex (idempotent: Sphinx may load the extension more than once)."""
    try:
        pybtex.plugin.find_plugin("pybtex.style.formatting", STYLE_NAME)
    except pybtex.plugin.PluginNotFound:
        pybtex.plugin.register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle)


def setup(app):
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
