"""The built book works for a reader in a real browser, offline.

Playwright drives Debian's chromium (``/usr/bin/chromium``; ``make test`` installs it) against the built
HTML served on 127.0.0.1. Every request to any other host is blocked and recorded: a page that needs the
network to render its math or widgets fails here, as it would in a classroom without internet.
A full-page screenshot of every page is saved under ``_build/screenshots/`` for review.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml
from bs4 import BeautifulSoup

from tests.course.test_book import HTML, REPO, source_of, toc_files

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
]
SEARCH_TERM = "preimage"  # a word from chapter 1 that the search page must find
SEARCH_PAGE = "book/part1/01_inverting_a_function"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 -- keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """Everything that went wrong while a page loaded."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed: list[str] = []
        self.external: list[str] = []


@pytest.fixture
def open_page(browser, server):
    """``open_page(doc) -> (page, log)``: load a page with external hosts blocked and errors recorded."""
    contexts = []

    def _open(path: str, viewport: tuple[int, int] = (1280, 900)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
        contexts.append(context)
        log = PageLog()

        def route(r):
            if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith("data:"):
                r.continue_()
            else:
                log.external.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: urlparse(r.url).hostname == "127.0.0.1" and log.failed.append(r.url))
        page.on("response", lambda r: r.status >= 400 and log.failed.append(f"{r.status} {r.url}"))
        page.goto(urljoin(server, path), wait_until="networkidle")
        return page, log

    yield _open
    for context in contexts:
        context.close()


def has_math(doc: str) -> bool:
    """Whether Sphinx emitted math on the built page (a ``$`` inside a code block is not math)."""
    soup = BeautifulSoup((HTML / f"{doc}.html").read_text(), "html.parser")
    return soup.select_one("article .math") is not None


def has_figures(doc: str) -> bool:
    return "plt.show()" in source_of(doc).read_text() or "explore(" in source_of(doc).read_text()


