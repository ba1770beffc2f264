"""The claims machinery without the frameworks: statistics, the timing protocol, tables, checks, workers.

The experiments themselves run in notebooks/05_claims, under nbval. These tests feed the
reports made-up measurements, event files written by TensorBoard's own writer, and a few
real worker processes that import no framework.
"""

from __future__ import annotations

import math
from pathlib import Path

from course_utils import config
from course_utils.checks import CheckFailed
from course_utils.data import load_sample

import numpy as np
import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from course_lab.claims import common, debugging, deployment, monitoring, speed
from course_lab.claims.workers import WorkerFailed, run_worker
from course_tools import cli

# --- statistics and the timing protocol --------------------------------------------------


def test_spread_is_the_median_with_minimum_and_maximum() -> None:
    spread = common.Spread.of([30.0, 10.0, 20.0, 1000.0])
    assert (spread.median, spread.low, spread.high, spread.count) == (25.0, 10.0, 1000.0, 4)
    assert str(spread) == "25 (10–1,000)"
    assert str(common.Spread.of([1234.4])) == "1,234"


@pytest.mark.parametrize("values", [[], [1.0, math.nan], [math.inf]])
def test_spread_refuses_missing_or_broken_measurements(values: list[float]) -> None:
    with pytest.raises(ValueError, match="finite"):
        common.Spread.of(values)


@pytest.mark.parametrize(
    "ratio, phrase",
    [
        (1.0, "about as fast"),
        (1.1, "about as fast"),
        (0.9, "about as fast"),
        (2.0, "2.0× faster"),
        (0.25, "4.0× slower"),
    ],
)
def test_ratio_phrase(ratio: float, phrase: str) -> None:
    assert common.ratio_phrase(ratio) == phrase


def test_speed_settings_follow_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = speed.SpeedSettings.for_mode()
    monkeypatch.setenv("COURSE_FAST", "0")
    full = speed.SpeedSettings.for_mode()
    assert fast.fast and len(fast.sizes) == 1, "fast mode trains on one size: it gives no dataset-size verdict"
    assert full.sizes[-1] == 59904 and len(full.sizes) == 2, "full mode's large set is the whole training set"
    assert min(fast.rounds, full.rounds) >= speed.MIN_REPEATS
    for size in (*fast.sizes, *full.sizes):
        assert size % fast.batch_size == 0, "whole batches only, so that a compiled step never sees a new shape"


# --- the speed claim's decision rule --------------------------------------------------------


def spread(low: float, median: float, high: float, count: int = 3) -> common.Spread:
    return common.Spread(median, low, high, count)


@pytest.mark.parametrize(
    "first, second, outcome",
    [
        (spread(190, 200, 210), spread(90, 100, 110), "faster"),
        (spread(90, 100, 110), spread(190, 200, 210), "slower"),
        (spread(105, 106, 107), spread(100, 101, 102), "same"),  # apart, but within SAME_SPEED
        (spread(98, 100, 104), spread(99, 101, 103), "same"),  # overlapping, all within SAME_SPEED
        (spread(50, 100, 300), spread(90, 200, 210), "inconclusive"),  # overlapping, far apart medians
        (spread(200, 200, 200, count=2), spread(100, 100, 100, count=2), "inconclusive"),  # too few repeats
    ],
)
def test_speed_compare_has_a_branch_for_each_outcome(first, second, outcome: str) -> None:
    assert speed.compare(first, second).outcome == outcome


@pytest.mark.parametrize(
    "before, during, busy",
    [
        (0.02, 0.05, None),
        (1.5, 0.05, "other programs used 1.50 of its 2 cores before the run"),
        (0.02, 0.9, "other programs used 0.90 of its 2 cores during the run"),
    ],
)
def test_speed_machine_counts_as_busy_from_other_programs_before_or_during(before, during, busy) -> None:
    reason = speed.MachineLoad(2, before, during, 60.0).busy_reason
    assert reason is None if busy is None else reason.startswith(busy)


def test_speed_worker_groups_fit_the_memory_with_the_verdicts_workers_first() -> None:
    workers = [speed.Worker(name, common.PYTORCH, memory_mb=mb) for name, mb in (("a", 800), ("b", 500), ("c", 900))]
    assert [[w.name for w in group] for group in speed.worker_groups(workers, 1400)] == [["a", "b"], ["c"]]
    assert [[w.name for w in group] for group in speed.worker_groups(workers, 1000)] == [["a"], ["b"], ["c"]]
    # With the whole training set each worker holds more: the same budget fits fewer at once.
    assert len(speed.worker_groups(workers, 1400, n_train=60000)) == 3


def test_speed_fast_mode_packs_the_verdicts_workers_together_within_binders_memory() -> None:
    workers = {worker.name: worker for worker in speed.WORKERS}
    first = speed.worker_groups(list(workers.values()), speed.SESSION_MEMORY / 2**20 - 200)[0]  # a 200 MB kernel
    names = {variant.worker for variant in speed.SPEED_VARIANTS if variant.framework in ("keras", "pytorch")}
    assert {"keras-tensorflow", "pytorch", "pytorch-tuned"} <= {worker.name for worker in first} <= names


# --- the speed report --------------------------------------------------------------------

VARIANTS = (
    speed.Variant("keras-tensorflow", "Keras", "keras-tensorflow", "default", "keras"),
    speed.Variant("keras-tensorflow-bf16", "Keras bf16", "keras-tensorflow", "bf16", "keras", tuned=True),
    speed.Variant("pytorch-eager", "PyTorch", "pytorch", "eager", "pytorch"),
    speed.Variant("pytorch-passive", "PyTorch passive", "pytorch-tuned", "eager", "pytorch", tuned=True),
)
FULL = speed.SpeedSettings(sizes=(5120, 59904), rounds=3)
FAST = speed.SpeedSettings(sizes=(1024,), rounds=3, fast=True)
QUIET = speed.MachineLoad(2, 0.03, 0.02, 300.0)


def speed_run(
    *medians: float, spread: float = 0.05, params: int = common.CNN_PARAMS, group: int = 1, peak_mb: float = 800.0
) -> dict:
    """A variant's run with three measurements around each median (± ``spread``), at each size in turn."""
    sizes = FULL.sizes if len(medians) == 2 else FAST.sizes
    return {
        "train_images_per_second": {
            str(size): [median * (1 - spread), median, median * (1 + spread)] for size, median in zip(sizes, medians)
        },
        "inference_images_per_second": [1000.0, 1100.0, 900.0],
        "first_epoch_seconds": 2.0,
        "peak_rss_mb": peak_mb,
        "import_rss_mb": peak_mb / 2,
        "params": params,
        "group": group,
    }


def speed_report(runs: dict, settings=FULL, load=QUIET, failures: dict | None = None) -> speed.SpeedReport:
    return speed.SpeedReport(settings, runs, failures or {}, load, VARIANTS)


def full_runs(keras: tuple[float, float], pytorch: tuple[float, float] = (1000, 1000)) -> dict:
    """Keras's default and PyTorch's default as given; their tuned rows slower, so the best are the defaults."""
    return {
        "keras-tensorflow": speed_run(*keras),
        "keras-tensorflow-bf16": speed_run(*(value / 2 for value in keras)),
        "pytorch-eager": speed_run(*pytorch),
        "pytorch-passive": speed_run(*(value / 2 for value in pytorch)),
    }


@pytest.mark.parametrize(
    "keras_mb, pytorch_mb, decision",
    [
        (1500, 600, "holds here, against Keras on TensorFlow (2.5× PyTorch's peak)"),
        (800, 760, "neither uses less here"),
        (600, 900, "does not hold here: PyTorch used 1.5× Keras on TensorFlow's peak"),
    ],
)
def test_speed_memory_verdict_compares_the_workers_with_the_same_variants(keras_mb, pytorch_mb, decision) -> None:
    runs = full_runs((1000, 1000))
    runs["keras-tensorflow"] = runs["keras-tensorflow-bf16"] = speed_run(1000, 1000, peak_mb=keras_mb)
    runs["pytorch-passive"] = speed_run(500, 500, peak_mb=pytorch_mb)
    line = f"Verdict on 'PyTorch uses memory efficiently': {decision}"
    assert any(verdict_line.startswith(line) for verdict_line in speed_report(runs).verdict().splitlines())
    assert (
        f"importing the framework took {pytorch_mb / 2:,.0f} and {keras_mb / 2:,.0f} MB" in speed_report(runs).verdict()
    )
    del runs["pytorch-passive"]
    assert speed_report(runs).memory_decision().startswith("inconclusive here")


