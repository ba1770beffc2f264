"""Run a class on a real JupyterHub with nbgrader: a manual check for maintainers, not run by pytest or CI.

From the repository root, with the course's virtual environment active:

    pip install -r classroom/requirements.txt             # jupyterhub and the idle culler
    npm install --prefix /tmp/chp configurable-http-proxy@5.3.0
    python tests/hub/run_class.py --proxy /tmp/chp/node_modules/.bin/configurable-http-proxy

On 127.0.0.1 it starts JupyterHub with classroom/jupyterhub_config.py (the instructor's real file) and
overrides only what a throwaway run needs: every user's server runs as the current account in a
temporary home (SimpleLocalProcessSpawner, which sets HOME and USER), logins are the hub's dummy
ones (the script uses tokens), ports and folders are temporary, and each student's
~/.jupyter/nbgrader_config.py names them, because nbgrader tells students apart by their system
account (nbgrader.utils.get_username), which these students share. Then, every step through the
hub's proxy with a token that the hub minted for that user:

- the instructor's server builds the course (``course nbgrader``, the Keras MLP), generates and
  releases the assignment (the formgrader's API, which its Manage Assignments page calls);
- each student's server fetches it, answers it (alice right, bob with one wrong answer) through the
  contents API and submits it (the Assignments tab's endpoints);
- the instructor's server collects, autogrades, writes and releases the feedback; the students fetch it.

It prints PASS or FAIL per check and the scores, stops the hub, the proxy and every server (also on
failure) and exits 0 only if all pass. Its files go to a temporary folder (kept with --keep).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # course_tools from this checkout, and the checks' helpers
from manual_checks import Report, poll  # noqa: E402

from course_tools.nbgrader_course import answered  # noqa: E402

INSTRUCTOR, COURSE_ID, ASSIGNMENT, NOTEBOOK = "instructor", "course", "mlp", "keras"
# Each student's answers: the instructor's, but bob counts the 128-unit model's parameters for the wider one.
STUDENTS: dict[str, dict[str, str | None]] = {"alice": {}, "bob": {"mlp-wider-answer": "wide_params = 101_770"}}
EXPECTED = {"alice": 3.0, "bob": 2.0}  # one point per exercise (course_tools/nbgrader_course.POINTS)
SERVICE = "class-runner"  # the hub service whose token this script holds


class SetupError(RuntimeError):
    """The hub, or a server, did not start or did not answer as it should."""


def free_port() -> int:
    with socket.socket() as probe:  # the system picks a port that is free now
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, token: str, method: str = "GET", body: object = None, timeout: float = 60) -> Any:
    """A JSON request with ``token``; the decoded answer (None if empty). An error status raises SetupError."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout) as answer:
            text = answer.read().decode()
    except urllib.error.HTTPError as error:
        raise SetupError(f"{method} {url}: {error.code} {error.read().decode()[:2000]}") from error
    return json.loads(text) if text.strip() else None


class Hub:
    """The hub's REST API with the script's service token, and each user's server through the proxy."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.tokens: dict[str, str] = {}  # each user's own token, minted by the hub

    def api(self, method: str, path: str, body: object = None) -> Any:
        return request(f"{self.base}/hub/api/{path}", self.token, method, body)

    def start_server(self, name: str) -> None:
        """Create the user if new, start their server, wait until the proxy routes to it, mint their token."""
        if name not in {user["name"] for user in self.api("GET", "users")}:
            self.api("POST", f"users/{name}")
        self.api("POST", f"users/{name}/server")
        state = poll(lambda: self.api("GET", f"users/{name}")["servers"].get("", {}), lambda s: s.get("ready"), 180)
        if not state.get("ready"):
            raise SetupError(f"{name}'s server did not start: {state}")
        # The user's own token, limited to their own server: what JupyterLab in their browser holds.
        minted = self.api("POST", f"users/{name}/tokens", {"note": SERVICE, "scopes": [f"access:servers!user={name}"]})
        self.tokens[name] = minted["token"]

    def user(
        self, name: str, method: str, path: str, body: object = None, timeout: float = 60, token: str | None = None
    ) -> Any:
        """A request to ``name``'s server at /user/<name>/<path>, through the proxy, with their token."""
        return request(f"{self.base}/user/{name}/{path}", token or self.tokens[name], method, body, timeout)


