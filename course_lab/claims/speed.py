"""Claim: "Keras is slower than PyTorch, and only for small datasets". Throughput, measured so that a busy
machine cannot flip the verdict.

The same CNN on the same data in every variant: each framework as a learner runs it (the notebooks'
defaults) and as its documentation recommends tuning it for this CPU (thread wait policy, bfloat16,
XLA, ``torch.compile``). Each worker process holds one framework's variants and stays alive; the
variants take turns, one epoch each (A B C A B C ...), round after round, so that whatever else the
machine is doing slows every variant alike. Each figure is a median with its minimum and maximum, and
:func:`compare` says "inconclusive" when the spreads overlap, or the whole verdict does when other
programs used the cores just before or during the run (measured as their CPU time).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from course_utils import config, system
from course_utils.checks import CheckFailed

from .common import BATCH_SIZE, CNN_PARAMS, KERAS, PYTORCH, SAME_SPEED, TENSORFLOW, Spread, available_memory
from .workers import WorkerFailed, run_worker

if TYPE_CHECKING:
    import pandas as pd

# --- the decision rule: every threshold of the speed verdict ---------------------------------------
# Fewer measurements than this per variant give no comparison: three is the fewest with a median
# that one outlier cannot move.
MIN_REPEATS = 3
# Other programs' mean CPU use during the run, as a share of the cores it uses, above which the
# machine counts as busy. Idle system daemons use about 1%; another notebook training uses 50% or more.
BUSY_SHARE = 0.15
BEFORE_SAMPLE = 2.0  # seconds of other programs' CPU use sampled before the run starts
# Binder gives a session 2 GB; in fast mode, what Binder and the tests run, the notebook's kernel and
# its live workers fit in it together wherever it runs, so that a big machine shows what Binder will do.
SESSION_MEMORY = 2 * 2**30
FAST_TRAIN_IMAGES = 4000  # the bundled sample's training images


@dataclass(frozen=True)
class Comparison:
    """How a variant's throughput compares with another's: ``outcome`` is faster, slower, same or inconclusive."""

    outcome: str
    ratio: float  # median of the first over median of the second
    why: str


def compare(first: Spread, second: Spread) -> Comparison:
    """The one decision rule for two throughputs (images per second: higher is faster).

    - fewer than :data:`MIN_REPEATS` measurements on either side: inconclusive;
    - min–max ranges apart: faster or slower by the ratio of the medians, or "same" if that ratio is
      within :data:`SAME_SPEED`;
    - ranges overlapping: "same" if both ranges together lie within a factor :data:`SAME_SPEED`,
      else inconclusive (the repeats vary more than the difference, if any).
    """
    ratio = first.median / second.median
    if min(first.count, second.count) < MIN_REPEATS:
        return Comparison("inconclusive", ratio, f"fewer than {MIN_REPEATS} repeats")
    overlap = first.low <= second.high and second.low <= first.high
    if overlap:
        if max(first.high, second.high) / min(first.low, second.low) <= SAME_SPEED:
            return Comparison("same", ratio, f"the spreads overlap, all within {SAME_SPEED}×")
        return Comparison("inconclusive", ratio, "the spreads overlap")
    if 1 / SAME_SPEED <= ratio <= SAME_SPEED:
        return Comparison("same", ratio, f"the spreads are apart, but the medians within {SAME_SPEED}×")
    return Comparison("faster" if ratio > 1 else "slower", ratio, "the spreads are apart")


@dataclass(frozen=True)
class MachineLoad:
    """How busy the machine was: other programs' CPU use just before the run and during it."""

    cores: int  # the cores the run may use
    others_before: float  # mean cores in use over a short sample just before the run started
    others_cores: float  # mean cores used by other programs over the run (all CPU time but this run's)
    seconds: float

    @property
    def busy_reason(self) -> str | None:
        """Why the machine counts as busy, or None when it was quiet enough to time on."""
        for when, used in (("before the run", self.others_before), ("during the run", self.others_cores)):
            if used > BUSY_SHARE * self.cores:
                return f"other programs used {used:.2f} of its {self.cores} cores {when} (more than {BUSY_SHARE:.0%})"
        return None

    def __str__(self) -> str:
        return (
            f"other programs used {self.others_before:.2f} of {self.cores} cores in the {BEFORE_SAMPLE:.0f} s "
            f"before the run and {self.others_cores:.2f} during the {self.seconds:.0f} s run"
        )


