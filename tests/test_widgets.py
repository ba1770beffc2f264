"""The widgets' logic: MNIST-style preprocessing of drawings, the explorer, the gallery, the drawing pad."""

from __future__ import annotations

import io
import re
import sys
import types

from course_utils import drawing, widgets
from course_utils.data import load_sample

import numpy as np
import pytest
from PIL import Image

from course_lab import explore


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def on_canvas(digit: np.ndarray, zoom: int, top: int, left: int, size: int = 300) -> np.ndarray:
    """An MNIST digit drawn large and off-centre, as a canvas returns it: black ink, opacity = ink."""
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    big = np.kron(digit, np.ones((zoom, zoom), dtype=np.uint8))
    rgba[top : top + big.shape[0], left : left + big.shape[1], 3] = big
    return rgba


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_mnist_digits_are_already_what_preprocessing_makes(sample) -> None:
    # Our preprocessing is MNIST's: applied to MNIST's own digits, it must change almost nothing.
    for digit in sample.x_test[:200]:
        assert correlation(drawing.to_mnist(digit), digit) > 0.99


@pytest.mark.parametrize("zoom, top, left", [(8, 40, 20), (10, 0, 0), (5, 150, 160)])
def test_a_large_off_centre_drawing_becomes_the_mnist_digit(sample, zoom: int, top: int, left: int) -> None:
    for digit in sample.x_test[:20]:
        processed = drawing.to_mnist(on_canvas(digit, zoom, top, left))
        assert processed.shape == (28, 28) and processed.dtype == np.float32
        assert correlation(processed, digit) > 0.98


def test_dark_ink_on_white_paper_reads_as_ink(sample) -> None:
    digit = sample.x_test[0]
    rgb = np.full((280, 280, 3), 255, dtype=np.uint8)
    rgb[10:234, 30:254] = 255 - np.kron(digit, np.ones((8, 8), dtype=np.uint8))[..., None]
    assert correlation(drawing.to_mnist(rgb), digit) > 0.98
    opaque = np.dstack([rgb, np.full((280, 280), 255, dtype=np.uint8)])
    assert correlation(drawing.to_mnist(opaque), digit) > 0.98


def test_a_stroke_fits_a_20_pixel_box_centred_by_mass() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        canvas = np.zeros((280, 280))
        top, left = rng.integers(0, 150, size=2)
        height, width = rng.integers(30, 130, size=2)
        canvas[top : top + height, left : left + width] = rng.random((height, width)) > 0.5
        processed = drawing.to_mnist(canvas)
        rows, cols = np.nonzero(processed > 0)
        assert max(np.ptp(rows) + 1, np.ptp(cols) + 1) == 20
        row, col = drawing.centre_of_mass(processed)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
        assert processed.max() == pytest.approx(1)


def test_centring_is_by_mass_not_by_bounding_box() -> None:
    canvas = np.tril(np.ones((200, 200)))  # a triangle: its mass sits far from its box's centre
    processed = drawing.to_mnist(canvas)
    rows, cols = np.nonzero(processed > 0)
    row, col = drawing.centre_of_mass(processed)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    assert abs((rows.min() + rows.max()) / 2 - 14) > 2  # so the box itself is off-centre


def test_a_thin_one_keeps_its_aspect_ratio() -> None:
    canvas = np.zeros((280, 280))
    canvas[40:240, 130:150] = 1  # 200 tall, 20 wide
    rows, cols = np.nonzero(drawing.to_mnist(canvas) > 0)
    assert np.ptp(rows) + 1 == 20 and np.ptp(cols) + 1 == 2


def test_area_resize_averages_blocks() -> None:
    image = np.random.default_rng(1).random((280, 140))
    resized = drawing.area_resize(image, 28, 14)
    assert np.allclose(resized, image.reshape(28, 10, 14, 10).mean(axis=(1, 3)))
    assert drawing.area_resize(image, 13, 7).mean() == pytest.approx(image.mean())


def test_an_empty_drawing_asks_for_a_digit() -> None:
    with pytest.raises(drawing.EmptyDrawing, match="draw a digit"):
        drawing.to_mnist(np.zeros((280, 280, 4), dtype=np.uint8))


def test_a_wrong_image_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="RGBA"):
        drawing.to_mnist(np.zeros((28, 28, 2)))


