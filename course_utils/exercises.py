"""Exercises with instant feedback: check an answer, ask for a hint, see the solution.

Each exercise has an id such as ``"mlp.wider"``. A notebook computes the answer with its
own framework and passes it as a plain number or array (framework tensors are converted
with NumPy), so this module never imports a framework::

    from course_utils import exercises

    exercises.check("mlp.wider", wide_params)  # prints ✓ ..., or raises WrongAnswer saying what looks wrong
    exercises.hint("mlp.wider")                # one hint more at each call
    exercises.solution("mlp.wider")            # the worked answer, and the instructor notebook's code

A wrong answer raises, so that the instructor notebooks, whose answers are filled in,
fail the test suite if an answer or a check goes wrong.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config
from .checks import CheckFailed
from .tasks import (CNN_PARAMS, FRAMEWORK_NAMES, FRAMEWORKS, LSTM_BIASES, MLP_PARAMS, conv_params, dense_params,
                    lstm_params)

# A judge returns None for a right answer, else what is wrong and where to look.
Judge = Callable[[object, Mapping[str, object]], "str | None"]


class WrongAnswer(CheckFailed):
    """An exercise's answer is not right; the message says what looks wrong."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to judge an answer, what to say when it is right, hints, and the worked answer."""

    id: str
    title: str
    judge: Judge
    praise: str
    hints: tuple[str, ...]
    worked: str
    given: tuple[str, ...] = ()  # keyword inputs that check() needs from the notebook

    @property
    def task(self) -> str:
        return self.id.split(".", 1)[0]


# --- answers as numbers and arrays -----------------------------------------------------


class _BadAnswer(Exception):
    """The answer has the wrong type or shape; its message says what was expected."""


def _whole_number(answer: object) -> int:
    if isinstance(answer, (str, bytes)):
        raise _BadAnswer(f"expected a whole number, got the text {answer!r}: leave out the quotes.")
    try:
        return operator.index(answer)  # int, NumPy integers, and 0-d integer tensors
    except TypeError:
        pass
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _BadAnswer(f"expected a whole number, got {type(answer).__name__} {answer!r}.") from None
    if not value.is_integer():
        raise _BadAnswer(f"expected a whole number, got {value}.")
    return int(value)