class LoadMeter:
    """Measures other programs' CPU use during a run: the CPU time of the cores this process may use,
    less this process's and its finished children's. Start it before the workers, stop it after they
    have all been waited for, so that their CPU time counts as the run's own."""

    def __init__(self) -> None:
        self.cores = system.usable_cpus()
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        # Sampled, not the 1-minute load average, which still counts programs that ended a minute ago.
        busy = self._busy_seconds()
        time.sleep(BEFORE_SAMPLE)
        self.others_before = (self._busy_seconds() - busy) / BEFORE_SAMPLE
        self._start = (time.perf_counter(), self._busy_seconds(), self._own_seconds())

    def _busy_seconds(self) -> float:
        import psutil

        per_cpu = psutil.cpu_times(percpu=True)
        chosen = [per_cpu[cpu] for cpu in self.cpus if cpu < len(per_cpu)] if self.cpus else per_cpu
        # Busy is everything but idle and iowait; steal is time the hypervisor gave to other machines.
        return sum(
            times.user
            + times.nice
            + times.system
            + getattr(times, "irq", 0)
            + getattr(times, "softirq", 0)
            + getattr(times, "steal", 0)
            for times in chosen
        )

    @staticmethod
    def _own_seconds() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def stop(self) -> MachineLoad:
        wall, busy, own = (
            now - then
            for now, then in zip((time.perf_counter(), self._busy_seconds(), self._own_seconds()), self._start)
        )
        others = max(0.0, busy - own) / wall if wall > 0 else 0.0
        return MachineLoad(self.cores, self.others_before, others, wall)


# --- the variants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    """One worker process: a framework's module and the environment it starts in."""

    name: str
    module: str
    env: dict[str, str] = field(default_factory=dict)
    requires: str | None = None  # a package that must be installed for it
    memory_mb: int = 1000  # its peak resident memory in fast mode, measured: to pack workers into memory
    data_copies: int = 1  # how many float32 copies of the training set it holds (Keras's fit makes its own)

    def memory_needed(self, n_train: int) -> float:
        """Estimated peak MB with ``n_train`` training images: fast mode's measurement, plus the larger data."""
        return self.memory_mb + self.data_copies * max(0, n_train - FAST_TRAIN_IMAGES) * 28 * 28 * 4 / 2**20

    @property
    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


@dataclass(frozen=True)
class Variant:
    """One way of training the CNN: its worker, the setting its worker gives it, and whether it is the
    framework's default (as a learner runs the notebook) or tuned as its documentation recommends."""

    name: str
    label: str
    worker: str
    setting: str
    framework: str  # "keras", "tensorflow" or "pytorch": whose claim it speaks for, and its colour
    tuned: bool = False
    full_only: bool = False  # too slow to warm up within fast mode's two minutes
    largest: int | None = None  # timed only on sizes up to this: too slow for three epochs of the whole set

    def sizes(self, settings: SpeedSettings) -> tuple[int, ...]:
        return tuple(size for size in settings.sizes if self.largest is None or size <= self.largest)


