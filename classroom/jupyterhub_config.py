"""JupyterHub for a class on one server, on the model of The Littlest JupyterHub (docs/classroom.md).

Each student and the instructor is a system account on the server (``adduser``), in the Unix group
``class``; the hub logs them in with their system password (PAM) and starts each one's JupyterLab as
that account, in a systemd unit with the memory and CPU limits below, as TLJH does. nbgrader's exchange
(``nbgrader_config.py`` beside this file, copied to /etc/jupyter/) then knows each student by their
account's name. Start it as root from the course's environment:

    jupyterhub -f /opt/course/classroom/jupyterhub_config.py

tests/hub/run_class.py runs a class with this file, overriding only what a throwaway run on a
machine without systemd or system accounts needs (its spawner, authenticator, ports and folders).
"""

import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it when it reads this file)

BIN = Path(sys.executable).parent  # the course's environment, which the hub runs from
INSTRUCTORS = {"instructor"}  # hub admins; each still needs a system account in the group below
CLASS_GROUP = "class"  # sudo groupadd class; sudo adduser --ingroup class alice

# Serve on port 8000; for a class over the internet put HTTPS in front of it (a reverse proxy such as
# nginx or Caddy) or set c.JupyterHub.ssl_cert and c.JupyterHub.ssl_key.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
# configurable-http-proxy from npm, installed beside the hub (docs/classroom.md), else the one on PATH.
PROXY = shutil.which("configurable-http-proxy", path="/opt/course/proxy/node_modules/.bin")
c.ConfigurableHTTPProxy.command = [PROXY or "configurable-http-proxy"]

# Who may log in: system accounts in the class group, with their passwords. For a larger class use
# your institution's single sign-on instead (oauthenticator, ltiauthenticator) and keep the rest.
c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {CLASS_GROUP}
c.Authenticator.admin_users = INSTRUCTORS

# Each user's JupyterLab runs as their own account in a systemd unit (TLJH's spawner), from the course's
# environment, so every student has the same pinned packages and nbgrader's Assignments tab.
c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.SystemdSpawner.isolate_tmp = True  # a private /tmp per student
c.SystemdSpawner.isolate_devices = True
c.SystemdSpawner.disable_user_sudo = True

# Limits from the course's measured peaks (docs/instructor.md, "Run times"): a task notebook's kernel
# peaks at 1.51 GB (the TensorFlow MLP), the speed claim at 1.67 GB with its workers, and JupyterLab
# itself takes about 0.15 GB: 2 GiB per student, the size of a mybinder.org session, fits every
# notebook one at a time (students shut down a finished notebook's kernel, as on Binder). The run
# times there are for one core, and fast mode trains in seconds on it. A server for N students who
# train at the same moment needs about N x 1.6 GB of memory; cores can be fewer than students.
c.Spawner.mem_limit = "2G"
c.Spawner.cpu_limit = 1.0
# JupyterLab with nbgrader's extensions starts in 5-20 s; on a loaded server give it longer.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Stop servers idle for an hour (a lesson), as TLJH does: a running kernel counts as activity, so a
# long training is not cut off. The culler is a service the hub starts and stops.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600", "--cull-every=300"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]

# The instant ✓ or ✗ of exercises.check: the students may not read the references (course_judges, which
# only the group `instructors` may read, docs/classroom.md), so their kernels send each answer, as plain
# values, to this service (course_tools/judge_service.py). It runs as an account of its own in that group
# (sudo useradd --system --groups instructors course-judge). The kernels reach it directly on this
# machine, with their server's hub token; users and their servers may use it (the hub's default roles,
# plus access to this one service).
JUDGE = {"name": "course-judge", "url": "http://127.0.0.1:10101", "user": "course-judge"}
c.JupyterHub.services.append({**JUDGE, "command": [sys.executable, "-m", "course_tools.judge_service"]})
c.Spawner.environment = {"COURSE_JUDGE_URL": f"{JUDGE['url']}/services/{JUDGE['name']}/judge"}
JUDGE_ACCESS = f"access:services!service={JUDGE['name']}"
c.JupyterHub.load_roles += [
    {"name": "user", "scopes": ["self", JUDGE_ACCESS]},
    {"name": "server", "scopes": ["users:activity!user", "access:servers!server", JUDGE_ACCESS]},
]
