"""Test-suite settings, applied before any notebook kernel starts (kernels inherit them)."""

import os
import tempfile
from pathlib import Path

import pytest

# The suite always runs in fast mode: the bundled sample and few epochs. The outputs
# that nbval compares were recorded that way.
os.environ["COURSE_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
NOTEBOOKS = Path(__file__).parent / "notebooks"
# Records go to a folder of this run, not to the learner's results/.
os.environ["COURSE_RESULTS_DIR"] = tempfile.mkdtemp(prefix="course-test-results-")
# Every exercise runs with its answer from solutions/, and one left unanswered or judged wrong fails.
os.environ["COURSE_EXERCISES"] = "strict"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Answer the notebooks' exercises; run tests marked ``after_notebooks`` last, after the records they read."""
    from course_tools.answers import answered_source, solutions_for

    answers: dict[object, dict[str, str]] = {}
    for item in items:
        cell = getattr(item, "cell", None)  # nbval's item for one code cell of a notebook
        if cell is not None and cell.get("cell_type") == "code":
            if item.path not in answers:
                answers[item.path] = solutions_for(item.path, NOTEBOOKS) if item.path.is_relative_to(NOTEBOOKS) else {}
            cell.source = answered_source(cell.source, answers[item.path])
    items.sort(key=lambda item: item.get_closest_marker("after_notebooks") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_notebooks: run after the notebooks, reusing their records")