# Full mode's sizes: a small dataset (512 images per class) and the whole training set, in whole batches.
FULL_SIZES = (5120, 59904)
TOO_SLOW = f"timed on {FULL_SIZES[0]:,} images only: three epochs of the whole set would take minutes"
# OpenMP threads that spin while they wait for each other cost dearly on cores that other programs
# share; PASSIVE makes them sleep. OMP reads it once at start, hence a worker of its own.
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}
# torch.compile compiles in a pool of subprocesses by default; in-process, its CPU time is the run's own.
IN_PROCESS_COMPILE = {"TORCHINDUCTOR_COMPILE_THREADS": "1"}
# Peak MB measured in fast mode (the 4,000-image sample), each worker with all its variants warm.
WORKERS = (
    Worker("keras-tensorflow", KERAS, {"KERAS_BACKEND": "tensorflow"}, memory_mb=975, data_copies=2),
    Worker("pytorch", PYTORCH, IN_PROCESS_COMPILE, memory_mb=405),
    Worker("pytorch-tuned", PYTORCH, {**PASSIVE, **IN_PROCESS_COMPILE}, memory_mb=420),
    # XLA alone adds 280 MB to a Keras worker: a worker of its own keeps the first group within 2 GB.
    Worker("keras-tensorflow-xla", KERAS, {"KERAS_BACKEND": "tensorflow"}, memory_mb=1170, data_copies=2),
    Worker("keras-torch", KERAS, {"KERAS_BACKEND": "torch"}, memory_mb=1270, data_copies=2),
    Worker("keras-jax", KERAS, {"KERAS_BACKEND": "jax"}, requires="jax", memory_mb=1470, data_copies=2),
    Worker("tensorflow", TENSORFLOW, memory_mb=935, data_copies=2),
)
SPEED_VARIANTS = (
    Variant("keras-tensorflow", "Keras 3 on TensorFlow", "keras-tensorflow", "default", "keras"),
    Variant(
        "keras-tensorflow-bf16",
        "Keras 3 on TensorFlow, mixed bfloat16",
        "keras-tensorflow",
        "bf16",
        "keras",
        tuned=True,
    ),
    Variant(
        "keras-tensorflow-xla",
        "Keras 3 on TensorFlow, jit_compile (XLA)",
        "keras-tensorflow-xla",
        "xla",
        "keras",
        tuned=True,
        largest=FULL_SIZES[0],
    ),
    Variant("pytorch-eager", "PyTorch, eager", "pytorch", "eager", "pytorch"),
    Variant("pytorch-compile", "PyTorch, torch.compile", "pytorch", "compile", "pytorch", tuned=True, full_only=True),
    Variant(
        "pytorch-passive", "PyTorch, eager, OMP_WAIT_POLICY=PASSIVE", "pytorch-tuned", "eager", "pytorch", tuned=True
    ),
    Variant(
        "pytorch-passive-bf16", "PyTorch, PASSIVE, bfloat16 autocast", "pytorch-tuned", "bf16", "pytorch", tuned=True
    ),
    Variant("keras-torch", "Keras 3 on PyTorch", "keras-torch", "default", "keras", largest=FULL_SIZES[0]),
    Variant("keras-jax", "Keras 3 on JAX", "keras-jax", "default", "keras", largest=FULL_SIZES[0]),
    Variant("tensorflow-function", "TensorFlow, tf.function", "tensorflow", "function", "tensorflow"),
)
# The two rows as a learner runs them: the comparison "at defaults".
KERAS_DEFAULT, PYTORCH_DEFAULT = "keras-tensorflow", "pytorch-eager"
# Memory is compared between the two workers that hold the same pair of variants (float32, bfloat16),
# named by one of their variants: Keras on TensorFlow's default worker and PyTorch's tuned one.
MEMORY_PAIR = ("keras-tensorflow", "pytorch-passive")
# Peak resident memory is steady from run to run (unlike time): a difference beyond this is the framework's.
SAME_MEMORY = 1.15


@dataclass(frozen=True)
class SpeedSettings:
    """How much to measure: training-set sizes (one in fast mode), rounds, batch sizes."""

    sizes: tuple[int, ...]
    rounds: int
    fast: bool = False
    batch_size: int = BATCH_SIZE
    # Predicting 256 images at once: 1,000 held 86 MB of the first convolution's output alone, in each
    # of the live workers that must fit in Binder's 2 GB together.
    inference_batch: int = 256

    @classmethod
    def for_mode(cls) -> SpeedSettings:
        """Fast mode: one size, 1,024 of the sample's images, so no dataset-size verdict. Full mode: 5,120 images
        (a small dataset, 512 per class) against the whole training set (59,904 images, in whole batches)."""
        if config.fast_mode():
            return cls(sizes=(1024,), rounds=4, fast=True)
        return cls(sizes=FULL_SIZES, rounds=3)


# --- the worker's side ----------------------------------------------------------------------------


class Trial(Protocol):
    """One variant inside a worker: ``train(size)`` one epoch on the first ``size`` images, ``predict()`` the
    test set; both return seconds. ``params`` is its model's parameter count."""

    params: int
    n_test: int

    def train(self, size: int) -> float: ...

    def predict(self) -> float: ...


