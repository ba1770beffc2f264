"""The checks that end each task notebook: a pass prints one line, a failure says what to look at."""

from __future__ import annotations

from course_utils import checks
from course_utils.checks import CheckFailed
from course_utils.data import Dataset
from course_utils.tasks import TASKS

import numpy as np
import pytest

N_TEST = 50
MLP_PARAMS = TASKS["mlp"].params["pytorch"]


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 10, N_TEST).astype(np.uint8)


def predictions(labels: np.ndarray, right: float, confidence: float = 0.9) -> np.ndarray:
    """Probabilities whose argmax is the label for the first ``right`` fraction of rows, the next class after."""
    n_right = round(right * len(labels))
    predicted = np.where(np.arange(len(labels)) < n_right, labels, (labels + 1) % 10)
    probabilities = np.full((len(labels), 10), (1 - confidence) / 9, dtype=np.float32)
    probabilities[np.arange(len(labels)), predicted] = confidence
    return probabilities


def sample_like(labels: np.ndarray, n_train: int = 4000) -> Dataset:
    """A stand-in for the fast-mode sample whose test labels are ``labels``; the checks read only sizes and labels."""
    return Dataset(
        np.zeros((n_train, 28, 28), np.uint8),
        np.zeros(n_train, np.uint8),
        np.zeros((len(labels), 28, 28), np.uint8),
        labels,
        source="sample",
    )


def printed_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_accuracy_counts_the_argmax_matches(labels: np.ndarray) -> None:
    assert checks.accuracy(predictions(labels, right=0.9), labels) == pytest.approx(0.9)


