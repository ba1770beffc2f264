"""Interactive widgets: the drawing pad that ends each task notebook, and what it is built from.

Each widget is a thin ipywidgets layer over plain functions (which predictions to show,
the HTML of a probability chart, a digit as a PNG), and those functions carry the tests.
The widgets are built without a browser too, so notebooks that show them run headless
under nbval and ``course run``; they only respond to clicks in a live Jupyter session.
The explore notebook's widgets, over every model's predictions, are in ``course_lab.explore``.

Predictions are arrays of class probabilities, one row per image, keyed by the model's
name (``"mlp/keras"``), so that this module never imports a framework.
"""

from __future__ import annotations

import html
import io
import sys
from collections.abc import Callable

import numpy as np

from .drawing import EmptyDrawing, to_mnist

DIGITS = tuple("0123456789")
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
PredictFn = Callable[[np.ndarray], np.ndarray]


def class_names(data_source: str) -> tuple[str, ...]:
    """The names of the ten classes of a dataset (its ``Dataset.source``)."""
    return FASHION if data_source.startswith("fashion") else DIGITS


# --- plain functions -------------------------------------------------------------------


def digit_png(image: np.ndarray, scale: int = 4) -> bytes:
    """A 28×28 image (uint8 0..255, or floats 0..1) as PNG bytes, each pixel ``scale`` pixels wide."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected one greyscale image of shape (height, width), got shape {image.shape}.")
    if not np.issubdtype(image.dtype, np.integer):
        image = np.rint(np.clip(image * 255, 0, 255))
    pixels = np.kron(image.astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def probability_chart_html(
    probabilities: np.ndarray, names: tuple[str, ...] = DIGITS, title: str = "", label: int | None = None
) -> str:
    """HTML bars of one row of class probabilities; the prediction is bold, the true class marked ✓."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(names),):
        raise ValueError(f"expected {len(names)} probabilities, got shape {probabilities.shape}.")
    predicted = int(np.argmax(probabilities))
    verdict = "" if label is None else (" ✓" if predicted == label else f" ✗ (it is {html.escape(names[label])})")
    rows = [
        # One line, whatever its length: a heading that wraps would push this chart's bars out of line.
        f'<div style="white-space:nowrap;overflow:hidden;text-overflow:ellipsis"><b>{html.escape(title)}</b>'
        f"{': ' if title else ''}{html.escape(names[predicted])} ({probabilities[predicted]:.1%}){verdict}</div>"
    ]
    for number, (name, probability) in enumerate(zip(names, probabilities)):
        weight = "bold" if number == predicted else "normal"
        # Matplotlib's petroff10 colours, which colour-blind readers tell apart: orange only for a wrong answer.
        wrong = label is not None and number == predicted != label
        colour = "#e76300" if wrong else ("#3f90da" if number in (label, predicted) else "#94a4a2")
        rows.append(
            f'<div style="display:flex;align-items:center;gap:6px;font-weight:{weight}">'
            f'<span style="width:7em;text-align:right">{html.escape(name)}</span>'
            f'<span style="display:inline-block;height:0.8em;width:{probability * 150:.1f}px;'
            f'background:{colour}"></span><span>{probability:.1%}</span></div>'
        )
    return '<div style="font-family:monospace;font-size:12px;width:25em">' + "".join(rows) + "</div>"


# --- widgets ---------------------------------------------------------------------------


class Widget:
    """Shows as its ``widget`` when it is the last value of a cell."""

    widget: object

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)


BLANK_PREVIEW = digit_png(np.zeros((28, 28), dtype=np.uint8), scale=3)


