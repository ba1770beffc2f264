"""The side-by-side view of ``notebooks/04_compare``: results, lines of code, and the same step in three frameworks.

Everything is read from the notebooks and the result records, never typed in: the code
shown side by side comes from the paired notebooks' tagged cells, and the lines of code
are counted in the notebooks themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import cells, config
from course_utils.cells import HOSTED_SETUP, task_folders
from course_utils.tasks import FRAMEWORK_NAMES, FRAMEWORKS, TASKS

from . import figures, tables

if TYPE_CHECKING:
    import pandas as pd

STEPS = {
    "define-model": "Define the model",
    "train-step": "One training step",
    "train-loop": "The training loop",
    "evaluate": "Evaluate",
}
EXERCISES = "## Exercises"
# A framework's name as a string literal ("keras") is the only difference in lines that are otherwise shared.
_FRAMEWORK_LITERAL = re.compile(r"""(["'])(?:keras|tensorflow|pytorch)\1""")
# Attribute chains rooted at the names the notebooks import their frameworks under.
_API_NAME = re.compile(r"\b(?:keras|layers|tf|torch|nn|F)\.[A-Za-z_][\w.]*")


def code_lines(source: str) -> list[str]:
    """The lines of ``source`` that are code: not blank, not only a comment, not an IPython magic."""
    return [
        line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith(("#", "%", "!"))
    ]


def notebook_code(path: Path) -> str:
    """The code cells of a notebook's task, joined: those before its ``## Exercises``, whose answers are extra.

    The cell that installs the course on a hosted runtime (tagged ``hosted-setup``) is no framework's code.
    """
    import nbformat

    code = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown" and any(line.strip() == EXERCISES for line in cell.source.splitlines()):
            break
        if cell.cell_type == "code" and HOSTED_SETUP not in cell.metadata.get("tags", []):
            code.append(cell.source)
    return "\n".join(code)


def framework_lines(sources: dict[str, str]) -> dict[str, list[str]]:
    """Each source's code lines that are not shared by all of ``sources``: its framework code.

    A line counts as shared when every source has it (as many times), once each
    framework's name in string literals is set aside: hyperparameters, loading the data,
    the checks. What remains is what the framework makes each notebook write.
    """
    counts = {
        name: Counter(_FRAMEWORK_LITERAL.sub("<framework>", line) for line in code_lines(source))
        for name, source in sources.items()
    }
    shared = Counter()
    if counts:
        shared = next(iter(counts.values())).copy()
        for count in counts.values():
            shared &= count
    own = {}
    for name, source in sources.items():
        budget = shared.copy()  # each shared line is set aside as many times as all sources have it
        own[name] = []
        for line in code_lines(source):
            key = _FRAMEWORK_LITERAL.sub("<framework>", line)
            if budget[key] > 0:
                budget[key] -= 1
            else:
                own[name].append(line)
    return own


def api_names(source: str) -> set[str]:
    """The framework names a piece of code uses, such as ``layers.Dense`` or ``torch.optim.Adam``."""
    return set(_API_NAME.findall(source))


def paired_notebooks(root: Path | None = None) -> dict[str, dict[str, Path]]:
    """The paired notebooks that exist, by task and framework."""
    found = {}
    for folder in task_folders(root):
        paths = {
            framework: folder / f"{framework}.ipynb"
            for framework in FRAMEWORKS
            if (folder / f"{framework}.ipynb").is_file()
        }
        if paths:
            found[folder.name.split("_", 1)[1]] = paths
    return found


def lines_of_code(root: Path | None = None) -> pd.DataFrame:
    """One row per task and framework: code lines of each compared step, framework lines, all code lines."""
    import pandas as pd

    rows = []
    for task, paths in paired_notebooks(root).items():
        sources = {framework: notebook_code(path) for framework, path in paths.items()}
        own = framework_lines(sources) if len(sources) == len(FRAMEWORKS) else {}
        for framework, path in paths.items():
            row = {"task": task, "framework": framework}
            for tag in STEPS:
                row[tag] = len(code_lines(cells.tagged_code(path, tag)))
            row["framework lines"] = len(own[framework]) if own else None
            row["framework API names"] = len(api_names("\n".join(own.get(framework, [])))) if own else None
            row["all code lines"] = len(code_lines(sources[framework]))
            rows.append(row)
    columns = ["task", "framework", *STEPS, "framework lines", "framework API names", "all code lines"]
    return pd.DataFrame(rows, columns=columns)


def comparison_table(results: pd.DataFrame, loc: pd.DataFrame) -> pd.DataFrame:
    """Results joined with lines of code: one row per task and framework that has run."""
    import pandas as pd

    if results.empty:
        return pd.DataFrame()
    table = results.assign(seconds_per_epoch=results.train_seconds / results.epochs)
    table = table.merge(loc[["task", "framework", "framework lines"]], on=["task", "framework"], how="left")
    columns = {
        "task": "task",
        "framework": "framework",
        "test_accuracy": "test accuracy",
        "train_seconds": "training s",
        "seconds_per_epoch": "s per epoch",
        "params": "parameters",
        "framework lines": "framework lines",
        "peak_memory_mb": "peak memory MB",
        "data_source": "data",
    }
    present = [column for column in columns if column in table]
    return table[present].rename(columns=columns).set_index(["task", "framework"])


def missing_runs(results: pd.DataFrame, root: Path | None = None) -> list[Path]:
    """The paired notebooks that have no result record yet: run them to fill the table."""
    done = set(zip(results.get("task", []), results.get("framework", [])))
    return [
        path
        for task, paths in paired_notebooks(root).items()
        for framework, path in paths.items()
        if (task, framework) not in done
    ]


# The measures the chart shows: (column, panel title, axis label, how a bar's value is printed).
MEASURES = (
    # In percent without the sign, which the axis carries: three numbers with it run into each other.
    ("test accuracy", "Test accuracy", "accuracy on the test set", lambda value: f"{value * 100:.1f}"),
    ("s per epoch", "Training time per epoch", "seconds", tables.seconds),
    ("peak memory MB", "Peak memory of the kernel", "MB", tables.count),
    ("framework lines", "Lines of framework code", "code lines", tables.count),
)


def plot_comparison(table: pd.DataFrame, loc: pd.DataFrame):
    """A panel per measure (accuracy, seconds per epoch, memory, framework lines), task by task, a bar per framework.

    Four panels make a 2×2 grid ten inches wide, fewer a row; every axis starts at zero (accuracy runs
    from 0 to 100%), each bar has its value printed on it, and one legend above the panels names the
    frameworks' colours, the same in every panel.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    sources = {"framework lines": loc.set_index(["task", "framework"])}
    panels = [
        (column, sources.get(column, table), *rest)
        for column, *rest in MEASURES
        if column in sources.get(column, table) and not sources.get(column, table).empty
    ]
    if not panels:
        raise ValueError("nothing to plot: no recorded run, and no notebook whose lines could be counted.")
    rows, columns = (2, 2) if len(panels) == 4 else (1, len(panels))
    height = 0.5 + 3.7 * rows  # inches: the panels, and half an inch for the legend above them
    figure, axes = plt.subplots(rows, columns, figsize=(10, height), squeeze=False)
    shown = []
    for axis, (column, data, title, label, value_text) in zip(axes.flat, panels):
        present = data.index.get_level_values("framework")
        wide = data[column].unstack("framework").reindex(columns=[f for f in FRAMEWORKS if f in present])
        wide = wide.reindex([task for task in TASKS if task in wide.index])
        figures.grouped_bars(axis, wide, value_text)
        shown += [framework for framework in wide.columns if framework not in shown]
        if column == "test accuracy":
            axis.set_ylim(0, 1.12)  # the whole scale, with room above 100% for the numbers
            axis.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
            axis.yaxis.set_major_formatter(PercentFormatter(1.0))
        axis.set_title(title)
        axis.set_ylabel(label)
        axis.set_xlabel("task")
    figures.shared_legend(figure, [f for f in FRAMEWORKS if f in shown])
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))
    return figure


def step_sources(task: str, root: Path | None = None) -> dict[str, dict[str, str]]:
    """The code of each compared step of ``task``, per framework, from the notebooks' tagged cells."""
    paths = paired_notebooks(root).get(task)
    if not paths:
        raise ValueError(
            f"no paired notebooks for task {task!r}; the tasks with notebooks are "
            f"{', '.join(paired_notebooks(root)) or 'none yet'}."
        )
    return {tag: {framework: cells.tagged_code(path, tag) for framework, path in paths.items()} for tag in STEPS}


def side_by_side(task: str, root: Path | None = None):
    """An ipywidgets tab per compared step, each with the frameworks' code in columns, next to each other."""
    import html

    import ipywidgets as widgets
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    formatter = HtmlFormatter(noclasses=True, nobackground=True)
    pages = []
    for tag, sources in step_sources(task, root).items():
        columns = []
        for framework, source in sources.items():
            code = (
                highlight(source, PythonLexer(), formatter)
                if source.strip()
                else f"<i>no cell tagged {html.escape(tag)}</i>"
            )
            columns.append(
                widgets.HTML(
                    f"<b>{FRAMEWORK_NAMES[framework]}</b> ({len(code_lines(source))} lines)"
                    f"<div style='overflow-x:auto; font-size:85%'>{code}</div>",
                    layout=widgets.Layout(width=f"{100 / len(sources):.0f}%", padding="0 8px"),
                )
            )
        pages.append(widgets.HBox(columns))
    return widgets.Tab(children=pages, titles=list(STEPS.values()))


def check_comparison(table: pd.DataFrame, loc: pd.DataFrame) -> None:
    """Every paired notebook shows its steps and has its lines counted; every recorded run is consistent."""
    from course_utils.checks import CheckFailed

    if loc.empty:
        raise CheckFailed(f"no paired notebooks under {config.NOTEBOOKS_DIR}: the comparison has nothing to show.")
    for _, row in loc.iterrows():
        for tag in ("define-model", "train-step", "evaluate"):
            if not row[tag]:
                raise CheckFailed(
                    f"the {row['task']} notebook for {row['framework']} has no code cell tagged {tag!r}: "
                    "tag the cell so that this notebook can show it."
                )
    for (task, framework), row in table.iterrows():
        if not 0 < row["test accuracy"] <= 1 or row["parameters"] != TASKS[task].params[framework]:
            raise CheckFailed(
                f"the {task}/{framework} record is inconsistent: accuracy {row['test accuracy']}, "
                f"{row['parameters']:,} parameters (the reference is {TASKS[task].params[framework]:,})."
            )
    print(
        "✓ every paired notebook has its compared steps tagged and its lines counted; every run recorded is consistent"
    )
