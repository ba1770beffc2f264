"""Claim: "Keras cannot run on PyTorch; its backends are TensorFlow, Theano and CNTK".

The same Keras code trained on every installed backend, one backend's saved model loaded
on the others, and Keras asked to start on the backends the articles name.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course_utils import config
from course_utils.checks import CHANCE_ACCURACY, CheckFailed

from .common import CNN_PARAMS, EXPORT_TOLERANCE, KERAS, compare_outputs, output_folder, run_all, worker_slots

if TYPE_CHECKING:
    import pandas as pd


KERAS_BACKENDS = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}  # backend: package it needs


# Names the articles or Keras itself mention, tried but not trained on: Keras 3 also has
# inference-only NumPy and OpenVINO backends; Theano and CNTK were Keras 2's.
PROBED_BACKENDS = ("numpy", "openvino", "theano", "cntk")


def probe_keras_backend(name: str) -> str:
    """Import Keras with ``KERAS_BACKEND=name`` in a fresh process: "imports", or the error's last line."""
    import os
    import subprocess
    import sys

    process = subprocess.run(
        [sys.executable, "-c", "import keras; print(keras.backend.backend())"],
        env={**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if process.returncode == 0:
        return f"imports (backend {process.stdout.split()[-1]!r})"
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"failed with exit status {process.returncode}"


def trainable_backends() -> list[str]:
    """The Keras backends whose framework is installed here."""
    return [backend for backend, package in KERAS_BACKENDS.items() if importlib.util.find_spec(package)]


@dataclass
class BackendsReport:
    """The same Keras code trained on each installed backend, and one saved model loaded on the others."""

    folder: Path
    runs: dict[str, dict]
    reloads: dict[str, dict]
    probes: dict[str, str]

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {
                "backend": backend,
                "framework version": run["backend_version"],
                "parameters": run["params"],
                "first loss": round(run["losses"][0], 4),
                "last loss": round(run["losses"][-1], 4),
                "test accuracy": round(run["test_accuracy"], 4),
                "training s": round(run["train_seconds"], 1),
                "peak RSS MB": round(run["peak_rss_mb"]),
            }
            for backend, run in self.runs.items()
        ]
        return pd.DataFrame(rows).set_index("backend")

    @property
    def source_backend(self) -> str:
        return next(iter(self.runs))

    def portability(self) -> dict[str, dict[str, float]]:
        """For each other backend: how its predictions from the first backend's .keras file compare."""
        source = self.runs[self.source_backend]["exports"]
        reference = np.load(self.folder / source["reference"])
        return {
            backend: compare_outputs(reference, np.load(self.folder / reload["outputs"][".keras"]))
            for backend, reload in self.reloads.items()
        }

    def portability_table(self) -> pd.DataFrame:
        import pandas as pd

        file = self.runs[self.source_backend]["exports"][".keras"]
        rows = [
            {
                "file": file,
                "trained on": self.source_backend,
                "loaded on": backend,
                "largest logit difference": f"{match['max_abs_difference']:.1e}",
                "same predicted class": f"{match['same_prediction']:.2%}",
            }
            for backend, match in self.portability().items()
        ]
        return pd.DataFrame(rows)

    def probe_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"KERAS_BACKEND": name, "import keras": outcome} for name, outcome in self.probes.items()])

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"training": self.table(), "portability": self.portability_table(), "other backends": self.probe_table()}

    def verdict(self) -> str:
        lines = []
        if "torch" in self.runs:
            run = self.runs["torch"]
            lines.append(
                f"Keras {run['version']} trained the CNN on PyTorch {run['backend_version']} here, to "
                f"{run['test_accuracy']:.1%} test accuracy: Keras does run on PyTorch."
            )
        accuracies = ", ".join(f"{backend} {run['test_accuracy']:.1%}" for backend, run in self.runs.items())
        lines.append(f"The same code on {len(self.runs)} backends: test accuracy {accuracies}.")
        for backend, match in self.portability().items():
            lines.append(
                f"The .keras file trained on {self.source_backend} predicts the same class on {backend} for "
                f"{match['same_prediction']:.1%} of the test images (largest logit difference "
                f"{match['max_abs_difference']:.1e})."
            )
        failed = [name for name, outcome in self.probes.items() if not outcome.startswith("imports")]
        if failed:
            lines.append(
                f"Keras {next(iter(self.runs.values()))['version']} does not start with "
                f"KERAS_BACKEND set to {', '.join(failed)} here."
            )
        return "\n".join(lines)

    def check(self) -> None:
        if len(self.runs) < 2:
            raise CheckFailed(f"only {list(self.runs)} trained: the comparison needs two backends or more.")
        for backend, run in self.runs.items():
            if run["params"] != CNN_PARAMS or run["backend"] != backend:
                raise CheckFailed(
                    f"the {backend} run used backend {run['backend']!r} and {run['params']:,} "
                    f"parameters; expected {backend!r} and {CNN_PARAMS:,}."
                )
            if not run["losses"][-1] < run["losses"][0] or run["test_accuracy"] < 5 * CHANCE_ACCURACY:
                raise CheckFailed(
                    f"Keras on {backend} did not learn: losses {run['losses']}, "
                    f"test accuracy {run['test_accuracy']:.3f}."
                )
        for backend, match in self.portability().items():
            if match["max_abs_difference"] > EXPORT_TOLERANCE or match["same_prediction"] < 1:
                raise CheckFailed(
                    f"the .keras file trained on {self.source_backend} predicts differently on {backend}: {match}."
                )
        print("✓ the same Keras code trained on every installed backend; its saved model loads on the others")


def compare_backends(epochs: int | None = None, n_train: int | None = None) -> BackendsReport:
    """Train the Keras CNN on each installed backend; load the first backend's .keras file on the others."""
    epochs = epochs or config.epochs(full=3, fast=2)
    n_train = n_train or (2048 if config.fast_mode() else None)
    folder = output_folder("exports", "backends")
    backends = trainable_backends()
    train = {"epochs": epochs, "n_train": n_train, "export_dir": str(folder)}
    runs = run_all([(backend, KERAS, "train", {"KERAS_BACKEND": backend}, train) for backend in backends], desc="train")
    keras_file = runs[backends[0]]["exports"][".keras"]
    reloads = run_all(
        [
            (backend, KERAS, "reload", {"KERAS_BACKEND": backend}, {"folder": str(folder), "keras_file": keras_file})
            for backend in backends[1:]
        ],
        desc="reload",
        parallel=True,
    )
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(worker_slots()) as pool:  # each fails within a second or two; none is timed
        probes = dict(zip(PROBED_BACKENDS, pool.map(probe_keras_backend, PROBED_BACKENDS)))
    return BackendsReport(folder, runs, reloads, probes)