def serve(trials: dict[str, Trial], settings: SpeedSettings, channel: int, import_rss_mb: float) -> None:
    """Warm each trial up (an epoch at the smallest size and a prediction: tracing, compiling), say ready,
    then run the commands read from stdin, one JSON line each, answering on ``channel``.
    ``import_rss_mb`` is the worker's peak memory once its framework was imported, before any model."""
    from course_utils.results import peak_memory_mb

    answer = os.fdopen(channel, "w", buffering=1)
    first_epoch = {}
    for name, trial in trials.items():
        first_epoch[name] = trial.train(min(settings.sizes))
        trial.predict()
    answer.write(json.dumps({"ready": True, "first_epoch_seconds": first_epoch, "rss_mb": peak_memory_mb()}) + "\n")
    for line in sys.stdin:
        command = json.loads(line)
        if "stop" in command:
            break
        trial = trials[command["variant"]]
        if "size" in command:
            answer.write(json.dumps({"seconds": trial.train(command["size"]), "images": command["size"]}) + "\n")
        else:
            answer.write(json.dumps({"seconds": trial.predict(), "images": trial.n_test}) + "\n")
    params = {name: trial.params for name, trial in trials.items()}
    answer.write(json.dumps({"params": params, "peak_rss_mb": peak_memory_mb(), "import_rss_mb": import_rss_mb}) + "\n")


def worker_main(argv: list[str]) -> int:
    """``python -m course_lab.claims.speed MODULE SETTINGS_JSON VARIANTS_JSON CHANNEL``: a worker."""
    module, settings, variants, channel = argv
    settings = SpeedSettings(**{**json.loads(settings), "sizes": tuple(json.loads(settings)["sizes"])})
    from course_utils.results import peak_memory_mb

    framework_module = importlib.import_module(module)
    import_rss_mb = peak_memory_mb()  # the framework imported, no model built: what the framework itself costs
    trials = framework_module.speed_trials(settings, json.loads(variants))
    serve(trials, settings, int(channel), import_rss_mb)
    return 0


# --- the coordinator's side -----------------------------------------------------------------------


class WorkerProcess:
    """A live worker: commands on its stdin, answers on a pipe of their own (stdout is the frameworks')."""

    def __init__(self, worker: Worker, settings: SpeedSettings, variants: Sequence[Variant]) -> None:
        self.worker, self.variants = worker, list(variants)
        read, write = os.pipe()
        self.log = tempfile.TemporaryFile("w+")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), **worker.env}
        arguments = [json.dumps(asdict(settings)), json.dumps([variant.setting for variant in variants]), str(write)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, worker.module, *arguments],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=(write,),
            text=True,
            env=env,
            cwd=config.WORK_DIR,
        )
        os.close(write)
        self.answers = os.fdopen(read)

    def receive(self) -> dict:
        line = self.answers.readline()
        if not line:
            self.process.wait()
            self.log.seek(0)
            tail = "\n".join(self.log.read().strip().splitlines()[-25:])
            raise WorkerError(f"{self.worker.name} ended (exit status {self.process.returncode}); its output:\n{tail}")
        return json.loads(line)

    def ask(self, **command: object) -> float:
        """Images per second of one command: an epoch (``variant``, ``size``) or a prediction (``variant``)."""
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.receive()
        return answer["images"] / answer["seconds"]

    def stop(self) -> dict:
        self.process.stdin.write(json.dumps({"stop": True}) + "\n")
        self.process.stdin.flush()
        final = self.receive()
        self.process.wait()
        return final

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class WorkerError(RuntimeError):
    """A speed worker ended without answering."""


def worker_groups(workers: Sequence[Worker], budget_mb: float, n_train: int = 0) -> list[list[Worker]]:
    """The workers in order, packed into groups whose estimated memory fits ``budget_mb`` together.

    A group's workers are alive at once and take turns; the first group holds the verdict's rows.
    """
    groups: list[list[Worker]] = []
    for worker in workers:
        needed = worker.memory_needed(n_train)
        if groups and sum(other.memory_needed(n_train) for other in groups[-1]) + needed <= budget_mb:
            groups[-1].append(worker)
        else:
            groups.append([worker])
    return groups


