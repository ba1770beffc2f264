"""Helpers for the course *Keras, TensorFlow and PyTorch, side by side*.

The learner runtime that the notebooks import: it loads the data, seeds and sizes the
frameworks, checks a notebook's results and records them, draws its pictures, and runs the exercises
and widgets. Importing it never imports a framework, nor any notebook tooling, nor Matplotlib.
"""

from .checks import (
    CheckFailed,
    accuracy,
    check_accuracy,
    check_loss_decreased,
    check_params,
    check_predictions,
    check_results,
)
from .config import dataset_name, epochs, fast_mode
from .data import DataError, Dataset, load_dataset
from .plots import show_digits, show_feature_maps, show_filters, show_mistakes, show_rows, show_training
from .quiet import quiet_in_jupyter, quiet_tensorflow_start
from .results import record_results
from .system import describe_environment, setup, usable_cpus
from .tasks import FRAMEWORKS, TASKS

# The one thing that importing the course does beyond defining it, and only in a Jupyter kernel: the
# notebooks import TensorFlow right after it, in the same cell, and its start-up log stays out (quiet.py).
quiet_in_jupyter()

__all__ = [
    "CheckFailed",
    "DataError",
    "Dataset",
    "FRAMEWORKS",
    "TASKS",
    "accuracy",
    "check_accuracy",
    "check_loss_decreased",
    "check_params",
    "check_predictions",
    "check_results",
    "dataset_name",
    "describe_environment",
    "epochs",
    "fast_mode",
    "load_dataset",
    "quiet_tensorflow_start",
    "record_results",
    "setup",
    "show_digits",
    "show_feature_maps",
    "show_filters",
    "show_mistakes",
    "show_rows",
    "show_training",
    "usable_cpus",
]
