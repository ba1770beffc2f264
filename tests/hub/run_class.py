"""Run a class on a real JupyterHub with nbgrader and real Unix accounts: run by CI (.ci/run) as root.

From the repository root, as root (it creates and removes system accounts), with the course's virtual
environment active:

    pip install -r classroom/requirements.txt             # jupyterhub and the idle culler
    npm install --prefix /tmp/chp configurable-http-proxy@5.3.0      # needs Node >= 20
    python tests/hub/run_class.py --proxy /tmp/chp/node_modules/.bin/configurable-http-proxy

It creates an instructor and two students as system accounts (``useradd``; prefixed ``rc-`` so that they
cannot be anyone's real account, in the group ``class``, homes 0700 in a temporary folder), and rc-judge
for the judge service, and removes them at the end. On 127.0.0.1 it starts JupyterHub as root with
classroom/jupyterhub_config.py (the instructor's real file, PAM logins for the group ``class`` and the
judge service included) and overrides only what this machine needs: JupyterHub's LocalProcessSpawner,
which starts each server as its own account like the file's systemdspawner but without a systemd unit
(containers and CI have no running systemd, so the memory and CPU limits are not enforced here), and
ports and folders. Nothing sets COURSE_RESULTS_DIR: each account records its results where
course_utils.config puts them. Then, every step through the hub's proxy with a token that the hub minted
for that user:

- the instructor's account builds the course (``course nbgrader``, the Keras MLP), generates and
  releases the assignment (the formgrader's API, which its Manage Assignments page calls);
- each student's server fetches it, answers it (alice right, bob with one wrong answer) through the
  contents API and submits it (the Assignments tab's endpoints);
- alice's check of an exercise goes to the course's judge service (course_tools/judge_service.py, run by
  the hub as the account rc-judge) with her server's token, and is judged; a forged token is refused;
- alice, from her own account, tries what a student with a terminal could: read bob's home and
  notebook, the instructor's source notebooks (answers) and gradebook, list the exchange's inbound
  folder, move the course's exchange folder aside, and ``nbgrader submit --student rc-bob`` with her
  answers; each must fail or be refused at collect (course_tools.exchange.OwnerCheckedCollect);
- the instructor's server collects, autogrades, writes and releases the feedback; the students fetch it.

It prints PASS or FAIL per check and the scores, stops the hub, the proxy and every server (also on
failure), removes the accounts and exits 0 only if all pass. Its files go to a temporary folder (kept
with --keep, the accounts removed all the same).
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import html
import importlib.util
import json
import os
import pwd
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
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import nbformat
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # course_tools from this checkout, and the checks' helpers
from manual_checks import Report, poll  # noqa: E402

from course_tools.nbgrader_course import answered  # noqa: E402

# System accounts made for the run: the prefix keeps them apart from anyone's real account, and the comment
# marks them as the script's, so that accounts left by a run that was killed can be removed safely.
PREFIX, MARKER, GROUP = "rc-", "course tests/hub/run_class.py", "class"  # GROUP: classroom/jupyterhub_config.py
INSTRUCTOR, COURSE_ID, ASSIGNMENT, NOTEBOOK = f"{PREFIX}instructor", "course", "mlp", "keras"
ALICE, BOB = f"{PREFIX}alice", f"{PREFIX}bob"
JUDGE = f"{PREFIX}judge"  # the account the judge service runs as (course-judge on a class server)
GRADERS = f"{PREFIX}graders"  # may read the exercises' references (docs/classroom.md: a group of instructors)
# Each student's answers: the instructor's, but bob counts the 128-unit model's parameters for the wider one.
STUDENTS: dict[str, dict[str, str | None]] = {ALICE: {}, BOB: {"mlp-wider-answer": "wide_params = 101_770"}}
EXPECTED = {ALICE: 3.0, BOB: 2.0}  # one point per exercise (course_tools/nbgrader_course.POINTS)
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


OPENED = "RUN_CLASS_OPENED"  # set in the private mount namespace that main() re-runs the script in
# Run as root in a mount namespace of its own: a copy of ``open`` (the course's Python) is bound in a
# tmpfs that covers its closed parent (/root), so that every account can reach it; the rest of the parent
# is hidden from everything the script starts, and the host's mounts are untouched.
OPEN_SCRIPT = (
    'set -e; stage=$(mktemp -d); mount --bind "$1" "$stage"; mount -t tmpfs -o mode=0755 run-class "$2"; '
    'mkdir -p "$1"; mount --move "$stage" "$1"; rmdir "$stage"; shift 2; exec "$@"'
)


def closed_folder(python: Path) -> tuple[Path, Path] | None:
    """The first folder on the way to the course's Python that other accounts may not enter, and its
    child on that way; None if every account can run it (as from /opt/course/.venv on a class server)."""
    for path in (python, Path(os.path.realpath(python))):
        folders = [*reversed(path.parents), path]
        for folder, child in zip(folders, folders[1:], strict=False):
            if not os.stat(folder).st_mode & 0o001:
                return folder, child
    return None


def account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


@contextmanager
def accounts(homes: Path) -> Iterator[None]:
    """The instructor and students as system accounts in the group ``class``, homes 0700; removed at the end."""
    if os.geteuid() != 0:
        raise SetupError("run it as root: it creates system accounts (useradd) and starts the hub as root")
    made_group = False
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
        made_group = True
    made: list[str] = []
    try:
        for name in [INSTRUCTOR, *STUDENTS, JUDGE]:
            existing = account(name)
            if existing and existing.pw_gecos != MARKER:
                raise SetupError(f"the account {name} exists and is not this script's: remove it or rename ours")
            if existing:  # left by a run that was killed before its clean-up
                subprocess.run(["userdel", "--remove", name], check=True, capture_output=True)
            home = homes / name
            subprocess.run(
                ["useradd", "--comment", MARKER, "--home-dir", str(home), "--create-home", "--user-group"]
                + (["--groups", GROUP] if name != JUDGE else [])  # the judge is a service, not in the class
                + ["--shell", "/bin/bash", name],
                check=True,
                capture_output=True,
            )
            made.append(name)
            home.chmod(0o700)  # as adduser's default on Debian 12 and Ubuntu 22.04: a home is its owner's alone
        yield
    finally:
        for name in made:
            left = [p for p in psutil.process_iter(["username"]) if p.info["username"] == name]
            for process in left:  # a kernel or server that outlived the hub: the account's own processes
                process.kill()
            psutil.wait_procs(left, timeout=10)
            subprocess.run(["userdel", name], capture_output=True)  # the home goes with the temporary folder
        if made_group:
            subprocess.run(["groupdel", GROUP], capture_output=True)
        print(
            f"removed the accounts {', '.join(made) or '(none made)'}"
            + (f" and the group {GROUP}" if made_group else "")
        )


def user_env(name: str, bin_dir: Path, etc: Path) -> dict[str, str]:
    """The environment a user's own terminal has on the class server: their home, the course's tools first."""
    home = account(name).pw_dir
    path = f"{bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
    return {
        "HOME": home,
        "USER": name,
        "LOGNAME": name,
        "PATH": path,
        "JUPYTER_CONFIG_PATH": str(etc),
        "LANG": "C.UTF-8",
    }


def as_user(
    name: str, command: list[str], bin_dir: Path, etc: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``command`` as the account ``name`` (its uid, its groups, its home): what they could do in a terminal.
    ``extra``: more of the environment, such as what their server gives its kernels."""
    drop = ["setpriv", f"--reuid={name}", f"--regid={account(name).pw_gid}", "--init-groups"]
    return subprocess.run(
        [*drop, *command],
        cwd=account(name).pw_dir,
        env={**user_env(name, bin_dir, etc), **(extra or {})},  # nothing of root's own environment
        capture_output=True,
        text=True,
        timeout=600,
    )


