"""Claim: "Keras is slower than PyTorch, and only for small datasets". Throughput and memory, measured.

The same CNN on the same data in every variant (Keras on each backend, low-level
TensorFlow eager and under ``tf.function``, PyTorch eager and under ``torch.compile``),
each in a fresh process, one after another.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

from .common import (
    BATCH_SIZE,
    CNN_PARAMS,
    KERAS,
    PYTORCH,
    SAME_SPEED,
    TENSORFLOW,
    Spread,
    check_no_failures,
    ratio_phrase,
    run_jobs,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Variant:
    """One way of training the CNN: a framework, its mode, and the worker that runs it."""

    name: str
    label: str
    module: str
    options: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    requires: str | None = None  # a package that must be installed for this variant

    @property
    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


FRAMEWORK_OF_MODULE = {KERAS: "keras", TENSORFLOW: "tensorflow", PYTORCH: "pytorch"}  # for its colour in charts
SPEED_VARIANTS = (
    Variant("keras-tensorflow", "Keras 3 on TensorFlow", KERAS, env={"KERAS_BACKEND": "tensorflow"}),
    Variant("keras-torch", "Keras 3 on PyTorch", KERAS, env={"KERAS_BACKEND": "torch"}),
    Variant("keras-jax", "Keras 3 on JAX", KERAS, env={"KERAS_BACKEND": "jax"}, requires="jax"),
    Variant("tensorflow-eager", "TensorFlow, eager", TENSORFLOW, {"compiled": False}),
    Variant("tensorflow-function", "TensorFlow, tf.function", TENSORFLOW, {"compiled": True}),
    Variant("pytorch-eager", "PyTorch, eager", PYTORCH, {"compiled": False}),
    Variant("pytorch-compile", "PyTorch, torch.compile", PYTORCH, {"compiled": True}),
    # PyTorch's OpenMP threads spin while they wait for each other, which costs dearly on cores that
    # other programs share; this row shows how much the setting matters on this machine.
    Variant(
        "pytorch-eager-passive",
        "PyTorch, eager, OMP_WAIT_POLICY=PASSIVE",
        PYTORCH,
        {"compiled": False},
        env={"OMP_WAIT_POLICY": "PASSIVE"},
    ),
)


@dataclass(frozen=True)
class SpeedSettings:
    """How much to measure: training-set sizes (small, large), repeats, batch sizes."""

    sizes: tuple[int, ...]
    repeats: int
    batch_size: int = BATCH_SIZE
    inference_batch: int = 1000

    @classmethod
    def for_mode(cls) -> SpeedSettings:
        """Tiny epochs in fast mode; in full mode, 2,048 images against the whole set (in whole batches)."""
        if config.fast_mode():
            return cls(sizes=(128, 512), repeats=3)
        return cls(sizes=(2048, 59904), repeats=3)


def measure_throughput(
    train_epochs: Callable[[int, int], list[float]],
    predict: Callable[[], object],
    n_train: int,
    n_test: int,
    settings: SpeedSettings,
) -> dict:
    """The timing protocol every framework's worker follows, so their numbers compare.

    ``train_epochs(n, count)`` trains ``count`` epochs on the first ``n`` training images
    and returns each epoch's seconds; ``predict()`` runs the model on the whole test set.
    The first epoch at each size and the first prediction are warm-up, and not counted:
    they include building graphs and compiling. The very first epoch is reported apart,
    as the cost a learner pays once.
    """
    if max(settings.sizes) > n_train:
        raise ValueError(
            f"the training set has {n_train:,} images, fewer than the {max(settings.sizes):,} this "
            "measurement needs. Set COURSE_DATASET=fashion_mnist (or fetch MNIST with `course data`), "
            "or run in fast mode (COURSE_FAST=1)."
        )
    cold_seconds = None
    train = {}
    for size in settings.sizes:
        seconds = train_epochs(size, settings.repeats + 1)
        cold_seconds = seconds[0] if cold_seconds is None else cold_seconds
        train[str(size)] = [size / second for second in seconds[1:]]
    inference = []
    for _ in range(settings.repeats + 1):
        start = time.perf_counter()
        predict()
        inference.append(n_test / (time.perf_counter() - start))
    return {
        "train_images_per_second": train,
        "inference_images_per_second": inference[1:],
        "first_epoch_seconds": cold_seconds,
    }


@dataclass
class SpeedReport:
    """Throughput and memory of every variant, as measured by :func:`measure_speed`."""

    settings: SpeedSettings
    runs: dict[str, dict]
    failures: dict[str, str]
    variants: tuple[Variant, ...] = SPEED_VARIANTS

    def median(self, name: str, what: str, size: int | None = None) -> float:
        """Median images per second of a variant: ``what`` is ``"train"`` (at ``size``) or ``"inference"``."""
        run = self.runs[name]
        values = run["train_images_per_second"][str(size)] if what == "train" else run["inference_images_per_second"]
        return Spread.of(values).median

    def table(self) -> pd.DataFrame:
        """One row per variant: training and inference images per second (median, min–max), first epoch, memory."""
        import pandas as pd

        columns = [f"train img/s ({size:,} images)" for size in self.settings.sizes]
        columns += ["inference img/s", "first epoch s", "peak RSS MB"]
        rows = []
        for variant in self.variants:
            run = self.runs.get(variant.name)
            if run is None:
                rows.append(
                    {"variant": variant.label, **dict.fromkeys(columns, "—"), "note": self._why_missing(variant)}
                )
                continue
            trained = [str(Spread.of(run["train_images_per_second"][str(size)])) for size in self.settings.sizes]
            rows.append(
                {
                    "variant": variant.label,
                    **dict(zip(columns, trained)),
                    "inference img/s": str(Spread.of(run["inference_images_per_second"])),
                    "first epoch s": round(run["first_epoch_seconds"], 1),
                    "peak RSS MB": round(run["peak_rss_mb"]),
                    "note": "",
                }
            )
        return pd.DataFrame(rows).set_index("variant")

    def memory_table(self) -> pd.DataFrame:
        """Peak resident memory of each variant's process, and how much of it importing the framework took."""
        import pandas as pd

        rows = [
            {
                "variant": variant.label,
                "after import MB": round(run["import_rss_mb"]),
                "peak MB": round(run["peak_rss_mb"]),
                "training and inference added MB": round(run["peak_rss_mb"] - run["import_rss_mb"]),
                "frameworks loaded": ", ".join(run["frameworks_loaded"]),
            }
            for variant in self.variants
            if (run := self.runs.get(variant.name))
        ]
        return pd.DataFrame(rows).set_index("variant")

    def _why_missing(self, variant: Variant) -> str:
        if variant.name in self.failures:
            return "failed: " + self.failures[variant.name].splitlines()[0]
        return f"not measured: {variant.requires} is not installed"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"throughput": self.table(), "memory": self.memory_table()}

    def verdict(self) -> str:
        """What the numbers say about "Keras is slower than PyTorch, and only for small datasets"."""
        keras, torch = "keras-tensorflow", "pytorch-eager"
        if not {keras, torch} <= set(self.runs):
            return "Keras on TensorFlow or eager PyTorch was not measured, so there is no verdict."
        sizes = (self.settings.sizes[0], self.settings.sizes[-1])
        ratios = {size: self.median(keras, "train", size) / self.median(torch, "train", size) for size in sizes}
        lines = [
            f"Training on {size:,} images, Keras on TensorFlow is {ratio_phrase(ratio)} than eager PyTorch "
            f"({self.median(keras, 'train', size):,.0f} against {self.median(torch, 'train', size):,.0f} "
            f"images/s)."
            for size, ratio in ratios.items()
        ]
        predicting = self.median(keras, "inference") / self.median(torch, "inference")
        lines.append(f"Predicting, Keras is {ratio_phrase(predicting)} than PyTorch.")
        if "pytorch-eager-passive" in self.runs:
            passive = self.median("pytorch-eager-passive", "train", sizes[-1]) / self.median(torch, "train", sizes[-1])
            if passive > SAME_SPEED:
                lines.append(
                    f"With OMP_WAIT_POLICY=PASSIVE, eager PyTorch trains {passive:.1f}× faster: its threads "
                    "lose time waiting for cores that other programs are using. Against that setting, Keras "
                    f"is {ratio_phrase(ratios[sizes[-1]] / passive)} at {sizes[-1]:,} images."
                )
        label = {variant.name: variant.label for variant in self.variants}
        fastest = max(self.runs, key=lambda name: self.median(name, "train", sizes[-1]))
        lines.append(f"The fastest trainer here, at {sizes[-1]:,} images, is {label[fastest]}.")
        slower = {size: ratio < 1 / SAME_SPEED for size, ratio in ratios.items()}
        small, large = sizes
        # "Slower, so for small datasets only": the second half is about large data. Keras keeping up on
        # the large set refutes it, whatever happens on the small one; falling behind there only supports it.
        if slower[small] and slower[large]:
            decision = (
                "half true here: Keras is slower at both sizes, so the size of the dataset does not decide it; "
                "'only for small datasets' does not follow."
            )
        elif slower[small]:
            decision = (
                "the claim does not hold here: Keras keeps up on the large dataset and is slower on the small "
                "one only, the opposite of 'only for small datasets'."
            )
        elif slower[large]:
            decision = "the claim holds here: Keras keeps up on the small dataset and falls behind on the large one."
        else:
            decision = "the claim does not hold here: Keras on TensorFlow is not slower than eager PyTorch."
        lines.append(f"Verdict on 'Keras is slower than PyTorch, and only for small datasets': {decision}")
        return "\n".join(lines)

    def check(self) -> None:
        """Every variant whose packages are installed has a row of positive, finite numbers."""
        check_no_failures(self.failures)
        for variant in self.variants:
            if not variant.available:
                continue
            if variant.name not in self.runs:
                raise CheckFailed(f"the throughput table has no row for {variant.label}.")
            run = self.runs[variant.name]
            numbers = [*run["inference_images_per_second"], run["first_epoch_seconds"], run["peak_rss_mb"]]
            for size in self.settings.sizes:
                numbers += run["train_images_per_second"][str(size)]
            if len(run["inference_images_per_second"]) != self.settings.repeats or not all(
                math.isfinite(number) and number > 0 for number in numbers
            ):
                raise CheckFailed(f"{variant.label}'s measurements are incomplete or not positive: {run}")
            if run["params"] != CNN_PARAMS:
                raise CheckFailed(
                    f"{variant.label} timed a model of {run['params']:,} parameters, "
                    f"not the course's CNN of {CNN_PARAMS:,}."
                )
        print(f"✓ a throughput row for every installed variant, each timing the {CNN_PARAMS:,}-parameter CNN")


