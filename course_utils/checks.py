"""Checks that a notebook runs on its own results.

Each check prints one short, deterministic line when it passes, and raises
:class:`CheckFailed` with what is wrong and where to look when it does not. Under
nbval a raised check fails the notebook, so a broken model fails the test suite.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from .data import Dataset
from .tasks import FRAMEWORKS, get_task


def wrapped(text: str, width: int = 100) -> str:
    """``text`` with each line wrapped at ``width`` columns: JupyterLab breaks longer ones mid-word."""
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") or line for line in text.splitlines())


N_CLASSES = 10
CHANCE_ACCURACY = 1 / N_CLASSES


class CheckFailed(AssertionError):
    """A notebook's result is wrong; the message tells the learner what to look at."""


def _passed(message: str) -> None:
    print(f"✓ {message}")


def check_predictions(probabilities: np.ndarray, n_examples: int) -> None:
    """``probabilities`` is an ``(n_examples, 10)`` float array whose rows are probability distributions."""
    probabilities = np.asarray(probabilities)
    expected = (n_examples, N_CLASSES)
    if probabilities.shape != expected:
        hint = " Did you take argmax too early, or forget a batch?" if probabilities.ndim != 2 else ""
        raise CheckFailed(
            f"predictions have shape {probabilities.shape}, expected {expected}: "
            f"one row of {N_CLASSES} class probabilities per test image.{hint}"
        )
    if not np.issubdtype(probabilities.dtype, np.floating):
        raise CheckFailed(f"predictions have dtype {probabilities.dtype}; expected floating-point probabilities.")
    if not np.all(np.isfinite(probabilities)):
        raise CheckFailed(
            "some predictions are NaN or infinite: training diverged. "
            "Try a smaller learning rate, and check the inputs are scaled to 0..1."
        )
    if probabilities.min() < 0 or probabilities.max() > 1 or not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
        raise CheckFailed(
            "predictions are not probabilities (each row must lie in 0..1 and sum to 1). "
            "These look like logits: apply softmax to the model's output first."
        )
    _passed(f"predictions: {n_examples:,} rows of {N_CLASSES} probabilities")


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def check_accuracy(test_accuracy: float, task: str, data_source: str, n_train: int) -> None:
    """``test_accuracy`` reaches the task's threshold for these data."""
    threshold, label = get_task(task).threshold(data_source, n_train)
    if not 0 <= test_accuracy <= 1:
        raise CheckFailed(f"test accuracy {test_accuracy} is not a fraction between 0 and 1.")
    if test_accuracy < threshold:
        if test_accuracy < 2 * CHANCE_ACCURACY:
            why = (
                "That is about chance (0.10): the model did not learn. Check that the optimizer "
                "updates the weights, that labels match images, and that the loss gets logits "
                "if it expects them."
            )
        else:
            why = (
                "The model learns, but not enough. Check the learning rate, the number of epochs, "
                "dropout being off at evaluation, and the input scaling (pixels divided by 255)."
            )
        raise CheckFailed(
            f"test accuracy {test_accuracy:.4f} is below the {task} threshold {threshold:g} for {label} data. {why}"
        )
    _passed(f"test accuracy at least {threshold:g} ({label} threshold)")


def check_params(count: int, task: str, framework: str) -> None:
    """The model has exactly the task's reference number of trainable parameters."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; use one of {', '.join(FRAMEWORKS)}.")
    expected = get_task(task).params[framework]
    if count != expected:
        raise CheckFailed(
            f"the model has {count:,} trainable parameters; the {task} reference in {framework} "
            f"has {expected:,} ({get_task(task).title}). Compare each layer's sizes with the "
            "architecture at the top of the notebook."
        )
    _passed(f"parameters: {count:,}, the {task} reference for {framework}")


def check_loss_decreased(losses: Sequence[float]) -> None:
    """The training loss of the last epoch is below that of the first, and finite."""
    losses = [float(loss) for loss in losses]
    if not losses or not np.all(np.isfinite(losses)):
        raise CheckFailed(f"the training losses {losses} are empty or not finite: training diverged or never ran.")
    if len(losses) > 1 and not losses[-1] < losses[0]:
        raise CheckFailed(
            f"the training loss did not go down (first epoch {losses[0]:.4f}, last "
            f"{losses[-1]:.4f}). Check that gradients reach the weights and the learning rate."
        )
    _passed("training loss went down" if len(losses) > 1 else "training loss is finite")


def check_results(
    task: str, framework: str, probabilities: np.ndarray, params: int, losses: Sequence[float], dataset: Dataset
) -> float:
    """Run every check of a task notebook on its test predictions, and return the test accuracy."""
    check_predictions(probabilities, dataset.n_test)
    check_params(params, task, framework)
    check_loss_decreased(losses)
    test_accuracy = accuracy(probabilities, dataset.y_test)
    check_accuracy(test_accuracy, task, dataset.source, dataset.n_train)
    return test_accuracy