def wait_for_mathjax(page) -> None:
    """Wait until MathJax 3 has loaded and finished typesetting the page."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise.then(() => true)")


@pytest.mark.parametrize("doc", toc_files())
def test_page_loads_offline_with_figures_and_math(doc, open_page):
    page, log = open_page(f"{doc}.html")
    if has_math(doc):
        wait_for_mathjax(page)
        rendered = page.locator("mjx-container").count()
        assert rendered > 0, f"{doc}: its math was not rendered by MathJax"
        assert page.locator("mjx-merror").count() == 0, f"{doc}: MathJax reported a TeX error"
    images = page.eval_on_selector_all(
        "article img", "els => els.map(e => ({src: e.src, ok: e.complete && e.naturalWidth > 0}))"
    )
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"{doc}: images that did not load: {broken}"
    if has_figures(doc):
        assert page.locator(".cell_output img").count() > 0, f"{doc}: draws figures but none is on the page"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{doc.replace('/', '__')}.png"), full_page=True)
    assert not log.external, f"{doc}: requests to other hosts (the page must work offline): {log.external}"
    assert not log.failed, f"{doc}: missing local resources: {log.failed}"
    assert not log.page_errors, f"{doc}: JavaScript errors: {log.page_errors}"
    assert not log.console_errors, f"{doc}: console errors: {log.console_errors}"


def _internal_links(html_path: Path) -> list[tuple[str, str]]:
    """(target file, fragment) for every internal link on a built page."""
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    links = []
    for a in soup.select("a[href]"):
        href = a["href"]
        if urlparse(href).scheme or href.startswith(("mailto:", "javascript:")):
            continue
        target, _, fragment = href.partition("#")
        target_path = (html_path.parent / target).resolve() if target else html_path
        links.append((str(target_path), fragment))
    return links


def test_every_internal_link_and_anchor_resolves():
    ids_cache: dict[str, set[str]] = {}
    broken = []
    for doc in toc_files():
        page = HTML / f"{doc}.html"
        for target, fragment in _internal_links(page):
            path = Path(target)
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{doc}: -> {target}")
                continue
            if fragment and path.suffix == ".html":
                if target not in ids_cache:
                    soup = BeautifulSoup(path.read_text(), "html.parser")
                    ids_cache[target] = {t["id"] for t in soup.select("[id]")}
                if fragment not in ids_cache[target]:
                    broken.append(f"{doc}: -> {path.name}#{fragment}")
    assert not broken, f"broken internal links: {broken[:10]}"


def test_next_button_walks_the_table_of_contents(open_page):
    docs = toc_files()
    page, _ = open_page(f"{docs[0]}.html")
    for expected in docs[1:]:
        page.locator("a.right-next").first.click()
        page.wait_for_load_state("domcontentloaded")
        assert page.url.split("#")[0].endswith(f"{expected}.html"), f"next led to {page.url}, not {expected}"


def test_sidebar_links_open_every_chapter(open_page):
    page, _ = open_page(f"{toc_files()[0]}.html")
    hrefs = page.eval_on_selector_all("nav.bd-docs-nav a.reference.internal", "els => els.map(e => e.href)")
    reached = {urlparse(h).path.lstrip("/").removesuffix(".html") for h in hrefs}
    missing = set(toc_files()[1:]) - reached
    assert not missing, f"the sidebar does not link: {sorted(missing)}"


def test_search_finds_a_term_from_a_chapter(open_page):
    page, log = open_page(f"search.html?q={SEARCH_TERM}")
    results = page.locator("#search-results li a, ul.search li a")
    results.first.wait_for(timeout=30_000)
    hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert any(SEARCH_PAGE in h for h in hrefs), f"searching {SEARCH_TERM!r} did not find {SEARCH_PAGE}: {hrefs}"
    assert not log.external and not log.page_errors


def test_assignment_notebooks_download_from_their_chapter(open_page, tmp_path):
    chapters = [d for d in toc_files() if "_downloads" in (HTML / f"{d}.html").read_text()]
    assert chapters, "no chapter offers a download"
    for doc in chapters:
        page, _ = open_page(f"{doc}.html")
        links = page.locator("a.download[href$='.ipynb']")
        assert links.count() > 0, f"{doc}: no notebook download link"
        with page.expect_download() as info:
            links.first.click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        nb = json.loads(saved.read_text())
        sources = "\n".join("".join(c["source"]) for c in nb["cells"])
        assert re.fullmatch(r"ex\d\d_[a-z0-9_]+\.ipynb", saved.name), saved.name
        assert "raise NotImplementedError()" in sources, f"{saved.name} is not the student release"
        assert "BEGIN HIDDEN TESTS" not in sources and "BEGIN SOLUTION" not in sources


def test_launch_buttons_follow_the_config(open_page):
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    wanted = {k: v for k, v in config.get("launch_buttons", {}).items() if k.endswith("_url") and v}
    assert wanted, "no launch button is configured"
    page, _ = open_page(f"{SEARCH_PAGE}.html")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    if not (config["repository"].get("url") or "").strip():
        # The one setting is unset: the buttons are hidden (book/_ext/repository_buttons.py), none opens a placeholder.
        assert page.locator(".dropdown-launch-buttons").count() == 0, "launch buttons shown with no repository set"
        launch = [h for h in hrefs if any(h.startswith(url.rstrip("/")) for url in wanted.values())]
        assert not launch, f"launch links with no repository set: {launch}"
        return
    for name, url in wanted.items():
        assert any(h.startswith(url.rstrip("/")) for h in hrefs), f"no {name} launch button on {SEARCH_PAGE}"
    # Every button opens the chapter's .ipynb copy (Colab cannot open the .md); tests/course/test_book.py checks the
    # exact links of every chapter.
    launch = [h for h in hrefs if any(h.startswith(url.rstrip("/")) for url in wanted.values())]
    assert all(f"/{SEARCH_PAGE}.ipynb" in h for h in launch), f"a launch button does not open the .ipynb: {launch}"
    assert (REPO / f"{SEARCH_PAGE}.ipynb").exists()


def test_execution_report_lists_every_chapter_as_executed(open_page):
    page, _ = open_page("book/execution_report.html")
    table = page.locator("table").first
    text = table.inner_text()
    notebooks = [d for d in toc_files() if "```{code-cell}" in source_of(d).read_text()]
    for doc in notebooks:
        assert doc in text, f"the execution report has no row for {doc}"
    assert "❌" not in text, "the execution report shows a failed chapter"


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    yield


# ---------------------------------------------------------------------------------------------------------------
# The page as a reader sees it, on a laptop and on a phone (issue 16)

DESKTOP, PHONE = (1400, 900), (390, 844)
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# The smallest figure text, in CSS pixels at the size the figure is displayed. On a laptop a figure must be read as
# shown: 10 px. On a phone a 7-inch figure is shrunk to the ~360 px column; its 10 pt text becomes ~7 px, which a
# phone's 3x screen draws with ~20 device pixels -- small print, still sharp because the figures are SVG -- and every
# figure opens full size with one tap (book/_static/reader.js). Below 6 px it is unreadable.
MIN_FIGURE_TEXT_PX = {"desktop": 10.0, "phone": 6.0}
CHAPTER_DOCS = [d for d in toc_files() if re.search(r"/part\d/\d\d_", d)]

# The text a reader sees in the article, after MathJax has typeset the math: code, and typeset math, left out.
READER_TEXT_JS = """() => {
  const article = document.querySelector('article.bd-article') || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .headerlink, dt.sig').forEach(e => e.remove());
  return copy.textContent;
}"""


def _svg_text_size(svg: str) -> tuple[float, float] | None:
    """(viewBox width, smallest font size in viewBox units) of a matplotlib SVG with text kept as text.

    A mathtext label is one ``<text>`` of several ``<tspan>``: its size is its largest part (sub- and superscripts are
    set at 70% of it by design and are not counted on their own). None when the SVG has no text.
    """
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    view_box = root.get("viewBox")
    width = float(view_box.split()[2]) if view_box else float(re.sub(r"[a-z]+$", "", root.get("width", "0")))
    sizes = []
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        parts = [text] + list(text.iter("{http://www.w3.org/2000/svg}tspan"))
        found = [float(m.group(1)) for part in parts
                 for m in [re.search(r"font(?:-size)?:\s*([0-9.]+)px", part.get("style", ""))] if m]
        if found:
            sizes.append(max(found))
    return (width, min(sizes)) if sizes else None


def test_svg_text_size_reads_matplotlib_svg():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="504pt" height="288pt" viewBox="0 0 504 288">'
           '<text style="font-size: 10px; font-family: \'DejaVu Sans\'">0.5</text>'
           '<text><tspan style="font-style: oblique; font-size: 12px">s</tspan>'
           '<tspan style="font-size: 8.4px">min</tspan></text><text style="font: 8px sans-serif">tiny</text></svg>')
    assert _svg_text_size(svg) == (504.0, 8.0)
    assert _svg_text_size('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M0 0"/></svg>') is None


@pytest.mark.parametrize("size", VIEWPORTS)
def test_menu_opens(size, open_page):
    """The chapter list opens from the toggle (on a phone: the only way to reach it), and the phone's
    "Contents" button opens the page's table of contents."""
    page, log = open_page(f"{SEARCH_PAGE}.html", VIEWPORTS[size])
    sidebar = page.locator(".bd-sidebar-primary")
    toggle = page.locator(".primary-toggle:visible").first
    assert toggle.count() == 1, f"{size}: no visible sidebar toggle"

    def shown() -> bool:
        box = sidebar.bounding_box()
        return sidebar.is_visible() and box is not None and box["x"] >= -1 and box["width"] > 100

    if size == "phone":
        assert not shown(), "on a phone the chapter list starts closed"
        toggle.click()
        page.wait_for_timeout(600)
        assert shown(), "on a phone the sidebar toggle does not open the chapter list"
        link = sidebar.locator("a.reference.internal", has_text="Non-linearity").first
        assert link.is_visible(), "the opened chapter list does not show the chapters"
        page.reload(wait_until="networkidle")
        contents_button = page.locator(".secondary-toggle:visible")
        assert contents_button.count() == 1, "a chapter page on a phone has no Contents button"
        contents = page.locator(".bd-sidebar-secondary")
        assert not contents.is_visible() or contents.bounding_box()["x"] >= PHONE[0] - 1, "Contents starts open"
        contents_button.first.click()
        page.wait_for_timeout(600)
        box = contents.bounding_box()
        assert contents.is_visible() and box and box["x"] >= -1 and box["x"] + box["width"] <= PHONE[0] + 1 \
            and box["width"] > 100, "the phone's Contents button does not open the page's table of contents"
        assert contents.locator("a.nav-link").first.is_visible(), "the opened Contents list shows no sections"
    else:
        assert shown(), "on a laptop the chapter list starts open"
        toggle.click()
        page.wait_for_timeout(600)
        assert not shown(), "on a laptop the sidebar toggle does not hide the chapter list"
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(600)
        assert shown(), "on a laptop the sidebar toggle does not bring the chapter list back"
    assert not log.page_errors and not log.console_errors, (log.page_errors, log.console_errors)


