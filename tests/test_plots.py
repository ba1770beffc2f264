"""The task notebooks' pictures: drawn from NumPy arrays, displayed once, and described by their alt text."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import course_utils as course
from course_utils import plots

import numpy as np
import pytest
from PIL import Image

RNG = np.random.default_rng(0)
DIGITS = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
KERNEL = RNG.normal(size=(3, 3, 1, 32)).astype(np.float32)  # Keras's and TensorFlow's (height, width, in, out)


def shown() -> plots.Picture:
    assert plots.last_picture is not None
    return plots.last_picture


def png_size(picture: plots.Picture) -> tuple[int, int]:
    return Image.open(io.BytesIO(picture.png)).size


def test_importing_the_runtime_does_not_import_matplotlib() -> None:
    code = "import sys, course_utils; print(sorted({'matplotlib', 'IPython'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_picture_is_displayed_once_as_png_and_alt_text(monkeypatch) -> None:
    import IPython.display

    displayed = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    assert course.show_training([0.5, 0.25]) is None  # a cell ending with the call shows nothing more
    assert displayed == [shown()]
    bundle = shown()._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    assert base64.b64decode(bundle["image/png"]) == shown().png
    assert bundle["text/plain"] == repr(shown()) == shown().alt


def test_training_alt_text_names_the_first_and_last_epochs_and_the_png_fills_a_column() -> None:
    course.show_training([0.41, 0.2, 0.12, 0.06])
    assert shown().alt == "Training loss per epoch, from 0.41 after epoch 1 to 0.06 after epoch 4."
    assert png_size(shown()) == (950, 360)  # 9.5 × 3.6 inches at 100 dpi
    course.show_training(np.array([0.41, 0.06]), accuracies=[0.881, 0.9812])
    assert shown().alt == (
        "Training loss per epoch, from 0.41 after epoch 1 to 0.06 after epoch 2, "
        "and training accuracy from 88.1% to 98.1%."
    )


def test_digits_of_every_shape_and_scale_give_the_same_picture() -> None:
    labels = np.arange(12) % 10
    course.show_digits(DIGITS, labels, count=10)
    first = shown()
    assert first.alt == "The first 10 of 12 images, labelled 0, 1, 2, 3, 4, 5, 6, 7, 8 and 9."
    assert png_size(first) == (950, 170)
    scaled = DIGITS / np.float32(255)
    for images in (scaled.reshape(12, 784), scaled.reshape(12, 28, 28, 1), scaled.reshape(12, 1, 28, 28)):
        course.show_digits(images, labels, count=10)
        assert shown().png == first.png
    with pytest.raises(ValueError, match="784 pixels"):
        course.show_digits(np.zeros((3, 27, 27)), [1, 2, 3])


def probabilities_with_mistakes(labels: np.ndarray, wrong: dict[int, tuple[int, float]]) -> np.ndarray:
    """One-hot probabilities of ``labels``, except image i -> (predicted class, its probability)."""
    probabilities = np.eye(10)[labels]
    for image, (predicted, probability) in wrong.items():
        probabilities[image] = (1 - probability) / 9
        probabilities[image, predicted] = probability
    return probabilities


def test_mistakes_are_counted_and_the_surest_come_first() -> None:
    labels = np.arange(200) % 10
    wrong = {3: (8, 0.6), 17: (1, 0.95), 50: (6, 0.7), 51: (4, 0.55), 120: (9, 0.8), 199: (4, 0.5), 7: (2, 0.3)}
    course.show_mistakes(DIGITS[np.arange(200) % 12], probabilities_with_mistakes(labels, wrong), labels, count=4)
    assert shown().alt == (
        "7 mistakes out of 200 images (3.5%); "
        "the surest: 7 taken for 1 (95%), 0 taken for 9 (80%), 0 taken for 6 (70%)."
    )
    course.show_mistakes(DIGITS[:10], probabilities_with_mistakes(np.arange(10), {4: (5, 0.9)}), np.arange(10))
    assert shown().alt.startswith("1 mistake out of 10 images (10.0%); the surest: 4 taken for 5 (90%)")


def test_no_mistakes_is_a_picture_too() -> None:
    labels = np.arange(10)
    course.show_mistakes(DIGITS[:10], np.eye(10)[labels], labels)
    assert shown().alt == "No mistakes: the model classified all 10 images right."
    assert png_size(shown())[0] == 950


def test_filters_look_the_same_in_either_layout() -> None:
    course.show_filters(KERNEL, layout="HWIO")
    keras_picture = shown()
    course.show_filters(KERNEL.transpose(3, 2, 0, 1), layout="OIHW")  # PyTorch's (out, in, height, width)
    assert shown().png == keras_picture.png
    low, high = KERNEL.min(), KERNEL.max()
    assert shown().alt == (
        f"The 32 filters of a convolution, 3 × 3 weights each, "
        f"from {low:.2f} (blue) to {high:.2f} (red), white at zero."
    )


@pytest.mark.parametrize(
    ("kernel", "layout"),
    [(KERNEL, "NCHW"), (KERNEL.transpose(3, 2, 0, 1), "HWIO"), (KERNEL, "OIHW"), (KERNEL[..., 0], "HWIO")],
)
def test_filters_in_a_wrong_layout_are_refused_with_the_shapes_expected(kernel: np.ndarray, layout: str) -> None:
    with pytest.raises(ValueError) as refused:
        course.show_filters(kernel, layout=layout)
    message = str(refused.value)
    assert "'HWIO' with shape (height, width, in, out)" in message and "(3, 3, 1, 32)" in message
    assert "'OIHW' with shape (out, in, height, width)" in message and "(32, 1, 3, 3)" in message
    assert f"got layout={layout!r} with shape {kernel.shape}" in message


def test_feature_maps_look_the_same_in_either_layout_and_with_a_batch_of_one() -> None:
    maps = RNG.normal(size=(26, 26, 32)).astype(np.float32)
    course.show_feature_maps(maps, layout="HWC")
    channels_last = shown()
    assert channels_last.alt.startswith("The 32 feature maps, 26 × 26 each, that a convolution makes of one image")
    course.show_feature_maps(maps.transpose(2, 0, 1)[None], layout="CHW")
    assert shown().png == channels_last.png
    with pytest.raises(ValueError, match=r"'CHW' with shape \(channels, height, width\)"):
        course.show_feature_maps(maps, layout="CHW")


def test_rows_say_how_much_of_the_ink_each_step_has_read() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0:14, 10] = 255  # ink in the top half only: half of it read after 7 rows, all of it after 14
    course.show_rows(image.reshape(1, 28, 28, 1))
    assert shown().alt == (
        "The image as an LSTM reads it, one row of 28 pixels per time step: after 7, 14, 21 and 28 of its "
        "28 time steps it has read 50%, 100%, 100% and 100% of the ink, the rest greyed out."
    )
    with pytest.raises(ValueError, match="one image"):
        course.show_rows(DIGITS[:2])
