"""`course site`: the course's order, and a tiny site built, rendered and checked without a browser."""

from __future__ import annotations

from pathlib import Path

from course_utils import config

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools import site
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


def test_a_tiny_course_builds_into_pages_with_outputs_launch_links_a_stamp_and_no_problem(tmp_path: Path) -> None:
    root = tmp_path / "notebooks"
    plot = new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from course_tools import figures\n"
        "plt.bar(['keras', 'pytorch'], [1, 2], color=figures.framework_colours(['keras', 'pytorch']))\nplt.show()"
    )
    plot.metadata["mystnb"] = {"image": {"alt": "Two bars"}, "figure": {"caption": "Two bars."}}
    write(
        root / "00_welcome.ipynb",
        new_markdown_cell("# Welcome\n\nThe map: [the task](01_task/one.ipynb), and [a doc](../docs/agreement.md)."),
        new_code_cell("print('hello from the welcome notebook')"),
        plot,
    )
    write(
        root / "01_task" / "one.ipynb",
        new_markdown_cell("# Task one\n\n[Back](../00_welcome.ipynb)"),
        new_code_cell("6 * 7"),
    )
    report = site.build_site(tmp_path / "site", root=root)
    assert not report.failed and not report.problems, (report.failed, report.problems)
    assert report.pages == 5  # the two notebooks, the front page, the index and the search page
    welcome = (report.html / "00_welcome.html").read_text()
    task = (report.html / "01_task" / "one.html").read_text()
    assert "hello from the welcome notebook" in welcome and "42" in task
    assert 'alt="Two bars"' in welcome and "Two bars." in welcome
    assert f"https://github.com/{site.REPOSITORY}/blob/HEAD/docs/agreement.md" in welcome
    assert f"colab.research.google.com/github/{site.REPOSITORY}/blob/HEAD/notebooks/01_task/one.ipynb" in task
    assert f"mybinder.org/v2/gh/{site.REPOSITORY}/HEAD?urlpath=lab/tree/notebooks/01_task/one.ipynb" in task
    assert "Executed in fast mode on" in task and "Python" in task and "PyTorch" in task
    front = (report.html / "index.html").read_text()
    assert front.index("00_welcome.html") < front.index("01_task/one.html")


def test_the_static_check_finds_a_broken_link_a_missing_image_a_traceback_and_a_second_h1(tmp_path: Path) -> None:
    (tmp_path / "good.html").write_text('<article><h1 id="top">Good</h1><a href="#top">up</a></article>')
    (tmp_path / "bad.html").write_text(
        '<article><h1>Bad</h1><h1>Again</h1><a href="gone.html">x</a><a href="good.html#nowhere">y</a>'
        '<img src="_images/none.png"><script src="https://cdn.example.org/x.js"></script>'
        '<div class="output stderr">warning</div><pre>Traceback (most recent call last):</pre></article>'
    )
    problems = "\n".join(site.check_html(tmp_path))
    assert "good.html" not in problems.replace("good.html#nowhere", "")
    for found in (
        "2 H1 headings",
        "broken link gone.html",
        "good.html#nowhere names no anchor",
        "missing asset _images/none.png",
        "fetches https://cdn.example.org/x.js",
        "output stderr",
        "a traceback",
    ):
        assert found in problems