def test_digit_png_is_the_image_scaled_up(sample) -> None:
    digit = sample.x_test[3]
    decoded = np.asarray(Image.open(io.BytesIO(widgets.digit_png(digit, scale=3))))
    assert decoded.shape == (84, 84)
    assert np.array_equal(decoded[::3, ::3], digit)
    from_floats = np.asarray(Image.open(io.BytesIO(widgets.digit_png(digit / 255, scale=1))))
    assert np.abs(from_floats.astype(int) - digit).max() <= 1


def probabilities_for(labels: np.ndarray, wrong: dict[int, tuple[int, float]]) -> np.ndarray:
    """Confident right answers, except ``wrong``: index -> (predicted class, its probability)."""
    probabilities = np.full((len(labels), 10), 0.01)
    probabilities[np.arange(len(labels)), labels] = 0.91
    for index, (predicted, confidence) in wrong.items():
        probabilities[index] = (1 - confidence) / 9
        probabilities[index, predicted] = confidence
    return probabilities


def test_misclassified_are_the_wrong_ones_surest_first() -> None:
    labels = np.array([0, 1, 2, 3, 4, 5])
    probabilities = probabilities_for(labels, {1: (7, 0.6), 4: (9, 0.95), 5: (3, 0.4)})
    assert misclassified_list(probabilities, labels) == [4, 1, 5]
    assert misclassified_list(probabilities, labels, limit=2) == [4, 1]


def misclassified_list(probabilities: np.ndarray, labels: np.ndarray, limit: int | None = None) -> list[int]:
    return explore.misclassified(probabilities, labels, limit).tolist()


def test_mistakes_summary_counts_shared_mistakes() -> None:
    labels = np.arange(10)
    predictions = {
        "a": probabilities_for(labels, {2: (3, 0.9), 5: (1, 0.9)}),
        "b": probabilities_for(labels, {2: (4, 0.8)}),
    }
    summary = explore.mistakes_summary(predictions, labels).splitlines()
    assert summary[0].startswith("a") and "accuracy 0.8000, 2 of 10 wrong" in summary[0]
    assert "accuracy 0.9000, 1 of 10 wrong" in summary[1]
    assert summary[2].startswith("1 test images are wrong in every model")


def test_probability_chart_marks_prediction_and_truth() -> None:
    probabilities = probabilities_for(np.array([3]), {0: (8, 0.7)})[0]
    chart = widgets.probability_chart_html(probabilities, title="mlp/<keras>", label=3)
    assert "mlp/&lt;keras&gt;" in chart and "8 (70.0%) ✗ (it is 3)" in chart
    assert chart.count("font-weight:bold") == 1
    assert "✓" in widgets.probability_chart_html(probabilities, label=8)
    with pytest.raises(ValueError, match="10 probabilities"):
        widgets.probability_chart_html(probabilities[:9])


def test_class_names_follow_the_dataset() -> None:
    assert widgets.class_names("sample")[7] == "7"
    assert widgets.class_names("fashion_mnist")[9] == "Ankle boot"


def test_explorer_follows_its_slider_and_finds_mistakes(sample) -> None:
    images, labels = sample.x_test[:50], sample.y_test[:50]
    predictions = {
        "mlp/keras": probabilities_for(labels, {7: (1, 0.8)}),
        "mlp/pytorch": probabilities_for(labels, {30: (2, 0.6)}),
    }
    explorer = explore.prediction_explorer(images, labels, predictions)
    assert "test image 0," in explorer.charts.value
    explorer.slider.value = 12
    assert f"test image 12, label <b>{labels[12]}</b>" in explorer.charts.value
    assert explorer.picture.value == widgets.digit_png(images[12])
    explorer.next_mistake()
    assert explorer.slider.value == 30 and "✗" in explorer.charts.value
    explorer.next_mistake()  # wraps around to the first
    assert explorer.slider.value == 7
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_explorer_refuses_predictions_that_do_not_fit(sample) -> None:
    with pytest.raises(ValueError, match="run a task notebook first"):
        explore.prediction_explorer(sample.x_test, sample.y_test, {})
    with pytest.raises(ValueError, match="mlp/keras"):
        explore.prediction_explorer(sample.x_test, sample.y_test, {"mlp/keras": np.ones((10, 10)) / 10})


