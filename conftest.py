"""Test-suite settings, applied before any notebook kernel starts (kernels inherit them)."""

import os
import tempfile

import pytest

# The suite always runs in fast mode: the bundled sample and few epochs. The outputs
# that nbval compares were recorded that way.
os.environ["COURSE_FAST"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Records go to a folder of this run, not to the learner's results/.
os.environ["COURSE_RESULTS_DIR"] = tempfile.mkdtemp(prefix="course-test-results-")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests marked ``after_notebooks`` last, so they can read the records nbval's runs left."""
    items.sort(key=lambda item: item.get_closest_marker("after_notebooks") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_notebooks: run after the notebooks, reusing their records")