def run_group(
    group: Sequence[tuple[Worker, list[Variant]]], settings: SpeedSettings, progress: Callable[[], None]
) -> tuple[dict, dict]:
    """Start a group's workers, then time their variants in turns; returns runs and failures by variant."""
    live, failures, runs = [], {}, {}
    try:
        for worker, variants in group:
            live.append(WorkerProcess(worker, settings, variants))
        ready = {}
        for process in list(live):
            try:
                ready[process.worker.name] = process.receive()
            except WorkerError as error:
                failures |= {variant.name: str(error) for variant in process.variants}
                live.remove(process)
        order = [(process, variant) for process in live for variant in process.variants]
        times = {
            variant.name: {"train": {str(size): [] for size in variant.sizes(settings)}, "predict": []}
            for _, variant in order
        }
        for round_ in range(settings.rounds):
            # Each round starts one variant later, so that none is always first after a pause.
            turn = order[round_ % len(order) :] + order[: round_ % len(order)] if order else []
            for size in settings.sizes:
                for process, variant in (pair for pair in turn if size in pair[1].sizes(settings)):
                    times[variant.name]["train"][str(size)].append(process.ask(variant=variant.setting, size=size))
            for process, variant in turn:
                times[variant.name]["predict"].append(process.ask(variant=variant.setting))
            progress()
        for process in live:
            final = process.stop()
            for variant in process.variants:
                runs[variant.name] = {
                    "train_images_per_second": times[variant.name]["train"],
                    "inference_images_per_second": times[variant.name]["predict"],
                    "first_epoch_seconds": ready[process.worker.name]["first_epoch_seconds"][variant.setting],
                    "params": final["params"][variant.setting],
                    "peak_rss_mb": final["peak_rss_mb"],
                    "import_rss_mb": final["import_rss_mb"],
                    "group": None,
                }
    finally:
        for process in live:
            process.kill()
    return runs, failures


