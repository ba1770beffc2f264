"""Run one function of a course module in a fresh Python process, and get its result back.

The claims experiments compare frameworks that must not share a process: Keras fixes its
backend when it is first imported, and a process's peak memory belongs to everything it
loaded. So each experiment runs as ``python -m course_lab.claims.workers MODULE FUNCTION``, with
its keyword arguments and its result passed as JSON files (stdout is left to the frameworks'
chatter). The worker adds its wall time and peak resident memory to the result.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_utils import config
from course_utils.results import peak_memory_mb

PACKAGE = __name__.rsplit(".", 1)[0]
OUTPUT_TAIL_LINES = 25
# The packages a worker reports having loaded: the frameworks, and JAX for Keras.
FRAMEWORK_PACKAGES = ("jax", "keras", "tensorflow", "torch")


class WorkerFailed(RuntimeError):
    """A worker process ended without a result; the message holds the end of its output."""


def run_worker(
    module: str, function: str, env: dict[str, str] | None = None, timeout: float = 3600, **kwargs: object
) -> dict:
    """Call ``module.function(**kwargs)`` in a fresh process and return its result dict.

    ``module`` is a module of this package, such as ``"course_lab.claims.pytorch_cnn"``;
    ``env`` adds environment variables (``KERAS_BACKEND``...) to the worker's. The
    result gains ``worker_seconds``, ``peak_rss_mb`` (the worker's peak resident memory) and
    ``import_rss_mb`` (its peak right after importing ``module``, framework included), and
    ``frameworks_loaded``, the frameworks the process had imported by its end.
    """
    if not module.startswith(f"{PACKAGE}."):
        raise ValueError(f"workers run functions of {PACKAGE} modules only, not {module!r}.")
    with tempfile.TemporaryDirectory(prefix="course-worker-") as folder:
        arguments, result = Path(folder) / "arguments.json", Path(folder) / "result.json"
        arguments.write_text(json.dumps(kwargs))
        command = [sys.executable, "-m", __name__, module, function, str(arguments), str(result)]
        return run_for_result(command, result, f"{module}.{function}", env, timeout)


def run_for_result(
    command: list[str], result: Path, what: str, env: dict[str, str] | None = None, timeout: float = 3600
) -> dict:
    """Run ``command`` in the project folder and return the JSON it writes to ``result``.

    Raises :class:`WorkerFailed`, with the end of its output, if it fails, runs past ``timeout``
    seconds, or ends without writing ``result``.
    """
    child_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), **(env or {})}
    try:
        process = subprocess.run(
            command, env=child_env, cwd=config.WORK_DIR, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise WorkerFailed(f"{what} ran past {timeout:.0f} s and was stopped.") from None
    if process.returncode != 0 or not result.is_file():
        tail = "\n".join((process.stdout + process.stderr).strip().splitlines()[-OUTPUT_TAIL_LINES:])
        raise WorkerFailed(f"{what} failed (exit status {process.returncode}); the end of its output:\n{tail}")
    return json.loads(result.read_text())


def main(argv: list[str]) -> int:
    """The worker's side: import the module, call the function, write its result."""
    module, function, arguments, result = argv
    start = time.perf_counter()
    loaded = importlib.import_module(module)
    imported_rss = peak_memory_mb()  # what importing the framework alone costs
    outcome = getattr(loaded, function)(**json.loads(Path(arguments).read_text()))
    outcome = {
        **outcome,
        "worker_seconds": time.perf_counter() - start,
        "import_rss_mb": imported_rss,
        "peak_rss_mb": peak_memory_mb(),
        "frameworks_loaded": sorted(set(FRAMEWORK_PACKAGES) & set(sys.modules)),
    }
    Path(result).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
