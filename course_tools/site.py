"""``course site``: the whole course as a static HTML site, every notebook executed in fast mode.

The notebooks are executed here, with the course's own runner, into a build folder; Sphinx with
MyST-NB then renders them without executing anything (``nb_execution_mode = "off"``), so a build
needs no network: the theme's assets come with its package, MathJax with sphinx-mathjax-offline.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
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
# A widget that carries a still picture of itself (image/png, described by its text/plain) shows it, after this.
STILL_NOTE = (
    '<p class="course-widget-note"><em>A still picture of an interactive widget, drawn when this page was built. '
    "Launch this notebook on Binder or Colab (the rocket above) to use the widget.</em></p>"
)
# The text/plain that Python and Matplotlib give an object by default: "<Figure size 1000x790 with 4 Axes>".
DEFAULT_REPR = re.compile(r"<[^<>]*>")
IMAGE_NAME = re.compile(r"\S*\.(?:png|jpe?g|gif|svg)", re.IGNORECASE)
# The site's own style sheet: an output's plot or picture fills the column, whatever size it was drawn at.
STYLE_SHEET = "course.css"
CSS = """\
/* The course site's own rules (course_tools/site.py). */
div.cell_output img {
  width: 100%;
  max-width: 100%;
  height: auto;
}
/* A table of results fits the column: a smaller type and tighter cells than the prose's. */
div.cell_output table.dataframe {
  font-size: 0.8rem;
}
div.cell_output table.dataframe th,
div.cell_output table.dataframe td {
  padding: 0.2em 0.45em;
}
"""
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


def for_the_site(
    notebook: nbformat.NotebookNode, relative: Path, private: dict[str, str] | None = None
) -> nbformat.NotebookNode:
    """An executed notebook made fit for a static page.

    A widget needs a kernel, so its output becomes a note saying so, followed by the still picture
    that the widget carries if it has one (its ``image/png``, with its ``text/plain`` as the alt text);
    the widget state goes (with it, MyST-NB would load the widgets' JavaScript from a CDN). A link to a
    file of the repository outside ``notebooks/`` (``docs/agreement.md``) points to that file on GitHub.
    In the outputs' text, each key of ``private`` (a folder of the build) is replaced by its value.
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
                lambda m: f"](https://github.com/{notebooks.repository()}/blob/HEAD/{m.group(2)})", cell.source
            )
        outputs = []
        for output in cell.get("outputs", []):
            _hide_paths(output, private or {})
            data = output.get("data", {})
            if WIDGET_MIME not in data:
                outputs.append(output)
            elif "image/png" in data and alt_text(data):
                note = nbformat.v4.new_output("display_data", {"text/html": STILL_NOTE})
                output["data"] = {"image/png": data["image/png"], "text/plain": data["text/plain"]}
                outputs += [note, output]
            else:
                output["data"] = {"text/html": WIDGET_NOTE}
                outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return notebook


def _hide_paths(output: nbformat.NotebookNode, private: dict[str, str]) -> None:
    """Replace the build's folders in an output's text (a stream, or text/plain, text/html, text/markdown)."""

    def hidden(text: str | list[str]) -> str:
        text = "".join(text) if isinstance(text, list) else text
        for folder in sorted(private, key=len, reverse=True):  # the longest first: a folder before its parent
            text = text.replace(folder, private[folder])
        return text

    if "text" in output:
        output["text"] = hidden(output["text"])
    for mime in ("text/plain", "text/html", "text/markdown"):
        if mime in output.get("data", {}):
            output["data"][mime] = hidden(output["data"][mime])


def alt_text(data: dict[str, object]) -> str:
    """What a picture's ``text/plain`` says about it, or ``""`` if that is only a default repr or empty.

    The course's convention: a picture is a display_data output whose mimebundle holds ``image/png``
    and ``text/plain``, and that text describes the picture. Matplotlib's own ``<Figure size ...>`` does not.
    """
    text = data.get("text/plain", "")
    text = ("".join(text) if isinstance(text, list) else str(text)).strip()
    return "" if DEFAULT_REPR.fullmatch(text) else text


