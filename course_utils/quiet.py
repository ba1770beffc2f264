"""TensorFlow's start-up log, kept out of the notebook.

TensorFlow's C++ core logs while its libraries load, before Python can configure it: absl's
"All log messages before absl::InitializeLog()", oneDNN, ``cudart_stub``, ``cpu_feature_guard``
and, without a GPU, ``failed call to cuInit``. ``TF_CPP_MIN_LOG_LEVEL`` stops only the last two,
and a beginner reads the red lines as a broken install. :func:`quiet_tensorflow_start` makes
TensorFlow's next import send what C++ code writes to stderr (file descriptor 2) to /dev/null.
Python's own errors and warnings are untouched. ``COURSE_TF_LOG=show`` keeps the log.

A script calls it itself. A notebook cannot: it imports TensorFlow in the cell that imports the course,
before it calls anything of it. So importing ``course_utils`` in a Jupyter kernel, where a cell's output
shows what is written to file descriptor 2, calls it (:func:`quiet_in_jupyter`), and nowhere else: the
``course`` command, the claims' workers, the tests and scripts import the course with ``sys.meta_path``
and their stderr left as they are.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from functools import partial


class QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, and loads it with the native stderr silenced."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders do the finding
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader.exec_module = partial(_without_native_stderr, spec.loader.exec_module)
        return spec


def _without_native_stderr(load, module) -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            if _on_fd_2(python_stderr):  # a terminal or a script, not Jupyter: keep Python's own messages
                sys.stderr = open(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding, errors="replace")
            load(module)
        finally:
            if sys.stderr is not python_stderr:
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)


def _on_fd_2(stream) -> bool:
    """True if ``stream`` writes to file descriptor 2, where the native log is dropped."""
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # Jupyter's stream has no descriptor, or another one
        return False


def quiet_tensorflow_start() -> None:
    """Keep TensorFlow's start-up log out of this process's stderr, if TensorFlow is not loaded yet."""
    if "tensorflow" in sys.modules or os.environ.get("COURSE_TF_LOG") == "show":
        return
    # Read by TensorFlow's import, still to come: after start-up, it drops cuInit's error without a GPU.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not any(isinstance(finder, QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowImport())


def in_jupyter_kernel() -> bool:
    """True in a Jupyter kernel (JupyterLab, Colab): IPython loaded, and its shell serving a kernel."""
    ipython = sys.modules.get("IPython")  # never imported here: a script has not loaded it
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def quiet_in_jupyter() -> None:
    """:func:`quiet_tensorflow_start` in a Jupyter kernel, where the log would show in the notebook."""
    if in_jupyter_kernel():
        quiet_tensorflow_start()
