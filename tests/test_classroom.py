"""classroom/: the one-server hub's config and the Kubernetes values agree with the measured peaks and the exchange.

Neither is deployed here (tests/hub/run_class.py runs a class on the one-server config): these check that
the files load and that their numbers are the ones docs/instructor.md measured.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
CLASSROOM = REPO / "classroom"
UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}  # JupyterHub's and the chart's byte sizes


def size(text: str) -> float:
    """Bytes in a JupyterHub size such as ``2G`` or ``1.5G`` (binary units, as JupyterHub reads them)."""
    number, unit = re.fullmatch(r"([\d.]+)([KMGT])", text).groups()
    return float(number) * UNITS[unit]


def measured_peaks() -> tuple[float, float]:
    """docs/instructor.md's peaks in bytes: the largest of any notebook, and the largest of a task notebook."""
    text = (REPO / "docs" / "instructor.md").read_text()
    any_notebook = max(float(gb) * 1e9 for gb in re.findall(r"\| ([\d.]+) GB \|$", text, re.MULTILINE))
    task = max(float(mb) * 1e6 for mb in re.findall(r"^\| (?:MLP|CNN|RNN) \w+ \|.*\| (\d+) MB \|$", text, re.MULTILINE))
    return any_notebook, task


def load(path: Path) -> Config:
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((CLASSROOM / "z2jh-values.yaml").read_text())


def test_the_peaks_are_read_from_the_docs() -> None:
    assert measured_peaks() == (pytest.approx(1.67e9), pytest.approx(1513e6))  # the speed claim; the TF MLP


def test_hub_limits_fit_every_notebook() -> None:
    config = load(CLASSROOM / "jupyterhub_config.py")
    peak, _ = measured_peaks()
    assert size(config.Spawner.mem_limit) >= peak + 0.15e9  # and JupyterLab itself
    assert config.Spawner.cpu_limit == 1  # docs/instructor.md's run times are for one core
    assert config.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"  # enforces the limits
    culler = next(service for service in config.JupyterHub.services if service["name"] == "idle-culler")
    assert "--timeout=3600" in culler["command"]


def test_z2jh_limits_come_from_the_measured_peaks(values: dict) -> None:
    peak, task_peak = measured_peaks()
    hub = load(CLASSROOM / "jupyterhub_config.py")
    memory, cpu = values["singleuser"]["memory"], values["singleuser"]["cpu"]
    assert memory["limit"] == hub.Spawner.mem_limit and size(memory["limit"]) >= peak + 0.15e9
    assert task_peak <= size(memory["guarantee"]) <= size(memory["limit"])
    assert cpu["limit"] == hub.Spawner.cpu_limit and 0 < cpu["guarantee"] <= cpu["limit"]
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 300}  # as on the one-server hub


def test_z2jh_mounts_the_exchange_where_nbgrader_looks(values: dict, tmp_path: Path) -> None:
    shipped = load(CLASSROOM / "nbgrader_config.py")
    storage = values["singleuser"]["storage"]
    volume = next(v for v in storage["extraVolumes"] if "persistentVolumeClaim" in v)
    mount = next(m for m in storage["extraVolumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == shipped.Exchange.root
    extra = values["singleuser"]["extraFiles"]["nbgrader-config"]
    assert extra["mountPath"] == "/etc/jupyter/nbgrader_config.py"  # on every pod's Jupyter config path
    (tmp_path / "nbgrader_config.py").write_text(extra["stringData"])
    mounted = load(tmp_path / "nbgrader_config.py")
    assert mounted.Exchange == shipped.Exchange and mounted.CourseDirectory == shipped.CourseDirectory
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ["instructor"]
