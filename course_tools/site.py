"""``course site``: the whole course as a static HTML site, every notebook executed in fast mode.

The notebooks are executed here, with the course's own runner, into a build folder; Sphinx with
MyST-NB then renders them without executing anything (``nb_execution_mode = "off"``), so a build
needs no network: the theme's assets come with its package, MathJax with sphinx-mathjax-offline.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from course_utils import config
from course_utils.system import usable_cpus

import nbformat

from . import notebooks

REPOSITORY = notebooks.repository()  # the GitHub repository that the launch links open
# A notebook's "Open in Colab" badge, a line under its title: an image from another host.
COLAB_BADGE = re.compile(r"^\[!\[Open in Colab\]\([^)]*\)\]\([^)]*\)\n\n?", re.MULTILINE)
SITE_DIR = config.PROJECT_ROOT / "_build" / "site"
WELCOME = "00_welcome.ipynb"
# An overview that shows the verdicts the other notebooks of its folder record: it runs after them.
RUNS_AFTER_ITS_FOLDER = ("05_claims/claims.ipynb",)
# The packages the footer names, by their distribution names, read without importing them.
STAMPED_PACKAGES = {"Keras": "keras", "TensorFlow": "tensorflow", "PyTorch": "torch"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    '<p class="course-widget-note"><em>An interactive widget: it responds in a live Jupyter session. '
    "Launch this notebook on Binder or Colab (the rocket above) to use it.</em></p>"
)
# Sections of the navigation, by the notebook's folder (the welcome and explore notebooks have none).
CAPTIONS = {
    "": "Start here",
    "01_mlp": "Task 1: a multilayer perceptron",
    "02_cnn": "Task 2: a convolutional network",
    "03_rnn": "Task 3: a recurrent network",
    "04_compare": "Compare",
    "05_claims": "Blog claims, tested",
    "06_explore": "Explore",
}


def course_order(root: Path | None = None) -> list[Path]:
    """The notebooks in the order the welcome notebook's map links them; any it does not link, after them."""
    root = root or config.NOTEBOOKS_DIR
    welcome = nbformat.read(root / WELCOME, as_version=4)
    linked = [WELCOME]
    for cell in welcome.cells:
        if cell.cell_type == "markdown":
            linked += re.findall(r"\]\(([^)#\s]+\.ipynb)\)", cell.source)
    ordered = list(dict.fromkeys((root / name).resolve() for name in linked if (root / name).is_file()))
    return ordered + [path.resolve() for path in notebooks.course_notebooks(root) if path.resolve() not in ordered]


def execution_order(paths: list[Path], root: Path) -> list[Path]:
    """``paths``, with each overview moved after the last notebook of its folder."""
    order = list(paths)
    for name in RUNS_AFTER_ITS_FOLDER:
        overview = (root / name).resolve()
        if overview in order:
            order.remove(overview)
            last = max(i for i, path in enumerate(order) if path.parent == overview.parent)
            order.insert(last + 1, overview)
    return order


@dataclass
class Stamp:
    """What the site was executed with and on: the "last verified" line of every page's footer."""

    python: str
    packages: dict[str, str]
    cpu: str
    cores: str
    day: str = field(default_factory=lambda: date.today().isoformat())

    @classmethod
    def here(cls) -> Stamp:
        packages = {}
        for name, distribution in STAMPED_PACKAGES.items():
            try:
                packages[name] = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                packages[name] = "not installed"
        cores = f"{usable_cpus()} usable of {os.cpu_count()} cores"
        return cls(platform.python_version(), packages, cpu_model(), cores)

    def text(self) -> str:
        versions = ", ".join(f"{name} {version}" for name, version in self.packages.items())
        return (
            f"Executed in fast mode on {self.day} with Python {self.python}, {versions}, on {self.cpu} ({self.cores})."
        )


