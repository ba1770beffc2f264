"""Claim: "Keras enables distributed training on clusters of CPUs and GPUs, with data parallelism".

Data parallelism, live on this machine's CPU, in two processes as on a cluster: the CNN notebooks'
model and step, each replica training on its share of every global batch of 128, with the gradients
averaged so that the replicas stay identical. PyTorch runs ``DistributedDataParallel`` (gloo) in
processes started by ``torchrun``; Keras on TensorFlow runs under ``MultiWorkerMirroredStrategy``,
two worker processes that find each other through ``TF_CONFIG`` on 127.0.0.1 ports. The verdict
rests on evidence from outside the processes: each replica's weights, compared after training, and
the type of the strategy's variables. Keras's own ``keras.distribution`` API is tried too.
"""

from __future__ import annotations

import json
import math
import socket
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

from .common import BATCH_SIZE, KERAS, Spread, run_all, worker_slots
from .workers import WorkerFailed, run_for_result, run_worker

if TYPE_CHECKING:
    import pandas as pd

# Replicas whose weights differ by more than this after training are not kept in sync.
IN_SYNC = 1e-6
HOW = {
    "pytorch": "DistributedDataParallel (gloo), processes started by torchrun",
    "keras": "tf.distribute.MultiWorkerMirroredStrategy, worker processes joined by TF_CONFIG",
}
# The variable type of a strategy that keeps one copy of each weight per replica, kept in sync.
MIRRORED = "MirroredVariable"