def test_gallery_shows_the_chosen_models_mistakes(sample) -> None:
    images, labels = sample.x_test[:40], sample.y_test[:40]
    predictions = {
        "a": probabilities_for(labels, {i: ((labels[i] + 1) % 10, 0.5 + i / 100) for i in range(30)}),
        "b": probabilities_for(labels, {5: ((labels[5] + 1) % 10, 0.9)}),
    }
    gallery = explore.misclassified_gallery(images, labels, predictions, limit=24)
    assert len(gallery.grid.children) == 24 and "<b>30</b> of 40" in gallery.heading.value
    first_caption = gallery.grid.children[0].children[1].value
    assert "#29:" in first_caption  # the surest mistake first
    gallery.choice.value = "b"
    assert len(gallery.grid.children) == 1 and "<b>1</b> of 40" in gallery.heading.value


def test_drawing_pad_sends_the_mnist_digit_to_the_model(sample) -> None:
    seen = []

    def predict(images: np.ndarray) -> np.ndarray:
        seen.append(images)
        return probabilities_for(np.array([4]), {})

    pad = widgets.drawing_pad(predict)
    drawn = on_canvas(sample.x_test[0], 8, 30, 30, size=280)
    probabilities = pad.classify(drawn)
    assert seen[0].shape == (1, 28, 28) and seen[0].dtype == np.float32
    assert np.array_equal(seen[0][0], drawing.to_mnist(drawn))
    assert probabilities.argmax() == 4 and "<b>model</b>: 4 (91.0%)" in pad.result.value
    assert pad.preview.value == widgets.digit_png(seen[0][0], scale=3)
    pad.clear()
    assert pad.preview.value == widgets.digit_png(np.zeros((28, 28)), scale=3), "a black square, not a broken image"
    assert "Draw a digit" in pad.result.value


def canvas_png(paper: np.ndarray) -> bytes:
    """What the browser sends back as the canvas's image_data: an RGBA PNG of black ink on white paper."""
    grey = np.rint(255 * (1 - paper)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)])).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_blank_page_that_clear_paints_keeps_the_prompt_and_a_stroke_is_classified() -> None:
    pad = widgets.drawing_pad(lambda images: probabilities_for(np.array([1]), {}))
    pad.canvas.set_trait("image_data", canvas_png(np.zeros((280, 280))))  # the white page clear() painted
    assert pad.result.value == "Draw a digit in the box."
    pad._pen_down(140, 50)
    pad._pen_move(140, 230)
    pad._pen_up(140, 230)
    stroke = np.zeros((280, 280))
    stroke[50:230, 130:150] = 1
    pad.canvas.set_trait("image_data", canvas_png(stroke))  # the stroke's picture, after the pen went up
    assert "<b>model</b>: 1" in pad.result.value


def test_explorer_keeps_its_picture_square_beside_tall_charts(sample) -> None:
    labels = sample.y_test[:5]
    explorer = explore.prediction_explorer(sample.x_test[:5], labels, {"mlp/keras": probabilities_for(labels, {})})
    row = next(child for child in explorer.widget.children if explorer.picture in child.children)
    assert row.layout.align_items == "flex-start", "a stretched row makes the digit three times taller than wide"
    # The digit first, on the left, and the charts beside it in the same row: it stays in view beside them.
    assert row.children == (explorer.picture, explorer.charts)


def nine_models(labels: np.ndarray, wrong: dict[str, dict[int, tuple[int, float]]]) -> dict[str, np.ndarray]:
    return {
        f"{task}/{framework}": probabilities_for(labels, wrong.get(f"{task}/{framework}", {}))
        for task in ("mlp", "cnn", "rnn")
        for framework in ("keras", "tensorflow", "pytorch")
    }


