"""The ``course`` command: one run loop, settings read once and passed down, its help made from the code.

The notebooks' kernels are replaced by a stand-in ``run_notebook`` that reads back the settings each kernel
would be given: the loop and what each command asks of it, in a second, not the notebooks themselves
(tests/test_notebooks.py runs real kernels).
"""

from __future__ import annotations

import os
from pathlib import Path

from course_utils import config

import pytest

from course_lab.claims import EXPERIMENTS
from course_tools import cli, notebooks


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, config.Settings]]:
    """Each notebook that the loop runs, with the settings its kernel is given; those named ``broken`` fail."""
    ran = []

    def run_notebook(path: Path, env: dict[str, str], timeout: int, save_to: Path | None = None):
        ran.append((path, config.Settings.from_environment(env)))
        error = "code cell 3 ('fit()'): ValueError: broken" if "broken" in path.name else None
        return notebooks.RunOutcome(path, 2.0, error, 1536.0)

    monkeypatch.setattr(notebooks, "run_notebook", run_notebook)
    return ran


def test_the_claims_help_names_every_claim_of_the_code(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main(["claims", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert f"any of {', '.join(EXPERIMENTS)} (default: all)" in shown


def test_the_run_loop_numbers_each_notebook_gives_its_kernel_the_settings_and_says_what_failed(
    kernels: list, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    settings = config.Settings(fast=True, seed=3, results_dir=tmp_path)
    jobs = [notebooks.Job(tmp_path / "good.ipynb", settings), notebooks.Job(tmp_path / "broken.ipynb", settings, "b")]
    outcomes = notebooks.run_jobs(jobs, timeout=60)
    assert [outcome.ok for outcome in outcomes] == [True, False]
    assert [given for _, given in kernels] == [settings, settings]
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"[1/2] {tmp_path / 'good.ipynb'} ... ok (2 s, peak 1.50 GB)",
        "[2/2] b ... FAILED (2 s, peak 1.50 GB)",
        "    code cell 3 ('fit()'): ValueError: broken",
    ]


def test_sweep_runs_each_notebook_under_each_seed_into_a_folder_of_its_own(
    kernels: list, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_FAST", "1")
    good, broken = tmp_path / "good.ipynb", tmp_path / "broken.ipynb"
    assert cli.main(["sweep", str(good), str(broken), "--seeds", "1", "2"]) == 1
    assert [(path.name, given.seed) for path, given in kernels] == [
        ("good.ipynb", 1),
        ("good.ipynb", 2),
        ("broken.ipynb", 1),
        ("broken.ipynb", 2),
    ]
    (folder,) = (tmp_path / "sweeps").iterdir()  # named by the time it started
    assert all(given.results_dir == folder and given.fast for _, given in kernels)
    out = capsys.readouterr().out
    assert f"not in the table, its check failed: {broken}, seed 2: code cell 3" in out


def test_run_gives_every_kernel_the_fast_mode_it_was_asked_for(
    kernels: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_FAST", "0")
    assert cli.main(["run", "--fast", str(tmp_path / "one.ipynb")]) == 0
    ((_, given),) = kernels
    assert given == config.Settings.from_environment().replace(fast=True)


def test_claims_run_under_the_commands_settings_and_leave_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = {}

    class Report:
        def tables(self) -> dict:
            return {}

        def verdict(self) -> str:
            return "Verdict on 'a claim': supported."

        def check(self) -> None:
            pass

    def claim() -> Report:
        seen.update(fast=config.fast_mode(), dataset=config.dataset_name(), inherited=os.environ["COURSE_DATASET"])
        return Report()

    monkeypatch.setitem(cli.EXPERIMENTS, "speed", claim)
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("COURSE_DATASET", raising=False)
    before = dict(os.environ)
    assert cli.main(["claims", "speed", "--fast", "--dataset", "fashion_mnist"]) == 0
    # The claim, and the workers it starts (they inherit this process's environment), read the command's settings.
    assert seen == {"fast": True, "dataset": "fashion_mnist", "inherited": "fashion_mnist"}
    assert dict(os.environ) == before
    assert (tmp_path / "claims" / "speed.json").is_file()


def test_a_setting_the_course_cannot_read_stops_the_command_with_its_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("COURSE_SEED", "seven")
    assert cli.main(["run"]) == 2
    assert "COURSE_SEED='seven' is not a whole number" in capsys.readouterr().err
