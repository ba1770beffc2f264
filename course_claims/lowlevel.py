"""Claims: "Keras is not capable of handling low-level computations" and "not ideal for PCA and clustering".

A dense layer, PCA and k-means, each written with ``keras.ops`` alone, run on every installed
backend and compared with NumPy computing the same thing, from the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed
from course_utils.data import load_dataset

import numpy as np

from .backends import trainable_backends
from .common import KERAS, output_folder, run_all

if TYPE_CHECKING:
    import pandas as pd

# float32 on different backends and kernels: differences below these are rounding.
LAYER_TOLERANCE = 1e-4
PCA_TOLERANCE = 1e-3
SAME_CLUSTERS = 0.99  # the share of points that must land in the same cluster as with NumPy


def reference(x: np.ndarray, weights: np.ndarray, settings: dict) -> dict[str, np.ndarray]:
    """What NumPy computes for the layer, PCA and k-means, by the same steps as the keras.ops code."""
    x = x.astype(np.float64)
    layer = np.maximum(x @ weights[:-1] + weights[-1], 0)
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    top = vectors[:, ::-1][:, : settings["components"]]
    centroids = x[: settings["clusters"]]
    for _ in range(settings["iterations"]):
        assignment = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        members = np.eye(settings["clusters"])[assignment]
        centroids = members.T @ x / np.maximum(members.sum(axis=0), 1)[:, None]
    return {
        "layer": layer,
        "pca_projection": centred @ top,
        "pca_explained": values[::-1][: settings["components"]] / values.sum(),
        "kmeans_assignment": assignment,
        "kmeans_centroids": centroids,
    }


def compare(outputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> dict[str, float]:
    """How far one backend's outputs are from NumPy's; a principal component's sign is arbitrary."""
    projection = outputs["pca_projection"] * np.sign(np.sum(outputs["pca_projection"] * expected["pca_projection"], 0))
    return {
        "layer": float(np.max(np.abs(outputs["layer"] - expected["layer"]))),
        "pca": float(
            np.max(np.abs(projection - expected["pca_projection"])) / np.max(np.abs(expected["pca_projection"]))
        ),
        "pca_explained": float(np.max(np.abs(outputs["pca_explained"] - expected["pca_explained"]))),
        "same_clusters": float(np.mean(outputs["kmeans_assignment"] == expected["kmeans_assignment"])),
    }


@dataclass
class LowLevelReport:
    """Each backend's layer, PCA and k-means against NumPy's."""

    comparisons: dict[str, dict[str, float]]  # backend: compare()'s result
    versions: dict[str, str]  # backend: Keras version

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = {
            backend: {
                "dense layer: largest difference": f"{found['layer']:.1e}",
                "PCA: largest difference (relative)": f"{found['pca']:.1e}",
                "PCA: explained variance difference": f"{found['pca_explained']:.1e}",
                "k-means: same cluster as NumPy": f"{found['same_clusters']:.1%}",
            }
            for backend, found in self.comparisons.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("backend")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"against NumPy": self.table()}

    def layer_decision(self) -> str:
        wrong = [backend for backend, found in self.comparisons.items() if not found["layer"] <= LAYER_TOLERANCE]
        if wrong:
            return f"it holds on {', '.join(wrong)} here: the keras.ops layer does not compute what NumPy does."
        largest = max(found["layer"] for found in self.comparisons.values())
        return (
            f"it does not hold: a layer written with keras.ops computes relu(x W + b) as NumPy does on "
            f"{' and '.join(self.comparisons)} (largest difference {largest:.0e})."
        )

    def pca_decision(self) -> str:
        wrong = [
            backend
            for backend, found in self.comparisons.items()
            if not (found["pca"] <= PCA_TOLERANCE and found["same_clusters"] >= SAME_CLUSTERS)
        ]
        if wrong:
            return f"on {', '.join(wrong)}, keras.ops' PCA or k-means differs from NumPy's here."
        return (
            "Keras is capable of both: PCA and k-means in a few lines of keras.ops agree with NumPy on "
            f"{' and '.join(self.comparisons)}. 'Ideal' is a matter of tools, not of capability: scikit-learn "
            "remains the usual one, and needs no backend."
        )

    def verdict(self) -> str:
        lines = []
        if len(self.comparisons) < 2:
            lines.append(f"Only {', '.join(self.comparisons)} is installed here, so one backend was compared.")
        lines.append(f"Verdict on 'Keras is not capable of low-level computations': {self.layer_decision()}")
        lines.append(f"Verdict on 'Keras is not ideal for PCA and clustering': {self.pca_decision()}")
        return "\n".join(lines)

    def check(self) -> None:
        if not self.comparisons:
            raise CheckFailed("no backend ran the keras.ops code.")
        for backend, found in self.comparisons.items():
            if not (found["layer"] <= LAYER_TOLERANCE and found["pca"] <= PCA_TOLERANCE):
                raise CheckFailed(f"keras.ops on {backend} is not what NumPy computes: {found}")
            if found["same_clusters"] < SAME_CLUSTERS:
                raise CheckFailed(f"k-means on {backend} puts {found['same_clusters']:.1%} of points where NumPy does.")
        print(f"✓ the keras.ops layer, PCA and k-means agree with NumPy on {len(self.comparisons)} backend(s)")


def compare_with_numpy() -> LowLevelReport:
    """Run the keras.ops code on every installed backend, each in a process of its own, and compare it with NumPy."""
    folder = output_folder("runs", "lowlevel")
    jobs = [(b, KERAS, "low_level", {"KERAS_BACKEND": b}, {"folder": str(folder)}) for b in trainable_backends()]
    runs = run_all(jobs, desc="keras.ops", parallel=True)
    settings = next(iter(runs.values()))["settings"]
    x = load_dataset().x_test[: settings["n_images"]].reshape(settings["n_images"], -1) / np.float32(255)
    expected = reference(x, np.load(Path(folder) / "layer_weights.npy"), settings)
    comparisons = {
        backend: compare({name: np.load(Path(folder) / file) for name, file in run["files"].items()}, expected)
        for backend, run in runs.items()
    }
    return LowLevelReport(comparisons, {backend: run["version"] for backend, run in runs.items()})
