"""The explore notebook's widgets: every model's predictions on the test set, side by side.

A prediction explorer (pick a test image, see each model's probabilities) and a gallery of
each model's mistakes, over the predictions that ``course_lab.records.load_predictions``
reads back. Predictions are arrays of class probabilities, one row per image, keyed by the
model's name (``"mlp/keras"``), so that this module never imports a framework.

Each widget also carries a still picture of what it shows, drawn with Matplotlib: a page without a
kernel (the course site, a notebook viewer) shows that picture, with its description as the
``text/plain`` of the output, where JupyterLab shows the live widget.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

from course_utils.tasks import FRAMEWORK_NAMES
from course_utils.widgets import DIGITS, Widget, digit_png

import numpy as np

# The charts' colours, as in the drawing pad's (course_utils.widgets), from Matplotlib's petroff10, which
# colour-blind readers tell apart: blue for the true class and the prediction, orange only for a wrong one.
RIGHT, WRONG, OTHER = "#3f90da", "#e76300", "#94a4a2"
BAR_PX = 80  # the width of a 100% bar in the explorer's small charts


def validate_predictions(predictions: Mapping[str, np.ndarray], n_images: int) -> dict[str, np.ndarray]:
    """The predictions as float arrays, after checking each is ``(n_images, classes)`` probabilities."""
    if not predictions:
        raise ValueError("no predictions to show: run a task notebook first, so that it records its predictions.")
    checked = {}
    for name, probabilities in predictions.items():
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 2 or len(probabilities) != n_images:
            raise ValueError(
                f"predictions of {name!r} have shape {probabilities.shape}; expected one row of "
                f"class probabilities for each of the {n_images:,} images."
            )
        checked[name] = probabilities
    return checked


def misclassified(probabilities: np.ndarray, labels: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Indices of the images the model gets wrong, the most confidently wrong first."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")
    return wrong[order][:limit]


def mistakes_summary(predictions: Mapping[str, np.ndarray], labels: np.ndarray) -> str:
    """One line per model (accuracy, mistakes), and how many images every model gets wrong."""
    labels = np.asarray(labels)
    lines, wrong_everywhere = [], np.ones(len(labels), dtype=bool)
    for model, probabilities in predictions.items():
        wrong = np.asarray(probabilities).argmax(axis=1) != labels
        wrong_everywhere &= wrong
        lines.append(f"{model:<20} accuracy {1 - wrong.mean():.4f}, {wrong.sum():,} of {len(labels):,} wrong")
    lines.append(f"{wrong_everywhere.sum():,} test images are wrong in every model")
    return "\n".join(lines)


def model_grid(models: list[str]) -> tuple[list[str], list[str]]:
    """The rows (tasks) and columns (frameworks) that lay out models named ``task/framework``, in their order.

    A name without a slash is a row of its own with one unnamed column.
    """
    rows, columns = [], []
    for model in models:
        task, _, framework = model.partition("/")
        rows += [task] if task not in rows else []
        columns += [framework] if framework not in columns else []
    return rows, columns


def shown_name(model: str) -> str:
    """``mlp/keras`` as the course writes it: ``MLP · Keras``."""
    task, _, framework = model.partition("/")
    return f"{task.upper()} · {FRAMEWORK_NAMES.get(framework, framework)}" if framework else model


def small_chart_html(probabilities: np.ndarray, names: tuple[str, ...], label: int) -> str:
    """A compact chart of one model's probabilities for one image: its verdict, then a thin bar per class."""
    predicted = int(np.argmax(probabilities))
    verdict = "✓" if predicted == label else "✗"
    rows = [
        f'<div style="white-space:nowrap;font-weight:bold">{html.escape(names[predicted])} '
        f"({probabilities[predicted]:.1%}) {verdict}</div>"
    ]
    width = max(len(name) for name in names)
    for number, (name, probability) in enumerate(zip(names, probabilities)):
        colour = WRONG if number == predicted != label else (RIGHT if number in (label, predicted) else OTHER)
        rows.append(
            f'<div style="display:flex;align-items:center;gap:4px;white-space:nowrap;'
            f'font-weight:{"bold" if number == predicted else "normal"}">'
            f'<span style="width:{width}ch;text-align:right">{html.escape(name)}</span>'
            # A track of the full width, so that the percentages line up after it.
            f'<span style="display:inline-block;width:{BAR_PX}px"><span style="display:inline-block;height:0.7em;'
            f'width:{probability * BAR_PX:.1f}px;background:{colour}"></span></span>'
            f"<span>{probability:.0%}</span></div>"
        )
    return '<div style="line-height:1.2">' + "".join(rows) + "</div>"