def write_configs(scratch: Path, proxy: str, ports: dict[str, int], token: str) -> Path:
    """The throwaway hub's config (the course's file, then overrides) and the users' nbgrader configs."""
    exchange, etc = scratch / "exchange", scratch / "etc" / "jupyter"
    exchange.mkdir(mode=0o777)
    etc.mkdir(parents=True)
    # Every server's nbgrader config: the course's exchange settings, with the exchange moved here.
    (etc / "nbgrader_config.py").write_text(
        f"load_subconfig({str(REPO / 'classroom' / 'nbgrader_config.py')!r})\nc.Exchange.root = {str(exchange)!r}\n"
    )
    homes = scratch / "home"
    # The instructor's own config points the formgrader at their course (nbgrader's docs do the same).
    (homes / INSTRUCTOR / ".jupyter").mkdir(parents=True)
    (homes / INSTRUCTOR / ".jupyter" / "nbgrader_config.py").write_text(
        f"c.CourseDirectory.root = {str(homes / INSTRUCTOR / 'course')!r}\n"
        # Here every submission belongs to the one account the script runs as; on the real server each
        # student's own, and collect warns of a submission owned by someone other than its student.
        "c.ExchangeCollect.check_owner = False\n"
    )
    # On the real server each student is a system account, which nbgrader takes as the student id.
    for student in STUDENTS:
        (homes / student / ".jupyter").mkdir(parents=True)
        student_config = homes / student / ".jupyter" / "nbgrader_config.py"
        student_config.write_text(f"c.CourseDirectory.student_id = {student!r}\n")
    overrides = {
        "JupyterHub.bind_url": f"http://127.0.0.1:{ports['public']}",
        "JupyterHub.hub_bind_url": f"http://127.0.0.1:{ports['hub']}",
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{ports['proxy_api']}",
        "ConfigurableHTTPProxy.command": [proxy],
        "ConfigurableHTTPProxy.pid_file": str(scratch / "proxy.pid"),
        "JupyterHub.pid_file": str(scratch / "hub.pid"),
        "JupyterHub.db_url": f"sqlite:///{scratch / 'hub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(scratch / "cookie_secret"),
        "JupyterHub.authenticator_class": "dummy",
        "Authenticator.allowed_users": set(STUDENTS),
        "JupyterHub.spawner_class": "simple",
        "SimpleLocalProcessSpawner.home_dir_template": str(homes / "{username}"),
        "Spawner.environment": {"JUPYTER_CONFIG_PATH": str(etc), "COURSE_RESULTS_DIR": str(scratch / "results")},
        # Jupyter refuses to run as root without it (containers and CI machines often run as root).
        "Spawner.args": ["--allow-root"] if os.geteuid() == 0 else [],
    }
    lines = [f"load_subconfig({str(REPO / 'classroom' / 'jupyterhub_config.py')!r})"]
    lines += [f"c.{name} = {value!r}" for name, value in overrides.items()]
    # The script's own service: it creates users, starts servers and mints their tokens.
    lines += [
        f"c.JupyterHub.services.append({{'name': {SERVICE!r}, 'api_token': {token!r}}})",
        "c.JupyterHub.load_roles.append({"
        f"'name': {SERVICE!r}, 'services': [{SERVICE!r}], "
        "'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers']})",
    ]
    config = scratch / "jupyterhub_config.py"
    config.write_text("\n".join(lines) + "\n")
    return config


