"""What the maintainers' manual checks share (tests/browser/check_widgets.py, tests/hub/run_class.py).

Not a test module: pytest collects nothing here. The scripts put tests/ on sys.path to import it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