def prediction_grid_html(
    predictions: Mapping[str, np.ndarray], index: int, label: int, names: tuple[str, ...] = DIGITS
) -> str:
    """Every model's chart for test image ``index``, in a grid: a row per task, a column per framework."""
    rows, columns = model_grid(list(predictions))
    cells = ["<div></div>"] + [f"<div><b>{html.escape(FRAMEWORK_NAMES.get(c, c))}</b></div>" for c in columns]
    for task in rows:
        cells.append(f"<div><b>{html.escape(task.upper() if columns != [''] else task)}</b></div>")
        for framework in columns:
            model = f"{task}/{framework}" if framework else task
            cells.append(
                small_chart_html(predictions[model][index], names, label)
                if model in predictions
                else '<div style="color:#717581">not run</div>'
            )
    return (
        f'<div style="display:inline-grid;grid-template-columns:repeat({len(columns) + 1}, max-content);'
        'gap:6px 18px;align-items:start;font-family:monospace;font-size:12px;line-height:1.25">'
        + "".join(cells)
        + "</div>"
    )


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _bar_colours(probabilities: np.ndarray, label: int) -> list[str]:
    predicted = int(np.argmax(probabilities))
    return [
        WRONG if number == predicted != label else (RIGHT if number in (label, predicted) else OTHER)
        for number in range(len(probabilities))
    ]


def explorer_picture(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    names: tuple[str, ...] = DIGITS,
    indices: list[int] | None = None,
) -> tuple[bytes, str]:
    """A still of the explorer: a few test images, each beside every model's probabilities for it; PNG and alt text.

    The images are the explorer's first, and the next two that some model gets wrong (its "next mistake").
    """
    from matplotlib.figure import Figure

    labels = np.asarray(labels)
    if indices is None:
        wrong = np.flatnonzero(np.any([p.argmax(axis=1) != labels for p in predictions.values()], axis=0))
        indices = list(dict.fromkeys([0, *wrong[wrong > 0][:2].tolist()]))
    rows, columns = model_grid(list(predictions))
    figure = Figure(figsize=(10, 0.4 + len(indices) * (0.3 + 1.25 * len(rows))), layout="constrained")
    figure.suptitle("The prediction explorer: each model's class probabilities for a test image", fontsize="large")
    described = []
    for subfigure, index in zip(np.atleast_1d(figure.subfigures(len(indices), 1, hspace=0.04)), indices):
        label = int(labels[index])
        grid = subfigure.add_gridspec(len(rows), len(columns) + 1, width_ratios=[1.2] + [2] * len(columns))
        digit = subfigure.add_subplot(grid[:, 0])
        digit.imshow(images[index], cmap="gray", vmin=0, vmax=255 if np.issubdtype(images.dtype, np.integer) else 1)
        digit.set_xticks([])
        digit.set_yticks([])
        digit.set_title(f"test image {index}\nlabel {names[label]}", fontsize="medium")
        wrong_here = []
        for model, probabilities in predictions.items():
            task, _, framework = model.partition("/")
            axis = subfigure.add_subplot(grid[rows.index(task), columns.index(framework) + 1])
            row = probabilities[index]
            predicted = int(row.argmax())
            axis.bar(range(len(names)), row, color=_bar_colours(row, label))
            axis.set_ylim(0, 1)
            axis.set_yticks([0, 1], ["0", "100%"], fontsize=8)
            axis.set_xticks(range(len(names)), names if len(names[0]) == 1 else range(len(names)), fontsize=8)
            axis.set_title(
                f"{shown_name(model)}: {names[predicted]} ({row[predicted]:.0%}) {'✓' if predicted == label else '✗'}",
                fontsize=10,
                color="black" if predicted == label else WRONG,
            )
            axis.spines[["top", "right"]].set_visible(False)
            if predicted != label:
                wrong_here.append(f"{shown_name(model)} says {names[predicted]} ({row[predicted]:.0%})")
        verdict = (
            f"all {len(predictions)} models predict it right"
            if not wrong_here
            else f"{len(predictions) - len(wrong_here)} of {len(predictions)} right; " + ", ".join(wrong_here)
        )
        described.append(f"test image {index}, a {names[label]}: {verdict}")
    alt = (
        f"{len(indices)} test images, each beside a bar chart per model ({len(predictions)} models) of the "
        "probability it gives each class, the true class blue and a wrong prediction orange. "
        + "; ".join(described)
        + "."
    )
    return _png(figure), alt


