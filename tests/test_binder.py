"""The Binder image installs what the course pins, CPU-only, and bakes MNIST into the image."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from course_utils.config import PROJECT_ROOT

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

BINDER = PROJECT_ROOT / "binder"
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path: Path) -> dict[str, Version]:
    """``name==version`` lines of a requirements file; option lines and the project itself are skipped."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, separator, version = line.partition("==")
        assert separator, f"{path.name}: {line!r} is not pinned to one version with =="
        found[canonicalize_name(name)] = Version(version)
    return found


def options(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip().startswith("-")]


def test_binder_pins_the_same_versions_as_the_course() -> None:
    course, binder = pins(PROJECT_ROOT / "requirements.txt"), pins(BINDER / "requirements.txt")
    assert sorted(course) == sorted(binder), "requirements.txt and binder/requirements.txt list different packages"
    for name, version in course.items():
        # A local label such as +cpu names a build of the same release.
        assert binder[name].public == version.public, (
            f"{name}: {version} in requirements.txt, {binder[name]} for Binder"
        )


def test_binder_installs_the_cpu_only_pytorch() -> None:
    assert pins(BINDER / "requirements.txt")["torch"].local == "cpu"
    assert f"--extra-index-url {PYTORCH_CPU_INDEX}" in options(BINDER / "requirements.txt")


def test_binder_python_is_one_the_project_supports() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), f"runtime.txt says {runtime!r}; repo2docker expects python-3.X"
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', pyproject).group(1)
    assert Version(runtime.removeprefix("python-")) in SpecifierSet(requires)


def test_post_build_stops_at_the_first_error_and_downloads_mnist() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only if it is executable"
    commands = [
        line.strip()
        for line in post_build.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    first = commands[0].split()
    assert first[0] == "set" and any(re.fullmatch(r"-[a-z]*e[a-z]*", flag) for flag in first[1:]), (
        "postBuild must begin with set -e, so that a failed download fails the build"
    )
    # the runtime and the exercises' references (judges/), so that Binder's checks say ✓ or ✗ on the spot
    assert any(re.match(r"pip install (--no-deps )?-e \. -e \./judges\b", command) for command in commands)
    assert commands.index("course data") > next(i for i, c in enumerate(commands) if c.startswith("pip install"))


def test_readme_badge_opens_the_welcome_notebook_in_jupyterlab() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)\s]+\)", readme)
    assert badge, "README.md has no mybinder.org launch badge"
    target = re.search(r"urlpath=lab/tree/([^)&\s]+)", badge.group(0))
    assert target, "the badge does not open JupyterLab (urlpath=lab/tree/...)"
    assert target.group(1) == "notebooks/00_welcome.ipynb" and (PROJECT_ROOT / target.group(1)).is_file()


def test_jupyterlab_overrides_name_settings_that_the_installed_jupyterlab_has() -> None:
    """The news popup stays off only if the plugin and setting names are JupyterLab's own."""
    overrides = json.loads((BINDER / "overrides.json").read_text())
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    for plugin, settings in overrides.items():
        package, name = plugin.rsplit(":", 1)
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        assert set(settings) <= set(schema["properties"]), plugin
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert "overrides.json" in (BINDER / "postBuild").read_text()