def measure_speed(settings: SpeedSettings | None = None, variants: Sequence[Variant] = SPEED_VARIANTS) -> SpeedReport:
    """Time the same CNN on the same data in every variant, each in a fresh process, one after another."""
    settings = settings or SpeedSettings.for_mode()
    jobs = [
        (variant.name, variant.module, "throughput", variant.env, {"settings": asdict(settings), **variant.options})
        for variant in variants
        if variant.available
    ]
    runs, failures = run_jobs(jobs, desc="speed")
    return SpeedReport(settings, runs, failures, tuple(variants))


def plot_throughput(report: SpeedReport):
    """Median images per second of each variant, training at each size and predicting, with min–max bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    from course_tools.figures import framework_colour

    measured = [variant for variant in report.variants if variant.name in report.runs]
    panels = [(f"training, {size:,} images", "train", size) for size in report.settings.sizes]
    panels.append(("predicting the test set", "inference", None))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), sharey=False)
    for axis, (title, what, size) in zip(np.atleast_1d(axes), panels):
        spreads = [
            Spread.of(
                report.runs[variant.name]["train_images_per_second"][str(size)]
                if what == "train"
                else report.runs[variant.name]["inference_images_per_second"]
            )
            for variant in measured
        ]
        medians = np.array([spread.median for spread in spreads])
        errors = np.array(
            [[spread.median - spread.low for spread in spreads], [spread.high - spread.median for spread in spreads]]
        )
        axis.barh(
            [variant.label for variant in measured],
            medians,
            xerr=errors,
            capsize=3,
            color=[framework_colour(FRAMEWORK_OF_MODULE[variant.module]) for variant in measured],
        )
        axis.invert_yaxis()
        axis.set_title(title)
        axis.set_xlabel("images per second (median, min–max)")
    for axis in np.atleast_1d(axes)[1:]:
        axis.set_yticklabels([])
    figure.tight_layout()
    return figure