@dataclass
class SpeedReport:
    """Throughput of every variant, as measured by :func:`measure_speed`, and the load on the machine."""

    settings: SpeedSettings
    runs: dict[str, dict]
    failures: dict[str, str]
    load: MachineLoad
    variants: tuple[Variant, ...] = SPEED_VARIANTS
    skipped: dict[str, str] = field(default_factory=dict)  # variant: why it was not measured
    peaks: dict | None = None  # matrix-multiply GFLOP/s by dtype, and the CPU's bfloat16 flags

    def spread(self, name: str, size: int | None = None) -> Spread:
        """A variant's training images per second at ``size``, or its predicting ones with ``size`` None."""
        run = self.runs[name]
        return Spread.of(run["train_images_per_second"][str(size)] if size else run["inference_images_per_second"])

    def table(self) -> pd.DataFrame:
        """One row per variant: default or tuned, its group, images per second (median, min–max), first epoch."""
        import pandas as pd

        columns = [f"train img/s ({size:,} images)" for size in self.settings.sizes]
        columns += ["predict img/s", "first epoch s", "group"]
        rows = []
        for variant in self.variants:
            row = {"variant": variant.label, "setting": "tuned" if variant.tuned else "default"}
            run = self.runs.get(variant.name)
            if run is None:
                rows.append({**row, **dict.fromkeys(columns, "—"), "note": self._why_missing(variant)})
                continue
            trained = [
                str(self.spread(variant.name, size)) if str(size) in run["train_images_per_second"] else "—"
                for size in self.settings.sizes
            ]
            rows.append(
                {
                    **row,
                    **dict(zip(columns, trained)),
                    "predict img/s": str(self.spread(variant.name)),
                    "first epoch s": round(run["first_epoch_seconds"], 1),
                    "group": run["group"],
                    "note": "" if variant.sizes(self.settings) == self.settings.sizes else TOO_SLOW,
                }
            )
        return pd.DataFrame(rows).set_index("variant")

    def memory_table(self) -> pd.DataFrame:
        """Peak resident memory of each worker process (its variants share it)."""
        import pandas as pd

        rows = {}
        for variant in self.variants:
            if run := self.runs.get(variant.name):
                rows.setdefault(variant.worker, {"worker": variant.worker, "variants": []})
                rows[variant.worker]["variants"].append(variant.label)
                rows[variant.worker]["framework imported MB"] = round(run["import_rss_mb"])
                rows[variant.worker]["peak MB"] = round(run["peak_rss_mb"])
                rows[variant.worker]["the models and training add MB"] = round(
                    run["peak_rss_mb"] - run["import_rss_mb"]
                )
        table = [{**row, "variants": ", ".join(row["variants"])} for row in rows.values()]
        return pd.DataFrame(table).set_index("worker")

    def load_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "cores used": self.load.cores,
                    "other programs before, cores": round(self.load.others_before, 2),
                    "other programs during, cores": round(self.load.others_cores, 2),
                    "run s": round(self.load.seconds),
                    "busy": self.load.busy_reason or "no",
                }
            ]
        )

    def _why_missing(self, variant: Variant) -> str:
        if variant.name in self.failures:
            return "failed: " + self.failures[variant.name].splitlines()[0]
        return self.skipped.get(variant.name, "not measured")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"throughput": self.table(), "memory": self.memory_table(), "machine": self.load_table()}

    # --- the verdict ---

    def _fastest(self, framework: str, size: int, group: int) -> str | None:
        names = [
            v.name
            for v in self.variants
            if v.framework == framework
            and v.name in self.runs
            and self.runs[v.name]["group"] == group
            and str(size) in self.runs[v.name]["train_images_per_second"]
        ]
        return max(names, key=lambda name: self.spread(name, size).median, default=None)

    def comparisons(self, size: int) -> dict[str, tuple[str, str, Comparison]]:
        """At ``size``: "defaults" (the notebooks as a learner runs them) and "best" (each framework's
        fastest row), Keras against PyTorch, both among the rows timed in turns with Keras's default."""
        found = {}
        if {KERAS_DEFAULT, PYTORCH_DEFAULT} <= set(self.runs):
            group = self.runs[KERAS_DEFAULT]["group"]
            if self.runs[PYTORCH_DEFAULT]["group"] == group:
                pairs = {
                    "defaults": (KERAS_DEFAULT, PYTORCH_DEFAULT),
                    "best": (self._fastest("keras", size, group), self._fastest("pytorch", size, group)),
                }
                for key, (keras, torch) in pairs.items():
                    found[key] = (keras, torch, compare(self.spread(keras, size), self.spread(torch, size)))
        return found

    def decision(self) -> str:
        """The verdict's decision, from :meth:`comparisons` at each size and the machine's load."""
        claim = "only for small datasets"
        if self.load.busy_reason:
            return f"inconclusive here: the machine was busy ({self.load.busy_reason}); rerun it on a quiet machine."
        outcomes = {size: self.comparisons(size) for size in self.settings.sizes}
        if not all(outcomes.values()):
            return "inconclusive here: Keras on TensorFlow and eager PyTorch were not both timed in turns."
        best = {size: found["best"][2].outcome for size, found in outcomes.items()}
        small, large = self.settings.sizes[0], self.settings.sizes[-1]
        if (
            not self.settings.fast
            and len(best) > 1
            and best[large] in ("faster", "same")
            and best[small] == "inconclusive"
        ):
            # Keras keeping up on the large set refutes the claim whatever the small one would show.
            return (
                "the claim does not hold here: Keras keeps up on the large dataset, each at its best; on the small "
                "one their spreads overlap."
            )
        if "inconclusive" in best.values():
            return "inconclusive here: the spreads of Keras's and PyTorch's best rows overlap too much to tell."
        slower = {size: outcome == "slower" for size, outcome in best.items()}
        if self.settings.fast or len(self.settings.sizes) < 2:
            (size,) = self.settings.sizes[:1]
            half = "Keras is slower" if slower[size] else "Keras is not slower"
            return (
                f"{'half checked' if slower[size] else 'the claim does not hold'} here: {half}, each at its best on "
                f"{size:,} images; fast mode trains on one small size, so there is no verdict on '{claim}'."
            )
        # "Slower, so for small datasets only": the second half is about large data. Keras keeping up on
        # the large set refutes it, whatever happens on the small one; falling behind there only supports it.
        if slower[small] and slower[large]:
            return (
                "half true here: Keras is slower at both sizes, so the size of the dataset does not decide it; "
                f"'{claim}' does not follow."
            )
        if slower[small]:
            return (
                "the claim does not hold here: Keras keeps up on the large dataset and is slower on the small one "
                f"only, the opposite of '{claim}'."
            )
        if slower[large]:
            return "the claim holds here: Keras keeps up on the small dataset and falls behind on the large one."
        return "the claim does not hold here: Keras is not slower than PyTorch, each at its best."

    def memory_decision(self) -> str:
        """The verdict on "PyTorch uses memory efficiently", from the two workers that hold the same variants."""
        keras, torch = (
            next((run for name, run in self.runs.items() if name == variant), None) for variant in MEMORY_PAIR
        )
        if keras is None or torch is None:
            return "inconclusive here: the two workers it compares were not both measured."
        ratio = keras["peak_rss_mb"] / torch["peak_rss_mb"]
        sizes = "both training the same CNN in float32 and with bfloat16"
        figures = (
            f"PyTorch's process peaked at {torch['peak_rss_mb']:,.0f} MB and Keras on TensorFlow's at "
            f"{keras['peak_rss_mb']:,.0f} MB, {sizes}; importing the framework took {torch['import_rss_mb']:,.0f} "
            f"and {keras['import_rss_mb']:,.0f} MB, and the models and their training added "
            f"{torch['peak_rss_mb'] - torch['import_rss_mb']:,.0f} and "
            f"{keras['peak_rss_mb'] - keras['import_rss_mb']:,.0f} MB"
        )
        if ratio > SAME_MEMORY:
            return f"holds here, against Keras on TensorFlow ({ratio:.1f}× PyTorch's peak): {figures}."
        if ratio < 1 / SAME_MEMORY:
            return f"does not hold here: PyTorch used {1 / ratio:.1f}× Keras on TensorFlow's peak; {figures}."
        return f"neither uses less here (within {SAME_MEMORY:.2f}×): {figures}."

    def verdict(self) -> str:
        """What the numbers say about "Keras is slower than PyTorch, and only for small datasets"."""
        label = {variant.name: variant.label for variant in self.variants}
        lines = [f"The machine: {self.load}."]
        if self.peaks and {"float32", "bfloat16"} <= set(self.peaks["gflops"]):
            gflops, flags = self.peaks["gflops"], self.peaks["flags"]
            features = ", ".join(f"{flag} {'yes' if present else 'no'}" for flag, present in flags.items())
            lines.append(
                f"A {self.peaks['size']}² matrix multiply peaks at {gflops['float32']:,.0f} GFLOP/s in float32 and "
                f"{gflops['bfloat16']:,.0f} in bfloat16 here ({gflops['bfloat16'] / gflops['float32']:.1f}×; "
                f"CPU flags: {features})."
            )
        for size in self.settings.sizes:
            for key, (keras, torch, result) in self.comparisons(size).items():
                what = "At defaults" if key == "defaults" else "Each at its best"
                lines.append(
                    f"{what}, training on {size:,} images: {label[keras]} {self.spread(keras, size)} against "
                    f"{label[torch]} {self.spread(torch, size)} images/s: "
                    + (
                        f"Keras is {_outcome_phrase(result)} ({result.why})."
                        if result.outcome != "inconclusive"
                        else f"inconclusive ({result.why}; medians {result.ratio:.2f}×)."
                    )
                )
        lines.append(
            "The verdict rests on each framework at its best among the rows timed in turns with Keras's "
            "default (group 1); the defaults line shows what a learner running the notebooks gets."
        )
        lines.append(f"Verdict on 'PyTorch uses memory efficiently': {self.memory_decision()}")
        lines.append(f"Verdict on 'Keras is slower than PyTorch, and only for small datasets': {self.decision()}")
        return "\n".join(lines)

    def check(self) -> None:
        """Every variant measured has complete, positive, finite rows of the course's CNN; the defaults were timed."""
        if self.failures:
            details = "\n\n".join(f"{key}: {message}" for key, message in self.failures.items())
            raise CheckFailed(f"{len(self.failures)} speed variant(s) failed:\n\n{details}")
        for name in (KERAS_DEFAULT, PYTORCH_DEFAULT):
            if name not in self.runs:
                raise CheckFailed(f"the throughput table has no row for {name}.")
        for variant in self.variants:
            if variant.name not in self.runs:
                continue
            run = self.runs[variant.name]
            numbers = list(run["inference_images_per_second"])
            for size in variant.sizes(self.settings):  # a variant too slow for the whole set has its small size only
                numbers += run["train_images_per_second"].get(str(size), [])
                if len(run["train_images_per_second"].get(str(size), [])) != self.settings.rounds:
                    raise CheckFailed(f"{variant.label} has not one measurement per round on {size:,} images: {run}")
            if len(run["inference_images_per_second"]) != self.settings.rounds or not all(
                math.isfinite(number) and number > 0 for number in numbers
            ):
                raise CheckFailed(f"{variant.label}'s measurements are incomplete or not positive: {run}")
            if run["params"] != CNN_PARAMS:
                raise CheckFailed(
                    f"{variant.label} timed a model of {run['params']:,} parameters, "
                    f"not the course's CNN of {CNN_PARAMS:,}."
                )
        print(f"✓ a complete row for every variant measured, each timing the {CNN_PARAMS:,}-parameter CNN")


