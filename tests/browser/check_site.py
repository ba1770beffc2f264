"""Check the built course site in a real browser: CI runs it on the site that `course site` built (.ci/run).

From the repository root, with the course's virtual environment active, after `course site`:

    apt-get install chromium && pip install -r tests/browser/requirements.txt
    python tests/browser/check_site.py [--site _build/site/html] [--keep-screenshots DIR]

No `playwright install`: Playwright drives the Chromium it is given (Debian's, on PATH). It serves the site
on a local port and opens every page in headless Chromium. On each page it checks that the page loads, has
one H1, that no cell shows an error, a traceback or a stderr output, that every image loads (naturalWidth >
0) with an alt text that says something (not empty, not its file's name), that an output's picture fills
the width of its column, that nothing is fetched from another host, and that the page logs no JavaScript
error; then that every internal link, anchor included, resolves. It prints PASS or FAIL per check and exits
0 only if all pass.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

try:
    from playwright.sync_api import Error, Page, sync_playwright
except ImportError:
    sys.exit("This check needs Playwright: pip install -r tests/browser/requirements.txt (no `playwright install`).")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from course_tools.site import SITE_DIR, meaningful_alt, site_pages  # noqa: E402  (the checkout's)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
# What a page reports about itself, read in the browser once it has loaded.
PAGE_STATE = """() => {
const text = el => el.innerText.trim().slice(0, 300);
return {
  h1: document.querySelectorAll('article h1').length,
  images: [...document.images].map(i => ({
    src: i.currentSrc || i.src, done: i.complete, width: i.naturalWidth,
    alt: i.getAttribute('alt') || '', attribute: i.getAttribute('src') || '',
    shown: i.getBoundingClientRect().width, column: (i.closest('.cell_output') || i).clientWidth,
  })),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  errorOutputs: [...document.querySelectorAll('.output.traceback, .output.error, .output.stderr')].map(text),
  tracebacks: [...document.querySelectorAll('.cell_output')].map(text).filter(t => t.includes('Traceback')),
  cells: document.querySelectorAll('.cell_output').length,
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('.math mjx-container').length,
};
}"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site, remembering each request the server could not answer (a missing file)."""

    missing: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        if len(args) > 1 and str(args[1]) == "404":
            self.missing.append(self.path)


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on a free local port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def load(page: Page, url: str, timeout: float = 30) -> dict:
    """Open ``url``, let every image load (lazy ones too) and MathJax typeset, and return :data:`PAGE_STATE`."""
    page.goto(url, wait_until="load", timeout=timeout * 1000)
    page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = page.evaluate(PAGE_STATE)
        if page.evaluate("() => document.readyState") == "complete" and all(i["done"] for i in state["images"]):
            return state
        time.sleep(0.2)
    return page.evaluate(PAGE_STATE)


class Checks:
    """PASS or FAIL lines, and the names of the failed checks."""

    def __init__(self) -> None:
        self.passed, self.failed = 0, []

    def __call__(self, name: str, problems: list, evidence: object = "") -> None:
        self.passed += not problems
        if problems:
            self.failed.append(name)
        print(f"{'PASS' if not problems else 'FAIL'} {name}: {problems[:5] if problems else evidence}", flush=True)


def check_site(site: Path, page: Page, shots: Path | None) -> Checks:
    checks = Checks()
    pages = site_pages(site)
    states, links = {}, set()
    logged: list[str] = []  # the console's errors and the page's uncaught exceptions, as they come
    page.on(  # a resource that failed names its address in the message's location, not in its text
        "console",
        lambda message: (
            logged.append(f"{message.text} {message.location.get('url', '')}".strip())
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: logged.append(str(error)))
    with served(site) as base:
        origin = urlsplit(base).netloc
        for path in pages:
            name = path.relative_to(site).as_posix()
            logged.clear()
            state = load(page, base + name)
            states[name] = state
            if shots:
                page.screenshot(path=str(shots / (name.replace("/", "_") + ".png")))
            console = [message[:200] for message in logged if "/favicon.ico" not in message]
            foreign = [i["src"] for i in state["images"] if urlsplit(i["src"]).netloc not in ("", origin)]
            broken = [i["src"] for i in state["images"] if i["width"] == 0] + foreign
            without_alt = [i["src"] for i in state["images"] if not meaningful_alt(i["alt"], i["attribute"])]
            # An output's picture (inside .cell_output) spans its column, whatever size it was drawn at.
            small = [i["src"] for i in state["images"] if i["column"] and i["shown"] < 0.95 * i["column"]]
            one_h1 = name in ("genindex.html", "search.html") or state["h1"] == 1
            checks(
                f"{name}: loads, one H1, {len(state['images'])} images load with alt texts and fill their column, "
                f"{state['cells']} outputs clean, "
                f"{state['math']} formulas typeset",
                [f"{state['h1']} H1s"] * (not one_h1)
                + [f"image: {src}" for src in broken]
                + [f"image without alt text: {src}" for src in without_alt]
                + [f"image narrower than its column: {src}" for src in small]
                + [f"output: {text}" for text in state["errorOutputs"] + state["tracebacks"]]
                + [f"math: {state['typeset']} of {state['math']} formulas typeset"] * (state["typeset"] < state["math"])
                + [f"console: {message}" for message in console],
            )
            links.update(url for url in state["links"] if urlsplit(url).netloc == origin)
        ids = {name: set(state["ids"]) for name, state in states.items()}
        unresolved = []
        for url in sorted(links):
            parts = urlsplit(url)
            path = unquote(parts.path).lstrip("/") or "index.html"
            path = path + "index.html" if path.endswith("/") else path
            if not (site / path).is_file():
                unresolved.append(url)
            elif parts.fragment and path in ids and unquote(parts.fragment) not in ids[path]:
                unresolved.append(f"{url} (no such anchor)")
        checks(f"every internal link resolves ({len(links)} distinct links)", unresolved)
        # A browser asks every site for /favicon.ico by itself; no page of this one links to it.
        missing = sorted(set(QuietHandler.missing) - {"/favicon.ico"})
        checks("the server was asked for no missing file", missing)
    images = sum(len(state["images"]) for state in states.values())
    print(f"{len(pages)} pages, {len(links)} distinct internal links, {images} images checked")
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=SITE_DIR / "html", help="the built site (default: %(default)s)")
    parser.add_argument(
        "--chromium",
        default=shutil.which("chromium") or shutil.which("chromium-browser"),
        help="the Chromium to drive (default: chromium on PATH, else Playwright's own)",
    )
    parser.add_argument("--keep-screenshots", type=Path, metavar="DIR", help="save a screenshot of each page in DIR")
    args = parser.parse_args()
    if not (args.site / "index.html").is_file():
        parser.error(f"no site in {args.site}: build it first with `course site`")
    if args.keep_screenshots:
        args.keep_screenshots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            checks = check_site(args.site.resolve(), browser.new_page(viewport=VIEWPORT), args.keep_screenshots)
        except Error as error:
            print(f"FAIL the browser session ran to the end: {error.message}")
            return 1
        finally:
            browser.close()
    print(f"{checks.passed} passed, {len(checks.failed)} failed" + "".join(f"\n  failed: {n}" for n in checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
