"""Plain-text tables of recorded runs, for the ``course`` commands: results, benchmarks, seed sweeps."""

from __future__ import annotations

from course_utils.tasks import FRAMEWORKS, TASKS

import pandas as pd


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
