"""The built book as a reader sees it, in a real browser (Debian's headless Chromium driven by Playwright).

Every page loads with no JavaScript errors; every figure has a size; every table fits its container or scrolls
inside it; no cell shows a traceback. A screenshot of what a reader sees without scrolling is kept for each page
under ``_build/screenshots/``. Skipped, saying why, where the book is not built or Chromium is not installed
(``apt-get install chromium``); CI installs it and sets ``GSSD_REQUIRE_BROWSER``, so there it cannot be skipped.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = sorted(p.stem for p in (HTML / "book").glob("*.html")) if (HTML / "book").is_dir() else []
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]


def _missing(what: str, fix: str, variable: str) -> None:
    if os.environ.get(variable):
        pytest.fail(f"{variable} is set but {what}. Fix: {fix}")
    pytest.skip(f"{what}. Fix: {fix}")


@pytest.fixture(scope="module")
def server():
    """The built book over HTTP on a free local port (scripts behave as on a web server, not as on file://)."""
    if not PAGES:
        _missing("the book has not been built", "run `make book PROFILE=smoke`", "GSSD_REQUIRE_BOOK")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *_args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _missing("Chromium is not installed", "apt-get install chromium", "GSSD_REQUIRE_BROWSER")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


# what a page shows, measured in the page: figure sizes, tables that overflow their cell without a scroll bar,
# and any cell output that is an error
_MEASURE = """() => {
  const main = document.querySelector('main') || document.body;
  const figures = [...main.querySelectorAll('img')].map(i => ({src: i.src.split('/').pop(),
      natural: i.naturalWidth * i.naturalHeight, shown: i.getBoundingClientRect().width}));
  const scrolls = e => { for (; e && e !== main; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
  const tables = [...main.querySelectorAll('table')].map(t => {
      const box = t.closest('.cell_output, .output, article') || main;
      return {width: Math.round(t.getBoundingClientRect().width), room: Math.round(box.getBoundingClientRect().width),
              scrolls: scrolls(t.parentElement)}; });
  const errors = [...main.querySelectorAll('.traceback, .output_error, .output.error')].length
      + (main.innerText.includes('Traceback (most recent call last)') ? 1 : 0);
  return {figures, tables, errors};
}"""


@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_well_in_a_browser(server, browser, page):
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    # name what failed to load (the console only says "404")
    tab.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url.removeprefix(server)}") if r.status >= 400
           else None)
    response = tab.goto(f"{server}/book/{page}.html", wait_until="networkidle")
    assert response is not None and response.ok, f"{page}: HTTP {response and response.status}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{page}.png"))
    measured = tab.evaluate(_MEASURE)
    tab.close()
    assert not problems, f"{page}: JavaScript console errors: {problems}"
    empty = [f["src"] for f in measured["figures"] if f["natural"] == 0 or f["shown"] == 0]
    assert not empty, f"{page}: figures with no size: {empty}"
    cut = [t for t in measured["tables"] if t["width"] > t["room"] + 1 and not t["scrolls"]]
    assert not cut, f"{page}: tables wider than their container that do not scroll: {cut}"
    assert measured["errors"] == 0, f"{page}: a cell shows an error or a traceback"