class DrawingPad(Widget):
    """Draw a digit with the mouse; it is preprocessed as MNIST's digits were, and the model classifies it.

    ``predict_fn`` takes float32 images of shape ``(n, 28, 28)``, ink bright on black in
    0..1 like the scaled training images, and returns ``(n, classes)`` probabilities.
    """

    def __init__(self, predict_fn: PredictFn, names: tuple[str, ...] = DIGITS, size: int = 280) -> None:
        import ipywidgets as widgets

        try:
            from ipycanvas import Canvas
        except ImportError:
            raise ImportError("the drawing pad needs ipycanvas: pip install -r requirements.txt") from None
        if "google.colab" in sys.modules:
            from google.colab import output  # Colab shows widgets beyond ipywidgets' own only when asked

            output.enable_custom_widget_manager()

        self.predict_fn, self.names, self.size = predict_fn, names, size
        self.canvas = Canvas(
            width=size,
            height=size,
            sync_image_data=True,
            layout=widgets.Layout(border="1px solid #888", width=f"{size}px", height=f"{size}px"),
        )
        self.preview = widgets.Image(format="png", width=84, height=84)
        self.result = widgets.HTML("Draw a digit in the box.")
        clear = widgets.Button(description="clear")
        clear.on_click(lambda _button: self.clear())
        self.widget = widgets.HBox(
            [self.canvas, widgets.VBox([clear, widgets.Label("what the model sees:"), self.preview, self.result])]
        )
        self._last: tuple[float, float] | None = None
        self._inked = False  # has the pen drawn since the last clear?
        self.canvas.on_mouse_down(self._pen_down)
        self.canvas.on_mouse_move(self._pen_move)
        self.canvas.on_mouse_up(self._pen_up)
        self.canvas.on_mouse_out(self._pen_up)
        self.canvas.observe(self._on_image, names="image_data")
        self.clear()

    def clear(self) -> None:
        """Blank the pad: white paper; ink will be a round black pen about as wide as MNIST's strokes."""
        self.canvas.clear()
        self.canvas.fill_style = "white"
        self.canvas.fill_rect(0, 0, self.size, self.size)
        self.canvas.stroke_style, self.canvas.line_cap, self.canvas.line_join = "black", "round", "round"
        self.canvas.line_width = self.size / 14
        self._inked = False
        # A black square, not an empty value: a browser draws a broken-image icon for no PNG at all.
        self.result.value, self.preview.value = "Draw a digit in the box.", BLANK_PREVIEW

    def classify(self, image: np.ndarray) -> np.ndarray | None:
        """Preprocess ``image`` (as the canvas gives it), show what the model sees and predicts, return it."""
        try:
            digit = to_mnist(image)
        except EmptyDrawing as empty:
            self.result.value = html.escape(str(empty))
            return None
        probabilities = np.asarray(self.predict_fn(digit[None]), dtype=np.float64)
        if probabilities.shape != (1, len(self.names)) or not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
            raise ValueError(
                f"predict_fn returned shape {probabilities.shape} summing to {probabilities.sum():.3f}; "
                f"it must return (n, {len(self.names)}) probabilities: apply softmax to the logits."
            )
        self.preview.value = digit_png(digit, scale=3)
        self.result.value = probability_chart_html(probabilities[0], self.names, "model")
        return probabilities[0]

    def _pen_down(self, x: float, y: float) -> None:
        self._last = (x, y)

    def _pen_move(self, x: float, y: float) -> None:
        if self._last is not None:
            self.canvas.stroke_line(*self._last, x, y)
            self._last, self._inked = (x, y), True

    def _pen_up(self, x: float, y: float) -> None:
        drawing, self._last = self._last is not None, None
        if drawing:
            self._classify_canvas()

    def _on_image(self, change: dict) -> None:
        # The picture of a finished stroke can arrive after the pen went up. The blank page that
        # clear() paints arrives too, and must not replace the prompt with "the drawing is empty".
        if self._last is None and self._inked:
            self._classify_canvas()

    def _classify_canvas(self) -> None:
        if self.canvas.image_data is None:
            return
        try:
            self.classify(self.canvas.get_image_data())
        except Exception as error:  # a callback's exception would vanish into the browser's log
            self.result.value = f"<b>error</b>: {html.escape(str(error))}"


# A lower-case name for the notebooks, which call it like a function.
drawing_pad = DrawingPad
