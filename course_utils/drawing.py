"""Turn a drawing into an MNIST digit, the way the MNIST digits themselves were made.

LeCun, Cortes and Burges describe it: each NIST digit was scaled, keeping its aspect
ratio, to fit a 20×20 box, with anti-aliasing that leaves grey levels; then it was placed
in a 28×28 image so that its centre of mass lies at the centre. A model trained on MNIST
expects exactly that: a drawing that is not cropped, scaled and centred this way is, to
the model, an unusual digit. Plain NumPy, so that it can be tested without a browser.
"""

from __future__ import annotations

import numpy as np

MNIST_SIZE = 28
DIGIT_BOX = 20
# Where MNIST puts the centre of mass, in pixel indices (row, column): the bundled
# sample's digits average (13.99, 14.01), each within half a pixel of (14, 14).
MNIST_CENTRE = (14.0, 14.0)
INK_THRESHOLD = 0.05  # fainter pixels are paper, not ink, when the digit's bounding box is found


class EmptyDrawing(ValueError):
    """There is no ink to classify."""


def ink(image: np.ndarray) -> np.ndarray:
    """Ink intensity from 0 (paper) to 1 (ink) of an image, as floats of shape ``(height, width)``.

    ``image`` may be greyscale ``(h, w)`` with ink bright, as in MNIST; RGB ``(h, w, 3)``
    with dark ink on light paper; or RGBA ``(h, w, 4)``, as a canvas returns it, where ink
    is dark and opaque and paper is light or transparent. Integer images run 0..255.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected a greyscale (h, w), RGB (h, w, 3) or RGBA (h, w, 4) image; got shape {image.shape}."
        )
    scale = 255.0 if np.issubdtype(image.dtype, np.integer) else 1.0
    image = image.astype(np.float64) / scale
    if image.ndim == 2:
        return np.clip(image, 0, 1)
    luminance = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    darkness = 1 - luminance
    if image.shape[2] == 4:
        darkness = darkness * image[..., 3]
    return np.clip(darkness, 0, 1)


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize by averaging the area each new pixel covers: anti-aliased, as MNIST's were."""
    return _area_weights(image.shape[0], height) @ image @ _area_weights(image.shape[1], width).T


def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """Matrix ``(size_out, size_in)``: the share of each output pixel's span that each input pixel covers."""
    edges = np.arange(size_out + 1) * (size_in / size_out)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(size_in)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The ink's centre of mass ``(row, column)``, in pixel indices."""
    total = image.sum()
    if total <= 0:
        raise EmptyDrawing("the image has no ink.")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def to_mnist(image: np.ndarray) -> np.ndarray:
    """A drawing as an MNIST digit: ``(28, 28)`` float32 in 0..1, ink bright on black.

    Crop to the ink, scale the longer side to 20 pixels keeping the aspect ratio, then
    shift by whole pixels so that the centre of mass lands at MNIST's centre (the shift
    is limited so that no ink leaves the 28×28 frame).
    """
    strokes = ink(image)
    inked_rows, inked_cols = np.nonzero(strokes > INK_THRESHOLD)
    if len(inked_rows) == 0:
        raise EmptyDrawing("the drawing is empty: draw a digit first.")
    crop = strokes[inked_rows.min() : inked_rows.max() + 1, inked_cols.min() : inked_cols.max() + 1]
    scale = DIGIT_BOX / max(crop.shape)
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    digit = area_resize(crop, height, width)
    digit /= digit.max()  # MNIST's darkest stroke is full white, however thin the pen
    row, col = centre_of_mass(digit)
    top = int(np.clip(round(MNIST_CENTRE[0] - row), 0, MNIST_SIZE - height))
    left = int(np.clip(round(MNIST_CENTRE[1] - col), 0, MNIST_SIZE - width))
    canvas = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    canvas[top : top + height, left : left + width] = digit
    return canvas
