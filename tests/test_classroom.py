"""classroom/: the one-server hub's config and the Kubernetes values agree with the measured peaks and the exchange.

Neither is deployed here (tests/hub/run_class.py runs a class on the one-server config): these check that
the files load, that their numbers are the ones docs/instructor.md measured, and that the Kubernetes values
fail closed: their hub.extraConfig check, run as the chart runs it, refuses every way in that is not a real
login of a listed student, keeps the work on the home volume and uses an exchange with per-user identity.
"""

from __future__ import annotations

import copy
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


# What secrets.yaml holds for a class (tests/test_classroom.py's stand-in: no real secret).
SECRETS = {
    "hub": {
        "config": {
            "GenericOAuthenticator": {
                "client_id": "course-hub",
                "client_secret": "not-a-real-secret",
                "oauth_callback_url": "https://hub.example.org/hub/oauth_callback",
                "authorize_url": "https://login.example.org/authorize",
                "token_url": "https://login.example.org/token",
                "userdata_url": "https://login.example.org/userinfo",
                "username_claim": "preferred_username",
            },
            "Authenticator": {"allowed_users": ["alice", "bob"]},
        },
        "services": {"ngshare": {"apiToken": "not-a-real-token"}},
    },
    "singleuser": {"image": {"tag": "0123abc"}},
}


def merged(base: dict, extra: dict) -> dict:
    """Helm's merge of two values files: mappings merge key by key, anything else (lists too) is replaced."""
    result = dict(base)
    for key, value in extra.items():
        result[key] = (
            merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) else value
        )
    return result


def hub_start(values: dict) -> Config:
    """The chart's hub start-up, as far as the values decide it (its files/hub/jupyterhub_config.py): hub.config
    loaded into c section by section, hub.services appended as JupyterHub services, then each hub.extraConfig
    snippet run in key order with the chart's get_config. SystemExit is the hub refusing to start."""

    def get_config(key: str, default: object = None) -> object:  # z2jh.get_config: a dotted key of the values
        value: object = values
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    c = Config()
    for app, cfg in copy.deepcopy(values["hub"].get("config", {})).items():
        c[app].update(cfg)
    c.JupyterHub.services = [
        {**{k: v for k, v in service.items() if k != "apiToken"}, "name": name, "api_token": service.get("apiToken")}
        for name, service in copy.deepcopy(values["hub"].get("services", {})).items()
    ]
    for _, snippet in sorted(values["hub"].get("extraConfig", {}).items()):
        exec(snippet, {"c": c, "get_config": get_config})  # noqa: S102 (the chart runs it just so)
    return c


def test_z2jh_refuses_to_start_without_the_secrets(values: dict) -> None:
    with pytest.raises(SystemExit, match="client_id, client_secret"):
        hub_start(values)


def test_z2jh_starts_with_a_login_a_class_list_and_an_image_tag(values: dict) -> None:
    c = hub_start(merged(values, SECRETS))
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert not c.Authenticator.allow_all and c.Authenticator.allowed_users == ["alice", "bob"]
    assert c.Authenticator.admin_users == ["instructor"]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"hub": {"config": {"JupyterHub": {"authenticator_class": "dummy"}}}}, "authenticator_class is 'dummy'"),
        ({"hub": {"config": {"JupyterHub": {"authenticator_class": "shared-password"}}}}, "shared-password"),
        ({"hub": {"config": {"GenericOAuthenticator": {"client_secret": ""}}}}, "client_secret"),
        ({"hub": {"config": {"Authenticator": {"allow_all": True}}}}, "allow_all"),
        ({"hub": {"config": {"GenericOAuthenticator": {"allow_all": True}}}}, "allow_all"),
        ({"hub": {"config": {"Authenticator": {"allowed_users": []}}}}, "no student may log in"),
        ({"singleuser": {"image": {"tag": ""}}}, "image's tag"),
        ({"hub": {"services": {}}}, "ngshare"),
    ],
)
def test_z2jh_fails_closed(values: dict, change: dict, said: str) -> None:
    broken = merged(merged(values, SECRETS), change)
    if change.get("hub", {}).get("services") == {}:
        broken["hub"]["services"] = {}  # a values file that leaves the exchange service out
    with pytest.raises(SystemExit, match=re.escape(said)):
        hub_start(broken)


def test_z2jh_keeps_the_work_on_the_home_volume(values: dict) -> None:
    single, config = values["singleuser"], values["hub"]["config"]
    home = single["storage"]["homeMountPath"]
    assert single["storage"]["type"] == "dynamic" and home == "/home/jovyan"  # a persistent volume per student
    assert config["KubeSpawner"]["working_dir"] == home and config["Spawner"]["notebook_dir"] == home
    assert Path(single["extraEnv"]["COURSE_RESULTS_DIR"]).is_relative_to(home)


def test_z2jh_exchange_knows_each_user_by_their_hub_token(values: dict) -> None:
    shipped = load(CLASSROOM / "nbgrader_config.py")
    extra = values["singleuser"]["extraFiles"]["nbgrader-config"]
    assert extra["mountPath"] == "/etc/jupyter/nbgrader_config.py"  # on every pod's Jupyter config path
    source = extra["stringData"]
    compile(source, "nbgrader_config.py", "exec")
    # ngshare's exchange, through the hub's proxy to the hub service below; no shared folder (every pod is
    # uid 1000, so a shared folder's permissions could not keep one student out of another's submission).
    assert re.search(r'^configureExchange\(c, "http://proxy-public/services/ngshare"\)$', source, re.MULTILINE)
    assert re.search(rf'^c\.CourseDirectory\.course_id = "{shipped.CourseDirectory.course_id}"$', source, re.MULTILINE)
    assert "Exchange.root" not in source and not values["singleuser"]["storage"].get("extraVolumeMounts")
    service = values["hub"]["services"]["ngshare"]
    assert service["url"] == "http://ngshare:8080" and "apiToken" not in service  # the token is a secret


def test_one_server_exchange_refuses_submissions_filed_as_another_student() -> None:
    # nbgrader is the instructor's set-up (requirements-instructor.txt), not the learner's
    collect = pytest.importorskip(
        "nbgrader.exchange.default.collect", reason="pip install -r requirements-instructor.txt"
    )
    from course_tools.exchange import OwnerCheckedCollect

    ExchangeCollect = collect.ExchangeCollect
    shipped = load(CLASSROOM / "nbgrader_config.py")
    assert shipped.Exchange.root == "/srv/nbgrader/exchange"  # not nbgrader's default, /usr/local/share/...
    assert shipped.ExchangeFactory.collect == "course_tools.exchange.OwnerCheckedCollect"
    assert issubclass(OwnerCheckedCollect, ExchangeCollect)
    docs = (REPO / "docs" / "classroom.md").read_text()
    assert f"chmod 1777 {shipped.Exchange.root}" in docs  # the install step makes the folder nbgrader uses
