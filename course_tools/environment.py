"""What the welcome notebook checks: each framework's version, threads and GPU, the memory, the data.

Each framework is imported in a child process, so that checking all three costs the
welcome notebook's kernel no memory (TensorFlow alone takes hundreds of megabytes),
and a broken installation is reported rather than crashing the kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from course_utils import config, data
from course_utils.system import memory_limit_bytes, usable_cpus

# What each child process imports; Keras runs on TensorFlow, so one process checks both.
PROBES = {"PyTorch": "torch", "TensorFlow and Keras": "tensorflow, keras"}
PROBE_CODE = (
    "import json, {modules}; import course_utils as course; threads = course.setup(); "
    "info = course.describe_environment(); info['threads'] = threads; print(json.dumps(info))"
)


@dataclass
class Probe:
    """What one child process found: the frameworks' :func:`describe_environment`, or why it failed."""

    name: str
    seconds: float
    info: dict[str, object]
    error: str | None = None

    def lines(self) -> list[str]:
        """Readable lines: version, CPU threads and GPU of each framework."""
        if self.error:
            return [f"{self.name}: not usable ({self.error}). Reinstall with: pip install -r requirements.txt"]
        info, lines = self.info, []
        if "torch" in info:
            gpu = "a CUDA GPU" if info.get("torch_cuda") else "no GPU"
            lines.append(f"PyTorch {info['torch']}: {_threads(info)}, {gpu}")
        if "tensorflow" in info:
            gpus = int(info.get("tensorflow_gpus", 0))
            gpu = f"{gpus} GPU{'s' if gpus != 1 else ''}" if gpus else "no GPU"
            lines.append(f"TensorFlow {info['tensorflow']}: {_threads(info)}, {gpu}")
        if "keras" in info:
            lines.append(
                f"Keras {info['keras']} on the {info['keras_backend']} backend, with TensorFlow's threads and GPUs"
            )
        lines[-1] += f"   (imported in {self.seconds:.1f} s)"
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
    """Python, CPUs, memory, and the course's mode, as readable lines."""
    import psutil

    total = psutil.virtual_memory().total
    limit = memory_limit_bytes()
    memory = f"{min(total, limit or total) / 2**30:.1f} GB" + (" (container limit)" if limit and limit < total else "")
    mode = (
        "fast mode (COURSE_FAST=1): the bundled sample, few epochs"
        if config.fast_mode()
        else "full mode: the full dataset and epochs"
    )
    return [
        f"Python {sys.version.split()[0]} on {sys.platform}",
        f"CPUs: {usable_cpus()} usable of the {os.cpu_count()} the machine reports; memory: {memory}",
        f"The course runs in {mode}; dataset: {config.dataset_name()}",
    ]


def data_lines() -> list[str]:
    """Whether the full datasets are on disk already, without downloading anything."""
    lines = []
    for spec in data.SPECS.values():
        where = data.find_on_disk(spec)
        lines.append(
            f"{spec.name}: on disk in {where}"
            if where
            else f"{spec.name}: not on disk yet; full mode downloads it when first needed. "
            + data.how_to_get(spec.name)
        )
    lines.append(
        f"the bundled sample: {'present' if config.SAMPLE_PATH.is_file() else 'MISSING'} "
        f"({config.SAMPLE_PATH.name}, used by fast mode and when offline)"
    )
    return lines


def report() -> list[Probe]:
    """Print the machine, the data and each framework (importing each in turn), and return the probes."""
    for line in machine_lines() + data_lines():
        print(line)
    probes = []
    for name, modules in PROBES.items():
        print(f"checking {name} ...", flush=True)
        probes.append(probe(name, modules))
        for line in probes[-1].lines():
            print(f"  {line}", flush=True)
    return probes
