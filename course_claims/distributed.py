"""Claim: "Keras enables distributed training on clusters of CPUs and GPUs, with data parallelism".

Data parallelism, live on this machine's CPU: the CNN notebooks' model and step, each replica
training on its share of every global batch of 128, with the gradients averaged so that the
replicas stay identical. PyTorch runs ``DistributedDataParallel`` (gloo) in processes started by
``torchrun``; Keras runs ``fit`` under TensorFlow's ``MirroredStrategy`` over logical CPU devices;
and Keras's own ``keras.distribution`` API is tried on the installed backend.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

from .common import BATCH_SIZE, KERAS, ratio_phrase, run_all, worker_slots
from .workers import run_for_result, run_worker

if TYPE_CHECKING:
    import pandas as pd

# Replicas whose weights differ by more than this after training are not kept in sync.
IN_SYNC = 1e-6
HOW = {
    "pytorch": "DistributedDataParallel (gloo), processes started by torchrun",
    "keras": "fit under tf.distribute.MirroredStrategy, logical CPU devices",
}


def run_torchrun(replicas: int, steps: int, timeout: float = 900) -> dict:
    """Train with ``DistributedDataParallel`` in ``replicas`` processes, started by ``torchrun``; rank 0's result."""
    with tempfile.TemporaryDirectory(prefix="course-ddp-") as folder:
        result = Path(folder) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={replicas}"]
        command += ["-m", f"{__package__}.pytorch_ddp", str(result), str(steps)]
        return run_for_result(
            command, result, f"torchrun with {replicas} process(es)", {"OMP_NUM_THREADS": "1"}, timeout
        )


def images_per_second(run: dict) -> float:
    """Training throughput over every step but the first, which pays for tracing and warm-up."""
    seconds = run["step_seconds"][1:] or run["step_seconds"]
    return BATCH_SIZE / statistics.median(seconds)


@dataclass
class DistributedReport:
    """One process against data-parallel replicas, in PyTorch and in Keras; and keras.distribution."""

    replicas: int
    runs: dict[str, dict]  # "pytorch-1", "pytorch-parallel", "keras-1", "keras-parallel"
    api: dict = field(default_factory=dict)  # distribution_api's result: what keras.distribution did
    note: str = ""

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for name, run in self.runs.items():
            framework = name.split("-")[0]
            rows.append(
                {
                    "run": f"{framework}, {run['replicas']} replica(s)",
                    "how": HOW[framework] if run["replicas"] > 1 else "one process, no distribution",
                    "batch per replica": run["local_batch"],
                    "train img/s": round(images_per_second(run)),
                    "loss, first → last step": f"{run['losses'][0]:.3f} → {run['losses'][-1]:.3f}",
                    "replicas differ by": f"{run['replica_max_difference']:.1e}" if run["replicas"] > 1 else "—",
                }
            )
        return pd.DataFrame(rows).set_index("run")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"data parallel": self.table()}

    def loss_gap(self, framework: str) -> float:
        """The mean difference between the one-process and the data-parallel loss, step by step."""
        one, parallel = self.runs[f"{framework}-1"]["losses"], self.runs[f"{framework}-parallel"]["losses"]
        return statistics.fmean(abs(a - b) for a, b in zip(one, parallel))

    def framework_decision(self, framework: str) -> str:
        if f"{framework}-parallel" not in self.runs:
            return "not tested here: only one replica could run on this machine."
        parallel = self.runs[f"{framework}-parallel"]
        if parallel["replicas"] < 2:
            return "not tested here: the strategy found one replica only."
        if not parallel["replica_max_difference"] <= IN_SYNC:
            return (
                f"it does not hold here: the {parallel['replicas']} replicas ended "
                f"{parallel['replica_max_difference']:.1e} apart, so their gradients were not averaged."
            )
        speed = ratio_phrase(images_per_second(parallel) / images_per_second(self.runs[f"{framework}-1"]))
        against = "as one process" if speed == "about as fast" else "than one process"
        return (
            f"it holds: {parallel['replicas']} replicas trained in step, identical to "
            f"{parallel['replica_max_difference']:.0e}, {speed} {against} on this CPU, with "
            f"losses {self.loss_gap(framework):.3f} apart on average."
        )

    def api_decision(self) -> str:
        if not self.api:
            return "not tried."
        backend, placed = self.api["backend"], self.api["placed_on_devices"]
        if placed > 1:
            return f"DataParallel replicated the weights over {placed} devices on the {backend} backend."
        supported = ", ".join(self.api["backends_with_distribution_code"]) or "no backend"
        said = (
            f" (its {backend} code begins: {self.api['backend_code_says']!r})" if self.api["backend_code_says"] else ""
        )
        return (
            f"DataParallel over {len(self.api['devices'])} devices was accepted on the {backend} backend, but "
            f"the weights stayed one {self.api['variable_type']} on one device{said}. Keras {self.api['version']} "
            f"has distribution code for: {supported}."
        )

    def verdict(self) -> str:
        lines = [self.note] if self.note else []
        lines.append(f"Keras (fit, MirroredStrategy): {self.framework_decision('keras')}")
        lines.append(f"PyTorch (DistributedDataParallel): {self.framework_decision('pytorch')}")
        lines.append(f"keras.distribution: {self.api_decision()}")
        keras_holds = self.framework_decision("keras").startswith("it holds")
        decision = (
            "it holds here, through TensorFlow's tf.distribute; and PyTorch does the same with DDP."
            if keras_holds
            else "not shown here: " + self.framework_decision("keras")
        )
        lines.append(f"Verdict on 'Keras does data-parallel, distributed training': {decision}")
        return "\n".join(lines)

    def check(self) -> None:
        for name, run in self.runs.items():
            if not all(math.isfinite(loss) for loss in run["losses"]) or not run["losses"][-1] < run["losses"][0]:
                raise CheckFailed(f"{name} did not learn: losses {run['losses'][0]:.3f} → {run['losses'][-1]:.3f}.")
            if run["replicas"] > 1 and not run["replica_max_difference"] <= IN_SYNC:
                raise CheckFailed(f"{name}: the replicas ended {run['replica_max_difference']:.1e} apart.")
        expected = {"pytorch-1", "keras-1"} | ({"pytorch-parallel", "keras-parallel"} if self.replicas > 1 else set())
        if set(self.runs) != expected:
            raise CheckFailed(f"runs {sorted(self.runs)}; expected {sorted(expected)}.")
        print("✓ each framework trained in one process, and data-parallel where two replicas fit, replicas in step")


def train_data_parallel(steps: int | None = None) -> DistributedReport:
    """Train the CNN for ``steps`` global batches in one process, then data-parallel, in PyTorch and Keras."""
    steps = steps or config.epochs(full=100, fast=16)
    replicas, note = 2, ""
    if worker_slots() < 2:  # one CPU, or Binder's 2 GB: two replicas would not fit beside the notebook
        replicas = 1
        note = "One CPU (or too little memory) here: each framework trains in one process only; run this on two cores."
    runs = {"pytorch-1": run_torchrun(1, steps)}
    if replicas > 1:
        runs["pytorch-parallel"] = run_torchrun(replicas, steps)
    env = {"KERAS_BACKEND": "tensorflow"}
    jobs = [("keras-1", KERAS, "data_parallel", env, {"replicas": 1, "steps": steps})]
    if replicas > 1:
        jobs.append(("keras-parallel", KERAS, "data_parallel", env, {"replicas": replicas, "steps": steps}))
    runs |= run_all(jobs, desc="data parallel")
    api = run_worker(KERAS, "distribution_api", env=env, replicas=2)
    return DistributedReport(replicas, runs, api, note)