def _array(answer: object, name: str = "the answer") -> np.ndarray:
    try:
        array = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError) as error:
        raise _BadAnswer(f"{name} could not be read as numbers ({error}). Pass a NumPy array or a tensor; "
                         "a PyTorch tensor that needs gradients must be detached first: x.detach().") from None
    if not np.all(np.isfinite(array)):
        raise _BadAnswer(f"{name} holds NaN or infinite values.")
    return array


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the maximum so that ``exp`` cannot overflow."""
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def momentum_sgd(weights: np.ndarray, steps: int, learning_rate: float, momentum: float,
                 nesterov: bool = False) -> np.ndarray:
    """Weights after ``steps`` of SGD with momentum on the loss ``sum(w ** 2)`` (gradient ``2 w``)."""
    weights, velocity = np.array(weights, dtype=np.float64), np.zeros(len(weights))
    for _ in range(steps):
        gradient = 2 * weights
        velocity = momentum * velocity + gradient
        weights = weights - learning_rate * (gradient + momentum * velocity if nesterov else velocity)
    return weights


def _adam(weights: np.ndarray, steps: int, learning_rate: float) -> np.ndarray:
    weights, m, v = np.array(weights, dtype=np.float64), 0.0, 0.0
    for step in range(1, steps + 1):
        gradient = 2 * weights
        m, v = 0.9 * m + 0.1 * gradient, 0.999 * v + 0.001 * gradient**2
        weights = weights - learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-7)
    return weights


# --- judges ----------------------------------------------------------------------------


def _judge_count(expected: int, mistakes: Mapping[int, str], otherwise: str) -> Judge:
    def judge(answer: object, given: Mapping[str, object]) -> str | None:
        count = _whole_number(answer)
        if count == expected:
            return None
        return f"{count:,} is not it: " + mistakes.get(count, otherwise)
    return judge


def _judge_softmax(answer: object, given: Mapping[str, object]) -> str | None:
    logits = _array(given["logits"], "the logits")
    probabilities = _array(answer, "your probabilities")
    if logits.ndim != 2:
        raise _BadAnswer(f"the logits have shape {logits.shape}; pass the model's logits for a few images, "
                         "shape (images, 10).")
    if probabilities.shape != logits.shape:
        why = (" That is one number per image: keep all ten probabilities, without argmax or a sum."
               if probabilities.shape == logits.shape[:1] else "")
        return f"your probabilities have shape {probabilities.shape}, the logits {logits.shape}: one per logit.{why}"
    if _close(probabilities, softmax(logits, axis=1)):
        return None
    if _close(probabilities, np.exp(logits)):
        return "these are exp(logits): divide each row by its sum, so that it adds up to 1."
    if _close(probabilities, logits / logits.sum(axis=1, keepdims=True)):
        return "you divided the logits by their sum without exponentiating them first."
    if _close(probabilities, softmax(logits, axis=0)):
        return ("your columns add up to 1, not your rows: sum over the ten classes of each image "
                "(axis 1, or dim=1), keeping that dimension so the division broadcasts.")
    if np.allclose(probabilities.sum(axis=1), 1, atol=1e-4):
        return "each row adds up to 1, but the values are not exp(logit) / sum of exp(logits) over the row."
    return "these are not exp(logit) divided by the sum of exp(logits) over each row."


MOMENTUM_START = np.array([1.0, -2.0])


def _judge_momentum(answer: object, given: Mapping[str, object]) -> str | None:
    weights = _array(answer, "your weights")
    if weights.shape != MOMENTUM_START.shape:
        return f"your weights have shape {weights.shape}; pass the two weights after the second step."
    if _close(weights, momentum_sgd(MOMENTUM_START, 2, 0.1, 0.9)):
        return None
    mistakes = [
        (MOMENTUM_START, "the weights did not move: was the optimizer's step applied to them?"),
        (momentum_sgd(MOMENTUM_START, 2, 0.1, 0.0), "that is plain SGD: the momentum of 0.9 is missing."),
        (momentum_sgd(MOMENTUM_START, 1, 0.1, 0.9), "that is after one step; take two."),
        (momentum_sgd(MOMENTUM_START, 3, 0.1, 0.9), "that is after three steps; take two."),
        (momentum_sgd(MOMENTUM_START, 2, 0.1, 0.9, nesterov=True),
         "that is Nesterov momentum; use the classical kind (nesterov=False)."),
        (momentum_sgd(MOMENTUM_START, 2, -0.1, 0.9), "the weights moved uphill: subtract the step, don't add it."),
        (_adam(MOMENTUM_START, 2, 0.1), "that is Adam's update (each weight moves by about the learning rate); "
                                        "use SGD with momentum."),
    ]
    for wrong, why in mistakes:
        if _close(weights, wrong):
            return why
    return "these are not the weights after two steps of SGD with momentum."


def gru_params(inputs: int, units: int, bias_vectors: int) -> int:
    """Parameters of one GRU layer: three gates, each with input and recurrent weights and biases."""
    return 3 * units * (inputs + units + bias_vectors)


# Bias vectors per gate of each framework's GRU, as the exercise asks for it (the LSTM's are in tasks.py).
GRU_BIASES = {"keras": 2, "tensorflow": 1, "pytorch": 2}  # Keras's GRU: reset_after=True, its default
BIAS_CONVENTIONS = {
    ("lstm", "keras"): "Keras's LSTM keeps one bias vector per gate.",
    ("lstm", "tensorflow"): "this notebook's LSTM keeps one bias vector per gate, as Keras's does.",
    ("lstm", "pytorch"): "PyTorch's nn.LSTM keeps two bias vectors per gate, bias_ih and bias_hh.",
    ("gru", "keras"): "Keras's GRU keeps two bias vectors per gate by default (reset_after=True).",
    ("gru", "tensorflow"): "write the GRU here with one bias vector per gate, as this notebook's LSTM.",
    ("gru", "pytorch"): "PyTorch's nn.GRU keeps two bias vectors per gate, bias_ih and bias_hh.",
}
RNN_INPUTS, RNN_UNITS = 28, 64
RNN_HEAD = dense_params(RNN_UNITS, 10)


def _framework(given: Mapping[str, object]) -> str:
    framework = given["framework"]
    if framework not in FRAMEWORKS:
        raise _BadAnswer(f"framework={framework!r}; pass one of {', '.join(map(repr, FRAMEWORKS))}.")
    return str(framework)


def _judge_gru(answer: object, given: Mapping[str, object]) -> str | None:
    framework, count = _framework(given), _whole_number(answer)
    expected = gru_params(RNN_INPUTS, RNN_UNITS, GRU_BIASES[framework]) + RNN_HEAD
    if count == expected:
        return None
    mistakes = {gru_params(RNN_INPUTS, RNN_UNITS, biases) + RNN_HEAD: BIAS_CONVENTIONS["gru", framework]
                for biases in (1, 2)}
    mistakes[lstm_params(RNN_INPUTS, RNN_UNITS, LSTM_BIASES[framework]) + RNN_HEAD] = (
        "that is the LSTM model above; a GRU has three gates, not four.")
    mistakes[gru_params(RNN_INPUTS, RNN_UNITS, GRU_BIASES[framework])] = "that is the GRU alone; add the Dense layer, 64 → 10."
    return f"{count:,} is not it: " + mistakes.get(count, "each of the three gates has 28 input weights, 64 recurrent "
                                                           "weights and its biases for each of the 64 units.")


def _judge_bidirectional(answer: object, given: Mapping[str, object]) -> str | None:
    framework, count = _framework(given), _whole_number(answer)
    one_way = lstm_params(RNN_INPUTS, RNN_UNITS, LSTM_BIASES[framework])
    expected = 2 * one_way + dense_params(2 * RNN_UNITS, 10)
    if count == expected:
        return None
    mistakes = {2 * lstm_params(RNN_INPUTS, RNN_UNITS, biases) + dense_params(2 * RNN_UNITS, 10):
                BIAS_CONVENTIONS["lstm", framework] for biases in (1, 2)}
    mistakes |= {
        2 * one_way + RNN_HEAD: "the Dense layer now reads both last outputs, concatenated: 128 inputs, not 64.",
        one_way + RNN_HEAD: "that is the one-direction model above.",
        one_way + dense_params(2 * RNN_UNITS, 10): "each direction has an LSTM of its own, with its own weights.",
    }
    return f"{count:,} is not it: " + mistakes.get(count, "count two LSTMs, and a Dense layer from 128 inputs to 10.")


def _judge_columns(answer: object, given: Mapping[str, object]) -> str | None:
    images = _array(given["images"], "the images")
    columns = _array(answer, "your sequences")
    if images.ndim != 3:
        raise _BadAnswer(f"the images have shape {images.shape}; pass a batch of them, shape (n, 28, 28).")
    if _close(columns, images.transpose(0, 2, 1)):
        return None
    if columns.shape == images.shape[::-1] and columns.shape != images.shape:
        return ("that reverses every axis, the batch's too (as .T does): swap only the last two, "
                "rows and columns, and keep the batch first.")
    if columns.shape != images.shape:
        return f"your sequences have shape {columns.shape}; expected {images.shape}: 28 steps of 28 pixels per image."
    if _close(columns, images):
        return "these are still the rows: step t must be column t of each image."
    if _close(columns, images[:, ::-1]) or _close(columns, images[:, :, ::-1]):
        return "that flips each image; transpose it instead, swapping the row and column axes."
    return "step t must be column t of each image, read from top to bottom: swap the last two axes."


# Shapes of one image's feature maps, (height, width, channels); PyTorch orders them (channels, height, width).
CHANNELS_FIRST = {"keras": False, "tensorflow": False, "pytorch": True}


def _shape_and_count(answer: object) -> tuple[tuple[int, int, int], int]:
    """``(shape, count)`` from the answer; a leading batch axis of 1 (or None) is dropped from the shape."""
    try:
        shape, count = answer  # type: ignore[misc]
        shape = tuple(None if size is None else int(size) for size in shape)
    except (TypeError, ValueError):
        raise _BadAnswer("pass a pair: (the feature maps' shape, the parameter count), "
                         "for example (tuple(x.shape), params).") from None
    if len(shape) == 4 and shape[0] in (None, 1):
        shape = shape[1:]
    if len(shape) != 3 or None in shape:
        raise _BadAnswer(f"the shape {shape} is not that of one image's feature maps: "
                         "pass height, width and channels (and the batch of 1, if you like).")
    return shape, _whole_number(count)  # type: ignore[return-value]


def _judge_feature_maps(height_width_channels: tuple[int, int, int], expected_count: int,
                        shape_mistakes: Mapping[tuple[int, int, int], str], count_mistakes: Mapping[int, str]) -> Judge:
    def judge(answer: object, given: Mapping[str, object]) -> str | None:
        framework = _framework(given)
        shape, count = _shape_and_count(answer)
        height, width, channels = height_width_channels
        expected_shape = (channels, height, width) if CHANNELS_FIRST[framework] else height_width_channels
        if shape != expected_shape:
            if sorted(shape) == sorted(expected_shape):
                order = "channels first (N, C, H, W)" if CHANNELS_FIRST[framework] else "channels last (N, H, W, C)"
                return f"the shape {shape} has its axes in another order; {FRAMEWORK_NAMES[framework]} keeps {order}."
            as_hwc = (shape[1], shape[2], shape[0]) if CHANNELS_FIRST[framework] else shape
            return f"the feature maps are not {shape}: " + shape_mistakes.get(
                as_hwc, "without padding, a 3×3 window fits (size − 3) // stride + 1 times across; "
                        "a 2×2 pooling halves the size, rounding down.")
        if count != expected_count:
            return f"the shape is right, but not {count:,} parameters: " + count_mistakes.get(
                count, "each convolution has 3 × 3 × (input channels) weights and a bias per filter, "
                       "and the dense layer a weight per feature and output.")
        return None
    return judge


def _judge_dropout(answer: object, given: Mapping[str, object]) -> str | None:
    values = _array(answer, "the dropped-out ones").ravel()
    if values.size < 1000:
        return f"that is {values.size} values; use at least 1,000, so that the fraction dropped is clear."
    if np.allclose(values, 1):
        return ("nothing was dropped: dropout is off outside training. Call it in training mode "
                "(training=True, or model.train() in PyTorch).")
    dropped = float(np.mean(values == 0))
    kept = values[values != 0]
    if not np.allclose(kept, kept[0]):
        return "the kept values differ from each other: apply dropout to an array of ones."
    if abs(dropped - DROPOUT_RATE) > 0.05:
        return f"{dropped:.0%} of the values are zero; with a rate of {DROPOUT_RATE}, about half should be."
    if np.isclose(kept[0], 1):
        return "the kept values are still 1: the frameworks scale them by 1 / (1 − rate), so their sum stays the same."
    if not np.isclose(kept[0], 1 / (1 - DROPOUT_RATE)):
        return f"the kept values are {kept[0]:g}; each should be scaled by 1 / (1 − rate) = {1 / (1 - DROPOUT_RATE):g}."
    return None


DROPOUT_RATE = 0.5
THIRD_CONV_PARAMS = conv_params(3, 1, 32) + conv_params(3, 32, 64) + conv_params(3, 64, 128) + dense_params(3 * 3 * 128, 10)
STRIDED_PARAMS = conv_params(3, 1, 32) + conv_params(3, 32, 64) + dense_params(6 * 6 * 64, 10)


# --- the exercises ---------------------------------------------------------------------

WIDE_PARAMS = dense_params(784, 256) + dense_params(256, 10)

_EXERCISES = [
    Exercise(
        "welcome.dense",
        "Parameters of one dense layer",
        _judge_count(dense_params(784, 10), {
            784 * 10: "that counts the weights only; each of the 10 outputs also has a bias.",
            784 + 10: "inputs and outputs are connected all to all: multiply, don't add.",
            785: "that is one output's weights and bias; there are 10 outputs.",
        }, "count one weight per input and output, plus one bias per output."),
        "7,850 = 784 × 10 weights + 10 biases. Every dense layer in this course counts the same way.",
        hints=("A dense layer connects every input to every output, and adds a bias to each output.",
               "784 inputs × 10 outputs weights, plus 10 biases."),
        worked="784 × 10 = 7,840 weights, plus one bias per output: 7,840 + 10 = 7,850.",
    ),
    Exercise(
        "mlp.wider",
        "A wider hidden layer",
        _judge_count(WIDE_PARAMS, {
            MLP_PARAMS: "that is the model above, with 128 hidden units; build a new one whose hidden layer has 256.",
            784 * 256 + 256 * 10: "that leaves out the biases: each layer has one bias per output unit.",
            dense_params(784, 256): "that is the hidden layer alone; add the output layer, 256 → 10.",
            dense_params(784, 256) + dense_params(256, 256) + dense_params(256, 10):
                "that model has two hidden layers; keep one, with 256 units.",
        }, "a dense layer from n inputs to m outputs has n × m weights and m biases; add up both layers."),
        "203,530 parameters: twice the units, about twice the parameters, nearly all of them in the first layer.",
        hints=("Only the hidden layer changes: 784 → 256 → 10, with the same ReLU and dropout. "
               "Dropout has no parameters.",
               "A dense layer from n inputs to m outputs has n × m weights and m biases.",
               "(784 × 256 + 256) + (256 × 10 + 10)."),
        worked=("784 inputs → 256 hidden units: 784 × 256 + 256 = 200,960. 256 → 10 outputs: "
                "256 × 10 + 10 = 2,570. In all 203,530, against 101,770 with 128 units."),
    ),
    Exercise(
        "mlp.softmax",
        "Softmax by hand",
        _judge_softmax,
        "your probabilities match the softmax: exp(logit) divided by the sum of exp(logits) of each image.",
        hints=("Softmax turns a row of logits into probabilities: exponentiate, then divide by the row's sum.",
               "Sum over the classes (axis 1 / dim=1) and keep that dimension (keepdims=True / keepdim=True) "
               "so that the division broadcasts over each row.",
               "Subtracting each row's maximum first changes nothing in the result, and keeps exp from "
               "overflowing: that is what the frameworks do."),
        worked=("p[i, k] = exp(z[i, k]) / Σ_j exp(z[i, j]) for the logits z of image i. With NumPy: "
                "e = np.exp(z - z.max(axis=1, keepdims=True)); p = e / e.sum(axis=1, keepdims=True)."),
        given=("logits",),
    ),
    Exercise(
        "mlp.momentum",
        "Another optimizer",
        _judge_momentum,
        "[0.46, -0.92]: the second step is larger than the first, because the velocity remembers the first gradient.",
        hints=("Start from w = [1.0, -2.0]; the gradient of w₁² + w₂² is 2w. Take exactly two steps.",
               "Momentum keeps a velocity: v ← 0.9 v + gradient, then w ← w − 0.1 v. "
               "PyTorch's SGD and Keras's SGD both use this, written two ways.",
               "Step 1: v = 2w₀, w₁ = 0.8 w₀. Step 2: v = 0.9 · 2w₀ + 2 · 0.8 w₀ = 3.4 w₀."),
        worked=("Step 1: gradient 2w₀ = [2, -4], velocity [2, -4], w₁ = w₀ − 0.1 · [2, -4] = [0.8, -1.6]. "
                "Step 2: gradient [1.6, -3.2], velocity 0.9 · [2, -4] + [1.6, -3.2] = [3.4, -6.8], "
                "w₂ = [0.8, -1.6] − 0.1 · [3.4, -6.8] = [0.46, -0.92]. Plain SGD would give [0.64, -1.28]."),
    ),
]

_EXERCISES += [
    Exercise(
        "rnn.gru",
        "A GRU instead",
        _judge_gru,
        "that is the GRU model's count in your framework: three gates instead of four, so about a quarter "
        "fewer parameters than the LSTM.",
        hints=("A GRU has three gates (reset, update, candidate) where an LSTM has four; the Dense layer "
               "64 → 10 stays.",
               "Each gate has, for each of the 64 units, 28 input weights, 64 recurrent weights and its biases.",
               "Biases: Keras's GRU and PyTorch's nn.GRU keep two vectors per gate; the low-level TensorFlow "
               "notebook writes one. So 3 × 64 × (28 + 64 + biases) + (64 × 10 + 10)."),
        worked=("3 gates × 64 units × (28 inputs + 64 recurrent + bias vectors), plus 64 × 10 + 10 for the Dense "
                "layer. Two bias vectors (Keras, PyTorch): 18,048 + 650 = 18,698. One (the low-level "
                "TensorFlow notebook): 17,856 + 650 = 18,506."),
        given=("framework",),
    ),
    Exercise(
        "rnn.columns",
        "Columns instead of rows",
        _judge_columns,
        "each sequence now reads its digit from left to right, one column of 28 pixels per step.",
        hints=("Keep the batch axis first and swap the other two: image[i, row, column] becomes "
               "sequence[i, column, row].",
               "NumPy, Keras and TensorFlow take the new order of all axes: (0, 2, 1). PyTorch's "
               "transpose takes the two axes to swap: 1 and 2."),
        worked=("Swap the row and column axes and keep the batch first: x.transpose(0, 2, 1) in NumPy, "
                "keras.ops.transpose(x, (0, 2, 1)), tf.transpose(x, [0, 2, 1]), or x.transpose(1, 2) "
                "on a PyTorch tensor."),
        given=("images",),
    ),
    Exercise(
        "rnn.bidirectional",
        "Both directions",
        _judge_bidirectional,
        "two LSTMs, one per direction, and a Dense layer that reads both last outputs: twice the "
        "recurrent parameters for one more view of each digit.",
        hints=("The second direction is a second LSTM, with weights of its own.",
               "The Dense layer gets both last outputs side by side: 2 × 64 = 128 inputs.",
               "2 × (the LSTM's parameters in your framework) + (128 × 10 + 10)."),
        worked=("Each direction is an LSTM of 4 × 64 × (28 + 64 + bias vectors) parameters, and the Dense layer "
                "has 128 × 10 + 10 = 1,290. One bias vector (Keras, low-level TensorFlow): 2 × 23,808 + 1,290 "
                "= 48,906. Two (PyTorch): 2 × 24,064 + 1,290 = 49,418."),
        given=("framework",),
    ),
]

_EXERCISES += [
    Exercise(
        "cnn.third_conv",
        "A third convolution",
        _judge_feature_maps((3, 3, 128), THIRD_CONV_PARAMS, {
            (5, 5, 128): "without padding, a 3×3 convolution trims a pixel from each side: 5 → 3.",
            (1, 1, 128): "no pooling after the third convolution.",
            (3, 3, 64): "128 filters make 128 channels.",
        }, {
            THIRD_CONV_PARAMS - dense_params(3 * 3 * 128, 10) + dense_params(5 * 5 * 64, 10):
                "the dense layer now reads 3 × 3 × 128 = 1,152 features, not 1,600.",
            THIRD_CONV_PARAMS - 128: "the new convolution has a bias for each of its 128 filters.",
            CNN_PARAMS: "that is the model above, without the third convolution.",
            CNN_PARAMS + conv_params(3, 1, 128): "each of the 128 filters spans all 64 input channels: 3 × 3 × 64 weights.",
        }),
        "feature maps of 3 × 3 pixels in 128 channels, and 104,202 parameters: the new convolution adds 73,856, "
        "and the dense layer shrinks from 16,010 to 11,530.",
        hints=("A 3×3 convolution without padding makes a map 2 pixels smaller: the 5 × 5 maps become 3 × 3, "
               "with one channel per filter.",
               "Its parameters: 3 × 3 × 64 weights for each of the 128 filters, and 128 biases.",
               "The dense layer now reads 3 × 3 × 128 features. Keras works that out from the shapes; in "
               "TensorFlow and PyTorch you write it."),
        worked=("After the second pooling the maps are 5 × 5 × 64; a 3×3 convolution of 128 filters without "
                "padding makes them 3 × 3 × 128 (PyTorch orders it 128 × 3 × 3). Parameters: 320 + 18,496 for "
                "the first two convolutions, 3 × 3 × 64 × 128 + 128 = 73,856 for the third, and "
                "1,152 × 10 + 10 = 11,530 for the dense layer: 104,202."),
        given=("framework",),
    ),
    Exercise(
        "cnn.strides",
        "Strides instead of pooling",
        _judge_feature_maps((6, 6, 64), STRIDED_PARAMS, {
            (7, 7, 64): "that would be with 'same' padding; without it, a 3×3 window with stride 2 fits "
                        "(28 − 3) // 2 + 1 = 13 times across, then (13 − 3) // 2 + 1 = 6.",
            (5, 5, 64): "that is the pooled model's; remove the pooling layers.",
            (13, 13, 64): "that is after one strided convolution; the second has stride 2 as well.",
        }, {
            CNN_PARAMS: "the convolutions keep their parameters, but the dense layer now reads 6 × 6 × 64 = 2,304 "
                        "features, not 1,600.",
        }),
        "feature maps of 6 × 6 pixels in 64 channels, and 41,866 parameters: the strides skip the positions "
        "that pooling would have computed and then thrown away.",
        hints=("Without padding, a 3×3 window moving 2 pixels at a time fits (size − 3) // 2 + 1 times across.",
               "28 → 13 → 6: the maps end 6 × 6 × 64.",
               "The convolutions keep their parameters; the dense layer now reads 6 × 6 × 64 features."),
        worked=("28 → (28 − 3) // 2 + 1 = 13 → (13 − 3) // 2 + 1 = 6, so the maps are 6 × 6 × 64 (PyTorch: "
                "64 × 6 × 6). Parameters: 320 + 18,496 for the convolutions, unchanged, and "
                "2,304 × 10 + 10 = 23,050 for the dense layer: 41,866."),
        given=("framework",),
    ),
    Exercise(
        "cnn.dropout",
        "What dropout does",
        _judge_dropout,
        "about half the values are zero, and the rest are 2: dropout scales what it keeps by 1 / (1 − 0.5), so "
        "that the next layer gets the same sum on average, in training and in evaluation.",
        hints=("Dropout is only on in training: ask for training mode.",
               "Keras: layers.Dropout(rate)(x, training=True). TensorFlow: tf.nn.dropout(x, rate). "
               "PyTorch: nn.functional.dropout(x, rate, training=True).",
               "The kept values are scaled by 1 / (1 − rate): for rate 0.5, they become 2."),
        worked=("With rate 0.5, each value is zeroed with probability 0.5 and the others are multiplied by "
                "1 / (1 − 0.5) = 2, so 10,000 ones become about 5,000 zeros and 5,000 twos, whose mean stays "
                "about 1. In evaluation dropout does nothing, which is why the expected sum must match."),
    ),
]

EXERCISES: dict[str, Exercise] = {exercise.id: exercise for exercise in _EXERCISES}
_hints_given: Counter[str] = Counter()


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise called ``exercise_id``, with a clear error for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise ValueError(f"unknown exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)}.") from None


def judge(exercise_id: str, answer: object, **given: object) -> str | None:
    """None if ``answer`` is right, else what is wrong with it (what :func:`check` would raise)."""
    exercise = get_exercise(exercise_id)
    missing = [name for name in exercise.given if name not in given]
    if missing:
        raise TypeError(f"exercises.check({exercise_id!r}, answer, ...) also needs "
                        f"{', '.join(f'{name}=...' for name in missing)}.")
    try:
        return exercise.judge(answer, given)
    except _BadAnswer as problem:
        return str(problem)


def check(exercise_id: str, answer: object, **given: object) -> None:
    """Print ✓ if ``answer`` is right; otherwise raise :class:`WrongAnswer` with what looks wrong."""
    __tracebackhide__ = True  # IPython and pytest show the message, not this function's frame
    exercise = get_exercise(exercise_id)
    problem = judge(exercise_id, answer, **given)
    if problem is not None:
        raise WrongAnswer(f"✗ {exercise.title}: {problem}\n"
                          f"More help: exercises.hint({exercise_id!r}); the answer: exercises.solution({exercise_id!r}).")
    print(f"✓ {exercise.title}: {exercise.praise}")


def hint(exercise_id: str) -> None:
    """Print the next hint for the exercise, one more at each call."""
    exercise = get_exercise(exercise_id)
    number = min(_hints_given[exercise_id], len(exercise.hints) - 1)
    _hints_given[exercise_id] = number + 1
    text = f"Hint {number + 1} of {len(exercise.hints)}: {exercise.hints[number]}"
    if number + 1 == len(exercise.hints):
        text += f"\n(That is the last hint; exercises.solution({exercise_id!r}) shows the answer.)"
    print(text)


def solution(exercise_id: str, framework: str | None = None) -> None:
    """Print the worked answer, and the solution code from the instructor notebook when it is at hand.

    ``framework`` (``keras``, ``tensorflow`` or ``pytorch``) picks the notebook; by default
    it is the framework the calling notebook imported.
    """
    exercise = get_exercise(exercise_id)
    text = f"{exercise.title} ({exercise_id}): {exercise.worked}"
    framework = framework or _framework_in_use()
    found = solution_cells(exercise_id)
    chosen = {path: code for path, code in found.items() if path.stem == framework} or (
        found if len(found) == 1 else {})
    for path, code in chosen.items():
        text += f"\n\nThe code in {path.relative_to(config.PROJECT_ROOT)}:\n\n{code}"
    if not chosen and found:
        text += ("\n\nThe code is in the instructor notebooks: "
                 + ", ".join(str(path.relative_to(config.PROJECT_ROOT)) for path in found) + ".")
    print(text)


def solution_cells(exercise_id: str, root: Path | None = None) -> dict[Path, str]:
    """The instructor notebooks whose cells solve ``exercise_id``, each with its solution code."""
    import nbformat

    from .notebooks import course_notebooks
    from .student import exercise_id as checked_id
    from .student import has_solution, solution_code

    found = {}
    for path in course_notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code" and checked_id(cell.source) == exercise_id and has_solution(cell.source):
                found[path] = solution_code(cell.source)
    return found


def _framework_in_use() -> str | None:
    """The framework the notebook imported, read from its global names (``torch``, ``keras``, ``tf``)."""
    import __main__

    names = vars(__main__)
    for name, framework in (("torch", "pytorch"), ("keras", "keras"), ("tf", "tensorflow")):
        if name in names:
            return framework
    return None