def _outcome_phrase(result: Comparison) -> str:
    if result.outcome == "same":
        return "about as fast"
    ratio = result.ratio if result.outcome == "faster" else 1 / result.ratio
    return f"{ratio:.2f}× {result.outcome}"


def contradicts(first: str, second: str) -> bool:
    """Whether two decisions of :meth:`SpeedReport.decision` contradict: both conclusive, and different."""
    conclusive = [not decision.startswith("inconclusive") for decision in (first, second)]
    return all(conclusive) and first.split(":")[0] != second.split(":")[0]


def measure_speed(
    settings: SpeedSettings | None = None,
    variants: Sequence[Variant] = SPEED_VARIANTS,
    memory_budget: float | None = None,
    peaks: bool = True,
) -> SpeedReport:
    """Time every variant whose worker can run, in groups of live workers that fit the memory, in turns."""
    import psutil
    from tqdm.auto import tqdm

    settings = settings or SpeedSettings.for_mode()
    workers = {worker.name: worker for worker in WORKERS}
    skipped = {}
    chosen: dict[str, list[Variant]] = {}
    for variant in variants:
        worker = workers[variant.worker]
        if not worker.available:
            skipped[variant.name] = f"not measured: {worker.requires} is not installed"
        elif variant.full_only and settings.fast:
            skipped[variant.name] = "full mode only: its warm-up (compiling) takes longer than fast mode allows"
        else:
            chosen.setdefault(worker.name, []).append(variant)
    if memory_budget is None:
        free = min(available_memory(), SESSION_MEMORY) if settings.fast else available_memory()
        memory_budget = (free - psutil.Process().memory_info().rss) / 2**20
    n_train = FAST_TRAIN_IMAGES if settings.fast else max(settings.sizes)
    # In the order of WORKERS, whose first ones hold the verdict's rows, so that they share the first group.
    groups = worker_groups([worker for worker in WORKERS if worker.name in chosen], memory_budget, n_train)
    runs, failures = {}, {}
    meter = LoadMeter()
    with tqdm(total=settings.rounds * len(groups), desc="speed", unit="round") as bar:
        for number, group in enumerate(groups, start=1):
            group_runs, group_failures = run_group(
                [(worker, chosen[worker.name]) for worker in group], settings, bar.update
            )
            for run in group_runs.values():
                run["group"] = number
            runs |= group_runs
            failures |= group_failures
    load = meter.stop()
    gflops = None
    if peaks:
        try:
            gflops = {**matmul_peaks(), "flags": cpu_flags()}
        except WorkerFailed as error:
            failures["matmul peaks"] = str(error)
    return SpeedReport(settings, runs, failures, load, tuple(variants), skipped, gflops)