def cpu_model() -> str:
    """The processor's name, as Linux's /proc/cpuinfo gives it, else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine() or "an unknown CPU"


def for_the_site(notebook: nbformat.NotebookNode, relative: Path) -> nbformat.NotebookNode:
    """An executed notebook made fit for a static page.

    A widget needs a kernel, so its output becomes a note saying so, and the widget state goes
    (with it, MyST-NB would load the widgets' JavaScript from a CDN). A link to a file of the
    repository outside ``notebooks/`` (``docs/agreement.md``) points to that file on GitHub.
    """
    notebook.metadata.pop("widgets", None)
    depth = len(relative.parent.parts) + 1  # how many ../ lead from the notebook to the repository root
    outside = re.compile(r"\]\(((?:\.\./){" + str(depth) + r"})([^)\s]+)\)")
    for cell in notebook.cells:
        if notebooks.HOSTED_SETUP in cell.metadata.get("tags", []):  # installing the course means nothing on a web page
            cell.metadata["tags"] = [*cell.metadata["tags"], "remove-cell"]
        if cell.cell_type == "markdown":
            cell.source = COLAB_BADGE.sub("", cell.source)  # the page's header has the launch links
            cell.source = outside.sub(
                lambda m: f"](https://github.com/{REPOSITORY}/blob/HEAD/{m.group(2)})", cell.source
            )
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE}
    return notebook


def index_page(order: list[Path], root: Path, stamp: Stamp) -> str:
    """The site's front page: what the course is, the stamp, and the navigation in course order."""
    sections: dict[str, list[str]] = {}
    for path in order:
        relative = path.relative_to(root)
        folder = relative.parts[0] if len(relative.parts) > 1 else ""
        if folder == "" and relative.stem in CAPTIONS:  # 06_explore: a section of its own
            folder = relative.stem
        sections.setdefault(folder, []).append(relative.with_suffix("").as_posix())
    toctrees = "\n\n".join(
        f"```{{toctree}}\n:caption: {CAPTIONS.get(folder, folder)}\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```"
        for folder, pages in sections.items()
    )
    return (
        "# Keras, TensorFlow and PyTorch, side by side\n\n"
        "An open, hands-on deep-learning course: the same three tasks (an MLP, a CNN and an RNN on MNIST) "
        "written in Keras, in TensorFlow's low-level API and in PyTorch, then the claims that blog posts "
        "make about them, measured. Each page is a notebook of the course, executed in fast mode (the "
        "bundled 5,000-digit sample, a few epochs), so its outputs, plots and tables show; the rocket "
        "button at the top of a page opens it on Binder or Colab, to run it yourself.\n\n"
        f"{stamp.text()}\n\n"
        "Start with the [welcome notebook](00_welcome.ipynb), which gives the map of the course.\n\n"
        f"{toctrees}\n"
    )


def sphinx_config(stamp: Stamp) -> dict[str, object]:
    """Sphinx's settings, passed as overrides: the build folder needs no conf.py."""
    return {
        "project": "Keras, TensorFlow and PyTorch, side by side",
        "author": "the course team",
        "copyright": f"{stamp.day[:4]}, the course team",
        "extensions": ["myst_nb", "sphinx-mathjax-offline"],  # MathJax 3 from the package, not a CDN
        "exclude_patterns": ["results", "**/.ipynb_checkpoints"],
        "nb_execution_mode": "off",  # executed already, by the course's runner
        "nb_merge_streams": True,
        "myst_enable_extensions": ["dollarmath"],  # the RNN notebooks write the LSTM's update as math
        "myst_heading_anchors": 3,
        "html_theme": "sphinx_book_theme",
        "html_title": "Keras, TensorFlow and PyTorch, side by side",
        # Light or dark as the reader's system says; left unset, the theme's script logs an error on each page.
        "html_context": {"default_mode": "auto"},
        "html_theme_options": {
            "repository_url": f"https://github.com/{REPOSITORY}",
            "repository_branch": "HEAD",
            "path_to_docs": "notebooks",
            "launch_buttons": {
                "binderhub_url": "https://mybinder.org",
                "colab_url": "https://colab.research.google.com",
                "notebook_interface": "jupyterlab",
            },
            "use_repository_button": True,
            "extra_footer": f'<p class="course-stamp">{stamp.text()}</p>',
        },
    }


@dataclass
class SiteReport:
    """What ``course site`` did: the pages, the notebooks that failed, and the static check's findings."""

    html: Path
    pages: int
    failed: list[notebooks.RunOutcome]
    problems: list[str]
    warnings: int


def build_site(
    out: Path = SITE_DIR, paths: list[Path] | None = None, root: Path | None = None, timeout: int = 1800
) -> SiteReport:
    """Execute ``paths`` (default: every notebook) in fast mode into ``out/source``, render ``out/html``, check it."""
    root = (root or config.NOTEBOOKS_DIR).resolve()
    order = [path.resolve() for path in paths] if paths else course_order(root)
    source, results = out / "source", out / "results"
    for stale in (source, results):
        shutil.rmtree(stale, ignore_errors=True)  # a notebook removed since the last build leaves no page
    source.mkdir(parents=True)
    env = {
        "COURSE_FAST": "1",
        "COURSE_RESULTS_DIR": str(results),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Jupyter's own backend, whatever the caller's MPLBACKEND (the tests set Agg, which shows no figure).
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    failed = []
    stamp = Stamp.here()
    runs = execution_order(order, root)
    for number, path in enumerate(runs, 1):
        relative = path.relative_to(root)
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{number}/{len(runs)}] executing {relative} ...", end=" ", flush=True)
        outcome = notebooks.run_notebook(path, env=env, timeout=timeout, save_to=target)
        print(f"{'ok' if outcome.ok else 'FAILED'} ({outcome.seconds:.0f} s)", flush=True)
        if not outcome.ok:
            print(f"    {outcome.error}", flush=True)
            failed.append(outcome)
        if target.is_file():
            nbformat.write(for_the_site(nbformat.read(target, as_version=4), relative), target)
    (source / "index.md").write_text(index_page(order, root, stamp), encoding="utf-8")
    print("rendering with Sphinx and MyST-NB ...", flush=True)
    warnings = render(source, out, stamp)
    html = out / "html"
    return SiteReport(html, len(site_pages(html)), failed, check_html(html), warnings)


def render(source: Path, out: Path, stamp: Stamp) -> int:
    """Sphinx's HTML build of ``source`` into ``out/html``; returns the number of warnings it gave."""
    import io

    from sphinx.application import Sphinx

    warnings = io.StringIO()
    shutil.rmtree(out / "html", ignore_errors=True)
    app = Sphinx(
        str(source),
        None,  # no conf.py: every setting is an override
        str(out / "html"),
        str(out / "doctrees"),
        "html",
        confoverrides=sphinx_config(stamp),
        status=sys.stdout,
        warning=warnings,
        freshenv=True,
    )
    app.build()
    lines = [line for line in warnings.getvalue().splitlines() if "WARNING" in line or "ERROR" in line]
    for line in lines:
        print(f"    {line}")
    return len(lines)


def site_pages(html: Path) -> list[Path]:
    """The site's HTML pages, without the theme's assets and the sources Sphinx copies."""
    return sorted(
        path for path in html.rglob("*.html") if not {"_static", "_sources", "_images"} & set(path.parts[-3:])
    )


class _PageParser(HTMLParser):
    """Collects a page's ids, internal links, images, external assets, outputs flagged as errors, and H1s."""

    OUTPUT_CLASSES = ("traceback", "stderr")

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.error_outputs: list[str] = []
        self.h1 = 0
        self._in_article = 0  # the theme repeats the title in a print-only header: count the article's H1s

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        self._in_article += tag == "article"
        self.h1 += tag == "h1" and self._in_article > 0
        classes = values.get("class", "").split()
        if "output" in classes and set(classes) & set(self.OUTPUT_CLASSES):
            self.error_outputs.append(" ".join(classes))
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        elif tag in ("img", "script") and values.get("src"):
            self.assets.append(values["src"])
        elif tag == "link" and values.get("rel") in ("stylesheet", "preload", "icon") and values.get("href"):
            self.assets.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        self._in_article -= tag == "article"


def check_html(html: Path) -> list[str]:
    """Problems in a built site, found without a browser: a link or asset that does not resolve,
    an asset fetched from the network, an error or stderr output, a traceback, not one H1 per page."""
    pages = site_pages(html)
    parsed = {}
    for page in pages:
        parser = _PageParser()
        text = page.read_text(encoding="utf-8")
        parser.feed(text)
        parsed[page] = (parser, text)
    anchors = {page.resolve(): parser.ids for page, (parser, _) in parsed.items()}
    problems = []
    for page, (parser, text) in parsed.items():
        name = page.relative_to(html).as_posix()
        if page.name not in ("genindex.html", "search.html") and parser.h1 != 1:
            problems.append(f"{name}: {parser.h1} H1 headings, not one")
        for kind in parser.error_outputs:
            problems.append(f"{name}: an output of class '{kind}'")
        if "Traceback (most recent call last)" in text:
            problems.append(f"{name}: a traceback")
        for url in parser.assets:
            if urlsplit(url).scheme in ("http", "https") or url.startswith("//"):
                problems.append(f"{name}: fetches {url} from the network")
            elif not urlsplit(url).scheme and not (page.parent / unquote(urlsplit(url).path)).resolve().is_file():
                problems.append(f"{name}: missing asset {url}")
        for url in parser.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{name}: broken link {url}")
            elif parts.fragment and target in anchors and unquote(parts.fragment) not in anchors[target]:
                problems.append(f"{name}: link {url} names no anchor of its page")
    return problems