def gallery_picture(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    names: tuple[str, ...] = DIGITS,
    per_model: int = 8,
) -> tuple[bytes, str]:
    """A still of the gallery: a row per model of its ``per_model`` surest mistakes; PNG and alt text."""
    from matplotlib.figure import Figure

    labels = np.asarray(labels)
    figure = Figure(figsize=(10, 0.5 + 1.3 * len(predictions)), layout="constrained")
    figure.suptitle("Each model's surest mistakes: true → predicted (confidence)", fontsize="large")
    axes = np.atleast_2d(
        figure.subplots(len(predictions), per_model + 1, gridspec_kw={"width_ratios": [2] + [1] * per_model})
    )
    described = []
    for row_axes, (model, probabilities) in zip(axes, predictions.items()):
        wrong = misclassified(probabilities, labels, per_model)
        total = int((probabilities.argmax(axis=1) != labels).sum())
        heading, *tiles = row_axes
        heading.axis("off")
        heading.text(0, 0.5, f"{shown_name(model)}\n{total:,} of {len(labels):,} wrong", va="center", fontsize="medium")
        captions = []
        for axis, index in zip(tiles, wrong):
            predicted = int(probabilities[index].argmax())
            axis.imshow(images[index], cmap="gray", vmin=0, vmax=255 if np.issubdtype(images.dtype, np.integer) else 1)
            caption = f"{names[int(labels[index])]} → {names[predicted]} ({probabilities[index, predicted]:.0%})"
            axis.set_title(caption, fontsize=10)
            captions.append(caption)
        for axis in tiles:
            axis.set_xticks([])
            axis.set_yticks([])
            if not axis.images:
                axis.axis("off")
        described.append(
            f"{shown_name(model)}, {total:,} of {len(labels):,} wrong"
            + (f": {', '.join(captions[:3])}" if captions else "")
        )
    alt = (
        f"A row per model ({len(predictions)} models) of the test images it gets wrong with the most confidence, "
        f"up to {per_model} each, captioned true → predicted (confidence). " + "; ".join(described) + "."
    )
    return _png(figure), alt


