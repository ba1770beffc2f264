"""The course's own charts: one colour-blind-safe palette, and the same colour for a framework in every chart."""

from __future__ import annotations

from course_utils.tasks import FRAMEWORK_NAMES

# Matplotlib's petroff10 (3.10 and later): ten colours chosen to stay distinct under the common
# colour-vision deficiencies, in an order where the first few differ most.
STYLE = "petroff10"
# Which of the palette's first three colours each framework takes: PyTorch blue, TensorFlow orange, Keras red.
FRAMEWORK_SLOTS = {"pytorch": 0, "tensorflow": 1, "keras": 2}


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
