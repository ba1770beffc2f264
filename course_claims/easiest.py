"""Claim: "Keras is the easiest framework", from the task notebooks' own code, counted."""

from __future__ import annotations

from collections.abc import Mapping

from course_utils.tasks import FRAMEWORK_NAMES


def decision(framework_lines: Mapping[str, int]) -> str:
    """The verdict from each framework's lines of framework code over the paired task notebooks."""
    fewest = min(framework_lines, key=framework_lines.get)
    most = max(framework_lines, key=framework_lines.get)
    ratio = framework_lines[most] / framework_lines[fewest]
    if ratio < 1.15:  # within the noise of how one writes a line
        return "no framework is shorter here: the three take about as many lines of framework code."
    name = FRAMEWORK_NAMES[fewest]
    why = {
        "keras": "fit writes the loop, the optimizer and the evaluation for you",
        "tensorflow": "its notebooks take the fewest lines of framework code",
        "pytorch": "its explicit loop takes fewer lines than the others' code here",
    }[fewest]
    claim = "the claim holds by this measure" if fewest == "keras" else "the claim does not hold by this measure"
    return (
        f"{claim}: {name} takes the fewest lines ({framework_lines[fewest]}, against "
        f"{framework_lines[most]} for {FRAMEWORK_NAMES[most]}, {ratio:.1f}× as many), because {why}. "
        "Lines are one measure of ease: they say nothing of the documentation, the error messages or the community."
    )
