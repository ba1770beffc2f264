"""Claim: "PyTorch models export to ONNX, and TensorFlow is the one for production and mobile deployment".

Each framework's trained CNN is exported (.keras, Keras's inference export and LiteRT; a
SavedModel and LiteRT; torch.export, ONNX and ExecuTorch), reloaded in a fresh process, and
its predictions compared with the original's on the test set. LiteRT (TensorFlow Lite's new
name) and ExecuTorch are the two mobile formats: the runtimes that apps on phones embed.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed, accuracy
from course_utils.data import load_dataset

import numpy as np

from .common import (
    CNN_WORKERS,
    EXPORT_TOLERANCE,
    KERAS,
    PREDICT_BATCH,
    PYTORCH,
    TENSORFLOW,
    check_no_failures,
    compare_outputs,
    output_folder,
    predict_in_batches,
    scaled_test_images,
    worker_slots,
)

if TYPE_CHECKING:
    import pandas as pd


def run_onnx(folder: str, onnx_file: str) -> dict:
    """In a fresh process with ONNX Runtime and no framework: run an ONNX model on the test set."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(Path(folder) / onnx_file), providers=["CPUExecutionProvider"])
    (images,) = session.get_inputs()
    logits = predict_in_batches(
        lambda batch: session.run(None, {images.name: batch})[0], scaled_test_images(channels_first=True)
    )
    np.save(Path(folder) / "onnx_reloaded.npy", logits)
    return {"framework": "onnxruntime", "version": onnxruntime.__version__, "outputs": {"ONNX": "onnx_reloaded.npy"}}


def run_litert(folder: str, models: dict[str, str]) -> dict:
    """In a fresh process with LiteRT's interpreter and no framework: run .tflite files on the test set.

    ``models`` maps an artifact's name to its file. The interpreter is the one Android and iOS apps embed.
    """
    outputs = {}
    for artifact, file in models.items():
        outputs[artifact] = f"{Path(file).stem}_litert.npy"
        np.save(Path(folder) / outputs[artifact], _litert_logits(Path(folder) / file, scaled_test_images()))
    return {"framework": "ai-edge-litert", "version": importlib.metadata.version("ai-edge-litert"), "outputs": outputs}