@pytest.mark.parametrize(
    "keras, decision",
    [
        ((2000, 2000), "the claim does not hold here: Keras is not slower"),  # twice as fast at both sizes
        ((400, 1000), "the claim does not hold here: Keras keeps up on the large dataset"),  # slower on small only
        ((400, 400), "half true here: Keras is slower at both sizes"),
        ((1000, 400), "the claim holds here: Keras keeps up on the small dataset"),  # slower on large only
    ],
)
def test_speed_decision_follows_the_numbers_at_both_sizes(keras: tuple[int, int], decision: str) -> None:
    verdict = speed_report(full_runs(keras)).verdict()
    assert decision in verdict.splitlines()[-1]


def test_speed_decision_rests_on_each_framework_at_its_best() -> None:
    runs = full_runs((400, 400))  # Keras's default slower than PyTorch's
    runs["keras-tensorflow-bf16"] = speed_run(2000, 2000)  # but its tuned row faster than any PyTorch row
    report = speed_report(runs)
    assert report.comparisons(59904)["defaults"][2].outcome == "slower"
    assert report.comparisons(59904)["best"][:2] == ("keras-tensorflow-bf16", "pytorch-eager")
    assert report.decision().startswith("the claim does not hold here: Keras is not slower")


def test_speed_decision_keras_keeping_up_on_the_large_set_refutes_the_claim_whatever_the_small_one() -> None:
    runs = full_runs((900, 1300))
    runs["keras-tensorflow"] = speed_run(900, 1300, spread=0.15)  # overlaps PyTorch's 1,000 on the small set only
    assert speed_report(runs).decision().startswith("the claim does not hold here: Keras keeps up on the large")
    runs["keras-tensorflow"] = speed_run(1300, 900, spread=0.15)  # overlapping on the large set: nothing refuted
    assert speed_report(runs).decision().startswith("inconclusive here: the spreads")


def test_speed_decision_is_inconclusive_when_the_spreads_overlap_or_the_machine_was_busy() -> None:
    runs = full_runs((800, 800))
    runs["keras-tensorflow"] = speed_run(800, 800, spread=0.5)  # repeats varying more than the difference
    assert speed_report(runs).decision().startswith("inconclusive here: the spreads")
    busy = speed.MachineLoad(2, 1.8, 1.2, 300.0)
    assert (
        speed_report(full_runs((400, 400)), load=busy).decision().startswith("inconclusive here: the machine was busy")
    )


def test_speed_fast_mode_gives_no_dataset_size_verdict() -> None:
    runs = {name: speed_run(value) for name, value in (("keras-tensorflow", 400), ("pytorch-eager", 1000))}
    decision = speed_report(runs, settings=FAST).decision()
    assert decision.startswith("half checked here: Keras is slower")
    assert "no verdict on 'only for small datasets'" in decision


def test_speed_compares_only_rows_timed_in_turns() -> None:
    runs = full_runs((400, 400))
    runs["pytorch-eager"]["group"] = 2  # measured after Keras, not in turns with it
    assert speed_report(runs).decision().startswith("inconclusive here: Keras on TensorFlow and eager PyTorch")


@pytest.mark.parametrize(
    "first, second, contradict",
    [
        ("half true here: a", "half true here: b", False),
        ("half true here: a", "inconclusive here: busy", False),
        ("half true here: a", "the claim does not hold here: b", True),
    ],
)
def test_speed_contradicts(first: str, second: str, contradict: bool) -> None:
    assert speed.contradicts(first, second) is contradict


def test_speed_tables_say_what_was_measured_and_why_a_row_is_missing() -> None:
    runs = full_runs((1000, 2000))
    del runs["pytorch-passive"]
    report = speed.SpeedReport(FULL, runs, {}, QUIET, VARIANTS, {"pytorch-passive": "not measured: why"})
    table = report.table()
    assert table.loc["Keras", "train img/s (59,904 images)"] == "2,000 (1,900–2,100)"
    assert table.loc["Keras bf16", "setting"] == "tuned" and table.loc["Keras", "setting"] == "default"
    assert table.loc["PyTorch passive", "note"] == "not measured: why"
    assert report.load_table().loc[0, "busy"] == "no"
    assert "other programs used 0.03 of 2 cores in the 2 s before the run and 0.02 during" in report.verdict()


def test_speed_check_needs_the_defaults_and_complete_rows_of_the_course_cnn() -> None:
    speed_report(full_runs((1000, 2000))).check()
    runs = full_runs((1000, 2000))
    del runs["pytorch-eager"]
    with pytest.raises(CheckFailed, match="no row for pytorch-eager"):
        speed_report(runs).check()
    with pytest.raises(CheckFailed, match="failed"):
        speed_report(full_runs((1000, 2000)), failures={"pytorch-eager": "exit status 1"}).check()
    runs = full_runs((1000, 2000))
    runs["pytorch-passive"] = speed_run(500, 1000, params=101_770)
    with pytest.raises(CheckFailed, match="not the course's CNN"):
        speed_report(runs).check()
    small_only = speed.Variant("keras-xla", "Keras XLA", "keras-tensorflow-xla", "xla", "keras", largest=5120)
    runs = {**full_runs((1000, 2000)), "keras-xla": speed_run(300)}  # timed on the small size only
    runs["keras-xla"]["train_images_per_second"] = {"5120": [290.0, 300.0, 310.0]}
    speed.SpeedReport(FULL, runs, {}, QUIET, (*VARIANTS, small_only)).check()
    runs["keras-xla"]["train_images_per_second"] = {"5120": [290.0, 300.0]}
    with pytest.raises(CheckFailed, match="not one measurement per round on 5,120 images"):
        speed.SpeedReport(FULL, runs, {}, QUIET, (*VARIANTS, small_only)).check()
    runs = full_runs((1000, 2000))
    runs["pytorch-eager"]["inference_images_per_second"] = [1000.0, 0.0, 900.0]
    with pytest.raises(CheckFailed, match="not positive"):
        speed_report(runs).check()


def test_speed_verdict_survives_a_busy_process_pinned_beside_it() -> None:
    """The speed claim twice, quiet and with a CPU burner on each of its cores: never contradictory verdicts."""
    import os
    import subprocess
    import sys

    settings = speed.SpeedSettings(sizes=(512,), rounds=3, fast=True)
    chosen = [
        variant for variant in speed.SPEED_VARIANTS if variant.name in (speed.KERAS_DEFAULT, speed.PYTORCH_DEFAULT)
    ]
    quiet = speed.measure_speed(settings, chosen, peaks=False)
    cores = sorted(os.sched_getaffinity(0))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in cores]
    try:
        for burner in burners:
            os.sched_setaffinity(burner.pid, cores)  # the same cores as the run: they compete for each one
        busy = speed.measure_speed(settings, chosen, peaks=False)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    quiet.check()
    busy.check()
    print(f"quiet: {quiet.load}\n  {quiet.decision()}\nbusy: {busy.load}\n  {busy.decision()}")  # for the log
    assert busy.load.busy_reason is not None, f"the burners went unseen: {busy.load}"
    assert not speed.contradicts(quiet.decision(), busy.decision()), (quiet.verdict(), busy.verdict())


# --- errors ------------------------------------------------------------------------------

BUGGY_MODULE = """
def make(size):
    return [0] * size


def run():
    table = make(size=3)  # BUG: one short
    return use(table)


def use(table):
    return table[3]
"""


