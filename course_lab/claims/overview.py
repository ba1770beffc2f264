"""Every checkable claim of the two articles, the notebook that tests it, and its verdict on this machine.

Each claims notebook records its verdict lines when it runs (``record_verdicts``); the overview
notebook reads them back, so that its table shows what was measured here, not what was typed in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import wrapped
from course_utils.files import replaced_atomically

from .backends import CLAIMED_LATEST_KERAS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CLAIMS",
    "NOT_MEASURABLE",
    "claims_table",
    "not_measurable",
    "record_verdicts",
    "recorded_verdicts",
    "wrapped",
]
VERDICT_LINE = re.compile(r"^Verdict on '(.+?)': (.*)$")


@dataclass(frozen=True)
class Claim:
    """One claim of the articles, as its notebook's verdict line quotes it."""

    quote: str
    notebook: str
    depends_on: str


CLAIMS = (
    Claim(
        "Keras is slower than PyTorch, and only for small datasets", "speed", "hardware, threads, backend, data size"
    ),
    Claim(
        "PyTorch uses memory efficiently",
        "speed",
        "the framework's own size, which importing it costs, and the variants compared",
    ),
    Claim("Keras's backends are TensorFlow, Theano and CNTK", "backends", "the Keras version"),
    Claim("the default backend is TensorFlow", "backends", "the Keras version; KERAS_BACKEND and keras.json"),
    Claim(f"the latest version is Keras {CLAIMED_LATEST_KERAS}", "backends", "the installed Keras"),
    Claim("Keras has static graphs and PyTorch dynamic ones", "graphs", "the backend, and compile settings"),
    Claim("PyTorch is easier to debug, Keras errors are hard to trace", "debugging", "the framework versions"),
    Claim("PyTorch has no monitoring tool like TensorBoard", "tensorboard", "the PyTorch version (1.1 or later)"),
    Claim("PyTorch exports to ONNX, TensorFlow is for production and mobile", "deployment", "the installed runtimes"),
    Claim("Keras is the easiest", "easiest", "the task, and what 'easy' measures"),
    Claim("TensorFlow is steep", "easiest", "which TensorFlow route: its own high-level one is Keras"),
    Claim("PyTorch is easy", "easiest", "a measure of 'easy', which the claim does not name"),
    Claim("Keras does data-parallel, distributed training", "distributed", "CPUs and memory for two replicas"),
    Claim("eager mode shifts to graph mode with TorchScript", "torchscript", "the PyTorch version"),
    Claim("TorchServe deploys PyTorch models at scale", "torchscript", "its maintainers (published, dated)"),
    Claim("Keras is not capable of low-level computations", "lowlevel", "the Keras version (keras.ops is Keras 3)"),
    Claim("Keras is not ideal for PCA and clustering", "lowlevel", "the Keras version, the installed backends"),
    Claim(
        "Keras ships pretrained models, from Xception to NASNet",
        "pretrained",
        "the installed Keras and torchvision; the memory free decides which models are timed",
    ),
    Claim(
        "TensorFlow has C++ and Python interfaces, PyTorch a C++ interface",
        "deployment",
        "what the installed wheels ship; a C++ compiler",
    ),
    # Read from the installed packages' metadata and files by the overview notebook itself (facts.py).
    Claim("Keras is under the MIT license", "claims", "the installed Keras's metadata"),
    Claim(
        "Keras is written in Python; TensorFlow and PyTorch in Python, C++ and CUDA",
        "claims",
        "the installed wheels' files (a CPU wheel runs no CUDA)",
    ),
    Claim("TensorFlow offers several levels of abstraction", "claims", "the installed TensorFlow's public API"),
    Claim("Keras models run on the web and on the JVM", "claims", "a browser or a JVM, which this course lacks"),
)
# What the articles also say, and no experiment on one machine can check, with the reason.
NOT_MEASURABLE = (
    "the size of each community (GitHub stars, questions asked, jobs offered): it changes by the month, online",
    "which companies use each framework: the articles' lists are the companies' own announcements",
    "which framework researchers prefer: a matter of papers and surveys, not of a computation",
    "the quality of each framework's documentation: a judgement of readers, not a measurement",
    "TorchServe deploys PyTorch models at scale: 'at scale' needs a fleet of servers; the TorchScript notebook "
    "says whether TorchServe is installed and what its maintainers published",
)
# Measured, from what the articles say of GPUs, only where this machine has one.
GPU_CLAIMS = "the articles' GPU claims (training speed on GPUs, multi-GPU training)"


def not_measurable() -> list[str]:
    """The claims no experiment here can check, with the reason; the GPU claims when there is no GPU here."""
    import shutil

    reasons = list(NOT_MEASURABLE)
    has_gpu = Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None
    if not has_gpu:
        reasons.append(f"{GPU_CLAIMS}: this machine has no GPU (no /dev/nvidia0, no nvidia-smi)")
    return reasons


def verdicts_folder() -> Path:
    return config.results_dir() / "claims"


def record_verdicts(notebook: str, verdict: str) -> None:
    """Keep the ``Verdict on '...'`` lines of a claims notebook's verdict, for the overview to read."""
    matches = (VERDICT_LINE.match(line) for line in verdict.splitlines())
    found = dict(match.groups() for match in matches if match)
    if not found:
        raise ValueError(f"the {notebook} verdict has no line of the form \"Verdict on '...': ...\".")
    path = verdicts_folder() / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"notebook": notebook, "verdicts": found, "recorded_at": datetime.now().isoformat(timespec="seconds")}
    record["mode"] = "fast" if config.fast_mode() else "full"
    with replaced_atomically(path, "w") as out:
        json.dump(record, out, ensure_ascii=False)


def recorded_verdicts() -> dict[str, dict]:
    """The recorded verdicts, by claim quote: ``{quote: {"decision", "recorded_at", "mode"}}``."""
    verdicts = {}
    for path in sorted(verdicts_folder().glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for quote, decision in record.get("verdicts", {}).items():
            verdicts[quote] = {"decision": decision, "recorded_at": record["recorded_at"], "mode": record["mode"]}
    return verdicts


def claims_table() -> pd.DataFrame:
    """One row per claim: its notebook, the verdict measured here (or how to get it), what it depends on."""
    import pandas as pd

    recorded = recorded_verdicts()
    rows = []
    for claim in CLAIMS:
        found = recorded.get(claim.quote)
        rows.append(
            {
                "claim": claim.quote,
                "notebook": f"{claim.notebook}.ipynb",
                "verdict here": found["decision"] if found else f"not run yet: run {claim.notebook}.ipynb",
                # Said by the verdict itself: a claim no experiment here can check starts "not measurable here".
                "kind": "—"
                if not found
                else "not measurable here"
                if found["decision"].startswith("not measurable here")
                else "measured",
                "measured": f"{found['recorded_at']} ({found['mode']} mode)" if found else "—",
                "depends on": claim.depends_on,
            }
        )
    return pd.DataFrame(rows).set_index("claim")