def run_torchrun(replicas: int, steps: int, timeout: float = 900) -> dict:
    """Train with ``DistributedDataParallel`` in ``replicas`` processes, started by ``torchrun``; rank 0's result."""
    with tempfile.TemporaryDirectory(prefix="course-ddp-") as folder:
        result = Path(folder) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={replicas}"]
        command += ["-m", f"{__package__}.pytorch_ddp", str(result), str(steps)]
        return run_for_result(
            command, result, f"torchrun with {replicas} process(es)", {"OMP_NUM_THREADS": "1"}, timeout
        )


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on 127.0.0.1 now, for the workers of a local cluster."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def run_multi_worker(replicas: int, steps: int, timeout: float = 900) -> dict:
    """Train Keras on TensorFlow under ``MultiWorkerMirroredStrategy`` in ``replicas`` worker processes.

    Each process gets a ``TF_CONFIG`` naming every worker's 127.0.0.1 port and its own index; they run
    at once (each waits for the others). Returns worker 0's result, with ``replica_max_difference``:
    the largest difference between any worker's weights and worker 0's, read from the files they wrote.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(replicas)]}
    with tempfile.TemporaryDirectory(prefix="course-mwms-") as folder:

        def worker(index: int) -> dict:
            config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            env = {"KERAS_BACKEND": "tensorflow", "TF_CONFIG": json.dumps(config)}
            weights = str(Path(folder) / f"worker{index}.npy")
            return run_worker(KERAS, "multi_worker", env=env, timeout=timeout, steps=steps, weights_file=weights)

        with ThreadPoolExecutor(replicas) as pool:
            results = list(pool.map(worker, range(replicas)))
        weights = [np.load(result["weights_file"]) for result in results]
    return {
        **results[0],
        "replica_max_difference": max(float(np.max(np.abs(w - weights[0]))) for w in weights),
        "variable_types": sorted({result["variable_type"] for result in results}),
        "peak_rss_mb_all": [result["peak_rss_mb"] for result in results],
    }


def images_per_second(run: dict) -> float:
    """Training throughput over every step but the first, which pays for tracing and warm-up."""
    seconds = run["step_seconds"][1:] or run["step_seconds"]
    return BATCH_SIZE / statistics.median(seconds)


def throughput(run: dict) -> Spread:
    """Images per second of each step but the first: their median, and the range of the middle half.

    The quartiles, not the extremes: one step that waited on another program should not hide a difference.
    """
    rates = sorted(BATCH_SIZE / seconds for seconds in (run["step_seconds"][1:] or run["step_seconds"]))
    quarter = len(rates) // 4
    middle = rates[quarter : len(rates) - quarter] or rates
    return Spread(statistics.median(rates), middle[0], middle[-1], len(rates))


def speed_phrase(parallel: dict, one: dict) -> str:
    """How the replicas' speed compares with one process's, said only where the ranges do not overlap."""
    fast, slow = throughput(parallel), throughput(one)
    ratio = fast.median / slow.median
    if fast.low > slow.high:
        return f"{ratio:.1f}× faster than one process ({fast} against {slow} images/s)"
    if fast.high < slow.low:
        return f"{1 / ratio:.1f}× slower than one process ({fast} against {slow} images/s)"
    return f"no speed difference shown here: the step rates overlap ({fast} against {slow} images/s)"


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
                    "train img/s, median (middle half)": str(throughput(run)),
                    "variables": ", ".join(run.get("variable_types", [run.get("variable_type", "—")])),
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

    def mirrored(self, framework: str) -> tuple[bool, str]:
        """Were the replicas' variables really kept in sync? Checked from outside the processes."""
        parallel = self.runs[f"{framework}-parallel"]
        apart = parallel["replica_max_difference"]
        if not apart <= IN_SYNC:
            return False, f"the replicas' weights ended {apart:.1e} apart, so their gradients were not averaged"
        if framework == "keras":
            types = parallel.get("variable_types", [parallel.get("variable_type")])
            if types != [MIRRORED]:
                return False, f"the strategy's variables are {', '.join(map(str, types))}, not {MIRRORED}s"
            return True, (
                f"each of the {parallel['replicas']} worker processes held every weight as a {MIRRORED}, and their "
                f"weights, compared after {len(parallel['losses'])} steps, differ by {apart:.0e}"
            )
        return True, (
            f"the {parallel['replicas']} processes' weights, gathered after {len(parallel['losses'])} steps, "
            f"differ by {apart:.0e}"
        )

    def framework_decision(self, framework: str) -> str:
        if f"{framework}-parallel" not in self.runs:
            return "not tested here: only one replica could run on this machine."
        parallel = self.runs[f"{framework}-parallel"]
        if parallel["replicas"] < 2:
            return "not tested here: the strategy found one replica only."
        mirrored, how = self.mirrored(framework)
        if not mirrored:
            return f"it does not hold here: {how}."
        speed = speed_phrase(parallel, self.runs[f"{framework}-1"])
        losses = f"losses {self.loss_gap(framework):.3f} apart from one process's on average"
        if parallel.get("fit_error"):
            return (
                f"partly: {how}; {speed}; {losses}. But Keras's own fit failed under the strategy "
                f"({parallel['fit_error']}), so the Keras model and optimizer trained in TensorFlow's custom "
                "loop (strategy.run)."
            )
        return f"it holds: {how}; {speed}; {losses}."

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
        lines.append(f"Keras on TensorFlow (MultiWorkerMirroredStrategy): {self.framework_decision('keras')}")
        lines.append(f"PyTorch (DistributedDataParallel): {self.framework_decision('pytorch')}")
        lines.append(f"keras.distribution: {self.api_decision()}")
        lines.append(f"Verdict on 'Keras does data-parallel, distributed training': {self.decision()}")
        return "\n".join(lines)

    def decision(self) -> str:
        """The claim's verdict, from Keras's runs; PyTorch's said beside it, from its own."""
        keras, pytorch = self.framework_decision("keras"), self.framework_decision("pytorch")
        beside = {
            "it holds": "PyTorch's DDP, in two processes too, kept its replicas in sync",
            "partly": "PyTorch's DDP, in two processes too, kept its replicas in sync",
            "it does not hold": "PyTorch's DDP did not keep its replicas in sync",
            "not tested here": "PyTorch's DDP was not tested",
        }
        said = next(text for start, text in beside.items() if pytorch.startswith(start))
        if keras.startswith("it holds"):
            return f"it holds here, in two processes with TensorFlow's MultiWorkerMirroredStrategy; {said}."
        if keras.startswith("partly"):
            return (
                "partly here: the Keras model trained mirrored in two processes under TensorFlow's "
                f"MultiWorkerMirroredStrategy, but Keras's fit failed under it; {said}."
            )
        return f"not shown here: {keras} ({said}.)"

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
    runs |= run_all([("keras-1", KERAS, "data_parallel", env, {"replicas": 1, "steps": steps})], desc="one process")
    if replicas > 1:
        try:
            runs["keras-parallel"] = run_multi_worker(replicas, steps)
        except WorkerFailed as error:
            note = f"{note} Keras's two worker processes failed: {str(error).splitlines()[0]}".strip()
    api = run_worker(KERAS, "distribution_api", env=env, replicas=2)
    return DistributedReport(replicas, runs, api, note)
