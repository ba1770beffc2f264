"""Claim: "Keras cannot run on PyTorch; its backends are TensorFlow, Theano and CNTK".

The same Keras code trained on every installed backend, one backend's saved model loaded
on the others, and Keras asked to start on the backends the articles name.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CHANCE_ACCURACY, CheckFailed

import numpy as np

from .common import CNN_PARAMS, EXPORT_TOLERANCE, KERAS, compare_outputs, output_folder, run_all, worker_slots

if TYPE_CHECKING:
    import pandas as pd


KERAS_BACKENDS = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}  # backend: package it needs


# Names the articles or Keras itself mention, tried but not trained on: Keras 3 also has
# inference-only NumPy and OpenVINO backends; Theano and CNTK were Keras 2's.
PROBED_BACKENDS = ("numpy", "openvino", "theano", "cntk")


def probe_keras_backend(name: str | None) -> str:
    """Import Keras in a fresh process with ``KERAS_BACKEND=name``: "imports (backend ...)", or the error's last line.

    With ``name`` None, ``KERAS_BACKEND`` is unset and Keras gets an empty home folder, so that no
    ``keras.json`` left by an earlier choice decides: what it picks is its default.
    """
    import os
    import subprocess
    import sys
    import tempfile

    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    with tempfile.TemporaryDirectory(prefix="keras-home-") as home:
        env |= {"TF_CPP_MIN_LOG_LEVEL": "2"} | ({"KERAS_BACKEND": name} if name else {"KERAS_HOME": home})
        process = subprocess.run(
            [sys.executable, "-c", "import keras; print(keras.backend.backend())"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if process.returncode == 0:
        return f"imports (backend {process.stdout.split()[-1]!r})"
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"failed with exit status {process.returncode}"


def default_backend_verdict(probe: str) -> str:
    """The claim "the default backend for Keras is TensorFlow", from the probe of a Keras left to its default."""
    found = re.search(r"backend '(\w+)'", probe)
    if found is None:
        return f"no verdict: Keras did not start with its default backend here ({probe})."
    if found.group(1) == "tensorflow":
        return "it holds: with KERAS_BACKEND unset and no keras.json, Keras picks TensorFlow."
    return f"it does not hold here: with KERAS_BACKEND unset and no keras.json, Keras picks {found.group(1)}."


# The articles' "latest version", and when it came out: Keras 2.7.0, with TensorFlow 2.7, in November 2021.
CLAIMED_LATEST_KERAS = "2.7.0"


def version_verdict(installed: str, claimed: str = CLAIMED_LATEST_KERAS) -> str:
    """The claim "the latest version is Keras 2.7.0", against the installed version."""
    from packaging.version import Version

    if Version(installed) > Version(claimed):
        major = " (Keras 3: a new major version)" if Version(installed).major > Version(claimed).major else ""
        return f"outdated: Keras {installed} is installed here{major}, newer than {claimed} (November 2021)."
    if Version(installed) == Version(claimed):
        return f"it matches this installation: Keras {installed}."
    return f"no verdict: the installed Keras {installed} is older than {claimed}; it says nothing about the latest."


# The releases the claims turn on: (release, month, what changed). Dates from PyPI and the release notes.
KERAS_HISTORY = (
    ("Keras 2.3.0", "2019-09", "the last multi-backend Keras 2: TensorFlow, Theano, CNTK"),
    ("Keras 2.4.0", "2020-06", "Keras becomes a front end of tf.keras: TensorFlow only"),
    (f"Keras {CLAIMED_LATEST_KERAS}", "2021-11", "the articles' 'latest', released with TensorFlow 2.7"),
    ("Keras 2.15.0", "2023-11", "the last Keras 2, with TensorFlow 2.15"),
    ("Keras 3.0.0", "2023-11", "multi-backend again: JAX, TensorFlow, PyTorch"),
    ("TensorFlow 2.16", "2024-03", "tf.keras is Keras 3; Keras 2 lives on as the tf-keras package"),
)


def history_table(installed: str, today: date | None = None) -> pd.DataFrame:
    """Keras's history from 2.3 to 3, each release placed against the installed Keras and dated from today."""
    import pandas as pd
    from packaging.version import Version

    today = today or date.today()
    rows = []
    for release, month, change in KERAS_HISTORY:
        year, number = (int(part) for part in month.split("-"))
        name, version = release.split()
        if name == "Keras":
            place = "older" if Version(version) < Version(installed) else "the same or newer"
        else:
            place = "—"
        rows.append(
            {
                "release": release,
                "month": month,
                "years ago": round((today.year - year) + (today.month - number) / 12, 1),
                f"against Keras {installed}": place,
                "what changed": change,
            }
        )
    return pd.DataFrame(rows).set_index("release")


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
    default_probe: str = ""  # Keras left to its default backend: see probe_keras_backend(None)

    @property
    def keras_version(self) -> str:
        return next(iter(self.runs.values()))["version"]

    def history(self) -> pd.DataFrame:
        """Keras's releases from 2.3 to 3, against the one that ran here."""
        return history_table(self.keras_version)

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
        version = self.keras_version
        failed = [name for name, outcome in self.probes.items() if not outcome.startswith("imports")]
        if failed:
            lines.append(f"Keras {version} does not start with KERAS_BACKEND set to {', '.join(failed)} here.")
        lines.append(f"Verdict on 'Keras's backends are TensorFlow, Theano and CNTK': {self.backends_decision()}")
        if self.default_probe:
            lines.append(
                f"Verdict on 'the default backend is TensorFlow': {default_backend_verdict(self.default_probe)}"
            )
        lines.append(f"Verdict on 'the latest version is Keras {CLAIMED_LATEST_KERAS}': {version_verdict(version)}")
        return "\n".join(lines)

    def backends_decision(self) -> str:
        """The claim's verdict: which of its backends start, and which others train."""
        gone = [name for name in ("theano", "cntk") if not self.probes.get(name, "").startswith("imports")]
        others = sorted(set(self.runs) - {"tensorflow"})
        if len(gone) == 2 and others:
            return (
                f"outdated: Theano and CNTK do not start with this Keras, and it trains on {', '.join(others)} "
                "besides TensorFlow."
            )
        if len(gone) == 2:
            return "half true: TensorFlow is the only backend that trains here, and Theano and CNTK do not start."
        return f"it holds in part: {', '.join(sorted({'theano', 'cntk'} - set(gone)))} still starts with this Keras."

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

    with ThreadPoolExecutor(worker_slots()) as pool:  # each takes seconds at most; none is timed
        default = pool.submit(probe_keras_backend, None)
        probes = dict(zip(PROBED_BACKENDS, pool.map(probe_keras_backend, PROBED_BACKENDS)))
    return BackendsReport(folder, runs, reloads, probes, default.result())