def raise_from(tmp_path: Path, source: str) -> tuple[BaseException, Path]:
    path = tmp_path / "buggy.py"
    path.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    try:
        namespace["run"]()
    except Exception as error:
        return error, path
    raise AssertionError("the buggy module ran")


def test_describe_error_finds_the_line_the_traceback_points_to(tmp_path: Path) -> None:
    error, path = raise_from(tmp_path, BUGGY_MODULE)
    described = debugging.describe_error(error, str(path))
    assert described["type"] == "IndexError"
    assert (described["pointed_line"], described["pointed_source"]) == (12, "return table[3]")
    assert (described["bug_line"], described["own_frames"]) == (7, 2)
    assert described["names_bug_line"] is False, "the BUG line made the table but is not in the traceback"


def test_describe_error_reads_the_line_a_traced_function_names_in_its_message(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text("x = 1\nmodel = Model(3136)  # BUG\ny = x @ w\n")
    message = f'in user code:\n\n    File "{path}", line 3, in call  *\n        y = x @ w\n\n\x1b[1mDimensions\x1b[0m'
    described = debugging.describe_error(ValueError(message), str(path))
    assert (described["pointed_line"], described["pointed_source"]) == (3, "y = x @ w")
    assert described["traceback_line"] is None and described["lines_named_in_message"] == [3]
    assert "\x1b" not in described["message"], "terminal colour codes are stripped"


@pytest.mark.parametrize("marks", [0, 2])
def test_describe_error_needs_exactly_one_marked_line(tmp_path: Path, marks: int) -> None:
    path = tmp_path / "model.py"
    path.write_text("x = 1\n" + "y = 2  # BUG\n" * marks)
    with pytest.raises(ValueError, match="exactly one line"):
        debugging.describe_error(ValueError("boom"), str(path))


def test_debugging_check_wants_the_wrong_value_named_for_both_bugs(tmp_path: Path) -> None:
    def case(bug: str, message: str, pointed: int | None = 5, end: str = "") -> dict:
        error = {"type": "E", "message": message, "message_end": end, "pointed_line": pointed, "pointed_source": "x"}
        error |= {"names_bug_line": False, "own_frames": 1, "frames": 3, "message_lines": 1}
        return {"bug": bug, "mode": "eager" if bug == "model" else "training loop", "error": error}

    def run(*cases: dict) -> dict:
        return {"cases": list(cases)}

    model, loop = case("model", "shapes (128x1600 and 3136x10)"), case("loop", "graph error", end="label value of 10")
    good = {name: run(model, loop) for name in ("keras", "tensorflow", "pytorch")}
    debugging.DebuggingReport(good).check()
    with pytest.raises(CheckFailed, match="neither names 3136"):
        debugging.DebuggingReport({**good, "pytorch": run(case("model", "something went wrong"), loop)}).check()
    with pytest.raises(CheckFailed, match="neither names 10"):
        debugging.DebuggingReport({**good, "keras": run(model, case("loop", "graph error"))}).check()
    with pytest.raises(CheckFailed, match="did not raise both"):
        debugging.DebuggingReport({**good, "tensorflow": run(model)}).check()
    with pytest.raises(CheckFailed, match="only"):
        debugging.DebuggingReport({"keras": good["keras"]}).check()


# --- outputs and exports -----------------------------------------------------------------


def test_compare_outputs_measures_difference_and_agreement() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    other = reference + np.array([[0.0, 0.5], [0.0, -2.0], [0.0, 0.0]])
    assert common.compare_outputs(reference, other) == {"max_abs_difference": 2.0, "same_prediction": 2 / 3}
    with pytest.raises(CheckFailed, match="cannot be compared"):
        common.compare_outputs(reference, reference[:2])


@pytest.fixture
def exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An export folder with the logits of an original model and of two reloads, on a 1,000-image test set."""
    monkeypatch.setenv("COURSE_FAST", "1")
    logits = np.random.default_rng(0).normal(size=(1000, 10)).astype("float32")
    np.save(tmp_path / "reference.npy", logits)
    np.save(tmp_path / "same.npy", logits + 1e-6)
    np.save(tmp_path / "off.npy", logits[:, ::-1])
    (tmp_path / "cnn.onnx").write_bytes(b"x" * 2048)
    (tmp_path / "cnn.pt2").write_bytes(b"x" * 1024)
    return tmp_path


def deployment_report(folder: Path, onnx_output: str = "same.npy", onnx_imports: list[str] = ()):
    trained = {"pytorch": {"exports": {"torch.export": "cnn.pt2", "ONNX": "cnn.onnx", "reference": "reference.npy"}}}
    reloads = {
        "PyTorch": {"outputs": {"torch.export": "same.npy"}, "frameworks_loaded": ["torch"], "peak_rss_mb": 500},
        "ONNX Runtime": {"outputs": {"ONNX": onnx_output}, "frameworks_loaded": list(onnx_imports), "peak_rss_mb": 200},
    }
    return deployment.DeploymentReport(folder, trained, reloads, load_sample().y_test)


def test_deployment_table_joins_each_export_with_its_reload(exports: Path) -> None:
    table = deployment_report(exports).table()
    assert list(table.index) == ["torch.export", "ONNX"]
    assert table.loc["ONNX", "reloaded by"] == "ONNX Runtime" and table.loc["ONNX", "size KB"] == 2
    assert table.loc["ONNX", "same predicted class"] == "100.00%"
    assert table.loc["ONNX", "runtime imported"] == "no framework"
    deployment_report(exports).check()


def test_deployment_check_catches_wrong_predictions_and_framework_imports(exports: Path) -> None:
    with pytest.raises(CheckFailed, match="predicts differently"):
        deployment_report(exports, onnx_output="off.npy").check()
    with pytest.raises(CheckFailed, match="ONNX Runtime alone"):
        deployment_report(exports, onnx_imports=["torch"]).check()
    report = deployment_report(exports)
    del report.reloads["PyTorch"]
    with pytest.raises(CheckFailed, match="never reloaded"):
        report.check()


# --- TensorBoard event files -------------------------------------------------------------


def write_events(folder: Path, values: list[tuple[int, Summary.Value]]) -> None:
    """Event files as torch.utils.tensorboard writes them: TensorBoard's own writer, checksums and all."""
    writer = EventFileWriter(str(folder))
    for step, value in values:
        writer.add_event(Event(step=step, summary=Summary(value=[value])))
    writer.close()


def float_tensor(number: float, packed: bool) -> TensorProto:
    """A scalar tensor as tf.summary writes it: in float_val, or packed into tensor_content."""
    if packed:
        return TensorProto(dtype=1, tensor_content=np.float32(number).tobytes())
    return TensorProto(dtype=1, float_val=[number])


def test_read_scalars_reads_both_kinds_of_scalar_without_tensorflow(tmp_path: Path) -> None:
    write_events(
        tmp_path / "pytorch" / "train",
        [
            (0, Summary.Value(tag="epoch_loss", simple_value=2.5)),
            (1, Summary.Value(tag="epoch_loss", simple_value=1.5)),
        ],
    )
    write_events(
        tmp_path / "keras" / "train",
        [
            (0, Summary.Value(tag="epoch_loss", tensor=float_tensor(2.25, packed=False))),
            (1, Summary.Value(tag="epoch_loss", tensor=float_tensor(1.75, packed=True))),
            (0, Summary.Value(tag="an_image", tensor=TensorProto(dtype=7, string_val=[b"png"]))),
        ],
    )
    scalars = monitoring.read_scalars(tmp_path)
    assert scalars == {
        "keras/train": {"epoch_loss": [(0, 2.25), (1, 1.75)]},
        "pytorch/train": {"epoch_loss": [(0, 2.5), (1, 1.5)]},
    }
    assert sorted(monitoring.event_files(tmp_path)) == ["keras", "pytorch"]
    # TensorBoard's own loader imports TensorFlow when it is installed; this reader must not.
    in_a_fresh_process = run_worker("course_lab.claims.monitoring", "read_scalars", folder=str(tmp_path))
    assert in_a_fresh_process["pytorch/train"] == {"epoch_loss": [[0, 2.5], [1, 1.5]]}
    assert in_a_fresh_process["frameworks_loaded"] == []


def test_tf_records_stops_at_a_record_cut_short(tmp_path: Path) -> None:
    write_events(tmp_path, [(step, Summary.Value(tag="loss", simple_value=step)) for step in range(3)])
    (path,) = tmp_path.glob("events.out.tfevents.*")
    whole = list(monitoring.tf_records(path))
    path.write_bytes(path.read_bytes()[:-5])  # as if the writer were still writing the last record
    assert len(list(monitoring.tf_records(path))) == len(whole) - 1


def test_tensorboard_check_compares_logged_losses_with_the_training(tmp_path: Path) -> None:
    runs = {}
    for framework in ("keras", "tensorflow", "pytorch"):
        write_events(
            tmp_path / framework / "train",
            [
                (0, Summary.Value(tag="epoch_loss", simple_value=2.0)),
                (1, Summary.Value(tag="epoch_loss", simple_value=1.0)),
            ],
        )
        runs[framework] = {"losses": [2.0, 1.0]}
    monitoring.TensorBoardReport(tmp_path, runs).check()
    with pytest.raises(CheckFailed, match="is not the loss its training returned"):
        monitoring.TensorBoardReport(tmp_path, {**runs, "pytorch": {"losses": [2.0, 1.0, 0.5]}}).check()
    with pytest.raises(CheckFailed, match="only"):
        monitoring.TensorBoardReport(tmp_path, {"keras": runs["keras"]}).check()


# --- reading the experiments' source ------------------------------------------------------


def test_source_of_and_source_between_read_without_importing() -> None:
    assert common.source_of(common.PYTORCH, "halve_until_small").startswith("def halve_until_small(x):")
    snippet = common.source_between(common.TENSORFLOW, "traced_with = []", "return x * factor")
    assert snippet.startswith("traced_with = []") and snippet.endswith("return x * factor")
    with pytest.raises(ValueError, match="no function or class"):
        common.source_of(common.KERAS, "no_such_function")
    with pytest.raises(ValueError, match="no lines from"):
        common.source_between(common.KERAS, "no such line", "nor this one")


# --- workers -----------------------------------------------------------------------------


def test_run_worker_returns_the_result_and_the_process_peak_memory() -> None:
    result = run_worker("course_lab.claims.common", "installed_versions", packages=["numpy", "no-such-package"])
    assert result["numpy"] == np.__version__ and result["no-such-package"] is None
    assert result["peak_rss_mb"] >= result["import_rss_mb"] > 10
    assert result["frameworks_loaded"] == [], "a framework-free module loads no framework"


def test_run_worker_reports_the_end_of_a_failing_worker_output() -> None:
    with pytest.raises(WorkerFailed, match="(?s)exit status 1.*TypeError.*no_such_argument"):
        run_worker("course_lab.claims.common", "installed_versions", no_such_argument=1)
    with pytest.raises(ValueError, match="functions of course_lab.claims modules only"):
        run_worker("os", "getcwd")


def test_run_jobs_keeps_failures_apart_and_in_order() -> None:
    jobs = [
        ("ok", "course_lab.claims.common", "installed_versions", {}, {"packages": ["numpy"]}),
        ("broken", "course_lab.claims.common", "installed_versions", {}, {"wrong": 1}),
    ]
    results, failures = common.run_jobs(jobs, desc="test", parallel=True)
    assert list(results) == ["ok"] and list(failures) == ["broken"]
    with pytest.raises(CheckFailed, match="(?s)1 experiment.*broken: .*TypeError"):
        common.run_all(jobs, desc="test")


def test_worker_slots_follow_cpus_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("course_utils.system.usable_cpus", lambda: 2)
    monkeypatch.setattr(common, "available_memory", lambda: 8 * 2**30)
    assert common.worker_slots() == 2
    monkeypatch.setattr(common, "available_memory", lambda: 2 * 2**30)  # Binder's 2 GB: one at a time
    assert common.worker_slots() == 1
    monkeypatch.setattr("course_utils.system.usable_cpus", lambda: 1)
    monkeypatch.setattr(common, "available_memory", lambda: 8 * 2**30)
    assert common.worker_slots() == 1


def test_keras_refuses_the_backends_of_keras_2() -> None:
    from course_lab.claims import backends

    assert backends.probe_keras_backend("theano") == "ValueError: Unable to import backend : theano"


def test_keras_left_to_itself_picks_its_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lab.claims import backends

    monkeypatch.setenv("KERAS_BACKEND", "torch")  # the probe must unset it, not inherit it
    probe = backends.probe_keras_backend(None)
    assert probe == "imports (backend 'tensorflow')"
    assert backends.default_backend_verdict(probe).startswith("it holds")


@pytest.mark.parametrize(
    "probe, verdict",
    [
        ("imports (backend 'tensorflow')", "it holds"),
        (
            "imports (backend 'jax')",
            "it does not hold here: with KERAS_BACKEND unset and no keras.json, Keras picks jax",
        ),
        ("ModuleNotFoundError: No module named 'tensorflow'", "no verdict: Keras did not start"),
    ],
)
def test_default_backend_verdict_has_a_branch_for_each_outcome(probe: str, verdict: str) -> None:
    from course_lab.claims import backends

    assert backends.default_backend_verdict(probe).startswith(verdict)


@pytest.mark.parametrize(
    "installed, verdict",
    [
        ("3.15.1", "outdated: Keras 3.15.1 is installed here (Keras 3: a new major version)"),
        ("2.15.0", "outdated: Keras 2.15.0 is installed here, newer"),
        ("2.7.0", "it matches"),
        ("2.6.0", "no verdict"),
    ],
)
def test_version_verdict_has_a_branch_for_each_outcome(installed: str, verdict: str) -> None:
    from course_lab.claims import backends

    assert backends.version_verdict(installed).startswith(verdict)


def backends_report(trained: tuple[str, ...], probes: dict[str, str]) -> object:
    from course_lab.claims import backends

    runs = {name: {"version": "3.15.1", "test_accuracy": 0.9} for name in trained}
    return backends.BackendsReport(Path("."), runs, {}, probes)


@pytest.mark.parametrize(
    "trained, starts, decision",
    [
        (("tensorflow", "torch"), (), "outdated: Theano and CNTK do not start with this Keras, and it trains on torch"),
        (("tensorflow",), (), "half true: TensorFlow is the only backend"),
        (("tensorflow",), ("theano",), "it holds in part: theano still starts"),
    ],
)
def test_backends_decision_has_a_branch_for_each_outcome(trained: tuple, starts: tuple, decision: str) -> None:
    probes = {name: "imports (backend 'x')" if name in starts else "ValueError: no" for name in ("theano", "cntk")}
    assert backends_report(trained, probes).backends_decision().startswith(decision)


def test_course_claims_rejects_an_unknown_claim(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["claims", "speed", "vibes"]) == 2
    assert "no claim called vibes" in capsys.readouterr().err


# --- distributed -------------------------------------------------------------------------


def parallel_run(
    replicas: int,
    step_seconds: float | list[float],
    difference: float = 0.0,
    losses=(2.3, 1.9),
    variable: str = "MirroredVariable",
    fit_error: str | None = None,
) -> dict:
    steps = step_seconds if isinstance(step_seconds, list) else [step_seconds] * 4
    return {
        "replicas": replicas,
        "local_batch": 128 // replicas,
        "losses": list(losses),
        "step_seconds": [5.0, *steps],
        "replica_max_difference": difference,
        "variable_types": [variable],
        "fit_error": fit_error,
    }


def distributed_report(keras_parallel: dict | None, api: dict | None = None, pytorch: dict | None = None) -> object:
    from course_lab.claims import distributed

    runs = {
        "pytorch-1": parallel_run(1, 0.1),
        "pytorch-parallel": pytorch or parallel_run(2, 0.1),
        "keras-1": parallel_run(1, 0.1),
    }
    if keras_parallel:
        runs["keras-parallel"] = keras_parallel
    api = api or {
        "backend": "tensorflow",
        "version": "3.15.1",
        "devices": ["cpu:0", "cpu:1"],
        "placed_on_devices": 1,
        "variable_type": "ResourceVariable",
        "backends_with_distribution_code": ["jax", "tensorflow"],
        "backend_code_says": "!!!DO NOT USE!!!",
    }
    return distributed.DistributedReport(2 if keras_parallel else 1, runs, api)


@pytest.mark.parametrize(
    "keras_parallel, decision",
    [
        (parallel_run(2, 0.2), "it holds here, in two processes with TensorFlow's MultiWorkerMirroredStrategy"),
        (
            parallel_run(2, 0.1, fit_error="ValueError: x"),
            "partly here: the Keras model trained mirrored in two processes",
        ),
        (parallel_run(2, 0.1, difference=0.3), "not shown here: it does not hold here: the replicas' weights ended"),
        # Weights that agree are not enough: one variable on one device would agree with itself.
        (parallel_run(2, 0.1, variable="ResourceVariable"), "not shown here: it does not hold here: the strategy's"),
        (parallel_run(1, 0.1), "not shown here: not tested here: the strategy found one replica only"),
        (None, "not shown here: not tested here: only one replica could run"),
    ],
)
def test_distributed_verdict_has_a_branch_for_each_outcome(keras_parallel: dict | None, decision: str) -> None:
    last = distributed_report(keras_parallel).verdict().splitlines()[-1]
    assert last.startswith(f"Verdict on 'Keras does data-parallel, distributed training': {decision}"), last


def test_distributed_verdict_says_what_pytorch_did_from_its_own_run() -> None:
    holds = distributed_report(parallel_run(2, 0.1)).decision()
    assert holds.endswith("PyTorch's DDP, in two processes too, kept its replicas in sync.")
    apart = distributed_report(parallel_run(2, 0.1), pytorch=parallel_run(2, 0.1, difference=0.5)).decision()
    assert apart.endswith("PyTorch's DDP did not keep its replicas in sync.")


def test_distributed_speed_is_said_only_where_the_step_rates_do_not_overlap() -> None:
    lines = distributed_report(parallel_run(2, 0.2)).verdict().splitlines()
    assert "2.0× slower than one process" in lines[0] and "differ by 0e+00" in lines[0]
    # A difference of 5 % inside noisy steps is no difference: the verdict says so instead of "about as fast".
    noisy = parallel_run(2, [0.08, 0.105, 0.13, 0.09])
    assert "no speed difference shown here" in distributed_report(noisy).verdict()


def test_distributed_verdict_says_what_keras_distribution_did() -> None:
    report = distributed_report(parallel_run(2, 0.1))
    assert "the weights stayed one ResourceVariable on one device" in report.api_decision()
    assert "'!!!DO NOT USE!!!'" in report.api_decision()
    report.api |= {"backend": "jax", "placed_on_devices": 2}
    assert report.api_decision() == "DataParallel replicated the weights over 2 devices on the jax backend."


def test_distributed_check_wants_replicas_in_step_and_learning() -> None:
    distributed_report(parallel_run(2, 0.1)).check()
    with pytest.raises(CheckFailed, match="replicas ended 1.0e-03 apart"):
        distributed_report(parallel_run(2, 0.1, difference=1e-3)).check()
    with pytest.raises(CheckFailed, match="did not learn"):
        distributed_report(parallel_run(2, 0.1, losses=(2.3, 2.4))).check()


def test_free_ports_are_distinct_and_bindable() -> None:
    import socket

    from course_lab.claims import distributed

    ports = distributed.free_ports(2)
    assert len(set(ports)) == 2
    for port in ports:
        with socket.socket() as each:
            each.bind(("127.0.0.1", port))


# --- TorchScript ---------------------------------------------------------------------------


def torchscript_report(difference: float, warnings: list[str], torchserve: str | None = None) -> object:
    from course_lab.claims import torchscript

    graphs = ("TorchScript (script)", "TorchScript (trace)", "torch.export")
    run = {
        "version": "2.13.0",
        "images": 256,
        "warnings": warnings,
        "max_difference": dict.fromkeys(graphs, difference),
    }
    return torchscript.TorchScriptReport(run, torchserve)


DEPRECATED = ["DeprecationWarning: `torch.jit.script` is deprecated. Please switch to `torch.compile`."]


@pytest.mark.parametrize(
    "difference, warnings, decision",
    [
        (0.0, DEPRECATED, "outdated: PyTorch 2.13.0 still scripts and traces the CNN, and the graphs compute what"),
        (0.5, DEPRECATED, "outdated: PyTorch 2.13.0 still scripts and traces the CNN, and the graphs do not compute"),
        (0.0, [], "it holds in PyTorch 2.13.0: the CNN scripts and traces without a warning"),
    ],
)
def test_torchscript_verdict_has_a_branch_for_each_outcome(difference: float, warnings: list, decision: str) -> None:
    assert torchscript_report(difference, warnings).torchscript_decision().startswith(decision)


def test_torchscript_verdict_quotes_pytorch_and_dates_torchserve() -> None:
    report = torchscript_report(0.0, DEPRECATED)
    assert report.torchscript_decision().endswith(
        "warns: `torch.jit.script` is deprecated. Please switch to `torch.compile`."
    )
    # Not a verdict typed in: "at scale" cannot be measured here; the maintainers' word is quoted, dated.
    assert report.torchserve_decision().startswith("not measurable here: serving at scale needs")
    assert "TorchServe is not installed here (pip metadata)" in report.torchserve_decision()
    assert "since early 2025" in report.torchserve_decision() and "0.12.0" in report.torchserve_decision()
    assert "installed here (0.12.0)" in torchscript_report(0.0, [], "0.12.0").torchserve_decision()


def test_torchscript_check_wants_every_graph_equal_to_eager() -> None:
    torchscript_report(0.0, DEPRECATED).check()
    with pytest.raises(CheckFailed, match="compute something else"):
        torchscript_report(0.5, DEPRECATED).check()


# --- low level -----------------------------------------------------------------------------


def lowlevel_report(
    layer: float = 1e-7, pca: float = 1e-6, same_clusters: float = 1.0, backends=("tensorflow", "torch")
):
    from course_lab.claims import lowlevel

    found = {"layer": layer, "pca": pca, "pca_explained": 1e-7, "same_clusters": same_clusters}
    return lowlevel.LowLevelReport({backend: dict(found) for backend in backends}, dict.fromkeys(backends, "3.15.1"))


def test_lowlevel_reference_is_what_the_steps_compute() -> None:
    from course_lab.claims import lowlevel

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (20, 3)), rng.normal(8, 1, (20, 3))])
    weights = rng.normal(0, 1, (4, 2))
    expected = lowlevel.reference(x, weights, {"components": 1, "clusters": 2, "iterations": 5})
    assert np.allclose(expected["layer"], np.maximum(x @ weights[:3] + weights[3], 0))
    assert len(set(expected["kmeans_assignment"][:20])) == 1
    assert set(expected["kmeans_assignment"][:20]).isdisjoint(expected["kmeans_assignment"][20:])
    assert expected["pca_explained"][0] > 0.9, "two far-apart blobs: one component explains nearly everything"
    flipped = {**expected, "pca_projection": -expected["pca_projection"]}
    assert lowlevel.compare(flipped, expected)["pca"] == 0, "a component's sign is arbitrary"