def judge_url(ports: dict[str, int]) -> str:
    """COURSE_JUDGE_URL for the servers: the judge service, reached directly on this machine."""
    return f"http://127.0.0.1:{ports['judge']}/services/course-judge/judge"


def write_configs(scratch: Path, proxy: str, ports: dict[str, int], token: str) -> Path:
    """The throwaway hub's config (the course's file, then overrides) and the users' nbgrader configs."""
    exchange, etc, private = scratch / "exchange", scratch / "etc" / "jupyter", scratch / "hub"
    # nbgrader's exchange root: every account writes there (nbgrader's docs), and the sticky bit keeps a
    # student from moving the course's folder (the instructor's) aside and putting a forged one in its place.
    exchange.mkdir()
    exchange.chmod(0o1777)
    etc.mkdir(parents=True)
    # The hub's own files (its config holds the service's token, its database every user's): root's alone.
    private.mkdir(mode=0o700)
    # Every server's nbgrader config: the course's exchange settings, with the exchange moved here.
    (etc / "nbgrader_config.py").write_text(
        f"load_subconfig({str(REPO / 'classroom' / 'nbgrader_config.py')!r})\nc.Exchange.root = {str(exchange)!r}\n"
    )
    # The instructor's own config points the formgrader at their course (nbgrader's docs do the same).
    instructor = account(INSTRUCTOR)
    own = Path(instructor.pw_dir) / ".jupyter"
    own.mkdir()
    (own / "nbgrader_config.py").write_text(f"c.CourseDirectory.root = {str(Path(instructor.pw_dir) / 'course')!r}\n")
    for path in (own, own / "nbgrader_config.py"):
        os.chown(path, instructor.pw_uid, instructor.pw_gid)
    overrides = {
        "JupyterHub.bind_url": f"http://127.0.0.1:{ports['public']}",
        "JupyterHub.hub_bind_url": f"http://127.0.0.1:{ports['hub']}",
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{ports['proxy_api']}",
        "ConfigurableHTTPProxy.command": [proxy],
        "ConfigurableHTTPProxy.pid_file": str(private / "proxy.pid"),
        "JupyterHub.pid_file": str(private / "hub.pid"),
        "JupyterHub.db_url": f"sqlite:///{private / 'hub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(private / "cookie_secret"),
        "Authenticator.admin_users": {INSTRUCTOR},
        # Each server as its own account, like systemdspawner but without systemd (none runs in a container).
        "JupyterHub.spawner_class": "localprocess",
        "Spawner.environment": {"JUPYTER_CONFIG_PATH": str(etc), "COURSE_JUDGE_URL": judge_url(ports)},
    }
    lines = [f"load_subconfig({str(REPO / 'classroom' / 'jupyterhub_config.py')!r})"]
    lines += [f"c.{name} = {value!r}" for name, value in overrides.items()]
    # The judge service of the course's config, on a free port and as this run's account.
    judge = {"url": f"http://127.0.0.1:{ports['judge']}", "user": JUDGE}
    lines += [f"[s.update({judge!r}) for s in c.JupyterHub.services if s['name'] == 'course-judge']"]
    # The script's own service: it creates users, starts servers and mints their tokens.
    lines += [
        f"c.JupyterHub.services.append({{'name': {SERVICE!r}, 'api_token': {token!r}}})",
        "c.JupyterHub.load_roles.append({"
        f"'name': {SERVICE!r}, 'services': [{SERVICE!r}], "
        "'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers']})",
    ]
    config = private / "jupyterhub_config.py"
    config.write_text("\n".join(lines) + "\n")
    return config


