"""The course's own charts: one colour-blind-safe palette, and the same colour for a framework in every chart."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from course_utils.tasks import FRAMEWORK_NAMES

if TYPE_CHECKING:
    import pandas as pd

# Matplotlib's petroff10 (3.10 and later): ten colours chosen to stay distinct under the common
# colour-vision deficiencies, in an order where the first few differ most.
STYLE = "petroff10"
# Which of the palette's first three colours each framework takes: PyTorch blue, TensorFlow orange, Keras red.
FRAMEWORK_SLOTS = {"pytorch": 0, "tensorflow": 1, "keras": 2}
VALUE_FONT_SIZE = 8  # the numbers printed on bars


def palette() -> list[str]:
    """The colours of :data:`STYLE`, in its order."""
    import matplotlib.style

    return matplotlib.style.library[STYLE]["axes.prop_cycle"].by_key()["color"]


def framework_colour(framework: str) -> str:
    """The colour of ``framework``, named as in records (``"keras"``) or as shown (``"Keras"``)."""
    by_name = {name: key for key, name in FRAMEWORK_NAMES.items()}
    return palette()[FRAMEWORK_SLOTS[by_name.get(framework, framework)]]


def framework_colours(frameworks: object) -> list[str]:
    """The colours of ``frameworks`` in their order: a pandas chart's ``color=`` for its framework columns."""
    return [framework_colour(str(framework)) for framework in frameworks]


def grouped_bars(axis, wide: pd.DataFrame, value_text: Callable[[float], str], headroom: float = 0.14) -> None:
    """One group of bars per row of ``wide`` and a bar per framework column, each with its value printed on top.

    The value axis starts at zero, and ends ``headroom`` above the tallest bar (a fraction of it) so that
    its number fits; a missing value has no bar and no number.
    """
    import numpy as np

    groups, frameworks = list(wide.index), list(wide.columns)
    width = 0.8 / max(len(frameworks), 1)
    for number, framework in enumerate(frameworks):
        values = wide[framework].to_numpy(dtype=float)
        offsets = np.arange(len(groups)) + (number - (len(frameworks) - 1) / 2) * width
        bars = axis.bar(
            offsets, np.nan_to_num(values), width, color=framework_colour(framework), label=FRAMEWORK_NAMES[framework]
        )
        labels = ["" if np.isnan(value) else value_text(value) for value in values]
        axis.bar_label(bars, labels=labels, padding=2, fontsize=VALUE_FONT_SIZE)
    axis.set_xticks(np.arange(len(groups)), [str(group).upper() for group in groups])
    top = float(np.nanmax(wide.to_numpy(dtype=float))) if wide.notna().any().any() else 1.0
    axis.set_ylim(0, top * (1 + headroom))
    axis.spines[["top", "right"]].set_visible(False)


def shared_legend(figure, frameworks: list[str]) -> None:
    """One legend for every panel of ``figure``, in a row above them: a colour per framework."""
    from matplotlib.patches import Patch

    handles = [Patch(color=framework_colour(framework), label=FRAMEWORK_NAMES[framework]) for framework in frameworks]
    figure.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.0))