@pytest.mark.parametrize(
    "report, layer, pca",
    [
        (lowlevel_report(), "it does not hold as a capability: a layer written with keras.ops", "Keras is capable"),
        (lowlevel_report(layer=0.1), "it holds on tensorflow, torch here", "Keras is capable of both"),
        (lowlevel_report(pca=0.5), "it does not hold", "on tensorflow, torch, keras.ops' PCA or k-means differs"),
        (lowlevel_report(same_clusters=0.5), "it does not hold", "on tensorflow, torch, keras.ops' PCA or k-means"),
    ],
)
def test_lowlevel_verdicts_have_a_branch_for_each_outcome(report, layer: str, pca: str) -> None:
    assert report.layer_decision().startswith(layer) and report.pca_decision().startswith(pca)


def test_lowlevel_reads_the_architecture_claim_from_where_keras_ops_computes() -> None:
    report = lowlevel_report()
    report.dispatch = {
        "torch": {
            "implementation": "keras.src.backend.torch.numpy.matmul",
            "result_type": "torch.Tensor",
            "framework_calls": ["torch"],
        }
    }
    assert report.layer_decision().startswith("true of the architecture, not of the capability")
    report.dispatch["torch"]["result_type"] = "keras.src.KerasTensor"  # Keras computing itself
    assert report.layer_decision().startswith("it does not hold as a capability")


