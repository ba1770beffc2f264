"""Tables of recorded runs: plain text for the ``course`` commands (results, benchmarks, seed sweeps), and
formatted HTML for the notebooks (:func:`styled`), which JupyterLab and the course site show alike."""

from __future__ import annotations

import hashlib

from course_utils.tasks import FRAMEWORK_NAMES, FRAMEWORKS, TASKS

import pandas as pd
from pandas.io.formats.style import Styler


def percent(value: float) -> str:
    """An accuracy in percent with two decimals: ``0.98765`` is ``98.77%``."""
    return f"{value:.2%}"


def seconds(value: float) -> str:
    """Seconds with one decimal; two below a second, where fast mode's epochs are (``0.07``, not ``0.1``)."""
    return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.2f}"


def count(value: float) -> str:
    """A whole number with thousands separators: ``101,770``."""
    return f"{value:,.0f}"


# How a column of the notebooks' tables is written, by its name. A column not named here is left as it is.
COLUMN_FORMATS = {
    "test accuracy": percent,
    "training s": seconds,
    "s per epoch": seconds,
    "parameters": count,
    "peak memory MB": count,
    "framework lines": count,
    "framework API names": count,
    "all code lines": count,
    "define-model": count,
    "train-step": count,
    "train-loop": count,
    "evaluate": count,
}
MISSING = "—"  # a value not measured (a task without its three notebooks has no framework lines)


def summary_table(table: pd.DataFrame) -> str:
    """A plain-text table: one row per task, accuracy and training seconds per framework."""
    if table.empty:
        return "No results yet: run a task notebook, or `course run`."
    lines = [f"{'task':<6}" + "".join(f"{framework:>24}" for framework in FRAMEWORKS)]
    lines.append(f"{'':<6}" + f"{'accuracy   seconds':>24}" * len(FRAMEWORKS))
    for task in TASKS:
        cells = []
        for framework in FRAMEWORKS:
            row = table[(table.task == task) & (table.framework == framework)]
            cells.append("—" if row.empty else f"{row.test_accuracy.iloc[-1]:.4f} {row.train_seconds.iloc[-1]:>9.1f}")
            cells[-1] = f"{cells[-1]:>24}"
        if any(cell.strip() != "—" for cell in cells):
            lines.append(f"{task:<6}" + "".join(cells))
    sources = sorted(set(table.data_source))
    lines.append(f"data: {', '.join(sources)}")
    return "\n".join(lines)


def benchmark_table(table: pd.DataFrame) -> str:
    """A plain-text table of full-size runs: seconds per epoch, test accuracy and peak memory."""
    if table.empty:
        return "No benchmark records."
    lines = [f"{'task':<6}{'framework':<12}{'s/epoch':>9}{'epochs':>8}{'accuracy':>10}{'peak MB':>9}  data"]
    for row in table.itertuples():
        peak = getattr(row, "peak_memory_mb", None)
        peak_text = "—" if peak is None or peak != peak else f"{peak:.0f}"
        lines.append(
            f"{row.task:<6}{row.framework:<12}{row.train_seconds / row.epochs:>9.1f}{row.epochs:>8}"
            f"{row.test_accuracy:>10.4f}{peak_text:>9}  {row.data_source} ({row.n_train:,} train)"
        )
    return "\n".join(lines)


def before_after_table(before: pd.DataFrame, after: pd.DataFrame) -> str:
    """Seconds per epoch and accuracy of two benchmark runs side by side, with the speed-up."""
    if before.empty or after.empty:
        return "No records to compare."
    keys = ["task", "framework"]
    both = before.assign(s_before=before.train_seconds / before.epochs, acc_before=before.test_accuracy)[
        [*keys, "s_before", "acc_before"]
    ].merge(
        after.assign(s_after=after.train_seconds / after.epochs, acc_after=after.test_accuracy)[
            [*keys, "s_after", "acc_after"]
        ],
        on=keys,
    )
    lines = [
        f"{'task':<6}{'framework':<12}{'s/epoch before':>15}{'after':>8}{'speed-up':>10}"
        f"{'accuracy before':>17}{'after':>8}"
    ]
    for row in both.itertuples():
        lines.append(
            f"{row.task:<6}{row.framework:<12}{row.s_before:>15.1f}{row.s_after:>8.1f}"
            f"{row.s_before / row.s_after:>9.2f}×{row.acc_before:>17.4f}{row.acc_after:>8.4f}"
        )
    return "\n".join(lines)