def matmul_peaks() -> dict:
    """Peak matrix-multiply GFLOP/s in float32 and bfloat16, in a PyTorch worker: what bf16 can gain here."""
    return run_worker(PYTORCH, "matmul_peaks", env=PASSIVE)


def cpu_flags() -> dict[str, bool]:
    """The CPU's bfloat16 features, from /proc/cpuinfo: AMX tiles, or AVX-512 BF16 instructions."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    return {flag: flag in flags for flag in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f")}


def plot_throughput(report: SpeedReport):
    """Median images per second of each variant, training at each size and predicting, with min–max bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..figures import framework_colour

    measured = [variant for variant in report.variants if variant.name in report.runs]
    panels = [(f"training, {size:,} images", size) for size in report.settings.sizes]
    panels.append(("predicting the test set", None))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.4 * len(measured) + 1.6))
    for axis, (title, size) in zip(np.atleast_1d(axes), panels):
        spreads = [report.spread(variant.name, size) for variant in measured]
        medians = np.array([spread.median for spread in spreads])
        errors = np.array(
            [[spread.median - spread.low for spread in spreads], [spread.high - spread.median for spread in spreads]]
        )
        axis.barh(
            [variant.label for variant in measured],
            medians,
            xerr=errors,
            capsize=3,
            color=[framework_colour(variant.framework) for variant in measured],
            hatch=["//" if variant.tuned else "" for variant in measured],
        )
        axis.invert_yaxis()
        axis.set_title(title)
        axis.set_xlabel("images per second (median, min–max)")
    for axis in np.atleast_1d(axes)[1:]:
        axis.set_yticklabels([])
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