def test_explorer_lays_the_nine_charts_in_a_grid_of_tasks_by_frameworks(sample) -> None:
    labels = sample.y_test[:20]
    wrong_label = (int(labels[3]) + 1) % 10
    predictions = nine_models(labels, {"cnn/pytorch": {3: (wrong_label, 0.7)}})
    del predictions["rnn/tensorflow"]  # a model not run yet leaves its place empty
    explorer = explore.prediction_explorer(sample.x_test[:20], labels, predictions)
    explorer.slider.value = 3
    charts = explorer.charts.value
    assert f"test image 3, label <b>{labels[3]}</b>: 1 of 8 models wrong" in charts
    assert "display:inline-grid;grid-template-columns:repeat(4, max-content)" in charts
    # The grid's cells in reading order: the framework headings, then per task its name and three charts.
    headings = [charts.index(f"<b>{name}</b>") for name in ("Keras", "TensorFlow", "PyTorch", "MLP", "CNN", "RNN")]
    assert headings == sorted(headings)
    verdicts = re.findall(r'font-weight:bold">([^<]+)</div>', charts)  # each chart's first line
    assert len(verdicts) == 8 and verdicts.count(f"{wrong_label} (70.0%) ✗") == 1
    assert verdicts[5] == f"{wrong_label} (70.0%) ✗", "the CNN's row, PyTorch's column"
    assert charts.count("not run") == 1 and charts.index("not run") > charts.index("<b>RNN</b>")
    assert explore.model_grid(list(predictions)) == (["mlp", "cnn", "rnn"], ["keras", "tensorflow", "pytorch"])
    assert explore.model_grid(["a", "b"]) == (["a", "b"], [""])


def test_the_widgets_carry_a_still_picture_and_its_description_for_pages_without_a_kernel(sample) -> None:
    import base64

    labels = sample.y_test[:60]
    first, second = np.flatnonzero(labels != 7)[[1, -1]]  # two images that a model can call a 7 by mistake
    predictions = nine_models(labels, {"mlp/keras": {first: (7, 0.9)}, "rnn/pytorch": {second: (7, 0.8)}})
    for widget, says in (
        (
            explore.prediction_explorer(sample.x_test[:60], labels, predictions),
            [
                "3 test images, each beside a bar chart per model (9 models)",
                f"test image 0, a {labels[0]}: all 9 models predict it right;",
                f"test image {first}, a {labels[first]}: 8 of 9 right; MLP · Keras says 7 (90%);",
                f"test image {second}, a {labels[second]}: 8 of 9 right; RNN · PyTorch says 7 (80%).",
            ],
        ),
        (
            explore.misclassified_gallery(sample.x_test[:60], labels, predictions),
            [
                "A row per model (9 models)",
                f"MLP · Keras, 1 of 60 wrong: {labels[first]} → 7 (90%);",
                "CNN · Keras, 0 of 60 wrong;",
            ],
        ),
    ):
        bundle = widget._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle, "JupyterLab still gets the live widget"
        picture = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
        assert picture.width == 1000 and picture.height > 500
        assert all(part in bundle["text/plain"] for part in says), bundle["text/plain"]


def test_drawing_pad_explains_an_empty_drawing_and_logits() -> None:
    pad = widgets.drawing_pad(lambda images: np.zeros((len(images), 10)))
    assert pad.classify(np.zeros((280, 280, 4), dtype=np.uint8)) is None
    assert "draw a digit first" in pad.result.value
    stroke = np.zeros((280, 280))
    stroke[50:200, 100:120] = 1
    with pytest.raises(ValueError, match="apply softmax"):
        pad.classify(stroke)


def test_a_picture_that_arrives_mid_stroke_is_classified_when_the_pen_comes_up() -> None:
    seen = []
    pad = widgets.drawing_pad(lambda images: seen.append(images.copy()) or probabilities_for(np.array([7]), {}))
    pad._pen_down(140, 50)
    pad._pen_move(140, 230)
    pad._pen_up(140, 230)  # no picture has come back (headless): nothing to classify, and no error
    assert seen == [] and pad.result.value == "Draw a digit in the box."

    pad._pen_down(100, 60)
    pad._pen_move(180, 60)
    stroke = np.zeros((280, 280))
    stroke[50:230, 130:150] = stroke[55:65, 100:180] = 1
    pad.canvas.set_trait("image_data", canvas_png(stroke))  # sent while the pen is still down: not yet
    assert seen == [] and pad.result.value == "Draw a digit in the box."
    pad._pen_up(180, 60)
    [images] = seen
    np.testing.assert_array_equal(images[0], drawing.to_mnist(pad.canvas.get_image_data()))
    assert "<b>model</b>: 7" in pad.result.value
    pad._pen_move(200, 200)  # the pen is up: moving draws nothing and classifies nothing
    assert len(seen) == 1


def test_drawing_pad_turns_on_colabs_manager_for_its_canvas(monkeypatch) -> None:
    enabled = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    widgets.drawing_pad(lambda images: np.full((len(images), 10), 0.1))
    assert enabled == [True], "on Colab, ipycanvas shows only with the custom widget manager"
