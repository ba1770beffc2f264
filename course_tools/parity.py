"""Prose parity: paired notebooks say the same thing wherever the frameworks agree.

The task notebooks share one skeleton of sections. Within a section, the markdown cells are
compared one by one, in order, after the framework's own name is normalised away. Every place
where they may differ is listed in :data:`PROSE_DIFFERENCES`, with the reason: the one reviewed
list of what is framework-specific. A difference not listed there fails the tests, and so does
a listed one that has gone away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from course_utils.tasks import FRAMEWORK_NAMES, FRAMEWORKS

INTRO = "(title)"  # the cells above the first "## " heading

# (task folder, section, markdown cell number within the section) -> why the frameworks differ there.
PROSE_DIFFERENCES: dict[tuple[str, str, int], str] = {
    **{
        (task, INTRO, 0): "the introduction names the API this notebook uses (fit, tf.Module, nn.Module)"
        for task in ("01_mlp", "02_cnn", "03_rnn")
    },
    **{
        (task, "## Data", 1): "how each framework batches the data: fit itself, tf.data, or a DataLoader"
        for task in ("01_mlp", "02_cnn", "03_rnn")
    },
    **{
        (task, "## Training", 1): "what writing the training step means: compile and fit, GradientTape, or backward"
        for task in ("01_mlp", "02_cnn", "03_rnn")
    },
    **{
        (task, "## Training", 2): "low-level TensorFlow alone has no optimizer and explains its tf.function step"
        for task in ("01_mlp", "02_cnn", "03_rnn")
    },
    ("01_mlp", "## Exercises", 3): "the momentum exercise: where each framework's SGD with momentum is",
    ("02_cnn", "## Model", 2): "PyTorch alone needs channels_last memory for fast CPU convolutions",
    ("03_rnn", "## Model", 1): "the recurrent layer: Keras's LSTM layer, an LSTM cell written out, or nn.LSTM",
    ("03_rnn", "## Model", 2): "low-level TensorFlow alone explains how tf.function traces the loop over rows",
    **{
        (task, "## Exercises", number): "the exercise's instructions name the framework's own calls"
        for task in ("02_cnn", "03_rnn")
        for number in (1, 2, 3)
    },
}


def normalised(text: str, framework: str) -> str:
    """``text`` with the notebook's title and the links to its siblings made the same in every notebook."""
    text = re.sub(r"\*\*Same task in:\*\*[^\n]*", "**Same task in:** (the two siblings)", text)
    text = re.sub(rf"^(# .*): {FRAMEWORK_NAMES[framework]}$", r"\1: (framework)", text, flags=re.MULTILINE)
    return re.sub(r"\s+", " ", text).strip()


def markdown_by_section(path: Path) -> dict[str, list[str]]:
    """The notebook's markdown cells, normalised, grouped under the ``## `` heading they follow."""
    framework = path.stem
    sections: dict[str, list[str]] = {}
    current = INTRO
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        if source.startswith("## "):
            current = source.splitlines()[0].strip()
        sections.setdefault(current, []).append(normalised(source, framework))
    return sections


def prose_differences(folder: Path) -> dict[tuple[str, str, int], dict[str, str | None]]:
    """Where the paired notebooks of ``folder`` differ: ``(task, section, cell) -> {framework: text or None}``."""
    sections = {framework: markdown_by_section(folder / f"{framework}.ipynb") for framework in FRAMEWORKS}
    found = {}
    for section in dict.fromkeys(name for by_section in sections.values() for name in by_section):
        cells = {framework: sections[framework].get(section, []) for framework in FRAMEWORKS}
        for number in range(max(len(texts) for texts in cells.values())):
            texts = {framework: texts[number] if number < len(texts) else None for framework, texts in cells.items()}
            if len(set(texts.values())) > 1:
                found[folder.name, section, number] = texts
    return found