@pytest.mark.parametrize(
    "run_check",
    [
        lambda labels: checks.check_predictions(predictions(labels, right=1.0), N_TEST),
        lambda labels: checks.check_accuracy(0.91, "mlp", "sample", 4000),
        lambda labels: checks.check_params(MLP_PARAMS, "mlp", "pytorch"),
        lambda labels: checks.check_loss_decreased([0.9, 0.5, 0.3]),
    ],
    ids=["predictions", "accuracy", "params", "loss"],
)
def test_a_passing_check_prints_exactly_one_line(
    run_check, labels: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    run_check(labels)
    lines = printed_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("✓ "), lines


def test_check_results_passes_a_good_run_one_line_per_check(
    labels: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = sample_like(labels)
    test_accuracy = checks.check_results(
        "mlp", "pytorch", predictions(labels, right=0.94), MLP_PARAMS, [1.2, 0.4], dataset
    )
    assert test_accuracy == pytest.approx(0.94)
    assert printed_lines(capsys) == [
        f"✓ predictions: {N_TEST} rows of 10 probabilities",
        f"✓ parameters: {MLP_PARAMS:,}, the mlp reference for pytorch",
        "✓ training loss went down",
        f"✓ test accuracy at least {TASKS['mlp'].min_accuracy['sample']:g} (fast-mode sample threshold)",
    ]


@pytest.mark.parametrize(
    "probabilities, hints",
    [
        (lambda p: p.argmax(axis=1), ["shape (50,)", "expected (50, 10)", "argmax"]),
        (lambda p: p[:-1], ["shape (49, 10)", "one row of 10 class probabilities per test image"]),
        (lambda p: np.log(p), ["not probabilities", "logits", "softmax"]),
        (lambda p: p * 3, ["not probabilities", "softmax"]),
        (lambda p: np.where(np.arange(N_TEST)[:, None] == 7, np.nan, p), ["NaN", "diverged", "learning rate"]),
        (lambda p: (p * 100).astype(np.int64), ["dtype int64", "floating-point"]),
    ],
    ids=["argmax too early", "rows missing", "logits", "unnormalised", "NaN", "integers"],
)
def test_wrong_predictions_say_what_to_fix(probabilities, hints: list[str], labels: np.ndarray) -> None:
    with pytest.raises(CheckFailed) as failure:
        checks.check_predictions(probabilities(predictions(labels, right=1.0)), N_TEST)
    for hint in hints:
        assert hint in str(failure.value)


def test_a_wrong_parameter_count_names_both_counts() -> None:
    with pytest.raises(
        CheckFailed,
        match=rf"has 203,530 trainable parameters; the mlp reference in keras "
        rf"has {MLP_PARAMS:,} .*Compare each layer's sizes",
    ):
        checks.check_params(203_530, "mlp", "keras")


def test_an_unknown_framework_or_task_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        checks.check_params(MLP_PARAMS, "mlp", "jax")
    with pytest.raises(ValueError, match="unknown task 'gan'; the tasks are mlp, cnn, rnn"):
        checks.check_params(MLP_PARAMS, "gan", "keras")


@pytest.mark.parametrize(
    "losses, hint",
    [
        ([0.5, 0.5, 0.5], "did not go down (first epoch 0.5000, last 0.5000)"),
        ([0.4, 0.6], "learning rate"),
        ([0.9, float("nan")], "not finite: training diverged"),
        ([], "empty"),
    ],
    ids=["flat", "rising", "NaN", "empty"],
)
def test_a_loss_that_does_not_fall_fails(losses: list[float], hint: str) -> None:
    with pytest.raises(CheckFailed) as failure:
        checks.check_loss_decreased(losses)
    assert hint in str(failure.value)


# Which of a task's thresholds each kind of data is held to, and the name the check gives it; the values
# themselves are read from tasks.py, their one home, so that recalibrating one does not break a test.
THRESHOLDS = {
    "fast-mode sample": ("sample", 4_000, "sample"),
    "mnist": ("mnist", 60_000, "mnist"),
    "fashion mnist fast": ("fashion_mnist", 4_000, "fashion_mnist_fast"),
    "fashion mnist": ("fashion_mnist", 60_000, "fashion_mnist"),
}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("label", THRESHOLDS)
def test_the_accuracy_threshold_is_the_tasks_for_these_data(
    label: str, task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data_source, n_train, key = THRESHOLDS[label]
    minimum = TASKS[task].min_accuracy[key]
    checks.check_accuracy(minimum, task, data_source, n_train)  # reaching it is enough
    assert printed_lines(capsys) == [f"✓ test accuracy at least {minimum:g} ({label} threshold)"]
    just_below = minimum - 0.0005
    with pytest.raises(CheckFailed) as failure:
        checks.check_accuracy(just_below, task, data_source, n_train)
    assert str(failure.value).startswith(
        f"test accuracy {just_below:.4f} is below the {task} threshold {minimum:g} for {label} data. "
    )


def test_accuracy_at_chance_says_the_model_did_not_learn() -> None:
    with pytest.raises(CheckFailed) as failure:
        checks.check_accuracy(0.11, "mlp", "sample", 4000)
    message = str(failure.value)
    assert "about chance" in message and "did not learn" in message and "optimizer" in message
    assert "learning rate" not in message


def test_accuracy_below_threshold_but_above_chance_points_at_the_learning_rate() -> None:
    with pytest.raises(CheckFailed) as failure:
        checks.check_accuracy(0.60, "cnn", "mnist", 60_000)
    message = str(failure.value)
    assert "learns, but not enough" in message and "learning rate" in message and "chance" not in message


def test_an_accuracy_that_is_not_a_fraction_fails() -> None:
    with pytest.raises(CheckFailed, match="93.0 is not a fraction between 0 and 1"):
        checks.check_accuracy(93.0, "mlp", "sample", 4000)


def test_check_results_stops_at_the_first_failing_check(labels: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CheckFailed, match="about chance"):
        checks.check_results(
            "mlp", "pytorch", predictions(labels, right=0.1), MLP_PARAMS, [2.3, 2.2], sample_like(labels)
        )
    assert len(printed_lines(capsys)) == 3  # predictions, parameters and loss passed before accuracy failed
