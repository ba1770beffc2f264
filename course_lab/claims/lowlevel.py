"""Claims: "Keras is not capable of handling low-level computations" and "not ideal for PCA and clustering".

A dense layer, PCA and k-means, each written with ``keras.ops`` alone, run on every installed
backend and compared with NumPy computing the same thing, from the same inputs. The first claim is
also read as the architecture claim it is: where ``keras.ops`` computes (the backend's function and
tensor type); the second is timed, against NumPy and scikit-learn on the same MNIST images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed
from course_utils.data import load_dataset

import numpy as np

from .backends import trainable_backends
from .common import KERAS, Spread, output_folder, run_all, timed

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


def baseline_seconds(x: np.ndarray, settings: dict) -> dict[str, dict[str, list[float]]]:
    """NumPy's and, where installed, scikit-learn's seconds for the same PCA and k-means (same start, same steps)."""
    x = x.astype(np.float32)
    clusters, iterations = settings["clusters"], settings["iterations"]

    def numpy_pca():
        centred = x - x.mean(axis=0)
        np.linalg.eigh(centred.T @ centred / (len(x) - 1))

    def numpy_kmeans():
        centroids = x[:clusters]
        for _ in range(iterations):
            distances = (x**2).sum(1, keepdims=True) - 2 * x @ centroids.T + (centroids**2).sum(1)
            members = np.eye(clusters, dtype=x.dtype)[np.argmin(distances, axis=1)]
            centroids = members.T @ x / np.maximum(members.sum(axis=0), 1)[:, None]

    seconds = {"NumPy": {"pca": timed(numpy_pca), "kmeans": timed(numpy_kmeans)}}
    try:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
    except ImportError:
        return seconds
    pca = PCA(settings["components"], svd_solver="full")
    kmeans = KMeans(clusters, init=x[:clusters], n_init=1, max_iter=iterations, tol=0, algorithm="lloyd")
    seconds["scikit-learn"] = {"pca": timed(lambda: pca.fit(x)), "kmeans": timed(lambda: kmeans.fit(x))}
    return seconds


# The lines of keras.ops each needs (keras_cnn.pca and keras_cnn.k_means, their bodies), against one call
# of scikit-learn's: counted from the source, without importing Keras.
def keras_ops_lines() -> dict[str, int]:
    from .common import source_of

    def body(name: str) -> int:
        lines = source_of(KERAS, name).splitlines()[1:]
        return sum(
            1 for line in lines if line.strip() and not line.strip().startswith(('"""', "#")) and '"""' not in line
        )

    return {"pca": body("pca"), "kmeans": body("k_means")}


@dataclass
class LowLevelReport:
    """Each backend's layer, PCA and k-means against NumPy's; where keras.ops computes; how long each took."""

    comparisons: dict[str, dict[str, float]]  # backend: compare()'s result
    versions: dict[str, str]  # backend: Keras version
    seconds: dict[str, dict[str, list[float]]] = None  # route ("keras.ops on torch", "NumPy"...): {"pca", "kmeans"}
    dispatch: dict[str, dict] = None  # backend: keras_cnn.dispatch()'s result

    def timing_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = {
            route: {f"{task} ms, median (range)": str(Spread.of([1000 * t for t in found[task]])) for task in found}
            for route, found in (self.seconds or {}).items()
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("computed by")

    def dispatch_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = {
            backend: {
                "keras.ops.matmul calls": found["implementation"],
                "which calls": ", ".join(f"{name}.…matmul" for name in found["framework_calls"]) or "?",
                "and returns": found["result_type"],
            }
            for backend, found in (self.dispatch or {}).items()
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("backend")

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
        return {"against NumPy": self.table(), "dispatch": self.dispatch_table(), "seconds": self.timing_table()}

    def delegates(self) -> list[str]:
        """The backends on which keras.ops.matmul ran the backend's own function and returned its tensor."""
        frameworks = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}
        return [
            backend
            for backend, found in (self.dispatch or {}).items()
            if f".backend.{backend}." in found["implementation"]
            and found["result_type"].startswith(frameworks.get(backend, backend))
        ]

    def layer_decision(self) -> str:
        wrong = [backend for backend, found in self.comparisons.items() if not found["layer"] <= LAYER_TOLERANCE]
        if wrong:
            return f"it holds on {', '.join(wrong)} here: the keras.ops layer does not compute what NumPy does."
        largest = max(found["layer"] for found in self.comparisons.values())
        capability = (
            f"a layer written with keras.ops computes relu(x W + b) as NumPy does on "
            f"{' and '.join(self.comparisons)} (largest difference {largest:.0e})"
        )
        delegates = self.delegates()
        if not delegates:
            return f"it does not hold as a capability: {capability}."
        found = self.dispatch[delegates[0]]
        return (
            f"true of the architecture, not of the capability. Keras computes nothing itself: on "
            f"{' and '.join(delegates)}, keras.ops.matmul calls the backend's function ({found['implementation']}, "
            f"returning a {found['result_type']}), and the Keras package holds no compiled code (see the overview). "
            f"But {capability}."
        )

    def speed_decision(self) -> str | None:
        """Is keras.ops slower at PCA and k-means than scikit-learn (or NumPy)? Said where the ranges do not overlap."""
        if not self.seconds:
            return None
        reference = "scikit-learn" if "scikit-learn" in self.seconds else "NumPy"
        theirs = self.seconds[reference]
        slower, faster, overlap = [], [], []
        for route, found in self.seconds.items():
            if not route.startswith("keras.ops"):
                continue
            for task in ("pca", "kmeans"):
                mine, other = Spread.of(found[task]), Spread.of(theirs[task])
                said = f"{task} on {route.removeprefix('keras.ops on ')} {mine.median / other.median:.1f}×"
                (slower if mine.low > other.high else faster if mine.high < other.low else overlap).append(said)
        lines = keras_ops_lines()
        written = (
            f"keras.ops needs {lines['pca']} and {lines['kmeans']} lines written by hand where {reference} is one call"
        )
        if slower and not faster and not overlap:
            return f"it holds in time and code: keras.ops took longer than {reference} ({', '.join(slower)}); {written}"
        if faster and not slower:
            return f"it does not hold in time: keras.ops was faster than {reference} ({', '.join(faster)}); {written}"
        return (
            f"inconclusive in time here: against {reference}, slower: {', '.join(slower) or 'none'}; faster: "
            f"{', '.join(faster) or 'none'}; within the noise: {', '.join(overlap) or 'none'}; {written}"
        )

    def pca_decision(self) -> str:
        wrong = [
            backend
            for backend, found in self.comparisons.items()
            if not (found["pca"] <= PCA_TOLERANCE and found["same_clusters"] >= SAME_CLUSTERS)
        ]
        if wrong:
            return f"on {', '.join(wrong)}, keras.ops' PCA or k-means differs from NumPy's here."
        backends = " and ".join(self.comparisons)
        capable = f"Keras is capable of both (PCA and k-means in keras.ops agree with NumPy on {backends})"
        speed = self.speed_decision()
        if speed is None:
            return f"{capable}; 'ideal' was not measured here."
        return f"{speed}. {capable}."

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
    # One backend at a time: with JAX installed, two of these workers at once took the notebook to 2.05 GB,
    # over Binder's 2 GB; one at a time costs about half a minute more in fast mode.
    runs = run_all(jobs, desc="keras.ops")
    settings = next(iter(runs.values()))["settings"]
    x = load_dataset().x_test[: settings["n_images"]].reshape(settings["n_images"], -1) / np.float32(255)
    expected = reference(x, np.load(Path(folder) / "layer_weights.npy"), settings)
    comparisons = {
        backend: compare({name: np.load(Path(folder) / file) for name, file in run["files"].items()}, expected)
        for backend, run in runs.items()
    }
    seconds = {f"keras.ops on {backend}": run["seconds"] for backend, run in runs.items() if "seconds" in run}
    seconds |= baseline_seconds(x, settings)
    return LowLevelReport(
        comparisons,
        {backend: run["version"] for backend, run in runs.items()},
        seconds,
        {backend: run["dispatch"] for backend, run in runs.items() if "dispatch" in run},
    )
