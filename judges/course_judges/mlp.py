"""Task 1's exercises: a wider layer, softmax by hand, another optimizer."""

from __future__ import annotations

from collections.abc import Mapping

from course_utils.tasks import MLP_PARAMS, dense_params

import numpy as np

from .answers import BadAnswer, as_array, close, judge_count
from .core import exercise


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the maximum so that ``exp`` cannot overflow."""
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def momentum_sgd(
    weights: np.ndarray, steps: int, learning_rate: float, momentum: float, nesterov: bool = False
) -> np.ndarray:
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


def _judge_softmax(answer: object, given: Mapping[str, object]) -> str | None:
    logits = as_array(given["logits"], "the logits")
    probabilities = as_array(answer, "your probabilities")
    if logits.ndim != 2:
        raise BadAnswer(
            f"the logits have shape {logits.shape}; pass the model's logits for a few images, shape (images, 10)."
        )
    if probabilities.shape != logits.shape:
        why = (
            " That is one number per image: keep all ten probabilities, without argmax or a sum."
            if probabilities.shape == logits.shape[:1]
            else ""
        )
        return f"your probabilities have shape {probabilities.shape}, the logits {logits.shape}: one per logit.{why}"
    if close(probabilities, softmax(logits, axis=1)):
        return None
    if close(probabilities, np.exp(logits)):
        return "these are exp(logits): divide each row by its sum, so that it adds up to 1."
    if close(probabilities, logits / logits.sum(axis=1, keepdims=True)):
        return "you divided the logits by their sum without exponentiating them first."
    if close(probabilities, softmax(logits, axis=0)):
        return (
            "your columns add up to 1, not your rows: sum over the ten classes of each image "
            "(axis 1, or dim=1), keeping that dimension so the division broadcasts."
        )
    if np.allclose(probabilities.sum(axis=1), 1, atol=1e-4):
        return "each row adds up to 1, but the values are not exp(logit) / sum of exp(logits) over the row."
    return "these are not exp(logit) divided by the sum of exp(logits) over each row."


MOMENTUM_START = np.array([1.0, -2.0])


def _judge_momentum(answer: object, given: Mapping[str, object]) -> str | None:
    weights = as_array(answer, "your weights")
    if weights.shape != MOMENTUM_START.shape:
        return f"your weights have shape {weights.shape}; pass the two weights after the second step."
    if close(weights, momentum_sgd(MOMENTUM_START, 2, 0.1, 0.9)):
        return None
    mistakes = [
        (MOMENTUM_START, "the weights did not move: was the optimizer's step applied to them?"),
        (momentum_sgd(MOMENTUM_START, 2, 0.1, 0.0), "that is plain SGD: the momentum of 0.9 is missing."),
        (momentum_sgd(MOMENTUM_START, 1, 0.1, 0.9), "that is after one step; take two."),
        (momentum_sgd(MOMENTUM_START, 3, 0.1, 0.9), "that is after three steps; take two."),
        (
            momentum_sgd(MOMENTUM_START, 2, 0.1, 0.9, nesterov=True),
            "that is Nesterov momentum; use the classical kind (nesterov=False).",
        ),
        (momentum_sgd(MOMENTUM_START, 2, -0.1, 0.9), "the weights moved uphill: subtract the step, don't add it."),
        (
            _adam(MOMENTUM_START, 2, 0.1),
            "that is Adam's update (each weight moves by about the learning rate); use SGD with momentum.",
        ),
    ]
    for wrong, why in mistakes:
        if close(weights, wrong):
            return why
    return "these are not the weights after two steps of SGD with momentum."


WIDE_PARAMS = dense_params(784, 256) + dense_params(256, 10)
EXERCISES = [
    exercise(
        "mlp.wider",
        judge_count(
            WIDE_PARAMS,
            {
                MLP_PARAMS: "that is the model above, with 128 hidden units; "
                "build a new one whose hidden layer has 256.",
                784 * 256 + 256 * 10: "that leaves out the biases: each layer has one bias per output unit.",
                dense_params(784, 256): "that is the hidden layer alone; add the output layer, 256 → 10.",
                dense_params(784, 256)
                + dense_params(256, 256)
                + dense_params(256, 10): "that model has two hidden layers; keep one, with 256 units.",
            },
            "a dense layer from n inputs to m outputs has n × m weights and m biases; add up both layers.",
        ),
    ),
    exercise("mlp.softmax", _judge_softmax),
    exercise("mlp.momentum", _judge_momentum),
]