@contextmanager
def jupyterhub(scratch: Path, proxy: str, bin_dir: Path) -> Iterator[Hub]:
    """A JupyterHub on 127.0.0.1 with the course's config; yields its API, then stops all it started."""
    ports = {name: free_port() for name in ("public", "hub", "proxy_api", "judge")}
    token = secrets.token_hex(32)
    config = write_configs(scratch, proxy, ports, token)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # as if the venv were active
    log = scratch / "hub" / "jupyterhub.log"
    with log.open("w") as out:
        # Its own process group, so that stopping it reaches the proxy and servers it leaves behind.
        process = subprocess.Popen(
            [str(bin_dir / "jupyterhub"), "-f", str(config)],
            cwd=scratch / "hub",
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


def denied(name: str, what: str, bin_dir: Path, etc: Path, code: str) -> tuple[bool, str]:
    """Run ``code`` in Python as ``name``; True if the system refused it with PermissionError (what a student sees)."""
    done = as_user(name, [str(bin_dir / "python"), "-c", code], bin_dir, etc)
    refused = done.returncode != 0 and "PermissionError" in done.stderr
    said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.stdout.strip()[-300:]
    return refused, f"{what}: {said or 'no error'}"


def attempts(hub: Hub, report: Report, bin_dir: Path, etc: Path, exchange: Path) -> None:
    """What alice, a student with a terminal on the server, could try against bob and the instructor."""
    bob, teacher = Path(account(BOB).pw_dir), Path(account(INSTRUCTOR).pw_dir)
    course = teacher / "course"
    notebook = f"{NOTEBOOK}.ipynb"
    answers, inbound = course / "source" / ASSIGNMENT / notebook, exchange / COURSE_ID / "inbound"
    reads = {
        "bob's home": f"import os; print(os.listdir({str(bob)!r}))",
        "bob's notebook": f"print(open({str(bob / ASSIGNMENT / notebook)!r}).read()[:80])",
        "the instructor's source notebook (answers)": f"print(open({str(answers)!r}).read()[:80])",
        "the gradebook": f"print(open({str(course / 'gradebook.db')!r}, 'rb').read()[:16])",
        "the exchange's inbound folder (everyone's submissions)": f"import os; print(os.listdir({str(inbound)!r}))",
        "the course's exchange folder, moved aside": (
            f"import os; os.rename({str(exchange / COURSE_ID)!r}, {str(exchange / 'mine')!r})"
        ),
    }
    assert (course / "gradebook.db").is_file() and (bob / ASSIGNMENT).is_dir(), "nothing to try to read"
    # The exercises' references (course_judges): closed to students where the install follows
    # docs/classroom.md; a development checkout leaves them world-readable, and the run says so.
    spec = importlib.util.find_spec("course_judges")
    references = Path(next(iter(spec.submodule_search_locations))) if spec else None
    if references and not os.stat(references).st_mode & 0o004:
        reads["the exercises' references"] = f"print(open({str(references / '__init__.py')!r}).read()[:80])"
    elif references:  # references_closed() failed to close them: a failure, not a note
        report.check(f"{ALICE} cannot reach the exercises' references", False, f"{references} is world-readable")
    for what, code in reads.items():
        refused, said = denied(ALICE, what, bin_dir, etc, code)
        report.check(f"{ALICE} cannot reach {what}", refused, said)
    # alice's results go to her own home: the read-only cell of every task notebook records one there.
    record = (
        "import numpy as np; from course_utils import results; from course_utils.data import Dataset; "
        "x = np.zeros((10, 28, 28), np.uint8); y = np.arange(10, dtype=np.uint8); "
        "print(results.record_results('mlp', 'keras', 0.9, 1.0, 10, 1, Dataset(x, y, x, y, source='sample'), '1'))"
    )
    done = as_user(ALICE, [str(bin_dir / "python"), "-c", record], bin_dir, etc)
    written = done.stdout.strip().splitlines()[-1] if done.returncode == 0 else done.stderr.strip()[-400:]
    report.check(f"{ALICE} records results in her own home", written.startswith(account(ALICE).pw_dir + "/"), written)
    # alice submits her own (right) answers under bob's name, after bob's own submission: nbgrader's collect
    # would take it as bob's newest. The exchange accepts the file; the course's collect must refuse it.
    submit = [str(bin_dir / "nbgrader"), "submit", ASSIGNMENT, "--course", COURSE_ID, "--student", BOB]
    forged = as_user(ALICE, submit, bin_dir, etc)
    report.check(
        f"{ALICE} files a submission under {BOB}'s name (to be refused at collect)",
        forged.returncode == 0,
        (forged.stderr.strip().splitlines() or ["(no output)"])[-1],
    )


@contextmanager
def references_closed() -> Iterator[None]:
    """The exercises' references readable by the graders only (the instructor, the judge), as docs/classroom.md says.

    A development checkout leaves ``course_judges`` readable by everyone; for the run, its files go to a
    group of the graders with no access for others, and get their owner, group and modes back at the end.
    """
    spec = importlib.util.find_spec("course_judges")
    if spec is None or not spec.submodule_search_locations:
        yield
        return
    top = Path(next(iter(spec.submodule_search_locations)))
    subprocess.run(["groupadd", GRADERS], check=True, capture_output=True)
    saved = {path: os.lstat(path) for path in [top, *top.rglob("*")]}
    try:
        for name in (INSTRUCTOR, JUDGE):
            subprocess.run(["usermod", "--append", "--groups", GRADERS, name], check=True, capture_output=True)
        gid = grp.getgrnam(GRADERS).gr_gid
        for path, status in saved.items():
            os.chown(path, status.st_uid, gid, follow_symlinks=False)
            if not path.is_symlink():
                path.chmod(status.st_mode & 0o7770)
        yield
    finally:
        for path, status in saved.items():
            os.chown(path, status.st_uid, status.st_gid, follow_symlinks=False)
            if not path.is_symlink():
                path.chmod(status.st_mode & 0o7777)
        subprocess.run(["groupdel", GRADERS], capture_output=True)


def server_accounts(name: str) -> list[str]:
    """The accounts that run ``name``'s single-user server (JUPYTERHUB_USER in its environment)."""
    found = []
    for process in psutil.process_iter(["username", "cmdline"]):
        if not any("jupyterhub-singleuser" in part for part in process.info["cmdline"] or []):
            continue
        try:
            if process.environ().get("JUPYTERHUB_USER") == name:
                found.append(process.info["username"])
        except psutil.Error:  # it ended meanwhile
            continue
    return found


def server_environment(name: str) -> dict[str, str]:
    """The environment of ``name``'s server, which their kernels inherit (JUPYTERHUB_API_TOKEN included)."""
    for process in psutil.process_iter(["cmdline"]):
        if any("jupyterhub-singleuser" in part for part in process.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                environment = process.environ()
                if environment.get("JUPYTERHUB_USER") == name:
                    return environment
    raise SetupError(f"{name}'s server is not running")


def judged(report: Report, bin_dir: Path, etc: Path) -> None:
    """alice's kernel asks the judge service: a wrong answer gets what is wrong, a right one a ✓, a forged
    token nothing; the service runs as its own account."""
    ask = (
        "import json, sys; from course_utils import exercises; "
        "print(json.dumps([exercises.judge('mlp.wider', n) for n in (101_770, 203_530)]))"
    )
    url = server_environment(ALICE)["COURSE_JUDGE_URL"]  # what the hub gave her server, and so her kernels
    for token, expect in ((server_environment(ALICE)["JUPYTERHUB_API_TOKEN"], "verdicts"), ("not-a-token", "refused")):
        env = {"COURSE_JUDGE_URL": url, "JUPYTERHUB_API_TOKEN": token}
        done = as_user(ALICE, [str(bin_dir / "python"), "-c", ask], bin_dir, etc, extra=env)
        if expect == "verdicts":
            verdicts = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
            ok = bool(verdicts) and bool(verdicts[0]) and verdicts[1] is None
            report.check(
                f"{ALICE}'s check is judged by the judge service (wrong, then right)",
                ok,
                verdicts or done.stderr[-600:],
            )
        else:
            said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.stdout
            report.check("the judge service refuses a token the hub does not vouch for", "403" in said, said)
    runs_as = {
        p.info["username"]
        for p in psutil.process_iter(["username", "cmdline"])
        if "course_tools.judge_service" in " ".join(p.info["cmdline"] or [])
    }
    report.check("the judge service runs as its own account", runs_as == {JUDGE}, runs_as)


def run_class(hub: Hub, report: Report, bin_dir: Path, etc: Path, exchange: Path) -> dict[str, float]:
    """Release, fetch, answer, submit, what alice tries, collect, autograde, feedback; the scores by student."""
    # The instructor builds the course in their home, from a terminal of their own (docs/classroom.md).
    built = as_user(
        INSTRUCTOR,
        [str(bin_dir / "python"), "-m", "course_tools.cli", "nbgrader", "course", "--frameworks", NOTEBOOK],
        bin_dir,
        etc,
    )
    if built.returncode != 0:
        raise SetupError(f"course nbgrader as {INSTRUCTOR} failed:\n{built.stdout[-2000:]}{built.stderr[-3000:]}")
    hub.start_server(INSTRUCTOR)
    formgrader(hub, f"assignment/{ASSIGNMENT}/assign")
    formgrader(hub, f"assignment/{ASSIGNMENT}/release")
    status = {a["name"]: a["status"] for a in hub.user(INSTRUCTOR, "GET", "formgrader/api/assignments")}
    report.check("instructor releases", status.get(ASSIGNMENT) == "released", status)
    source = nbformat.from_dict(contents(hub, INSTRUCTOR, f"course/source/{ASSIGNMENT}/{NOTEBOOK}.ipynb")["content"])

    for student, changes in STUDENTS.items():
        hub.start_server(student)
        servers = server_accounts(student)  # started by the hub, which runs as root
        fetched = [a for a in assignments(hub, student, "fetch") if a["status"] == "fetched"]
        where = Path(account(student).pw_dir) / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        owned = where.exists() and pwd.getpwuid(where.stat().st_uid).pw_name
        report.check(
            f"{student} fetches into their own home, as their own account",
            fetched and owned == student and servers == [student],
            f"{where} owned by {owned}; the server runs as {servers}",
        )
        path = f"{ASSIGNMENT}/{NOTEBOOK}.ipynb"
        notebook = answered(nbformat.from_dict(contents(hub, student, path)["content"]), source, changes)
        contents(hub, student, path, {"type": "notebook", "format": "json", "content": notebook})
        submitted = [a for a in assignments(hub, student, "submit") if a["status"] == "submitted"]
        stamps = [s["timestamp"] for a in submitted for s in a["submissions"]]
        report.check(f"{student} submits", len(stamps) == 1, stamps)

    try:  # a student's token opens their own server only
        hub.user(INSTRUCTOR, "GET", "api/contents", token=hub.tokens[ALICE])
        report.check("a student's token is refused by the instructor's server", False, "it was accepted")
    except SetupError as refused:
        report.check("a student's token is refused by the instructor's server", " 403 " in str(refused), refused)
    try:
        hub.user(BOB, "GET", "api/contents", token=hub.tokens[ALICE])
        report.check("alice's token is refused by bob's server", False, "it was accepted")
    except SetupError as refused:
        report.check("alice's token is refused by bob's server", " 403 " in str(refused), refused)

    judged(report, bin_dir, etc)
    attempts(hub, report, bin_dir, etc, exchange)

    collected = formgrader(hub, f"assignment/{ASSIGNMENT}/collect")
    log = collected["log"]
    report.check(
        "collect takes each student's own submission", all(f"{s} {ASSIGNMENT}" in log for s in STUDENTS), log.strip()
    )
    report.check(
        f"collect refuses the submission {ALICE} filed as {BOB}",
        f"written by {ALICE}" in log,
        "refused" if f"written by {ALICE}" in log else "not refused",
    )
    for student in STUDENTS:
        start = time.perf_counter()
        formgrader(hub, f"submission/{ASSIGNMENT}/{student}/autograde")
        print(f"autograded {student} in {time.perf_counter() - start:.0f} s", flush=True)
    formgrader(hub, f"assignment/{ASSIGNMENT}/generate_feedback")
    formgrader(hub, f"assignment/{ASSIGNMENT}/release_feedback")
    rows = hub.user(INSTRUCTOR, "GET", f"formgrader/api/submissions/{ASSIGNMENT}")
    scores = {row["student"]: row["score"] for row in rows if row["student"] in STUDENTS}
    # bob's 2 is his own submission's; with alice's forgery collected as his, he would have her 3.
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
    if not (args.venv / "bin" / "jupyterhub").exists():
        parser.error(f"no jupyterhub in {args.venv}: pip install -r classroom/requirements.txt")
    if not args.proxy or not shutil.which(args.proxy):
        parser.error("no configurable-http-proxy: npm install --prefix DIR configurable-http-proxy@5.3.0; --proxy ...")
    args.proxy = str(Path(shutil.which(args.proxy)).absolute())  # the hub runs it from its own folder
    if os.geteuid() != 0:
        parser.error("run it as root: it creates system accounts (useradd) and starts each server as its own")
    for tool in ("useradd", "userdel", "groupadd", "setpriv"):
        if not shutil.which(tool):
            parser.error(f"{tool} is missing (Debian: apt-get install passwd util-linux)")
    bin_dir = args.venv.absolute() / "bin"
    closed = closed_folder(bin_dir / "python")
    if closed and os.environ.get(OPENED):
        parser.error(
            f"{bin_dir / 'python'} is still closed to other accounts at {closed[0]}: make the course's "
            "environment from a Python that every account may run (as /opt/course/.venv is)"
        )
    if closed:
        # The students' servers, kernels and terminals run as their own accounts, so they must be able to run
        # the course's Python. One made by pyenv in root's home (this course's CI machine) is not: re-run in a
        # mount namespace where its folder is reachable, the same interpreter and packages, nothing copied.
        folder, child = closed
        print(f"{folder} is closed to other accounts: running in a mount namespace that opens {child}", flush=True)
        command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", OPEN_SCRIPT, "sh"]
        command += [str(child), str(folder), sys.executable, *sys.argv]
        os.execvpe("unshare", command, {**os.environ, OPENED: "1"})
    # Every account must be able to enter it (the homes, the exchange, the servers' config are inside).
    scratch = Path(tempfile.mkdtemp(prefix="run-class-"))
    scratch.chmod(0o755)
    (scratch / "home").mkdir(mode=0o755)
    report, start = Report(), time.perf_counter()
    try:
        with ExitStack() as stack:
            stack.enter_context(accounts(scratch / "home"))
            stack.enter_context(references_closed())
            hub = stack.enter_context(jupyterhub(scratch, args.proxy, bin_dir))
            scores = run_class(hub, report, bin_dir, scratch / "etc" / "jupyter", scratch / "exchange")
            print("scores: " + ", ".join(f"{name} {score:g}" for name, score in scores.items()))
    except (SetupError, subprocess.CalledProcessError) as error:
        report.check("setup", False, f"{error}\n{getattr(error, 'stderr', '') or ''}")
    finally:
        log = scratch / "hub" / "jupyterhub.log"
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