@contextmanager
def jupyterhub(scratch: Path, proxy: str, bin_dir: Path) -> Iterator[Hub]:
    """A JupyterHub on 127.0.0.1 with the course's config; yields its API, then stops all it started."""
    ports = {name: free_port() for name in ("public", "hub", "proxy_api")}
    token = secrets.token_hex(32)
    config = write_configs(scratch, proxy, ports, token)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # as if the venv were active
    log = scratch / "jupyterhub.log"
    with log.open("w") as out:
        # Its own process group, so that stopping it reaches the proxy and servers it leaves behind.
        process = subprocess.Popen(
            [str(bin_dir / "jupyterhub"), "-f", str(config)],
            cwd=scratch,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{ports['public']}", token)
    started: set[int] = set()
    try:

        def up() -> bool:
            started.update(child.pid for child in psutil.Process(process.pid).children(recursive=True))
            try:
                return request(f"{hub.base}/hub/api/", token, timeout=5) is not None
            except (OSError, SetupError):
                return False

        if not poll(up, lambda ok: ok or process.poll() is not None, 120):
            raise SetupError(f"JupyterHub did not start; its log ends:\n{log.read_text()[-3000:]}")
        print(f"JupyterHub {hub.api('GET', '')['version']} is up at {hub.base}", flush=True)
        yield hub
    finally:
        if process.poll() is None:
            started.update(child.pid for child in psutil.Process(process.pid).children(recursive=True))
        stop(process, started, hub)


def stop(process: subprocess.Popen, started: set[int], hub: Hub) -> None:
    """Stop the servers through the hub, then the hub (which stops the proxy), then any process left over."""
    for name in [INSTRUCTOR, *STUDENTS]:
        try:
            hub.api("DELETE", f"users/{name}/server")
        except (OSError, SetupError):
            pass  # never started, or the hub is gone: the process clean-up below still reaches it
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # JupyterHub stops its proxy and services on SIGTERM
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # The servers run in process groups of their own: end any that the hub left, by their ids.
    left = [child for child in (psutil.Process(pid) for pid in started if psutil.pid_exists(pid)) if child.is_running()]
    for child in left:
        child.terminate()
    for child in psutil.wait_procs(left, timeout=20)[1]:
        child.kill()
    print(f"stopped the hub and {len(started)} processes it had started ({len(left)} needed stopping by id)")


def formgrader(hub: Hub, action: str, timeout: float = 600) -> dict:
    """POST to the instructor's formgrader API (``assignment/<id>/release`` ...); fail unless it succeeded."""
    answer = hub.user(INSTRUCTOR, "POST", f"formgrader/api/{action}", {}, timeout)
    if not answer.get("success"):
        raise SetupError(f"formgrader {action} failed:\n{answer.get('error') or answer.get('log')}")
    return answer


def assignments(hub: Hub, student: str, action: str | None = None) -> list[dict]:
    """The Assignments tab's list for ``student``, after ``action`` (fetch, submit, fetch_feedback) if given."""
    if action is None:
        answer = hub.user(student, "GET", f"assignments?course_id={COURSE_ID}")
    else:
        body = {"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}
        answer = hub.user(student, "POST", f"assignments/{action}", body, timeout=120)
    if not answer.get("success"):
        raise SetupError(f"{student}'s assignments/{action or 'list'} failed:\n{answer.get('value')}")
    return answer["value"]


def contents(hub: Hub, name: str, path: str, body: object = None) -> Any:
    """Read (or, with ``body``, write) a file in ``name``'s server through the Jupyter contents API."""
    quoted = urllib.parse.quote(path)
    return hub.user(name, "GET" if body is None else "PUT", f"api/contents/{quoted}", body)


def run_class(hub: Hub, report: Report, python: Path, homes: Path) -> dict[str, float]:
    """Release, fetch, answer, submit, collect, autograde, feedback; the scores by student."""
    # The instructor builds the course in their home, as docs/classroom.md says (here: one framework).
    subprocess.run(
        [str(python), "-m", "course_tools.cli", "nbgrader", "course", "--frameworks", NOTEBOOK],
        cwd=homes / INSTRUCTOR,
        check=True,
        capture_output=True,
    )
    hub.start_server(INSTRUCTOR)
    formgrader(hub, f"assignment/{ASSIGNMENT}/assign")
    formgrader(hub, f"assignment/{ASSIGNMENT}/release")
    status = {a["name"]: a["status"] for a in hub.user(INSTRUCTOR, "GET", "formgrader/api/assignments")}
    report.check("instructor releases", status.get(ASSIGNMENT) == "released", status)
    source = nbformat.from_dict(contents(hub, INSTRUCTOR, f"course/source/{ASSIGNMENT}/{NOTEBOOK}.ipynb")["content"])

    for student, changes in STUDENTS.items():
        hub.start_server(student)
        fetched = [a for a in assignments(hub, student, "fetch") if a["status"] == "fetched"]
        report.check(f"{student} fetches", fetched, [n["notebook_id"] for a in fetched for n in a["notebooks"]])
        path = f"{ASSIGNMENT}/{NOTEBOOK}.ipynb"
        notebook = answered(nbformat.from_dict(contents(hub, student, path)["content"]), source, changes)
        contents(hub, student, path, {"type": "notebook", "format": "json", "content": notebook})
        submitted = [a for a in assignments(hub, student, "submit") if a["status"] == "submitted"]
        stamps = [s["timestamp"] for a in submitted for s in a["submissions"]]
        report.check(f"{student} submits", len(stamps) == 1, stamps)

    try:  # a student's token opens their own server only
        hub.user(INSTRUCTOR, "GET", "api/contents", token=hub.tokens[next(iter(STUDENTS))])
        report.check("a student's token is refused by the instructor's server", False, "it was accepted")
    except SetupError as refused:
        report.check("a student's token is refused by the instructor's server", " 403 " in str(refused), refused)

    collected = formgrader(hub, f"assignment/{ASSIGNMENT}/collect")
    report.check("collect", all(f"{s} {ASSIGNMENT}" in collected["log"] for s in STUDENTS), collected["log"].strip())
    for student in STUDENTS:
        start = time.perf_counter()
        formgrader(hub, f"submission/{ASSIGNMENT}/{student}/autograde")
        print(f"autograded {student} in {time.perf_counter() - start:.0f} s", flush=True)
    formgrader(hub, f"assignment/{ASSIGNMENT}/generate_feedback")
    formgrader(hub, f"assignment/{ASSIGNMENT}/release_feedback")
    rows = hub.user(INSTRUCTOR, "GET", f"formgrader/api/submissions/{ASSIGNMENT}")
    scores = {row["student"]: row["score"] for row in rows if row["student"] in STUDENTS}
    report.check("scores", scores == EXPECTED, f"{scores} (expected {EXPECTED}, out of {rows[0]['max_score']})")

    for student in STUDENTS:
        listed = assignments(hub, student, "fetch_feedback")
        feedback = [s for a in listed for s in a.get("submissions", []) if s.get("has_local_feedback")]
        page = html.unescape(
            "".join(contents(hub, student, f"{s['local_feedback_path']}/{NOTEBOOK}.html")["content"] for s in feedback)
        )
        # The course's own message for each exercise that failed: exercises.check's "✗ <title>: <what looks wrong>".
        failed = sorted(set(re.findall(r"✗ ([A-Z][^:<\n]*):", page)))
        report.check(f"{student} fetches feedback", page and len(failed) == 3 - EXPECTED[student], failed or "no ✗")
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--proxy",
        default=shutil.which("configurable-http-proxy"),
        help="configurable-http-proxy from npm (default: the one on PATH)",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(sys.prefix),
        help="the course's virtual environment, with jupyterhub installed (default: this Python's)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, homes, exchange)")
    args = parser.parse_args()
    python = args.venv / "bin" / "python"
    if not (args.venv / "bin" / "jupyterhub").exists():
        parser.error(f"no jupyterhub in {args.venv}: pip install -r classroom/requirements.txt")
    if not args.proxy:
        parser.error("no configurable-http-proxy: npm install --prefix DIR configurable-http-proxy@5.3.0; --proxy ...")
    scratch = Path(tempfile.mkdtemp(prefix="run-class-"))
    report, start = Report(), time.perf_counter()
    try:
        with jupyterhub(scratch, args.proxy, python.parent) as hub:
            scores = run_class(hub, report, python, scratch / "home")
            print("scores: " + ", ".join(f"{name} {score:g}" for name, score in scores.items()))
    except (SetupError, subprocess.CalledProcessError) as error:
        report.check("setup", False, error)
    finally:
        log = scratch / "jupyterhub.log"
        if report.failed and log.exists():
            print(f"the hub's log (servers included) ends:\n{log.read_text()[-4000:]}")
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"{report.passed} passed, {len(report.failed)} failed in {time.perf_counter() - start:.0f} s")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