@pytest.mark.parametrize(
    "keras_ms, decision",
    [
        ([50, 51, 52], "it holds in time and code: keras.ops took longer than scikit-learn"),
        ([1, 1.1, 1.2], "it does not hold in time: keras.ops was faster than scikit-learn"),
        ([4, 10, 30], "inconclusive in time here"),
    ],
)
def test_lowlevel_says_slower_only_where_the_ranges_do_not_overlap(keras_ms: list, decision: str) -> None:
    report = lowlevel_report(backends=("torch",))
    seconds = [ms / 1000 for ms in keras_ms]
    report.seconds = {
        "keras.ops on torch": {"pca": seconds, "kmeans": seconds},
        "scikit-learn": {"pca": [0.005, 0.006, 0.007], "kmeans": [0.005, 0.006, 0.007]},
    }
    assert report.pca_decision().startswith(decision), report.pca_decision()
    assert "lines written by hand where scikit-learn is one call" in report.pca_decision()


def test_lowlevel_verdict_says_when_one_backend_was_compared() -> None:
    assert lowlevel_report(backends=("tensorflow",)).verdict().startswith("Only tensorflow is installed here")
    with pytest.raises(CheckFailed, match="k-means on tensorflow puts 50.0% of points"):
        lowlevel_report(same_clusters=0.5).check()


