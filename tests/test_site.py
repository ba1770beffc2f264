"""`course site`: the course's order, and a tiny site built, rendered and checked, without and with a browser.

CI builds the whole course's site and checks it in Chromium (.ci/run); here the browser check
(tests/browser/check_site.py) runs on the tiny site, so that it cannot rot between CI runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

from course_utils import config

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools import notebooks, site
from course_tools.notebooks import course_notebooks


def test_the_site_follows_the_welcome_map_and_runs_the_claims_overview_after_the_claims() -> None:
    order = [path.relative_to(config.NOTEBOOKS_DIR).as_posix() for path in site.course_order()]
    assert sorted(order) == sorted(p.relative_to(config.NOTEBOOKS_DIR).as_posix() for p in course_notebooks())
    assert order[:4] == ["00_welcome.ipynb", "01_mlp/keras.ipynb", "01_mlp/tensorflow.ipynb", "01_mlp/pytorch.ipynb"]
    assert order.index("05_claims/claims.ipynb") < order.index("05_claims/speed.ipynb")
    assert order[-1] == "06_explore.ipynb"
    runs = [
        path.relative_to(config.NOTEBOOKS_DIR).as_posix()
        for path in site.execution_order(site.course_order(), config.NOTEBOOKS_DIR)
    ]
    claims = [name for name in runs if name.startswith("05_claims/")]
    assert claims[-1] == "05_claims/claims.ipynb" and runs[-1] == "06_explore.ipynb"


def write(path: Path, *cells: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(cells=list(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> site.SiteReport:
    """Two notebooks, built into a site once for this module's tests."""
    tmp_path = tmp_path_factory.mktemp("tiny-course")
    root = tmp_path / "notebooks"
    plot = new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from course_lab import figures\n"
        "plt.bar(['keras', 'pytorch'], [1, 2], color=figures.framework_colours(['keras', 'pytorch']))\nplt.show()"
    )
    plot.metadata["mystnb"] = {"image": {"alt": "Two bars"}, "figure": {"caption": "Two bars."}}
    # A picture by the course's convention (its text/plain is its alt text), a widget with a still picture of
    # itself, a widget without one, and a cell that prints where the records go.
    picture = new_code_cell(
        "import base64, io\nfrom PIL import Image\nbuffer = io.BytesIO()\n"
        "Image.new('RGB', (40, 20), 'red').save(buffer, format='PNG')\n"
        "png = base64.b64encode(buffer.getvalue()).decode()\n"
        "display({'image/png': png, 'text/plain': 'A red rectangle, twice as wide as tall'}, raw=True)"
    )
    still = new_code_cell(
        "Image.new('RGB', (30, 30), 'blue').save(buffer := io.BytesIO(), format='PNG')\n"
        "widget = {'model_id': 'f00', 'version_major': 2, 'version_minor': 0}\n"
        "display({'application/vnd.jupyter.widget-view+json': widget, 'text/plain': 'A blue square: the widget',\n"
        "         'image/png': base64.b64encode(buffer.getvalue()).decode()}, raw=True)\n"
        "import ipywidgets\nipywidgets.IntSlider()"
    )
    where = new_code_cell("import os\nprint('records in', os.environ['COURSE_RESULTS_DIR'])")
    write(
        root / "00_welcome.ipynb",
        new_markdown_cell("# Welcome\n\nThe map: [the task](01_task/one.ipynb), and [a doc](../docs/agreement.md)."),
        new_code_cell("print('hello from the welcome notebook')"),
        plot,
        picture,
        still,
        where,
    )
    write(
        root / "01_task" / "one.ipynb",
        new_markdown_cell("# Task one\n\n[Back](../00_welcome.ipynb)"),
        new_code_cell("6 * 7"),
        # A picture on a page in a subfolder, whose file MyST-NB names relative to the source folder.
        new_code_cell(picture.source.replace("'red'", "'green'").replace("A red", "A green")),
    )
    return site.build_site(tmp_path / "site", root=root)


