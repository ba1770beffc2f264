"""The explore notebook's widgets: every model's predictions on the test set, side by side.

A prediction explorer (pick a test image, see each model's probabilities) and a gallery of
each model's mistakes, over the predictions that ``course_tools.records.load_predictions``
reads back. Predictions are arrays of class probabilities, one row per image, keyed by the
model's name (``"mlp/keras"``), so that this module never imports a framework.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from course_utils.widgets import DIGITS, Widget, digit_png, probability_chart_html

import numpy as np


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


class PredictionExplorer(Widget):
    """Pick a test image with the slider, and see each model's prediction and probabilities."""

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
        # Without flex-start the row stretches the picture to the charts' height (ipywidgets' CSS
        # sets images to height: auto), and the digit comes out three times taller than wide.
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.slider, next_mistake]),
                widgets.HBox([self.picture, self.charts], layout=widgets.Layout(align_items="flex-start")),
            ]
        )
        self.show(0)

    def show(self, index: int) -> None:
        """Show test image ``index`` and every model's probabilities for it."""
        self.picture.value = digit_png(self.images[index])
        label = int(self.labels[index])
        self.charts.value = (
            f"<div>test image {index}, label <b>{html.escape(self.names[label])}</b></div>"
            '<div style="display:flex;flex-wrap:wrap;gap:12px">'
            + "".join(
                probability_chart_html(p[index], self.names, model, label) for model, p in self.predictions.items()
            )
            + "</div>"
        )

    def next_mistake(self) -> None:
        """Move the slider to the next image that at least one model gets wrong (wrapping around)."""
        if len(self.wrong_somewhere):
            later = self.wrong_somewhere[self.wrong_somewhere > self.slider.value]
            self.slider.value = int(later[0] if len(later) else self.wrong_somewhere[0])


class MisclassifiedGallery(Widget):
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


# Lower-case names for the notebook, which calls them like functions.
prediction_explorer = PredictionExplorer
misclassified_gallery = MisclassifiedGallery