# --- verdicts of graphs, TensorBoard and easiest ---------------------------------------------


def graphs_report(keras_traced: dict[str, bool], torch_graphs: int = 1) -> object:
    from course_lab.claims import graphs

    runs = {"pytorch": {"cnn": {"graphs": torch_graphs}}}
    for backend, traced in keras_traced.items():
        runs[f"keras-{backend}"] = {"python_train_step_calls": 1 if traced else 8, "batches": 8}
    return graphs.GraphsReport(runs)


@pytest.mark.parametrize(
    "keras_traced, decision",
    [
        (
            {"tensorflow": True, "torch": False},
            "outdated: Keras's fit traces a graph on TensorFlow but runs eagerly on torch",
        ),
        ({"tensorflow": True}, "half true: Keras's fit traces a static graph on every backend measured here"),
        ({"tensorflow": False, "torch": False}, "it does not hold here: Keras's fit ran its step eagerly"),
    ],
)
def test_graphs_verdict_has_a_branch_for_each_outcome(keras_traced: dict, decision: str) -> None:
    assert graphs_report(keras_traced).decision().startswith(decision)


@pytest.mark.parametrize(
    "points, decision",
    [
        ({"keras": 2, "tensorflow": 2, "pytorch": 2}, "false: PyTorch wrote 2 loss points"),
        ({"keras": 2, "pytorch": 0}, "it holds here: PyTorch wrote no scalar"),
        ({"keras": 2}, "not shown here: the PyTorch run is missing"),
    ],
)
def test_tensorboard_verdict_has_a_branch_for_each_outcome(
    points: dict, decision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from course_lab.claims import monitoring

    report = monitoring.TensorBoardReport(Path("."), dict.fromkeys(points, {}))
    scalars = {
        f"{name}/train": {"epoch_loss": [(step, 1.0) for step in range(count)]} for name, count in points.items()
    }
    monkeypatch.setattr(report, "scalars", lambda: scalars)
    assert report.decision().startswith(decision)
    if decision.startswith("false"):
        assert report.decision().endswith("beside keras and tensorflow's.")


def test_easiest_judges_the_official_routes_and_says_steep_and_easy_from_the_counts() -> None:
    from course_lab.claims import easiest

    lines = {"keras": 85, "pytorch": 161, "tensorflow": 233}
    keras_route = {"installed": True, "tf_keras_is_keras": True, "estimator": False}
    steep = easiest.steep_decision(lines, keras_route)
    assert steep.startswith("it does not hold for TensorFlow's own high-level route: tf.keras loads the Keras")
    assert "233 lines, 2.7× as many" in steep
    other = easiest.steep_decision(lines, keras_route | {"tf_keras_is_keras": False})
    assert other.startswith("not decided here")
    easy = easiest.easy_decision(lines, {"lightning": None, "pytorch-ignite": "0.5"})
    assert easy.startswith("not measurable as stated") and "161 framework lines" in easy and "1.9×" in easy
    assert "installed here: pytorch-ignite 0.5, not counted" in easy
    first = easiest.verdicts(lines).splitlines()[0]
    if easiest.tensorflow_high_level()["tf_keras_is_keras"]:  # the installed TensorFlow decides
        assert "against 161 for PyTorch" in first and "233" not in first


@pytest.mark.parametrize(
    "lines, decision",
    [
        (
            {"keras": 60, "tensorflow": 150, "pytorch": 100},
            "the claim holds by this measure: Keras takes the fewest lines",
        ),
        ({"keras": 120, "tensorflow": 150, "pytorch": 100}, "the claim does not hold by this measure: PyTorch takes"),
        ({"keras": 100, "tensorflow": 105, "pytorch": 110}, "no framework is shorter here"),
    ],
)
def test_easiest_verdict_has_a_branch_for_each_outcome(lines: dict, decision: str) -> None:
    from course_lab.claims import easiest

    assert easiest.decision(lines).startswith(decision)


def debugging_report(keras: tuple[bool, bool], pytorch: tuple[bool, bool], statement: bool = False) -> object:
    """A report where each framework's errors name the faulty line of the (model, loop) bugs or not."""

    def run(mode: str, names: tuple[bool, bool]) -> dict:
        return {
            "cases": [
                {"bug": bug, "mode": mode, "error": {"names_bug_line": named, "in_pointed_statement": statement}}
                for bug, named in zip(("model", "loop"), names)
            ]
        }

    return debugging.DebuggingReport({"keras": run("Sequential", keras), "pytorch": run("eager", pytorch)})


@pytest.mark.parametrize(
    "keras, pytorch, decision",
    [
        ((False, False), (True, False), "it holds here, for the features reshaped to 7 × 7 × 64: PyTorch's"),
        ((False, False), (True, True), "it holds here, for the features reshaped to 7 × 7 × 64 and the labels"),
        ((True, False), (True, True), "it holds here, for the labels shifted by one, in the training loop: PyT"),
        ((True, False), (False, False), "it does not hold here: Keras's error names the faulty line"),
        ((True, False), (False, True), "inconclusive here: PyTorch's traceback names the faulty line for the lab"),
        ((True, True), (True, True), "it does not hold here: both tracebacks name the faulty line"),
        ((False, False), (False, False), "inconclusive here: neither framework's traceback names the faulty line"),
    ],
)
def test_debugging_verdict_has_a_branch_for_each_outcome(keras: tuple, pytorch: tuple, decision: str) -> None:
    assert debugging_report(keras, pytorch).decision().startswith(decision)


def test_debugging_verdict_counts_no_traceback_that_only_points_to_the_statement_around_the_bug() -> None:
    # Keras pointed to the 13-line keras.Sequential( statement that holds the bug: not the line itself.
    decision = debugging_report((False, False), (False, False), statement=True).decision()
    assert decision.startswith("inconclusive here")


def test_describe_error_knows_the_statement_that_holds_the_bug(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text("def build():\n    return sum([\n        1,\n        'x',  # BUG\n    ])\n")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    try:
        namespace["build"]()
    except TypeError as error:
        described = debugging.describe_error(error, str(path))
    assert described["traceback_line"] == 2 and described["bug_line"] == 4
    assert described["in_pointed_statement"] and not described["names_bug_line"]


def deployment_with_exports(matched: set[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> object:
    exports = {
        "keras": [".keras", "Keras export", "LiteRT (Keras export)"],
        "tensorflow": ["SavedModel", "LiteRT"],
        "pytorch": ["torch.export", "ONNX", "ExecuTorch"],
    }
    rows = [
        {
            "made by": framework,
            "artifact": artifact,
            "max_abs_difference": 0.0 if (framework, artifact) in matched else 1.0,
        }
        for framework, artifacts in exports.items()
        for artifact in artifacts
    ]
    report = deployment.DeploymentReport.__new__(deployment.DeploymentReport)
    monkeypatch.setattr(report, "rows", lambda: rows, raising=False)
    return report


EVERY_EXPORT = {
    ("keras", ".keras"),
    ("keras", "Keras export"),
    ("keras", "LiteRT (Keras export)"),
    ("tensorflow", "SavedModel"),
    ("tensorflow", "LiteRT"),
    ("pytorch", "torch.export"),
    ("pytorch", "ONNX"),
    ("pytorch", "ExecuTorch"),
}
NO_MOBILE = EVERY_EXPORT - {("keras", "LiteRT (Keras export)"), ("tensorflow", "LiteRT"), ("pytorch", "ExecuTorch")}


@pytest.mark.parametrize(
    "matched, decision, beside",
    [
        (EVERY_EXPORT, "holds here: 'PyTorch exports to ONNX' holds", "PyTorch's own torch.export and ExecuTorch"),
        (NO_MOBILE, "half true here", "'TensorFlow is for production and mobile' partly holds: its SavedModel"),
        (
            EVERY_EXPORT - {("tensorflow", "LiteRT")},
            "holds here",
            "the LiteRT files ran (LiteRT (Keras export) from keras)",
        ),
        (EVERY_EXPORT - {("tensorflow", "SavedModel")}, "half true here", "its SavedModel did not predict"),
        (EVERY_EXPORT - {("pytorch", "ONNX")}, "half true here: 'PyTorch exports to ONNX' does not hold", None),
        ({("pytorch", "torch.export")}, "does not hold here", "PyTorch's own torch.export ran too"),
    ],
)
def test_deployment_verdict_judges_each_half_on_its_own_evidence(
    matched: set, decision: str, beside: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = deployment_with_exports(matched, monkeypatch)
    assert report.decision().startswith(decision), report.decision()
    if beside:
        assert beside in report.decision()


def test_deployment_verdict_holds_even_when_pytorch_deploys_to_phones_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # The old verdict read "TensorFlow is the one" as exclusive and could never say "holds".
    with_executorch = deployment_with_exports(EVERY_EXPORT, monkeypatch).decision()
    without = deployment_with_exports(EVERY_EXPORT - {("pytorch", "ExecuTorch")}, monkeypatch).decision()
    assert with_executorch.split(".")[0] == without.split(".")[0]
    assert with_executorch.startswith("holds here")


def test_deployment_workers_that_import_tensorflow_never_share_a_lane() -> None:
    # Two TensorFlow processes at once peaked near 1.9 GB, over Binder's 2 GB with the notebook.
    heavy = {"Keras (TensorFlow backend)", "TensorFlow"}
    lanes = [set(lane) for lane in deployment.RELOAD_LANES]
    assert sum(bool(lane & heavy) for lane in lanes) == 1, lanes
    assert set().union(*lanes) == {runtime.name for runtime in deployment.RUNTIMES}


# --- pretrained models ---------------------------------------------------------------------


def zoo_report(keras_off: str | None = None, torchvision: bool = True, torch_off: str | None = None) -> object:
    """A pretrained report whose counts are the published ones, but for the families named."""
    from course_lab.claims import pretrained

    def trip() -> dict:
        return {"file": "w", "max_abs_difference": 0.0}

    counts = {
        a.family: {"params": round(a.published_millions * 1e6) + (500_000 if a.family == keras_off else 0)}
        for a in pretrained.ARTICLE_ARCHITECTURES
    }
    keras = {"version": "3", "models": counts, "zoo": 40, "round_trip": trip(), "weights_from": "url"}
    theirs = {
        a.family: {"params": 7 + (a.family == torch_off), "published": 7, "keras_way": 7}
        for a in pretrained.ARTICLE_ARCHITECTURES
        if a.torchvision
    }
    zoo = {"version": "0", "note": None, "models": theirs, "zoo": 80, "round_trip": trip(), "weights_from": "url"}
    return pretrained.PretrainedReport(keras, zoo if torchvision else None, None if torchvision else "no torchvision")


@pytest.mark.parametrize(
    "report, decision",
    [
        (zoo_report(), "true of the architectures: Keras Applications builds all 11 families"),
        (zoo_report(keras_off="VGG16"), "partly: Keras Applications builds all 11 families, but VGG16 differ"),
        (zoo_report(torchvision=False), "true of the architectures: Keras Applications builds all 11"),
        (zoo_report(torch_off="ResNet"), "true of the architectures: Keras Applications builds all 11"),
    ],
)
def test_pretrained_verdict_has_a_branch_for_each_outcome(report, decision: str) -> None:
    assert report.decision().startswith(decision)
    assert ("torchvision could not be compared here" in report.decision()) == (report.torchvision is None)
    assert ("(ResNet differ from its published counts)" in report.decision()) == (
        report is not None and (report.torchvision or {}).get("models", {}).get("ResNet", {}).get("params") == 8
    )


def test_pretrained_check_fails_on_a_wrong_count_or_a_changed_round_trip() -> None:
    zoo_report().check()
    with pytest.raises(CheckFailed, match="VGG19"):
        zoo_report(keras_off="VGG19").check()
    changed = zoo_report()
    changed.torchvision["round_trip"]["max_abs_difference"] = 1e-3
    with pytest.raises(CheckFailed, match="torchvision's weights"):
        changed.check()


def test_pretrained_says_the_weights_were_checked_only_where_cached() -> None:
    report = zoo_report()
    assert "the pretrained weights themselves were not checked: no weights file is cached" in report.decision()
    report.keras["cached_weights"] = {
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5": "loaded into MobileNetV2"
    }
    assert "checked where cached: mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5 (Keras) loaded" in (
        report.decision()
    )


def test_pretrained_cached_weights_are_read_from_the_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lab.claims import pretrained

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"not weights")
    assert pretrained.cached_weights("keras") == ["resnet50_weights_tf_dim_ordering_tf_kernels.h5"]
    loaded = pretrained._load_cached("keras", lambda arch, path: (_ for _ in ()).throw(OSError(path)))
    assert loaded == {"resnet50_weights_tf_dim_ordering_tf_kernels.h5": "did not load into ResNet: OSError"}


def test_pretrained_fast_mode_times_within_binders_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lab.claims import pretrained

    monkeypatch.setattr(pretrained, "available_memory", lambda: 64 * 2**30)
    assert pretrained.timed_architectures() == pretrained.timed_architectures(free_bytes=2 * 2**30)


def test_pretrained_times_only_the_models_that_fit_beside_a_worker() -> None:
    from course_lab.claims import pretrained

    binder = pretrained.timed_architectures(free_bytes=2 * 2**30)
    assert "MobileNetV2" in binder and not {"VGG16", "VGG19"} & set(binder)
    assert len(pretrained.timed_architectures(free_bytes=64 * 2**30)) == len(pretrained.ARTICLE_ARCHITECTURES)


def test_keras_io_rounding_is_what_the_comparison_uses() -> None:
    from course_lab.claims import pretrained

    assert pretrained.rounds_to(25_636_712, 25.6) and not pretrained.rounds_to(25_700_000, 25.6)


# --- the C++ side ----------------------------------------------------------------------------


def test_cpp_faces_are_found_in_the_installed_wheels_and_say_why_nothing_was_built(tmp_path: Path) -> None:
    from course_lab.claims import cpp

    report = cpp.find_cpp_faces(exports=tmp_path)  # an empty folder: no model to load
    assert all(not found["missing"] for found in report.found.values()), report.found
    assert all("why_not" in result for result in report.loaded.values())
    assert report.decision().startswith("true as far as the files go"), report.decision()
    report.check()


def cpp_report(
    tensorflow: float | None = 0.0, aoti: float | None = 0.0, torchscript: float | None = None, missing: bool = False
) -> object:
    """A C++ report whose loaders predicted with these logit differences (None: not built)."""
    from course_lab.claims import cpp

    def result(framework: str, current: bool, difference: float | None) -> dict:
        entry = {"framework": framework, "current": current}
        if difference is None:
            return entry | {"why_not": "no C++ compiler"}
        return entry | {"compiled": True, "ran": True, "seconds": 1.0, "output": "x", "max_abs_difference": difference}

    found = {
        "TensorFlow": {"present": ["a"], "missing": ["b"] if missing else []},
        "PyTorch": {"present": ["a"], "missing": []},
    }
    loaded = {
        "C API": result("TensorFlow", True, tensorflow),
        "AOTInductor": result("PyTorch", True, aoti),
        "TorchScript": result("PyTorch", False, torchscript),
    }
    return cpp.CppReport(found, loaded, "g++")


@pytest.mark.parametrize(
    "report, decision",
    [
        (cpp_report(), "true of both: TensorFlow: holds (a C++ program loaded its trained model (C API)"),
        (cpp_report(missing=True), "partly: TensorFlow: partly (its wheel lacks b)"),
        (cpp_report(aoti=1.0), "partly: TensorFlow: holds (a C++ program loaded its trained model (C API) and pre"),
        (cpp_report(aoti=None), "true of one, the other as far as the files go"),
        (cpp_report(tensorflow=None, aoti=None), "true as far as the files go"),
        # The deprecated TorchScript route alone does not make PyTorch's half hold.
        (cpp_report(aoti=None, torchscript=0.0), "true of one, the other as far as the files go"),
    ],
)
def test_cpp_verdict_judges_each_framework_on_its_current_route(report, decision: str) -> None:
    assert report.decision().startswith(decision), report.decision()


def test_cpp_check_fails_on_a_loader_that_predicts_differently() -> None:
    cpp_report().check()
    with pytest.raises(CheckFailed, match="AOTInductor predicts differently"):
        cpp_report(aoti=0.5).check()


def test_keras_history_is_placed_against_the_installed_version() -> None:
    from datetime import date

    from course_lab.claims import backends

    table = backends.history_table("2.7.0", today=date(2026, 11, 30))
    assert table.loc["Keras 2.7.0", "years ago"] == 5.0
    assert table.loc["Keras 2.3.0", "against Keras 2.7.0"] == "older"
    assert table.loc["Keras 3.0.0", "against Keras 2.7.0"] == "the same or newer"


# --- overview ------------------------------------------------------------------------------


def test_every_claim_of_the_overview_is_a_verdict_line_of_its_notebook() -> None:
    from course_lab.claims import backends, overview

    sources = [path.read_text() for path in Path(overview.__file__).parent.glob("*.py")]
    sources.append((config.NOTEBOOKS_DIR / "05_claims" / "easiest.ipynb").read_text())  # its verdict is its own
    for claim in overview.CLAIMS:
        assert (config.NOTEBOOKS_DIR / "05_claims" / f"{claim.notebook}.ipynb").is_file(), claim
        # The version claim quotes its version from backends.CLAIMED_LATEST_KERAS.
        written = {claim.quote, claim.quote.replace(backends.CLAIMED_LATEST_KERAS, "{CLAIMED_LATEST_KERAS}")}
        assert any(f"Verdict on '{quote}'" in text for quote in written for text in sources), claim.quote


def test_recorded_verdicts_fill_the_overview_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lab.claims import overview

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    verdict = "a measurement line\nVerdict on 'Keras is the easiest': the claim holds by this measure: Keras."
    overview.record_verdicts("easiest", verdict)
    table = overview.claims_table()
    assert table.loc["Keras is the easiest", "verdict here"] == "the claim holds by this measure: Keras."
    assert table.loc["Keras is the easiest", "measured"].endswith("(fast mode)")
    assert table.loc["Keras has static graphs and PyTorch dynamic ones", "verdict here"] == (
        "not run yet: run graphs.ipynb"
    )
    with pytest.raises(ValueError, match="no line of the form"):
        overview.record_verdicts("speed", "no verdict here")


# --- facts read from the installed packages ---------------------------------------------------


def facts_report(keras_license: str = "Apache License 2.0", keras_compiled: int = 0, levels: bool = True) -> object:
    from course_lab.claims import facts

    licenses = {package: {"version": "1.0", "license": "Apache-2.0"} for package in ("keras", "tensorflow", "torch")}
    licenses["keras"]["license"] = keras_license
    native = {"Python": 10, "C++": 50, "CUDA": 0, "compiled libraries": 5}
    languages = {
        "keras": {"Python": 900, "C++": 0, "CUDA": 0, "compiled libraries": keras_compiled},
        "tensorflow": native,
        "torch": native,
    }
    found = dict.fromkeys(facts.TENSORFLOW_LEVELS, True) | ({} if levels else {"raw_ops": False})
    return facts.FactsReport(licenses, languages, found, ["onnx"], {"tensorflowjs": None})


@pytest.mark.parametrize(
    "report, method, decision",
    [
        (facts_report(), "license_decision", "it does not hold for the installed Keras 1.0: its metadata declares"),
        (facts_report(keras_license="MIT"), "license_decision", "it holds: Keras 1.0 declares 'MIT'"),
        (facts_report(), "languages_decision", "it holds as far as the installed files show: Keras is Python alone"),
        (
            facts_report(keras_compiled=2),
            "languages_decision",
            "it holds as far as the installed files show: Keras hol",
        ),
        (facts_report(), "levels_decision", "it holds: the installed TensorFlow's public API has 4 levels"),
        (facts_report(levels=False), "levels_decision", "partly: the installed TensorFlow lacks raw_ops"),
        (facts_report(), "web_jvm_decision", "not measurable here: running a model in a browser or on the JVM"),
    ],
)
def test_facts_verdicts_have_a_branch_for_each_outcome(report, method: str, decision: str) -> None:
    assert getattr(report, method)().startswith(decision), getattr(report, method)()


def test_facts_read_from_the_installed_packages() -> None:
    from course_lab.claims import facts

    report = facts.read_installed()
    assert report.licenses["keras"]["license"] and "MIT" not in report.licenses["keras"]["license"]
    assert report.languages["keras"]["Python"] > 100 and report.languages["keras"]["compiled libraries"] == 0
    assert report.languages["torch"]["C++"] > 100 and report.languages["tensorflow"]["compiled libraries"] > 0
    assert all(report.levels.values()), report.levels
    assert "tf_saved_model" in report.export_formats
    report.check()


def test_no_verdict_of_the_overview_is_typed_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lab.claims import overview, torchscript

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    serve = torchscript.TorchScriptReport({"max_difference": {}, "warnings": [], "version": "2"}, None)
    assert serve.torchserve_decision().startswith("not measurable here: serving at scale needs")
    overview.record_verdicts(
        "torchscript", f"Verdict on 'TorchServe deploys PyTorch models at scale': {serve.torchserve_decision()}"
    )
    table = overview.claims_table()
    assert table.loc["TorchServe deploys PyTorch models at scale", "kind"] == "not measurable here"
    assert table.loc["Keras is the easiest", "kind"] == "—"
    reasons = overview.not_measurable()
    assert any("documentation" in reason for reason in reasons)
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert any(reason.startswith(overview.GPU_CLAIMS) for reason in overview.not_measurable())


def test_outdated_projects_say_where_their_evidence_comes_from() -> None:
    from course_lab.claims import facts

    table = facts.outdated_table()
    assert {"torch", "ai-edge-litert", "torchserve", "theano", "pytensor"} == set(table["package"])
    assert table["evidence"].str.len().min() > 10 and table["installed here"].notna().all()
