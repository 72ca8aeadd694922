"""What a reader reads on every built page is right as text: checks that keep the book right (issue 16).

* No raw math and no unrendered Markdown in the text a reader sees (a ``$$`` block that MyST did not parse shows
  its dollars and TeX; a ``**`` or a backtick shows the Markdown instead of bold or code). ``-W`` cannot see these:
  they are not warnings. tests/course/test_browser.py checks the same on the page after MathJax has run.
* Every entry of ``references.bib`` is cited by some page (the bibliography lists only cited entries, so an
  uncited entry is dead weight that no reader sees), and every citation names an entry.
* Every citation's text is the label of the entry it lands on ("[Dinh et al., 2017]" -> "[Dinh et al., 2017]").
* Every chapter's learning objectives each link ({ref}/{doc}) to the section or exercise that meets them, and the
  link resolves; every cross-reference resolves; chapters that build on earlier ones link them.
* Every chapter's figures are SVG: the chapters' kernels loaded the book's IPython settings (book/_ipython).

The checks are plain functions, proven able to fail by unit tests on synthetic snippets below; the tests named
``test_book_*`` apply them to the built book (``make book``; ``BOOK_HTML`` points at another build).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.course.test_book import HTML, REPO, source_of, toc_files

BIB = REPO / "references.bib"

# ---------------------------------------------------------------------------------------------------------------
# The checks


# Elements whose text is not prose: code (inline and blocks), math that MathJax typesets, scripts, the "#" anchors.
NOT_PROSE = "pre, code, script, style, .math, mjx-container, .headerlink, .MathJax, .katex, dt.sig"

RAW_MATH = [
    (re.compile(r"\$"), "a dollar sign (raw $...$ or $$...$$ math)"),
    (re.compile(r"\\[()\[\]]"), r"a \( \) \[ \] math delimiter"),
    (re.compile(r"\\[A-Za-z]{2,}"), "a TeX command"),
]
UNRENDERED_MARKDOWN = [
    # An opening ** (after a space or a bracket, before a word): "2**20" and a signature's "**kwargs" are not bold.
    (re.compile(r"(?:^|(?<=[\s(\[\"']))\*\*(?=[^\s*])"), "** (bold that was not rendered)"),
    (re.compile(r"`"), "a backtick (code or a role that was not rendered)"),
    (re.compile(r"^\s*:::|```", re.M), "a directive fence"),
    (re.compile(r"\]\((?:https?:|\.|/|#)"), "a Markdown link [text](url)"),
    (re.compile(r"\{(?:ref|doc|eq|cite|glue|numref|download|term)(?::[a-z]+)?\}"), "a MyST role"),
]


def reader_text(html: str) -> str:
    """The prose of a page's article as a reader reads it: no code, no typeset math, no scripts."""
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article.bd-article") or soup.select_one("main") or soup.body or soup
    for element in article.select(NOT_PROSE):
        element.decompose()
    return article.get_text(" ")


def _findings(text: str, patterns) -> list[str]:
    found = []
    for pattern, what in patterns:
        for match in pattern.finditer(text):
            context = " ".join(text[max(0, match.start() - 40):match.end() + 40].split())
            found.append(f"{what}: ...{context}...")
    return found


def raw_math(text: str) -> list[str]:
    """Math a reader would see as TeX source, with some context each."""
    return _findings(text, RAW_MATH)


def unrendered_markdown(text: str) -> list[str]:
    """Markdown a reader would see as markup, with some context each."""
    return _findings(text, UNRENDERED_MARKDOWN)


def bib_keys(bib_text: str) -> set[str]:
    """The keys of the entries of a BibTeX file (``@comment``/``@string``/``@preamble`` are not entries)."""
    keys = re.findall(r"^\s*@\s*([A-Za-z]+)\s*\{\s*([^,\s]+)\s*,", bib_text, re.M)
    return {key for kind, key in keys if kind.lower() not in {"comment", "string", "preamble"}}


CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`|:cite(?::[a-z]+)?:`([^`]+)`")


def cited_keys(source: str) -> set[str]:
    """The keys a MyST/reST source cites with {cite}, {cite:t}, {cite:p}, ... (several keys: comma-separated)."""
    keys = set()
    for match in CITE_ROLE.finditer(source):
        keys.update(k.strip() for k in (match.group(1) or match.group(2)).split(",") if k.strip())
    return keys


def uncited(bib_text: str, sources: list[str]) -> set[str]:
    cited = set().union(*(cited_keys(s) for s in sources)) if sources else set()
    return bib_keys(bib_text) - cited


def objective_links(html: str) -> list[tuple[str, list[str]]]:
    """(objective, internal hrefs) for each bullet of the page's "Learning objectives" admonition."""
    soup = BeautifulSoup(html, "html.parser")
    for admonition in soup.select("div.admonition"):
        title = admonition.select_one(".admonition-title")
        if title and "learning objectives" in title.get_text().lower():
            return [(" ".join(li.get_text(" ").split()),
                     [a["href"] for a in li.select("a.reference.internal[href]")])
                    for li in admonition.select("li")]
    return []


def unresolved_references(html: str) -> list[str]:
    """Cross-references ({ref}, {doc}, {eq}, {numref}) Sphinx could not resolve: an ``xref`` that is not a link.

    Python-domain references (the API page's ``torch.nn.Module``, ``ValueError``) are left out: the book has no
    page for torch's or Python's classes, and ``_config.yml`` lists them in ``nitpick_ignore_regex``.
    """
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article.bd-article") or soup
    return [x.get_text() for x in article.select(".xref")
            if x.name != "a" and x.find_parent("a") is None and "py" not in x.get("class", [])]


def anchor_exists(page: Path, href: str) -> bool:
    """Whether ``href`` (relative to ``page``) names an existing file and, if it has one, an existing id there."""
    target, _, fragment = href.partition("#")
    path = (page.parent / target).resolve() if target else page
    if not path.exists():
        return False
    if not fragment:
        return True
    return BeautifulSoup(path.read_text(), "html.parser").find(id=fragment) is not None


def _words(element) -> str:
    """An element's text as one line, as a reader reads it ("Dinh <em>et al.</em>, 2017" -> "Dinh et al., 2017")."""
    return re.sub(r"\s+([,.;\]])|(\[)\s+", r"\1\2", " ".join(element.get_text(" ").split()))


def citation_mismatches(page_html: str, bibliography_html: str) -> list[str]:
    """Citations whose text is not the label of the bibliography entry they link to."""
    labels = {}
    for entry in BeautifulSoup(bibliography_html, "html.parser").select("div.citation[id], dt.label[id]"):
        label = entry.select_one("span.label") or entry
        labels[entry["id"]] = _words(label).strip("[] ")
    # sphinxcontrib-bibtex may put the entry's id on an inner element.
    for span in BeautifulSoup(bibliography_html, "html.parser").select("div.citation span.label"):
        for tagged in span.find_parents(id=True)[:1]:
            labels.setdefault(tagged["id"], _words(span).strip("[] "))
    wrong = []
    for cite in BeautifulSoup(page_html, "html.parser").select("span.bibtex-citation"):
        text = _words(cite)
        for a in cite.select("a[href*='#']"):
            label = labels.get(a["href"].partition("#")[2])
            shown = _words(a)
            if label is None:
                wrong.append(f"{text!r} links to no bibliography entry ({a['href']})")
            elif text.startswith("[") and shown != label:  # parenthetical: the whole label
                wrong.append(f"{text!r} lands on the entry labelled [{label}]")
            elif shown not in label:  # textual ("Dinh et al. [2017]"): each part is in the label
                wrong.append(f"{text!r} lands on the entry labelled [{label}]")
    return wrong


# ---------------------------------------------------------------------------------------------------------------
# The checks can fail: unit tests on synthetic snippets


def _page(body: str) -> str:
    return f"<html><body><article class='bd-article'>{body}</article></body></html>"


@pytest.mark.parametrize("body", [
    "<p>The bound is $$\\frac{a}{b}$$ in general.</p>",                                    # a raw $$ block
    "<p>the relative errors obey $<span class='math'>\\(x\\)</span>$ the condition</p>",  # ch. 1's broken block
    "<p>where \\(\\sigma_{\\min}\\) is the smallest singular value</p>",                    # \( outside a math span
    "<p>with $x^2$ inline</p>",
    "<p>at most \\kappa(A) digits</p>",
])
def test_raw_math_is_found(body):
    assert raw_math(reader_text(_page(body))), body


def test_raw_math_is_found_in_a_real_page_with_one_raw_block_put_back():
    """Issue 16's check: take a built chapter, put one raw $$ block back, and the check fails."""
    page = HTML / f"{toc_files()[1]}.html"
    if not page.exists():
        pytest.skip("the book is not built")
    html = page.read_text()
    broken = html.replace("</article>", "<p>obey $$\\frac{\\|\\delta x\\|}{\\|x\\|} \\le \\kappa(A)$$ the</p></article>", 1)
    assert broken != html
    before, after = raw_math(reader_text(html)), raw_math(reader_text(broken))
    assert len(after) > len(before) and any("dollar" in f for f in after)


@pytest.mark.parametrize("body", [
    "<p>Typeset: <span class='math notranslate nohighlight'>\\(\\sigma_{\\min}\\)</span>.</p>",
    "<div class='math notranslate nohighlight'>\\[\\kappa(A) = \\|A\\|\\]</div>",
    "<p>Code: <code class='docutils literal'><span class='pre'>$HOME</span></code></p>",
    "<div class='highlight'><pre>print(f'{x:$^10}')  # \\frac</pre></div>",
])
def test_rendered_math_and_code_are_not_raw(body):
    assert raw_math(reader_text(_page(body))) == [], body


@pytest.mark.parametrize("body", [
    "<p>This is **not bold**.</p>",
    "<li>**Bold** at the start of an item</li>",
    "<p>Call `invlib.inverse` here.</p>",
    "<p>See {ref}`sec-ch01-preimage`.</p>",
    "<p>See [the docs](https://example.org).</p>",
    "<p>:::{admonition} Answer</p>",
])
def test_unrendered_markdown_is_found(body):
    assert unrendered_markdown(reader_text(_page(body))), body


def test_rendered_markdown_is_not_flagged():
    body = ("<p>This is <strong>bold</strong>, <code>code `x`</code> and <a href='a.html'>a link</a> (a * b), "
            "at most 2**20 entries.</p>")
    assert unrendered_markdown(reader_text(_page(body))) == []


SYNTHETIC_BIB = """
@article{cited2020,
  title = {A}, author = {Doe, J.}, year = {2020}
}
@comment{not an entry}
@book{ uncited2021 ,
  title = {B}, author = {Roe, R.}, year = {2021}
}
"""


def test_uncited_entries_are_found():
    sources = ["Some text {cite}`cited2020` and more.", "No citation here."]
    assert uncited(SYNTHETIC_BIB, sources) == {"uncited2021"}
    assert uncited(SYNTHETIC_BIB, sources + ["{cite:t}`other,uncited2021`"]) == set()
    assert uncited(SYNTHETIC_BIB, []) == {"cited2020", "uncited2021"}


def test_cited_keys_reads_every_cite_role():
    text = "{cite}`a` {cite:p}`b, c` {cite:t}`d` :cite:p:`e` `{cite}` not a role"
    assert cited_keys(text) == {"a", "b", "c", "d", "e"}


def test_objective_without_a_link_is_found():
    html = _page("""<div class="admonition tip"><p class="admonition-title">Learning objectives</p><ul>
        <li><p>explain X (<a class="reference internal" href="#sec-x"><span>The X</span></a>)</p></li>
        <li><p>compute Y</p></li></ul></div>""")
    links = objective_links(html)
    assert [bool(hrefs) for _, hrefs in links] == [True, False]


def test_unresolved_reference_is_found():
    html = _page('<p><a class="reference internal" href="#a"><span class="std std-ref">A</span></a> and '
                 '<span class="xref std std-ref">sec-missing</span></p>')
    assert unresolved_references(html) == ["sec-missing"]


def test_citation_landing_on_another_label_is_found():
    bibliography = ('<div class="citation" id="id1" role="doc-biblioentry"><span class="label">'
                    '<span class="fn-bracket">[</span>Dinh <em>et al.</em>, 2017<span class="fn-bracket">]</span>'
                    '</span><p>...</p></div><div class="citation" id="id2"><span class="label">[1]</span></div>')
    good = '<span class="bibtex-citation">[<a href="bibliography.html#id1">Dinh <em>et al.</em>, 2017</a>]</span>'
    numbered = '<span class="bibtex-citation">[<a href="bibliography.html#id2">Dinh <em>et al.</em>, 2017</a>]</span>'
    assert citation_mismatches(_page(good), bibliography) == []
    assert citation_mismatches(_page(numbered), bibliography)


# ---------------------------------------------------------------------------------------------------------------
# The built book


def _built(doc: str) -> str:
    page = HTML / f"{doc}.html"
    if not page.exists():
        pytest.fail(f"{page} is not built: run `make book`")
    return page.read_text()


CHAPTERS = [d for d in toc_files() if re.search(r"/part\d/\d\d_", d)]


@pytest.mark.parametrize("doc", toc_files())
def test_book_pages_show_no_raw_math(doc):
    found = raw_math(reader_text(_built(doc)))
    assert not found, f"{doc} shows raw math:\n" + "\n".join(found[:10])


@pytest.mark.parametrize("doc", toc_files())
def test_book_pages_show_no_unrendered_markdown(doc):
    found = unrendered_markdown(reader_text(_built(doc)))
    assert not found, f"{doc} shows Markdown markup:\n" + "\n".join(found[:10])


@pytest.mark.parametrize("doc", toc_files())
def test_book_cross_references_resolve(doc):
    assert not unresolved_references(_built(doc)), f"{doc}: unresolved references"


def test_book_every_bib_entry_is_cited():
    sources = [source_of(doc).read_text() for doc in toc_files()]
    missing = uncited(BIB.read_text(), sources)
    assert not missing, f"references.bib entries that no page cites (cite them or remove them): {sorted(missing)}"


def test_book_every_citation_names_an_entry():
    cited = set().union(*(cited_keys(source_of(doc).read_text()) for doc in toc_files()))
    unknown = cited - bib_keys(BIB.read_text())
    assert not unknown, f"cited but not in references.bib: {sorted(unknown)}"


@pytest.mark.parametrize("doc", [d for d in toc_files() if "{cite" in source_of(d).read_text()])
def test_book_citations_match_their_entries(doc):
    bibliography = _built("book/bibliography")
    wrong = citation_mismatches(_built(doc), bibliography)
    assert not wrong, f"{doc}: " + "; ".join(wrong[:5])


@pytest.mark.parametrize("doc", CHAPTERS)
def test_book_learning_objectives_link_where_they_are_met(doc):
    objectives = objective_links(_built(doc))
    assert objectives, f"{doc} has no 'Learning objectives' admonition"
    unlinked = [text for text, hrefs in objectives if not hrefs]
    assert not unlinked, f"{doc}: objectives without a {{ref}}/{{doc}} link to where they are met: {unlinked}"
    page = HTML / f"{doc}.html"
    dangling = [h for _, hrefs in objectives for h in hrefs if not anchor_exists(page, h)]
    assert not dangling, f"{doc}: objective links that lead nowhere: {dangling}"


@pytest.mark.parametrize("doc", CHAPTERS[1:])
def test_book_chapters_link_the_chapters_they_build_on(doc):
    """Every chapter after the first links at least one earlier chapter (its prerequisites)."""
    earlier = CHAPTERS[:CHAPTERS.index(doc)]
    page = HTML / f"{doc}.html"
    soup = BeautifulSoup(_built(doc), "html.parser")
    article = soup.select_one("article.bd-article") or soup
    targets = {str((page.parent / a["href"].partition("#")[0]).resolve())
               for a in article.select("a.reference.internal[href]") if a["href"].partition("#")[0]}
    linked = [d for d in earlier if str((HTML / f"{d}.html").resolve()) in targets]
    assert linked, f"{doc} links none of the chapters before it"


def test_book_has_labelled_equations_referenced_across_chapters():
    """At least one labelled equation is cited ({eq}) from a chapter other than its own."""
    found = []
    for doc in CHAPTERS:
        page = HTML / f"{doc}.html"
        for a in BeautifulSoup(_built(doc), "html.parser").select("a.reference.internal[href*='#equation-']"):
            target = a["href"].partition("#")[0]
            if target and (page.parent / target).resolve() != page.resolve():
                found.append(f"{doc} -> {a['href']}")
    assert found, "no chapter refers ({eq}) to a labelled equation of another chapter"


@pytest.mark.parametrize("doc", [d for d in CHAPTERS if "plt.show()" in source_of(d).read_text()])
def test_book_figures_are_svg(doc):
    """The build's kernels loaded book/_ipython (figures as SVG, text kept as text): no chapter shows a PNG plot."""
    soup = BeautifulSoup(_built(doc), "html.parser")
    images = [img["src"] for img in soup.select(".cell_output img[src]")]
    assert images, f"{doc} draws figures but shows none"
    raster = [src for src in images if not src.endswith(".svg")]
    assert not raster, (f"{doc}: figures that are not SVG (was the book built with `make book`, which sets "
                        f"IPYTHONDIR=book/_ipython?): {raster[:3]}")