def picture_alts(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The alt text of each picture among a notebook's outputs, keyed by the sha256 of its PNG bytes."""
    alts = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data and alt_text(data):
                png = data["image/png"]
                png = base64.b64decode("".join(png) if isinstance(png, list) else png)
                alts[hashlib.sha256(png).hexdigest()] = alt_text(data)
    return alts


def _alts_from_outputs(app: object, doctree: object) -> None:
    """Sphinx's ``doctree-read``: give each output picture without an alt its output's text/plain.

    MyST-NB takes an image's alt from its cell's ``mystnb.image.alt`` only, the same for every picture
    of the cell; a picture it leaves without one gets the text of its own output, found by its bytes.
    """
    from docutils import nodes

    env = app.env  # type: ignore[attr-defined]
    source = Path(env.doc2path(env.docname))
    if source.suffix != ".ipynb":
        return
    alts = picture_alts(nbformat.read(source, as_version=4))
    for image in doctree.findall(nodes.image):  # type: ignore[attr-defined]
        if image.get("alt", "").strip() or "://" in image["uri"]:
            continue
        # MyST-NB writes outputs beside the source folder and gives their path relative to it, for a page
        # in a subfolder too; Sphinx's own rule is relative to the page. Whichever file exists is the one.
        uri = image["uri"].lstrip("/")
        candidates = [Path(env.srcdir) / uri, Path(env.relfn2path(image["uri"], env.docname)[1])]
        for path in candidates:
            with contextlib.suppress(OSError):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest in alts:
                    image["alt"] = alts[digest]
                    break


def setup(app: object) -> dict[str, object]:
    """This module as a Sphinx extension (``sphinx_config`` names it): alt texts from the outputs."""
    app.connect("doctree-read", _alts_from_outputs)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "parallel_write_safe": True}


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
        # MathJax 3 from the package, not a CDN; this module for the pictures' alt texts (setup, above).
        "extensions": ["myst_nb", "sphinx-mathjax-offline", __name__],
        "exclude_patterns": ["results", "**/.ipynb_checkpoints"],
        "nb_execution_mode": "off",  # executed already, by the course's runner
        "nb_merge_streams": True,
        "myst_enable_extensions": ["dollarmath"],  # the RNN notebooks write the LSTM's update as math
        "myst_heading_anchors": 3,
        "html_theme": "sphinx_book_theme",
        "html_static_path": ["_static"],  # build_site writes the course's style sheet there
        "html_css_files": [STYLE_SHEET],
        "html_title": "Keras, TensorFlow and PyTorch, side by side",
        # Light or dark as the reader's system says; left unset, the theme's script logs an error on each page.
        "html_context": {"default_mode": "auto"},
        "html_theme_options": {
            "repository_url": f"https://github.com/{notebooks.repository()}",  # the launch links open it
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
    out: Path = SITE_DIR,
    paths: list[Path] | None = None,
    root: Path | None = None,
    timeout: int = 1800,
    settings: config.Settings | None = None,
) -> SiteReport:
    """Execute ``paths`` (default: every notebook) in fast mode into ``out/source``, render ``out/html``, check it.

    ``settings`` (default: the environment's) are those the notebooks run under, in fast mode, with their records
    in ``out/results``.
    """
    root = (root or config.NOTEBOOKS_DIR).resolve()
    order = [path.resolve() for path in paths] if paths else course_order(root)
    source, results = out / "source", out / "results"
    for stale in (source, results):
        shutil.rmtree(stale, ignore_errors=True)  # a notebook removed since the last build leaves no page
    source.mkdir(parents=True)
    settings = (settings or config.settings()).replace(fast=True, results_dir=results)
    # Jupyter's own backend, whatever the caller's MPLBACKEND (the tests set Agg, which shows no figure).
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    stamp = Stamp.here()
    jobs = []
    for path in execution_order(order, root):
        relative = path.relative_to(root)
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        jobs.append(notebooks.Job(path, settings, f"executing {relative}", source / relative, env))
    failed = [outcome for outcome in notebooks.run_jobs(jobs, timeout) if not outcome.ok]
    for job in jobs:
        if job.save_to.is_file():
            relative = job.path.relative_to(root)
            notebook = for_the_site(nbformat.read(job.save_to, as_version=4), relative, private_paths(out, results))
            nbformat.write(notebook, job.save_to)
    (source / "index.md").write_text(index_page(order, root, stamp), encoding="utf-8")
    (source / "_static").mkdir(exist_ok=True)
    (source / "_static" / STYLE_SHEET).write_text(CSS, encoding="utf-8")
    print("rendering with Sphinx and MyST-NB ...", flush=True)
    warnings = render(source, out, stamp)
    html = out / "html"
    problems = check_html(html, private=list(private_paths(out, results)))
    return SiteReport(html, len(site_pages(html)), failed, problems, warnings)


def private_paths(out: Path, results: Path) -> dict[str, str]:
    """The build's folders as outputs may print them, each with what a page says instead.

    The records folder reads as ``results`` (where a learner's records go), the checkout as nothing
    (``/home/me/course/runs/x`` reads ``runs/x``), the build folder as ``_build``.
    """
    paths = {str(results.resolve()): "results", str(out.resolve()): "_build"}
    paths[config.shown_path(results)] = "results"  # _build/site/results, as config.shown_path writes it
    paths[str(config.PROJECT_ROOT) + os.sep] = ""
    paths[str(config.PROJECT_ROOT)] = "."
    return {folder: shown for folder, shown in paths.items() if folder not in ("results", "", ".")}


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
        self.images_without_alt: list[str] = []
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
        if tag == "img" and not meaningful_alt(values.get("alt", ""), values.get("src", "")):
            self.images_without_alt.append(values.get("src", "") or "an image without src")
        elif tag == "link" and values.get("rel") in ("stylesheet", "preload", "icon") and values.get("href"):
            self.assets.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        self._in_article -= tag == "article"


def meaningful_alt(alt: str, src: str) -> bool:
    """Whether an image's alt text says something: not empty, not its file's name (docutils' default)."""
    alt = alt.strip()
    return bool(alt) and alt != src and not IMAGE_NAME.fullmatch(alt)


def check_html(html: Path, private: list[str] = ()) -> list[str]:
    """Problems in a built site, found without a browser: a link or asset that does not resolve,
    an asset fetched from the network, an image without a meaningful alt text, an error or stderr output,
    a traceback, not one H1 per page, and a page that shows one of the ``private`` paths (the build's)."""
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
        for src in parser.images_without_alt:
            problems.append(f"{name}: an image without alt text: {src}")
        for folder in private:
            if folder in text:
                problems.append(f"{name}: shows the build's path {folder}")
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
