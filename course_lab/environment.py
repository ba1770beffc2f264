"""What the welcome notebook checks: each framework's version, threads and GPU, the machine, the data.

Each framework is imported in a child process, so that checking all three costs the
welcome notebook's kernel no memory (TensorFlow alone takes hundreds of megabytes),
and a broken installation is reported rather than crashing the kernel.

The report is one short line per framework, one for the machine, one for the mode and one
per dataset, each a label and its value, wrapped between words at :data:`WIDTH` columns:
JupyterLab breaks a longer line wherever the window ends, in the middle of a word.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils import config, data
from course_utils.system import memory_limit_bytes, usable_cpus

WIDTH = 100  # the widest line a learner reads without scrolling or a break mid-word
LABEL_WIDTH = 15  # "Fashion-MNIST: " and the values lined up after it
# What each child process imports; Keras runs on TensorFlow, so one process checks both.
PROBES = {"PyTorch": "torch", "TensorFlow and Keras": "tensorflow, keras"}
PROBE_CODE = (
    "import json, {modules}; import course_utils as course; threads = course.setup(); "
    "info = course.describe_environment(); info['threads'] = threads; print(json.dumps(info))"
)
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
REINSTALL = "pip install -r requirements.txt"


def line(label: str, value: str, width: int = WIDTH) -> str:
    """``label: value``, the value starting at :data:`LABEL_WIDTH`, wrapped between words under itself."""
    head = f"{label}:".ljust(LABEL_WIDTH - 1) + " "
    return textwrap.fill(
        value,
        width,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,  # a path or command longer than a line stays whole
        break_on_hyphens=False,
    )


@dataclass
class Probe:
    """What one child process found: the frameworks' :func:`describe_environment`, or why it failed."""

    name: str
    seconds: float
    info: dict[str, object]
    error: str | None = None

    def lines(self) -> list[str]:
        """One line per framework: version, CPU threads and GPU; the import time on the first."""
        if self.error:
            return [line(self.name, f"not usable ({self.error}). Reinstall: {REINSTALL}")]
        info, lines = self.info, []
        took = f" (imported in {self.seconds:.1f} s)"
        if "torch" in info:
            gpu = "a CUDA GPU" if info.get("torch_cuda") else "no GPU"
            lines.append(line("PyTorch", f"{info['torch']}, {_threads(info)}, {gpu}{took}"))
        if "tensorflow" in info:
            gpus = int(info.get("tensorflow_gpus", 0))
            gpu = f"{gpus} GPU{'s' if gpus != 1 else ''}" if gpus else "no GPU"
            lines.append(line("TensorFlow", f"{info['tensorflow']}, {_threads(info)}, {gpu}{'' if lines else took}"))
        if "keras" in info:
            backend = f"{info['keras']} on its {info['keras_backend']} backend"
            lines.append(line("Keras", f"{backend} (TensorFlow's threads and GPUs)"))
        return lines


def _threads(info: dict[str, object]) -> str:
    return f"{info['threads']} CPU thread{'s' if info['threads'] != 1 else ''}"


def probe(name: str, modules: str, timeout: float = 300) -> Probe:
    """Import ``modules`` in a child process with this Python and describe what it sees."""
    start = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE_CODE.format(modules=modules)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return Probe(name, time.perf_counter() - start, {}, f"importing took over {timeout:.0f} s")
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Probe(name, seconds, {}, last)
    return Probe(name, seconds, json.loads(done.stdout.strip().splitlines()[-1]))


def machine_lines() -> list[str]:
    """The machine (Python, CPUs, memory) and the course's mode, a line each."""
    import psutil

    total = psutil.virtual_memory().total
    limit = memory_limit_bytes()
    memory = f"{min(total, limit or total) / 2**30:.1f} GB of memory" + (
        " (a container's limit)" if limit and limit < total else ""
    )
    cpus, reported = usable_cpus(), os.cpu_count()
    cores = f"{cpus} CPU core{'s' if cpus != 1 else ''}" + (f" usable of {reported}" if reported != cpus else "")
    dataset = DATASET_NAMES.get(config.dataset_name(), config.dataset_name())
    mode = (
        f"fast (COURSE_FAST=1): the bundled sample, a few epochs; dataset {dataset}"
        if config.fast_mode()
        else f"full: the whole dataset and every epoch; dataset {dataset}"
    )
    return [
        line("Machine", f"Python {platform.python_version()} on {platform.system()}, {cores}, {memory}"),
        line("Mode", mode),
    ]


def image_count(path: Path) -> int | None:
    """The number of images (or labels) an IDX file holds, read from its header; None if unreadable."""
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == data.GZIP_MAGIC
        with gzip.open(path, "rb") if gzipped else path.open("rb") as file:
            header = file.read(8)
    except (OSError, EOFError):
        return None
    return int.from_bytes(header[4:8], "big") if len(header) == 8 else None


def _counts(spec: data.DatasetSpec, folder: Path) -> str:
    """`` (60,000 + 10,000 images)`` from the image files' headers, or nothing if one cannot be read."""
    counts = []
    for key in ("train_images", "test_images"):
        remote = spec.files[key]
        path = next((folder / name for name in (remote.plain_name, remote.name) if (folder / name).is_file()), None)
        counts.append(image_count(path) if path else None)
    return "" if None in counts else f" ({counts[0]:,} + {counts[1]:,} images)"


def data_lines() -> list[str]:
    """Whether each full dataset is on disk, and the bundled sample, a line each; nothing is downloaded."""
    lines = []
    for spec in data.SPECS.values():
        name = DATASET_NAMES.get(spec.name, spec.name)
        where = data.find_on_disk(spec)
        if where is None:
            get = (
                "`course data` (`--from FOLDER` offline)"
                if spec.name == "mnist"
                else f"`course data --dataset {spec.name}`"
            )
            lines.append(line(name, f"not on disk; full mode downloads it, or run {get}"))
        else:
            kind = "cached in" if where not in spec.system_dirs else "installed in"
            lines.append(line(name, f"{kind} {config.shown_path(where)}{_counts(spec, where)}"))
    lines.append(line("sample", _sample()))
    return lines


def _sample() -> str:
    """The bundled sample: its size, and what it is for; or that it is missing."""
    import numpy as np

    try:
        with np.load(config.SAMPLE_PATH) as sample:
            sizes = len(sample["y_train"]), len(sample["y_test"])
    except (OSError, KeyError, ValueError):
        return f"MISSING or damaged: {config.shown_path(config.SAMPLE_PATH)}; fast mode needs it"
    return f"bundled, {sizes[0]:,} + {sizes[1]:,} images: fast mode's data, and the fallback offline"


def report() -> list[Probe]:
    """Print the machine, the data and each framework (importing each in turn), and return the probes."""
    for text in machine_lines() + data_lines():
        print(text, flush=True)
    probes = []
    for name, modules in PROBES.items():
        probes.append(probe(name, modules))
        for text in probes[-1].lines():
            print(text, flush=True)
    return probes