def sweep_table(table: pd.DataFrame) -> str:
    """A plain-text table of a seed sweep: per task and framework, each seed's accuracy, the range, and s/epoch."""
    if table.empty:
        return "No sweep records."
    table = table.assign(seconds_per_epoch=table.train_seconds / table.epochs)
    accuracy = table.pivot_table(index=["task", "framework"], columns="seed", values="test_accuracy", aggfunc="last")
    summary = table.groupby(["task", "framework"]).agg(
        worst=("test_accuracy", "min"),
        best=("test_accuracy", "max"),
        s_per_epoch=("seconds_per_epoch", "mean"),
        peak_mb=("peak_memory_mb", "max"),
    )
    joined = accuracy.join(summary)
    order = {name: i for i, name in enumerate(TASKS)} | {name: i for i, name in enumerate(FRAMEWORKS)}
    joined = joined.sort_index(key=lambda level: level.map(order))
    sources = ", ".join(f"{source} ({n:,} train)" for source, n in sorted(set(zip(table.data_source, table.n_train))))
    return (
        joined.to_string(float_format=lambda value: f"{value:.4f}" if value < 1 else f"{value:.1f}")
        + f"\ndata: {sources}"
    )


def _shown_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the task and framework names of its index as the course writes them: MLP, PyTorch."""
    names = {"task": {task: task.upper() for task in TASKS}, "framework": FRAMEWORK_NAMES}
    if not any(level in names for level in frame.index.names):
        return frame
    index = frame.index.to_frame()
    for level in index.columns:
        if level in names:
            index[level] = index[level].map(lambda name, level=level: names[level].get(name, name))
    return frame.set_axis(pd.MultiIndex.from_frame(index) if index.shape[1] > 1 else index.iloc[:, 0], axis=0)


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as text, each column written as :data:`COLUMN_FORMATS` says and a gap as :data:`MISSING`."""
    text = _shown_names(frame).astype(object)
    for column in frame.columns:
        write = COLUMN_FORMATS.get(column, str)
        text[column] = [MISSING if pd.isna(value) else write(value) for value in frame[column]]
    return text


class Table(Styler):
    """A formatted table: HTML in a notebook or on the site, the same text aligned where only text is shown."""

    def __repr__(self) -> str:
        return formatted(self.data).to_string()


def styled(frame: pd.DataFrame) -> Table:
    """``frame`` formatted for reading: :data:`COLUMN_FORMATS`, :data:`MISSING` for a gap, numbers right-aligned.

    Task and framework names in the index are shown as the course writes them (``MLP``, ``PyTorch``); the
    values stay numbers underneath, so that the table still sorts and computes as ``frame`` does.
    """
    formats = {column: COLUMN_FORMATS[column] for column in frame.columns if column in COLUMN_FORMATS}
    numeric = [i for i, column in enumerate(frame.columns) if pd.api.types.is_numeric_dtype(frame[column])]
    # An id of its own for each table: its CSS must not reach another table on the same page.
    uuid = hashlib.sha256(repr((list(frame.columns), frame.shape)).encode()).hexdigest()[:8]
    table = Table(frame, uuid=uuid, cell_ids=False).format(formats, na_rep=MISSING)
    shown = _shown_names(frame).index
    for number, level in enumerate(frame.index.names):
        if level in ("task", "framework"):
            values = dict(zip(frame.index.get_level_values(number), shown.get_level_values(number)))
            table = table.format_index(lambda name, values=values: values.get(name, name), level=number)
    # pandas' own class, which JupyterLab and the site's theme style; numbers line up on their last digit.
    return table.set_table_attributes('class="dataframe"').set_table_styles(
        [{"selector": f"td.col{i}, th.col_heading.col{i}", "props": "text-align: right"} for i in numeric]
    )
