"""Task 3's exercises: a GRU, columns instead of rows, both directions."""

from __future__ import annotations

from collections.abc import Mapping

from course_utils.tasks import LSTM_BIASES, dense_params, lstm_params

from .answers import BadAnswer, as_array, close, framework_of, whole_number
from .core import exercise


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


def _judge_gru(answer: object, given: Mapping[str, object]) -> str | None:
    framework, count = framework_of(given), whole_number(answer)
    expected = gru_params(RNN_INPUTS, RNN_UNITS, GRU_BIASES[framework]) + RNN_HEAD
    if count == expected:
        return None
    mistakes = {
        gru_params(RNN_INPUTS, RNN_UNITS, biases) + RNN_HEAD: BIAS_CONVENTIONS["gru", framework] for biases in (1, 2)
    }
    mistakes[lstm_params(RNN_INPUTS, RNN_UNITS, LSTM_BIASES[framework]) + RNN_HEAD] = (
        "that is the LSTM model above; a GRU has three gates, not four."
    )
    mistakes[gru_params(RNN_INPUTS, RNN_UNITS, GRU_BIASES[framework])] = (
        "that is the GRU alone; add the Dense layer, 64 → 10."
    )
    return f"{count:,} is not it: " + mistakes.get(
        count,
        "each of the three gates has 28 input weights, 64 recurrent weights and its biases for each of the 64 units.",
    )


def _judge_bidirectional(answer: object, given: Mapping[str, object]) -> str | None:
    framework, count = framework_of(given), whole_number(answer)
    one_way = lstm_params(RNN_INPUTS, RNN_UNITS, LSTM_BIASES[framework])
    expected = 2 * one_way + dense_params(2 * RNN_UNITS, 10)
    if count == expected:
        return None
    mistakes = {
        2 * lstm_params(RNN_INPUTS, RNN_UNITS, biases) + dense_params(2 * RNN_UNITS, 10): BIAS_CONVENTIONS[
            "lstm", framework
        ]
        for biases in (1, 2)
    }
    mistakes |= {
        2 * one_way + RNN_HEAD: "the Dense layer now reads both last outputs, concatenated: 128 inputs, not 64.",
        one_way + RNN_HEAD: "that is the one-direction model above.",
        one_way + dense_params(2 * RNN_UNITS, 10): "each direction has an LSTM of its own, with its own weights.",
    }
    return f"{count:,} is not it: " + mistakes.get(count, "count two LSTMs, and a Dense layer from 128 inputs to 10.")


def _judge_columns(answer: object, given: Mapping[str, object]) -> str | None:
    images = as_array(given["images"], "the images")
    columns = as_array(answer, "your sequences")
    if images.ndim != 3:
        raise BadAnswer(f"the images have shape {images.shape}; pass a batch of them, shape (n, 28, 28).")
    if close(columns, images.transpose(0, 2, 1)):
        return None
    if columns.shape == images.shape[::-1] and columns.shape != images.shape:
        return (
            "that reverses every axis, the batch's too (as .T does): swap only the last two, "
            "rows and columns, and keep the batch first."
        )
    if columns.shape != images.shape:
        return f"your sequences have shape {columns.shape}; expected {images.shape}: 28 steps of 28 pixels per image."
    if close(columns, images):
        return "these are still the rows: step t must be column t of each image."
    if close(columns, images[:, ::-1]) or close(columns, images[:, :, ::-1]):
        return "that flips each image; transpose it instead, swapping the row and column axes."
    return "step t must be column t of each image, read from top to bottom: swap the last two axes."


# Shapes of one image's feature maps, (height, width, channels); PyTorch orders them (channels, height, width).

EXERCISES = [
    exercise("rnn.gru", _judge_gru),
    exercise("rnn.columns", _judge_columns),
    exercise("rnn.bidirectional", _judge_bidirectional),
]