def _litert_logits(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (images,), (logits,) = interpreter.get_input_details(), interpreter.get_output_details()

    def forward(batch: np.ndarray) -> np.ndarray:
        interpreter.resize_tensor_input(images["index"], batch.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(images["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(logits["index"])

    return predict_in_batches(forward, x)


def run_executorch(folder: str, pte_file: str) -> dict:
    """In a fresh process: run an ExecuTorch program through its runtime's Python bindings.

    The bindings exchange torch tensors, so this process imports PyTorch; an app calls the same
    C++ runtime without Python.
    """
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(Path(folder) / pte_file).load_method("forward")

    def forward(batch: np.ndarray) -> np.ndarray:  # the program takes full batches: pad the last one
        padded = np.zeros((PREDICT_BATCH, *batch.shape[1:]), batch.dtype)
        padded[: len(batch)] = batch
        return method.execute([torch.from_numpy(padded)])[0].numpy()[: len(batch)]

    logits = predict_in_batches(forward, scaled_test_images(channels_first=True))
    np.save(Path(folder) / "executorch_reloaded.npy", logits)
    return {
        "framework": "executorch",
        "version": importlib.metadata.version("executorch"),
        "outputs": {"ExecuTorch": "executorch_reloaded.npy"},
    }


@dataclass(frozen=True)
class Runtime:
    """A fresh process that loads exported models: what it imports, and which of them it runs."""

    name: str
    module: str
    function: str
    env: dict[str, str]
    kwargs: dict[str, object]


# Keras exports its model to LiteRT itself; the low-level TensorFlow model goes through the converter.
LITERT_FILES = {"LiteRT (Keras export)": "keras_cnn.tflite", "LiteRT": "tensorflow_cnn.tflite"}
# The mobile formats, and which framework's export each comes from.
MOBILE = {
    ("keras", "LiteRT (Keras export)"): "LiteRT",
    ("tensorflow", "LiteRT"): "LiteRT",
    ("pytorch", "ExecuTorch"): "ExecuTorch",
}
RUNTIMES = (
    Runtime(
        "Keras (TensorFlow backend)",
        KERAS,
        "reload",
        {"KERAS_BACKEND": "tensorflow"},
        {"keras_file": "cnn_tensorflow.keras"},
    ),
    Runtime(
        "TensorFlow",
        TENSORFLOW,
        "reload",
        {},
        {"saved_models": {"Keras export": "keras_export", "SavedModel": "tf_savedmodel"}},
    ),
    Runtime("PyTorch", PYTORCH, "reload", {}, {}),
    Runtime("ONNX Runtime", __name__, "run_onnx", {}, {"onnx_file": "cnn.onnx"}),
    Runtime("LiteRT", __name__, "run_litert", {}, {"models": LITERT_FILES}),
    Runtime("ExecuTorch", __name__, "run_executorch", {}, {"pte_file": "cnn.pte"}),
)
DEPLOYMENT_FULL_TRAIN = 10_000


@dataclass
class DeploymentReport:
    """Each framework's trained CNN, exported, reloaded in a fresh process, and compared with the original."""

    folder: Path
    trained: dict[str, dict]
    reloads: dict[str, dict]
    labels: np.ndarray  # of the test set, which every export predicted

    def rows(self) -> list[dict]:
        rows = []
        for framework, run in self.trained.items():
            reference = np.load(self.folder / run["exports"]["reference"])
            for artifact, file in run["exports"].items():
                if artifact == "reference":
                    continue
                row = {
                    "artifact": artifact,
                    "made by": framework,
                    "file": file,
                    "size KB": round(_size(self.folder / file) / 1024),
                }
                for runtime, reload in self.reloads.items():
                    if artifact in reload["outputs"]:
                        outputs = np.load(self.folder / reload["outputs"][artifact])
                        row.update(
                            {
                                "reloaded by": runtime,
                                **compare_outputs(reference, outputs),
                                "test accuracy": accuracy(outputs, self.labels),
                                "runtime imported": ", ".join(reload["frameworks_loaded"]) or "no framework",
                                "runtime peak RSS MB": round(reload["peak_rss_mb"]),
                            }
                        )
                rows.append(row)
        return rows

    def table(self) -> pd.DataFrame:
        import pandas as pd

        table = pd.DataFrame(self.rows()).set_index("artifact")
        if "max_abs_difference" in table:
            table["max_abs_difference"] = table["max_abs_difference"].map(lambda value: f"{value:.1e}")
            table["same_prediction"] = table["same_prediction"].map(lambda value: f"{value:.2%}")
        return table.rename(
            columns={"max_abs_difference": "largest logit difference", "same_prediction": "same predicted class"}
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"exports": self.table(), "outdated": self.outdated()}

    def outdated(self) -> pd.DataFrame:
        """What the installed packages themselves say of the routes the course calls deprecated or renamed."""
        import pandas as pd

        versions = {name: importlib.metadata.version(name) for name in ("torch", "tensorflow", "ai-edge-litert")}
        torchscript = self.trained.get("pytorch", {}).get("cpp_exports", {}).get("TorchScript warnings", [])
        tf_lite = self.reloads.get("TensorFlow", {}).get("tf_lite_warnings", [])
        litert = importlib.metadata.metadata("ai-edge-litert")["Summary"]
        rows = [
            {
                "the course says": "TorchScript is deprecated",
                "evidence": "; ".join(torchscript) or "no warning: PyTorch does not say so",
                "from": f"torch {versions['torch']}, warnings while tracing and saving the CNN",
            },
            {
                "the course says": "TF Lite is now LiteRT, in its own package",
                "evidence": "; ".join(tf_lite) or "no warning: tf.lite.Interpreter opened the model silently",
                "from": f"tensorflow {versions['tensorflow']}, tf.lite.Interpreter on the exported model",
            },
            {
                "the course says": "LiteRT is the mobile runtime",
                "evidence": f"ai-edge-litert's own summary: {litert!r}",
                "from": f"ai-edge-litert {versions['ai-edge-litert']}, its installed metadata",
            },
        ]
        return pd.DataFrame(rows).set_index("the course says")

    def verdict(self) -> str:
        rows = self.rows()
        matched = [row["artifact"] for row in rows if row.get("max_abs_difference", np.inf) <= EXPORT_TOLERANCE]
        lines = [
            f"{len(matched)} of {len(rows)} exports reloaded in a fresh process and predicted as the original "
            f"did: {', '.join(matched)}."
        ]
        for row in rows:
            if "reloaded by" in row:
                lines.append(
                    f"{row['artifact']} ({row['made by']}, {row['size KB']:,} KB) ran in "
                    f"{row['reloaded by']}, which imported {row['runtime imported']} and peaked at "
                    f"{row['runtime peak RSS MB']:,} MB."
                )
        lines.append(
            f"Verdict on 'PyTorch exports to ONNX, TensorFlow is for production and mobile': {self.decision()}"
        )
        return "\n".join(lines)

    def matched(self) -> set[tuple[str, str]]:
        """The exports, as ``(made by, artifact)``, that reloaded and predicted as their original did."""
        return {
            (row["made by"], row["artifact"])
            for row in self.rows()
            if row.get("max_abs_difference", np.inf) <= EXPORT_TOLERANCE
        }

    def halves(self) -> dict[str, tuple[bool | None, str]]:
        """Each half of the claim, judged on its own evidence: ``{half: (holds, why)}``.

        "TensorFlow is for production and mobile" asks for both: its server format (the SavedModel
        that TensorFlow Serving loads) and its mobile one (LiteRT, from TensorFlow or from Keras on
        TensorFlow). Neither half says "only": what PyTorch also deploys is reported, not counted against it.
        """
        matched = self.matched()
        onnx = ("pytorch", "ONNX") in matched
        production = ("tensorflow", "SavedModel") in matched
        mobile = sorted(f"{artifact} from {made}" for made, artifact in matched if artifact.startswith("LiteRT"))
        server = "reloaded and predicted as the original" if production else "did not predict as the original"
        phones = f"the LiteRT files ran ({', '.join(mobile)})" if mobile else "no LiteRT file predicted as the original"
        holds = True if production and mobile else None if production or mobile else False
        tensorflow = (holds, f"its SavedModel {server}, and {phones}")
        return {
            "PyTorch exports to ONNX": (
                onnx,
                "its ONNX file ran in ONNX Runtime, with no framework, and predicted as the model"
                if onnx
                else "its ONNX file did not predict as the model",
            ),
            "TensorFlow is for production and mobile": tensorflow,
        }

    def decision(self) -> str:
        """The claim's verdict: each half on its own evidence; what else deploys is said beside it."""
        halves = self.halves()
        said = {True: "holds", None: "partly holds", False: "does not hold"}
        parts = "; ".join(f"'{half}' {said[holds]}: {why}" for half, (holds, why) in halves.items())
        outcomes = [holds for holds, _ in halves.values()]
        head = (
            "holds here"
            if all(outcomes)
            else "does not hold here"
            if not any(holds is not False for holds in outcomes)
            else "half true here"
        )
        matched = self.matched()
        pytorch_own = [artifact for artifact in ("torch.export", "ExecuTorch") if ("pytorch", artifact) in matched]
        beside = (
            f" Not counted against it, since neither half says 'only': PyTorch's own {' and '.join(pytorch_own)} "
            "ran too (ExecuTorch is PyTorch's mobile runtime)."
            if pytorch_own
            else ""
        )
        return f"{head}: {parts}.{beside}"

    def check(self) -> None:
        rows = self.rows()
        for row in rows:
            if "reloaded by" not in row:
                raise CheckFailed(f"{row['artifact']} ({row['file']}) was exported but never reloaded.")
            if row["max_abs_difference"] > EXPORT_TOLERANCE or row["same_prediction"] < 1:
                raise CheckFailed(
                    f"{row['artifact']} reloaded by {row['reloaded by']} predicts differently from "
                    f"the original {row['made by']} model: {row}."
                )
        for runtime in ("ONNX Runtime", "LiteRT"):
            ran = [row for row in rows if row.get("reloaded by") == runtime]
            if any(row["runtime imported"] != "no framework" for row in ran) or not (ran or runtime == "LiteRT"):
                raise CheckFailed(f"the models for {runtime} did not run in {runtime} alone.")
        print(f"✓ {len(rows)} exports reloaded in fresh processes; every prediction matches the original")


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def export_and_reload(epochs: int | None = None, n_train: int | None = None) -> DeploymentReport:
    """Train and export the CNN in each framework, then reload every export in a fresh process.

    Whether an export predicts as its original does not depend on how long the model trained, so
    full mode trains on 10,000 images, not 60,000: on one core, a minute and a half instead of four.
    """
    epochs = epochs or config.epochs(full=3, fast=1)
    n_train = n_train or (1024 if config.fast_mode() else DEPLOYMENT_FULL_TRAIN)
    folder = output_folder("exports", "deployment")
    train = {"epochs": epochs, "n_train": n_train, "export_dir": str(folder)}
    workers = {name: (name, module, "train", env, train) for name, module, env in CNN_WORKERS}
    trained = run_lanes([[workers["keras"], workers["tensorflow"]], [workers["pytorch"]]], "train and export")
    jobs = {
        runtime.name: (
            runtime.name,
            runtime.module,
            runtime.function,
            runtime.env,
            {"folder": str(folder), **runtime.kwargs},
        )
        for runtime in RUNTIMES
    }
    lanes = [[jobs[name] for name in lane] for lane in RELOAD_LANES]
    reloads = run_lanes(lanes, "reload")
    return DeploymentReport(folder, trained, reloads, load_dataset().y_test)


# The reloading processes in two lanes, each one after another: the two that import TensorFlow
# (about 0.9 GB each) never run at once, so the notebook and its workers stay within Binder's 2 GB.
RELOAD_LANES = (
    ("Keras (TensorFlow backend)", "TensorFlow", "LiteRT"),
    ("PyTorch", "ExecuTorch", "ONNX Runtime"),
)


def run_lanes(lanes: list[list[tuple]], desc: str) -> dict:
    """Run each lane's jobs one after another, the lanes side by side where :func:`worker_slots` allows two.

    A lane keeps apart the workers that must not overlap (two TensorFlow processes peak near 1.9 GB
    together); with one slot, the lanes run one after the other. Any failure raises, as in ``run_all``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    from .workers import WorkerFailed, run_worker

    outcomes: dict[str, tuple[dict | None, str | None]] = {}
    with tqdm(total=sum(map(len, lanes)), desc=desc, unit="process") as progress:

        def run_lane(lane: list[tuple]) -> None:
            for key, module, function, env, kwargs in lane:
                try:
                    outcomes[key] = (run_worker(module, function, env=env, **kwargs), None)
                except WorkerFailed as error:
                    outcomes[key] = (None, str(error))
                progress.update()

        with ThreadPoolExecutor(min(len(lanes), worker_slots())) as pool:
            list(pool.map(run_lane, lanes))
    order = [job[0] for lane in lanes for job in lane]
    check_no_failures({key: outcomes[key][1] for key in order if outcomes[key][1] is not None})
    return {key: outcomes[key][0] for key in order}