def test_top_bar_holds_no_lone_search_box(open_page):
    """One search field (in the sidebar), not a second one alone in a top bar."""
    page, _ = open_page(f"{SEARCH_PAGE}.html", DESKTOP)
    fields = page.eval_on_selector_all(
        ".search-button-field, form.bd-search input",
        "els => els.filter(e => e.getBoundingClientRect().width > 0).map(e => e.getBoundingClientRect().y)")
    assert len(fields) == 1, f"{len(fields)} visible search fields (at heights {fields})"


@pytest.mark.parametrize("size", VIEWPORTS)
@pytest.mark.parametrize("doc", toc_files())
def test_page_fits_the_screen_and_shows_no_raw_math(doc, size, open_page):
    """No page scrolls sideways, and no code or output block does: long lines wrap (book/_static/reader.css).
    After MathJax has run, the reader sees no TeX source: no $, no \\( \\), no \\command outside code."""
    from tests.course.test_page_text import raw_math

    width, height = VIEWPORTS[size]
    page, _ = open_page(f"{doc}.html", (width, height))
    if has_math(doc):
        wait_for_mathjax(page)
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width + 1, f"{doc} is {page_width} px wide on a {width} px screen"
    sideways = page.eval_on_selector_all(
        "article pre", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 60))")
    assert not sideways, f"{doc}: {len(sideways)} code/output blocks scroll sideways at {width} px: {sideways[:3]}"
    found = raw_math(page.evaluate(READER_TEXT_JS))
    assert not found, f"{doc} shows raw math at {size} size:\n" + "\n".join(found[:10])


