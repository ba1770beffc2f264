"""Claim: "PyTorch has no monitoring tool like TensorBoard".

Three frameworks log their training into one TensorBoard folder, and the event files are
read back, without TensorFlow, and checked against the losses the training returned.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

import numpy as np

from .common import CNN_WORKERS, output_folder, run_all

if TYPE_CHECKING:
    import pandas as pd


TOOLS = {
    "keras": "keras.callbacks.TensorBoard",
    "tensorflow": "tf.summary",
    "pytorch": "torch.utils.tensorboard.SummaryWriter",
}


def read_scalars(folder: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Every scalar in the TensorBoard event files under ``folder``: ``{run: {tag: [(step, value), ...]}}``.

    A run is an event file's folder, relative to ``folder``. Reads both kinds of scalar,
    PyTorch's ``simple_value`` and the scalar tensors that ``tf.summary`` writes, without
    TensorFlow: TensorBoard's own loader would import it, if installed, to read the files.
    """
    from tensorboard.compat.proto.event_pb2 import Event

    runs: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for path in sorted(Path(folder).rglob("events.out.tfevents.*")):
        run = runs.setdefault(path.parent.relative_to(folder).as_posix(), {})
        for record in tf_records(path):
            event = Event.FromString(record)
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                number = (
                    value.simple_value
                    if kind == "simple_value"
                    else (_scalar(value.tensor) if kind == "tensor" else None)
                )
                if number is not None:
                    run.setdefault(value.tag, []).append((int(event.step), number))
    return runs


def tf_records(path: Path) -> Iterator[bytes]:
    """The records of a TFRecord file, the container of TensorBoard's event files.

    Each record is a little-endian uint64 length, a 4-byte checksum of it, the data, and a
    4-byte checksum of the data. A record cut short (still being written) ends the file.
    """
    with open(path, "rb") as stream:
        while len(header := stream.read(12)) == 12:
            (length,) = struct.unpack("<Q", header[:8])
            data = stream.read(length)
            if len(data) < length or len(stream.read(4)) < 4:
                return
            yield data


# TensorFlow's dtype numbers for the scalar tensors tf.summary.scalar writes: field, NumPy dtype.
_SCALAR_FIELDS = {1: ("float_val", "<f4"), 2: ("double_val", "<f8"), 3: ("int_val", "<i4"), 9: ("int64_val", "<i8")}


def _scalar(tensor) -> float | None:
    """The number in a scalar TensorProto; None for anything else (images, histograms, text, graphs)."""
    if tensor.dtype not in _SCALAR_FIELDS or len(tensor.tensor_shape.dim) != 0:
        return None
    field_name, dtype = _SCALAR_FIELDS[tensor.dtype]
    values = getattr(tensor, field_name)
    if values:
        return float(values[0])
    return float(np.frombuffer(tensor.tensor_content, dtype)[0]) if tensor.tensor_content else None


def event_files(folder: Path) -> dict[str, list[str]]:
    """The event files under ``folder``, by framework (its first sub-folder)."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(folder).rglob("events.out.tfevents.*")):
        found.setdefault(path.relative_to(folder).parts[0], []).append(path.relative_to(folder).as_posix())
    return found


@dataclass
class TensorBoardReport:
    """Three frameworks' training, logged into one TensorBoard folder, and read back."""

    folder: Path
    runs: dict[str, dict]

    def scalars(self) -> dict[str, dict[str, list[tuple[int, float]]]]:
        return read_scalars(self.folder)

    def table(self) -> pd.DataFrame:
        import pandas as pd

        files = event_files(self.folder)
        rows = []
        for run, tags in self.scalars().items():
            framework = run.split("/")[0]
            for tag, points in tags.items():
                rows.append(
                    {
                        "run": run,
                        "tag": tag,
                        "points": len(points),
                        "values": ", ".join(f"{value:.4f}" for _, value in points[:5]),
                        "event files of the framework": len(files.get(framework, [])),
                    }
                )
        return pd.DataFrame(rows).set_index(["run", "tag"]) if rows else pd.DataFrame()

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"scalars": self.table()}

    def verdict(self) -> str:
        files, scalars = event_files(self.folder), self.scalars()
        lines = [
            f"{framework} wrote {len(files.get(framework, []))} event file(s) under {framework}/, with "
            f"{len(scalars.get(f'{framework}/train', {}).get('epoch_loss', []))} epoch_loss points "
            f"(through {TOOLS[framework]})."
            for framework in self.runs
        ]
        lines.append(f"One TensorBoard shows all three: tensorboard --logdir {self.folder}")
        lines.append(f"Verdict on 'PyTorch has no monitoring tool like TensorBoard': {self.decision()}")
        return "\n".join(lines)

    def decision(self) -> str:
        """The claim's verdict, from what TensorBoard's files hold: did PyTorch write scalars it can read?"""
        scalars = self.scalars()
        points = {
            framework: len(scalars.get(f"{framework}/train", {}).get("epoch_loss", [])) for framework in self.runs
        }
        if "pytorch" not in points:
            return "not shown here: the PyTorch run is missing."
        if not points["pytorch"]:
            return "it holds here: PyTorch wrote no scalar that TensorBoard can read."
        beside = [framework for framework, count in points.items() if count and framework != "pytorch"]
        together = f", in one TensorBoard beside {' and '.join(beside)}'s" if beside else ""
        return (
            f"false: PyTorch wrote {points['pytorch']} loss points into TensorBoard's own event files through "
            f"{TOOLS['pytorch']}{together}."
        )

    def check(self) -> None:
        files, scalars = event_files(self.folder), self.scalars()
        if set(self.runs) != {name for name, _, _ in CNN_WORKERS}:
            raise CheckFailed(f"only {sorted(self.runs)} trained and logged.")
        for framework, run in self.runs.items():
            if not files.get(framework):
                raise CheckFailed(f"{framework} wrote no event file under {self.folder / framework}.")
            logged = [value for _, value in scalars.get(f"{framework}/train", {}).get("epoch_loss", [])]
            if len(logged) != len(run["losses"]) or not np.allclose(logged, run["losses"], rtol=1e-4):
                raise CheckFailed(
                    f"{framework}'s logged epoch_loss {logged} is not the loss its training returned, {run['losses']}."
                )
        print(
            f"✓ event files from all three frameworks in {self.folder.parent.name}/{self.folder.name}/, "
            "each one's epoch_loss equal to the losses its training returned"
        )


def log_to_tensorboard(epochs: int | None = None, n_train: int | None = None) -> TensorBoardReport:
    """Train the CNN in each framework with its own TensorBoard logging, into one log folder."""
    epochs = epochs or config.epochs(full=3, fast=2)
    n_train = n_train or (512 if config.fast_mode() else None)
    folder = output_folder("runs", "tensorboard")
    jobs = [
        (name, module, "train", env, {"epochs": epochs, "n_train": n_train, "log_dir": str(folder / name)})
        for name, module, env in CNN_WORKERS
    ]
    return TensorBoardReport(folder, run_all(jobs, desc="train and log", parallel=True))