def test_a_tiny_course_builds_into_pages_with_outputs_launch_links_a_stamp_and_no_problem(
    tiny_site: site.SiteReport,
) -> None:
    report = tiny_site
    assert not report.failed and not report.problems, (report.failed, report.problems)
    assert report.pages == 5  # the two notebooks, the front page, the index and the search page
    welcome = (report.html / "00_welcome.html").read_text()
    task = (report.html / "01_task" / "one.html").read_text()
    assert "hello from the welcome notebook" in welcome and "42" in task
    assert 'alt="Two bars"' in welcome and "Two bars." in welcome
    # Each picture's alt is its output's text/plain; the widget's still comes after a note saying what it is.
    assert 'alt="A red rectangle, twice as wide as tall"' in welcome and 'alt="A blue square: the widget"' in welcome
    assert welcome.index("A still picture of an interactive widget") < welcome.index('alt="A blue square')
    assert 'alt="A green rectangle, twice as wide as tall"' in task
    assert welcome.count("An interactive widget: it responds in a live Jupyter session") == 1  # the slider
    # No build path: the records folder reads as results/.
    assert "records in results" in welcome and str(report.html.parent.parent) not in welcome
    # Every output picture fills the column: the site's style sheet, linked from each page.
    css = (report.html / "_static" / site.STYLE_SHEET).read_text()
    assert "div.cell_output img" in css and "width: 100%" in css
    assert f"_static/{site.STYLE_SHEET}" in welcome and f"_static/{site.STYLE_SHEET}" in task
    assert f"https://github.com/{notebooks.repository()}/blob/HEAD/docs/agreement.md" in welcome
    assert f"colab.research.google.com/github/{notebooks.repository()}/blob/HEAD/notebooks/01_task/one.ipynb" in task
    assert f"mybinder.org/v2/gh/{notebooks.repository()}/HEAD?urlpath=lab/tree/notebooks/01_task/one.ipynb" in task
    assert "Executed in fast mode on" in task and "Python" in task and "PyTorch" in task
    front = (report.html / "index.html").read_text()
    assert front.index("00_welcome.html") < front.index("01_task/one.html")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="the browser check needs Chromium and Playwright: apt-get install chromium; "
    "pip install -r tests/browser/requirements.txt (CI installs both)",
)
def test_the_tiny_site_passes_the_browser_check_and_a_broken_page_fails_it(tiny_site: site.SiteReport) -> None:
    check = [sys.executable, str(config.PROJECT_ROOT / "tests" / "browser" / "check_site.py"), "--chromium", CHROMIUM]
    done = subprocess.run([*check, "--site", str(tiny_site.html)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "FAIL" not in done.stdout and "00_welcome.html: loads" in done.stdout, done.stdout[-2000:]
    # The same site with one image gone and a script that throws: the check must say so, and fail.
    broken = tiny_site.html.parent / "broken"
    shutil.copytree(tiny_site.html, broken)
    page = broken / "01_task" / "one.html"
    page.write_text(page.read_text().replace("</body>", "<script>throw new Error('broken on purpose')</script></body>"))
    picture = next((broken / "_images").iterdir())
    picture.unlink()
    done = subprocess.run([*check, "--site", str(broken)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "broken on purpose" in done.stdout and picture.name in done.stdout, done.stdout[-4000:]


def test_the_static_check_finds_a_broken_link_a_missing_image_a_traceback_and_a_second_h1(tmp_path: Path) -> None:
    (tmp_path / "_images").mkdir()
    for name in ("a.png", "b.png", "c.png", "d.png"):
        (tmp_path / "_images" / name).write_bytes(b"png")
    (tmp_path / "good.html").write_text(
        '<article><h1 id="top">Good</h1><a href="#top">up</a><img src="_images/a.png" alt="A bar chart"></article>'
    )
    (tmp_path / "bad.html").write_text(
        '<article><h1>Bad</h1><h1>Again</h1><a href="gone.html">x</a><a href="good.html#nowhere">y</a>'
        '<img src="_images/none.png"><script src="https://cdn.example.org/x.js"></script>'
        '<img src="_images/b.png" alt=""><img src="_images/c.png" alt="_images/c.png">'
        '<img src="_images/d.png" alt="d.png">'
        '<div class="output stderr">warning</div><pre>Traceback (most recent call last):</pre>'
        "<p>9 recorded runs in /home/me/course/_build/site/results</p></article>"
    )
    problems = "\n".join(site.check_html(tmp_path, private=["/home/me/course/_build"]))
    assert "good.html" not in problems.replace("good.html#nowhere", "")
    for found in (
        "2 H1 headings",
        "broken link gone.html",
        "good.html#nowhere names no anchor",
        "missing asset _images/none.png",
        "fetches https://cdn.example.org/x.js",
        "output stderr",
        "a traceback",
        "bad.html: shows the build's path /home/me/course/_build",
    ):
        assert found in problems
    # No alt, an empty one, and docutils' default (the file's own name) say nothing about a picture.
    for src in ("_images/none.png", "_images/b.png", "_images/c.png", "_images/d.png"):
        assert f"bad.html: an image without alt text: {src}" in problems
    assert "a.png" not in problems


def test_a_pictures_alt_is_its_outputs_text_unless_that_is_a_default_repr() -> None:
    assert site.alt_text({"image/png": "", "text/plain": "Training loss per epoch, falling from 2.3 to 0.1"})
    assert site.alt_text({"text/plain": ["A grid ", "of digits"]}) == "A grid of digits"
    assert not site.alt_text({"image/png": "", "text/plain": "<Figure size 1000x790 with 4 Axes>"})
    assert not site.alt_text({"image/png": "", "text/plain": "<IPython.core.display.Image object>"})
    assert not site.alt_text({"image/png": "", "text/plain": "  "}) and not site.alt_text({"image/png": ""})


def test_for_the_site_hides_the_builds_folders_in_every_kind_of_output(tmp_path: Path) -> None:
    private = site.private_paths(config.PROJECT_ROOT / "_build" / "site", config.PROJECT_ROOT / "_build/site/results")
    cell = new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"9 runs in {config.PROJECT_ROOT}/_build/site/results\n"),
        nbformat.v4.new_output("stream", name="stdout", text="9 runs in _build/site/results\n"),
        nbformat.v4.new_output(
            "execute_result", {"text/plain": f"{config.PROJECT_ROOT}/exports/cnn.onnx", "text/html": "<b>ok</b>"}
        ),
    ]
    notebook = site.for_the_site(new_notebook(cells=[cell]), Path("04_compare/compare.ipynb"), private)
    first, second, third = notebook.cells[0].outputs
    assert first.text == second.text == "9 runs in results\n"
    assert third.data["text/plain"] == "exports/cnn.onnx" and third.data["text/html"] == "<b>ok</b>"


def test_site_imports_outside_a_checkout_and_names_the_repository_from_the_package(tmp_path: Path) -> None:
    """Importing it reads no file; without pyproject.toml the installed package's metadata names the repository."""
    script = (
        "import json, pathlib, course_utils.config as c\n"
        f"c.PROJECT_ROOT = pathlib.Path({str(tmp_path)!r})  # a folder without pyproject.toml\n"
        "import course_tools.site\n"
        "from course_tools import notebooks\n"
        "print(json.dumps(notebooks.repository()))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == notebooks.repository()