def test_figures_stay_on_white_in_dark_mode(browser, server):
    """A reader in dark mode sees each figure on its own white background (matplotlibrc: figure.facecolor white),
    not dark text on the dark page, and the theme does not invert it."""
    context = browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]}, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(urljoin(server, f"{SEARCH_PAGE}.html"), wait_until="networkidle")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        figures = page.eval_on_selector_all(
            ".cell_output img", "els => els.map(e => ({src: e.getAttribute('src'), filter: getComputedStyle(e).filter}))")
        assert figures
        page_dir = (HTML / SEARCH_PAGE).parent
        for figure in figures:
            assert "invert" not in figure["filter"], figure
            svg = (page_dir / figure["src"]).resolve().read_text()
            background = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="fill:\s*([^;"]+)', svg)
            assert background and background.group(1).strip() in ("#ffffff", "white"), \
                f"{figure['src']} has no white background: {background and background.group(1)}"
    finally:
        context.close()


@pytest.mark.parametrize("size", VIEWPORTS)
@pytest.mark.parametrize("doc", [d for d in CHAPTER_DOCS if has_figures(d)])
def test_figure_text_is_legible_at_displayed_size(doc, size, open_page):
    """Every figure is SVG with its text kept as text, and its smallest text, at the size the figure is shown, is at
    least MIN_FIGURE_TEXT_PX CSS pixels: font size (viewBox units) x displayed width / viewBox width."""
    page, _ = open_page(f"{doc}.html", VIEWPORTS[size])
    figures = page.eval_on_selector_all(
        ".cell_output img", "els => els.map(e => ({src: e.getAttribute('src'), url: e.src, "
        "shown: e.getBoundingClientRect().width, tapped: !!e.closest('a[href]')}))")
    assert figures, f"{doc}: no figure on the page"
    page_dir = (HTML / doc).parent
    problems, smallest = [], []
    for figure in figures:
        name = Path(figure["src"]).name
        if not figure["src"].endswith(".svg"):
            problems.append(f"{name} is not SVG (was the book built with `make book`?)")
            continue
        measured = _svg_text_size((page_dir / figure["src"]).resolve().read_text())
        if measured is None or figure["shown"] == 0:  # a figure without text, or one inside a closed dropdown
            continue
        view_width, font = measured
        px = font * figure["shown"] / view_width
        smallest.append(round(px, 1))
        if px < MIN_FIGURE_TEXT_PX[size]:
            problems.append(f"{name}: smallest text {px:.1f} px (font {font:g} units, figure {view_width:.0f} units "
                            f"wide shown at {figure['shown']:.0f} px)")
        if size == "phone" and not figure["tapped"]:
            problems.append(f"{name} does not open full size on a tap")
    assert not problems, f"{doc} at {size} size ({VIEWPORTS[size][0]} px): " + "; ".join(problems)
