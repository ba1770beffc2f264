"""Pictures for the task notebooks, drawn from NumPy arrays so that every framework's notebook calls them alike.

Each ``show_*`` function draws a Matplotlib figure and displays it as a PNG whose ``text/plain`` is one
sentence saying what the picture shows, with its numbers: the course site uses it as the image's alt text.
The functions return ``None``, so that a cell ending with the call shows the picture once; the picture
stays in :data:`last_picture` (its ``png`` and ``alt``). Matplotlib is imported only when a picture is
drawn, and no framework ever: a notebook passes ``tensor.numpy()`` or ``keras.ops.convert_to_numpy(...)``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .config import dataset_name
from .widgets import class_names

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Names = Sequence[str] | None  # the ten classes' names; None: those of the course's dataset (COURSE_DATASET)
# Petroff's six colours (Matplotlib's petroff6), chosen to stay distinct under the common colour-vision deficiencies.
PETROFF6 = ("#5790fc", "#f89c20", "#e42536", "#964a8b", "#9c9ca1", "#7a21dd")
DIVERGING = "RdBu_r"  # weights and activations: blue below zero, white at zero, red above
WIDTH, DPI = 9.5, 100  # inches, to fill a notebook column; and dots per inch, to keep the notebook light
SIDE = 28  # MNIST's images are 28 × 28 pixels
# layout -> the axes that put it in (channels, [in,] height, width) order, and the shape it means.
LAYOUTS = {
    "HWIO": ((3, 2, 0, 1), "(height, width, in, out), like Keras's and TensorFlow's (3, 3, 1, 32)"),
    "OIHW": ((0, 1, 2, 3), "(out, in, height, width), like PyTorch's (32, 1, 3, 3)"),
    "HWC": ((2, 0, 1), "(height, width, channels), like Keras's and TensorFlow's (26, 26, 32)"),
    "CHW": ((0, 1, 2), "(channels, height, width), like PyTorch's (32, 26, 26)"),
}


@dataclass(frozen=True, repr=False)
class Picture:
    """A drawn figure: its PNG bytes, and the sentence that says what it shows."""

    png: bytes
    alt: str

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": self.alt}

    def __repr__(self) -> str:  # outside IPython, display() prints this: the alt text
        return self.alt


last_picture: Picture | None = None  # the picture that a show_* function displayed last


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")


def _show(figure: Figure, title: str, alt: str) -> None:
    """Title ``figure``, render it as a PNG and display it with its alt text."""
    global last_picture
    from IPython.display import display

    figure.suptitle(title, fontsize="x-large")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    last_picture = Picture(buffer.getvalue(), alt)
    display(last_picture)


def _images(images: ArrayLike, which: ArrayLike | slice = slice(None)) -> np.ndarray:
    """The ``which`` images as floats 0..1 of shape (n, 28, 28), from uint8 0..255 or floats 0..1 of any shape."""
    images = np.asarray(images)
    if images.size == 0 or images.size % (SIDE * SIDE):
        raise ValueError(f"expected images of 28 × 28 = 784 pixels each; got shape {images.shape}.")
    scale = 255.0 if np.issubdtype(images.dtype, np.integer) else 1.0
    return images.reshape(-1, SIDE, SIDE)[which].astype(np.float32) / scale  # a view until indexed: no big copy


def _listed(items: Sequence[object]) -> str:
    return ", ".join(map(str, items[:-1])) + (" and " if len(items) > 1 else "") + str(items[-1])


def _grid(figure: Figure, count: int, columns: int, framed: bool = False) -> list:
    """``count`` axes without ticks, in rows of ``columns``, framed in grey or not; unused places are left empty."""
    axes = list(figure.subplots(-(-count // columns), columns, squeeze=False).flat)
    for number, axis in enumerate(axes):
        axis.set(xticks=[], yticks=[])
        axis.spines[:].set_color(PETROFF6[4])
        if number >= count or not framed:
            axis.set_axis_off()
    return axes[:count]


def show_digits(images: ArrayLike, labels: ArrayLike, names: Names = None, count: int = 20) -> None:
    """The first ``count`` images, each titled with its label (``names``: the course's dataset's classes)."""
    labels, names = np.asarray(labels), names or class_names(dataset_name())
    count = min(count, len(labels))
    columns = min(count, 10)
    figure = _figure(1.2 * -(-count // columns) + 0.5)
    for axis, image, label in zip(_grid(figure, count, columns), _images(images, slice(count)), labels):
        axis.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(names[int(label)], fontsize="large")
    shown = f"The first {count} of {len(labels):,} images"
    _show(
        figure,
        f"{shown}, each titled with its label",
        f"{shown}, labelled {_listed([names[int(label)] for label in labels[:count]])}.",
    )


def show_training(losses: ArrayLike, accuracies: ArrayLike | None = None) -> None:
    """The mean training loss per epoch, and the training accuracy beside it where the framework gives it."""
    from matplotlib.ticker import MaxNLocator

    curves = [("training loss (cross-entropy)", np.asarray(losses, dtype=float))]
    if accuracies is not None:
        curves.append(("training accuracy", np.asarray(accuracies, dtype=float)))
    figure = _figure(3.6)
    for axis, (label, values), colour in zip(figure.subplots(1, len(curves), squeeze=False)[0], curves, PETROFF6):
        axis.plot(np.arange(1, len(values) + 1), values, marker="o", color=colour, linewidth=2)
        axis.set(xlabel="epoch", ylabel=label, xlim=(0.5, len(values) + 0.5))
        axis.set_ylim(0, 1 if label == "training accuracy" else None)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    loss = curves[0][1]
    alt = f"Training loss per epoch, from {loss[0]:.3g} after epoch 1 to {loss[-1]:.3g} after epoch {len(loss)}"
    if accuracies is not None:
        alt += f", and training accuracy from {curves[1][1][0]:.1%} to {curves[1][1][-1]:.1%}"
    _show(figure, f"Training loss{' and accuracy' * (accuracies is not None)} per epoch", alt + ".")


def show_mistakes(
    images: ArrayLike, probabilities: ArrayLike, labels: ArrayLike, names: Names = None, count: int = 16
) -> None:
    """The images the model got wrong, the ones it was surest of first, each with what it said and what it is."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    names = names or class_names(dataset_name())
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(f"expected probabilities of shape ({len(labels)}, classes); got {probabilities.shape}.")
    predicted, sureness = probabilities.argmax(axis=1), probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-sureness[wrong], kind="stable")]
    shown = wrong[:count]
    mistakes = f"{len(wrong):,} mistake{'s' * (len(wrong) != 1)}"
    summary = f"{mistakes} out of {len(labels):,} images ({len(wrong) / len(labels):.1%})"
    if not len(shown):
        figure = _figure(1.2)
        _grid(figure, 1, 1)[0].text(0.5, 0.5, "Every image is classified right.", ha="center", fontsize="large")
        _show(figure, summary, f"No mistakes: the model classified all {len(labels):,} images right.")
        return
    columns = min(len(shown), 8)
    figure = _figure(1.45 * -(-len(shown) // columns) + 0.5)
    for axis, image, number in zip(_grid(figure, len(shown), columns), _images(images, shown), shown):
        axis.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        said, truth = names[predicted[number]], names[int(labels[number])]
        axis.set_title(f"says {said} ({sureness[number]:.0%})\nis {truth}", fontsize="medium")
    which = "all of them" if len(shown) == len(wrong) else f"the {len(shown)} the model was surest of"
    surest = ", ".join(
        f"{names[int(labels[n])]} taken for {names[predicted[n]]} ({sureness[n]:.0%})" for n in shown[:3]
    )
    _show(figure, f"{summary}: {which}", f"{summary}; the surest: {surest}.")


def _channels_first(array: ArrayLike, layout: str, layouts: tuple[str, str], name: str) -> np.ndarray:
    """``array`` from ``layout`` to channels-first order, or a ValueError naming the shapes expected."""
    array = np.asarray(array, dtype=np.float32)
    order = LAYOUTS[layout][0] if layout in layouts else ()
    if array.ndim != len(order) or array.shape[order[-1]] != array.shape[order[-2]]:
        expected = " or ".join(f"layout={option!r} with shape {LAYOUTS[option][1]}" for option in layouts)
        raise ValueError(f"{name} expects {expected}; got layout={layout!r} with shape {array.shape}.")
    return array.transpose(order)


def _show_maps(maps: np.ndarray, columns: int, colour_label: str, title: str, alt: str) -> None:
    """Square maps side by side, on one diverging colour scale centred on zero."""
    limit = float(np.abs(maps).max()) or 1.0
    figure = _figure(WIDTH * 0.92 / columns * -(-len(maps) // columns) + 0.9)
    for number, (axis, values) in enumerate(zip(_grid(figure, len(maps), columns, framed=True), maps)):
        image = axis.imshow(values, cmap=DIVERGING, vmin=-limit, vmax=limit)
        axis.set_title(str(number + 1), fontsize="small", pad=2)
    figure.colorbar(image, ax=figure.axes, label=colour_label, shrink=0.9, aspect=30)
    _show(figure, title, f"{alt}, from {maps.min():.2f} (blue) to {maps.max():.2f} (red), white at zero.")


def show_filters(kernel: ArrayLike, layout: str) -> None:
    """A convolution's filters as images: ``"HWIO"`` for Keras's and TensorFlow's kernels, ``"OIHW"`` for PyTorch's."""
    weights = _channels_first(kernel, layout, ("HWIO", "OIHW"), "show_filters")
    count, inputs, height, width = weights.shape
    channel = f", input channel 1 of {inputs}" if inputs > 1 else ""
    title = f"The convolution's {count} filters, {height} × {width} weights each{channel}"
    alt = f"The {count} filters of a convolution, {height} × {width} weights each"
    _show_maps(weights[:, 0], 16, "weight", title, alt)


def show_feature_maps(maps: ArrayLike, layout: str) -> None:
    """One image's feature maps after a convolution: ``"HWC"`` (Keras, TensorFlow) or ``"CHW"`` (PyTorch)."""
    maps = np.asarray(maps)
    maps = maps[0] if maps.ndim == 4 and len(maps) == 1 else maps  # a batch of one image
    maps = _channels_first(maps, layout, ("HWC", "CHW"), "show_feature_maps")
    count, height, width = maps.shape
    title = f"One image's {count} feature maps of {height} × {width} after the convolution"
    alt = f"The {count} feature maps, {height} × {width} each, that a convolution makes of one image"
    _show_maps(maps, 8, "activation", title, alt)


def show_rows(image: ArrayLike, steps: Sequence[int] = (7, 14, 21, 28)) -> None:
    """How an LSTM reads an image, one row per time step: what it has seen after each of ``steps``."""
    image = _images(image)
    if len(image) != 1:
        raise ValueError(f"expected one image of 28 × 28 pixels; got {len(image)} images' worth.")
    image, shares = image[0], []
    figure = _figure(3.6)
    axes = figure.subplots(1, len(steps), sharey=True, squeeze=False)[0]
    for axis, step in zip(axes, steps):
        axis.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        if step < SIDE:
            axis.axhspan(step - 0.5, SIDE - 0.5, color=PETROFF6[4], alpha=0.8)  # the rows not read yet
            axis.axhline(step - 0.5, color=PETROFF6[0], linewidth=2.5)  # the last row read
        shares.append(f"{image[:step].sum() / (image.sum() or 1):.0%}")
        axis.set(title=f"after {step} time steps\n{shares[-1]} of the ink read", xlabel="pixel in the row")
    axes[0].set_ylabel("row (one time step each)")
    title = f"An LSTM reads the image top to bottom, one row of {SIDE} pixels per time step"
    alt = f"The image as an LSTM reads it, one row of {SIDE} pixels per time step: after {_listed(list(steps))} of its"
    _show(figure, title, f"{alt} {SIDE} time steps it has read {_listed(shares)} of the ink, the rest greyed out.")
