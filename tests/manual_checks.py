"""What the checks outside pytest share (tests/browser/*.py, tests/hub/run_class.py); CI runs them all (.ci/run).

Not a test module: pytest collects nothing here. The scripts put tests/ on sys.path to import it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Report:
    """The checks' outcomes, printed as PASS or FAIL as they come."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, ok: object, evidence: object) -> None:
        self.passed += bool(ok)
        if not ok:
            self.failed.append(name)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {evidence}", flush=True)


def poll(get: Callable[[], T], ok: Callable[[T], object], timeout: float, interval: float = 0.25) -> T:
    """Call ``get`` until ``ok`` accepts its value or ``timeout`` seconds pass; return the last value."""
    end = time.monotonic() + timeout
    while True:
        value = get()
        if ok(value) or time.monotonic() > end:
            return value
        time.sleep(interval)


def browser_arguments(parser: argparse.ArgumentParser, venv_use: str) -> None:
    """The browser checks' options: the Chromium to drive, where screenshots go, the course's environment."""
    parser.add_argument(
        "--chromium",
        default=shutil.which("chromium") or shutil.which("chromium-browser"),
        help="the Chromium to drive (default: chromium on PATH, else Playwright's own)",
    )
    parser.add_argument("--keep-screenshots", type=Path, metavar="DIR", help="save screenshots in DIR")
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(sys.prefix),
        help=f"the course's virtual environment, for {venv_use} (default: this Python's)",
    )


def venv_python(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """The Python of ``--venv``; the screenshots' folder made. Stops with a usage error if there is none."""
    python = args.venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not python.exists():
        parser.error(f"no Python at {python}: give --venv the course's virtual environment")
    if args.keep_screenshots:
        args.keep_screenshots.mkdir(parents=True, exist_ok=True)
    return python
