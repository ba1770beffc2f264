"""What each task must reach: its reference parameter counts and accuracy thresholds."""

from __future__ import annotations

from dataclasses import dataclass

FRAMEWORK_NAMES = {"keras": "Keras", "tensorflow": "TensorFlow", "pytorch": "PyTorch"}
FRAMEWORKS = ("keras", "tensorflow", "pytorch")
# The module each framework's notebooks import.
FRAMEWORK_MODULES = {"keras": "keras", "tensorflow": "tensorflow", "pytorch": "torch"}
# Training sets smaller than this are fast mode's: the bundled sample, or a 4,000-image subset.
FULL_SIZE_MIN_TRAIN = 10_000


def dense_params(inputs: int, outputs: int) -> int:
    """Parameters of a dense (fully connected) layer: a weight per input and output, a bias per output."""
    return inputs * outputs + outputs


def conv_params(size: int, channels_in: int, channels_out: int) -> int:
    """Parameters of a convolution: a ``size × size × channels_in`` kernel per output channel, and its bias."""
    return size * size * channels_in * channels_out + channels_out


def lstm_params(inputs: int, units: int, bias_vectors: int) -> int:
    """Parameters of one LSTM layer: four gates, each with input and recurrent weights and biases.

    Keras (and this course's low-level TensorFlow cell) use one bias vector per gate;
    PyTorch's ``nn.LSTM`` keeps two (``bias_ih`` and ``bias_hh``), so it has ``4 * units`` more.
    """
    return 4 * units * (inputs + units + bias_vectors)


@dataclass(frozen=True)
class Task:
    """One task of the course and the reference values the checks hold it to."""

    name: str
    title: str
    params: dict[str, int]  # per framework
    # Minimum test accuracy, keyed by data source: "mnist" and "fashion_mnist" at full
    # size, "sample" for fast mode on the bundled sample, "fashion_mnist_fast" for the
    # 4,000-image Fashion-MNIST subset.
    min_accuracy: dict[str, float]
    # Largest allowed gap between the three frameworks' test accuracies, in fast mode and at full
    # size: about twice the largest gap seen under one seed (docs/agreement.md).
    agreement_tolerance: dict[str, float]

    def threshold(self, data_source: str, n_train: int) -> tuple[float, str]:
        """The accuracy threshold for these data, and a short name for it."""
        key = data_source
        if data_source == "fashion_mnist" and n_train < FULL_SIZE_MIN_TRAIN:
            key = "fashion_mnist_fast"
        return self.min_accuracy[key], {"sample": "fast-mode sample"}.get(key, key.replace("_", " "))

    def tolerance(self, n_train: int) -> float:
        """How far apart the frameworks' test accuracies may be, for a training set of ``n_train`` images."""
        return self.agreement_tolerance["full" if n_train >= FULL_SIZE_MIN_TRAIN else "fast"]


MLP_PARAMS = dense_params(784, 128) + dense_params(128, 10)
CNN_PARAMS = conv_params(3, 1, 32) + conv_params(3, 32, 64) + dense_params(5 * 5 * 64, 10)
RNN_HEAD_PARAMS = dense_params(64, 10)
# Bias vectors per gate of each framework's LSTM, as the course's notebooks build it.
LSTM_BIASES = {"keras": 1, "tensorflow": 1, "pytorch": 2}

TASKS = {
    "mlp": Task(
        "mlp",
        "multilayer perceptron 784-128-10",
        params=dict.fromkeys(FRAMEWORKS, MLP_PARAMS),
        # Measured with 8 fast / 20 full epochs: real MNIST 0.9792-0.9823 over 5 seeds and 3 frameworks
        # (docs/agreement.md).
        min_accuracy={"mnist": 0.975, "sample": 0.85, "fashion_mnist": 0.86, "fashion_mnist_fast": 0.72},
        agreement_tolerance={"fast": 0.04, "full": 0.008},
    ),
    "cnn": Task(
        "cnn",
        "convolutional network, two conv layers",
        params=dict.fromkeys(FRAMEWORKS, CNN_PARAMS),
        # Measured with 6 fast / 15 full epochs: real MNIST 0.9900-0.9926 over 5 seeds and 3 frameworks
        # (docs/agreement.md); sample 0.947-0.960 and Fashion-MNIST subset 0.778-0.795 (6 fast epochs),
        # full Fashion-MNIST 0.8965-0.8994 (10 epochs).
        min_accuracy={"mnist": 0.985, "sample": 0.92, "fashion_mnist": 0.88, "fashion_mnist_fast": 0.75},
        agreement_tolerance={"fast": 0.05, "full": 0.005},
    ),
    "rnn": Task(
        "rnn",
        "LSTM over the 28 rows of each digit",
        params={framework: lstm_params(28, 64, biases) + RNN_HEAD_PARAMS for framework, biases in LSTM_BIASES.items()},
        # Measured with 12 fast / 20 full epochs: real MNIST 0.9794-0.9849 over 5 seeds and 3 frameworks
        # (docs/agreement.md); sample 0.884-0.926 and Fashion-MNIST subset 0.765-0.788 (12 fast epochs),
        # full Fashion-MNIST 0.869-0.873 (10 epochs).
        min_accuracy={"mnist": 0.975, "sample": 0.85, "fashion_mnist": 0.85, "fashion_mnist_fast": 0.72},
        agreement_tolerance={"fast": 0.10, "full": 0.012},
    ),
}


def get_task(name: str) -> Task:
    """The task called ``name``, with a clear error for a typo."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; the tasks are {', '.join(TASKS)}.") from None