class _WithPicture(Widget):
    """A widget whose output also holds a still picture and its description, for pages without a kernel."""

    def still(self) -> tuple[bytes, str]:
        """The picture's PNG and the sentence that describes it."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        png, alt = self.still()
        # JupyterLab shows the widget, which it ranks first; a static page shows the PNG, its alt the text.
        data.update({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt})
        return bundle


class PredictionExplorer(_WithPicture):
    """Pick a test image with the slider, and see each model's prediction and probabilities beside the digit."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        predictions: Mapping[str, np.ndarray],
        names: tuple[str, ...] = DIGITS,
    ) -> None:
        import ipywidgets as widgets

        self.images, self.labels, self.names = images, np.asarray(labels), names
        self.predictions = validate_predictions(predictions, len(images))
        self.slider = widgets.IntSlider(
            value=0, min=0, max=len(images) - 1, description="test image", continuous_update=False
        )
        next_mistake = widgets.Button(description="next mistake", tooltip="the next image that some model gets wrong")
        self.picture = widgets.Image(format="png", width=112, height=112)
        self.charts = widgets.HTML()
        self.wrong_somewhere = np.flatnonzero(
            np.any([p.argmax(axis=1) != self.labels for p in self.predictions.values()], axis=0)
        )
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        next_mistake.on_click(lambda _button: self.next_mistake())
        # The digit on the left, the models' charts in a grid beside it (a row per task, a column per
        # framework), so that the digit stays in view. Without flex-start the row stretches the picture to
        # the charts' height (ipywidgets' CSS sets images to height: auto): three times taller than wide.
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.slider, next_mistake]),
                widgets.HBox(
                    [self.picture, self.charts],
                    layout=widgets.Layout(align_items="flex-start", grid_gap="16px"),
                ),
            ]
        )
        self.show(0)

    def show(self, index: int) -> None:
        """Show test image ``index`` and every model's probabilities for it."""
        self.picture.value = digit_png(self.images[index])
        label = int(self.labels[index])
        wrong = sum(int(p[index].argmax()) != label for p in self.predictions.values())
        self.charts.value = (
            f'<div style="margin-bottom:4px">test image {index}, label <b>{html.escape(self.names[label])}</b>: '
            f"{'every model is right' if not wrong else f'{wrong} of {len(self.predictions)} models wrong'}</div>"
            + prediction_grid_html(self.predictions, index, label, self.names)
        )

    def next_mistake(self) -> None:
        """Move the slider to the next image that at least one model gets wrong (wrapping around)."""
        if len(self.wrong_somewhere):
            later = self.wrong_somewhere[self.wrong_somewhere > self.slider.value]
            self.slider.value = int(later[0] if len(later) else self.wrong_somewhere[0])

    def still(self) -> tuple[bytes, str]:
        """:func:`explorer_picture` of these predictions."""
        return explorer_picture(self.images, self.labels, self.predictions, self.names)


class MisclassifiedGallery(_WithPicture):
    """The images a model gets wrong, the most confidently wrong first; pick the model from the list."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        predictions: Mapping[str, np.ndarray],
        limit: int = 24,
        names: tuple[str, ...] = DIGITS,
    ) -> None:
        import ipywidgets as widgets

        self.images, self.labels, self.names, self.limit = images, np.asarray(labels), names, limit
        self.predictions = validate_predictions(predictions, len(images))
        self.choice = widgets.Dropdown(options=list(self.predictions), description="model")
        self.heading = widgets.HTML()
        self.grid = widgets.GridBox(layout=widgets.Layout(grid_template_columns="repeat(auto-fill, 96px)"))
        self.choice.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = widgets.VBox([self.choice, self.heading, self.grid])
        self.show(self.choice.value)

    def show(self, model: str) -> None:
        """Fill the gallery with ``model``'s mistakes."""
        import ipywidgets as widgets

        probabilities = self.predictions[model]
        wrong = misclassified(probabilities, self.labels, self.limit)
        total = int((probabilities.argmax(axis=1) != self.labels).sum())
        self.heading.value = (
            f"{html.escape(model)} gets <b>{total:,}</b> of {len(self.labels):,} test images "
            f"wrong. The {len(wrong)} it is surest of (true → predicted, confidence):"
        )
        tiles = []
        for index in wrong:
            predicted = int(probabilities[index].argmax())
            caption = (
                f"#{index}: {html.escape(self.names[int(self.labels[index])])} → "
                f"{html.escape(self.names[predicted])} ({probabilities[index, predicted]:.0%})"
            )
            tiles.append(
                widgets.VBox(
                    [
                        widgets.Image(value=digit_png(self.images[index], scale=3), format="png"),
                        # Two lines' height for every caption, so that the tiles line up.
                        widgets.HTML(
                            f'<div style="font-size:11px;line-height:1.2;height:2.4em;width:96px;overflow:hidden">'
                            f"{caption}</div>"
                        ),
                    ]
                )
            )
        self.grid.children = tiles

    def still(self) -> tuple[bytes, str]:
        """:func:`gallery_picture` of these predictions."""
        return gallery_picture(self.images, self.labels, self.predictions, self.names)


# Lower-case names for the notebook, which calls them like functions.
prediction_explorer = PredictionExplorer
misclassified_gallery = MisclassifiedGallery
