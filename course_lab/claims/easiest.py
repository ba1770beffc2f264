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


# --- the official high-level routes ---------------------------------------------------------
# What each project itself offers a beginner for training a model, read from the installed packages:
# TensorFlow's own high-level API (tf.keras, and the Estimators it removed in 2.16), and the
# high-level trainers of PyTorch's ecosystem (its core has no fit).
PYTORCH_TRAINERS = ("lightning", "pytorch-lightning", "pytorch-ignite")


def tensorflow_high_level() -> dict[str, bool]:
    """Whether the installed TensorFlow's high-level route is Keras itself, and whether it still has Estimators."""
    from . import facts

    root = facts.package_root("tensorflow")
    api = root / "_api" / "v2" if root else None
    return {
        "installed": root is not None,
        "tf_keras_is_keras": facts.tensorflow_levels()["keras"] if root else False,
        "estimator": bool(api and (api / "estimator" / "__init__.py").is_file()),
    }


def pytorch_trainers() -> dict[str, str | None]:
    """The installed version of each high-level trainer of PyTorch's ecosystem, or None."""
    from .common import installed_versions

    return installed_versions(PYTORCH_TRAINERS)


def steep_decision(framework_lines: Mapping[str, int], high_level: Mapping[str, bool]) -> str:
    """'TensorFlow is steep', judged on TensorFlow's own high-level route and on its low-level one.

    Steepness is a learner's time, which no computation here measures; what can be counted is what
    each route asks a learner to write for the same tasks.
    """
    if not high_level.get("installed"):
        return "not shown here: TensorFlow is not installed."
    keras, low = framework_lines["keras"], framework_lines["tensorflow"]
    if not high_level["tf_keras_is_keras"]:
        return (
            f"not decided here: the installed TensorFlow's tf.keras is not the Keras package, so its high-level "
            f"route was not counted; its low-level API takes {low} lines against Keras's {keras}."
        )
    estimators = "and it no longer has Estimators" if not high_level["estimator"] else "beside its Estimators"
    return (
        f"it does not hold for TensorFlow's own high-level route: tf.keras loads the Keras package ({estimators}), "
        f"so the same tasks take Keras's {keras} framework lines; it holds for its low-level API in this measure "
        f"only: {low} lines, {low / keras:.1f}× as many (this course writes Adam by hand there). How long either "
        "takes to learn is not measured here."
    )


def easy_decision(framework_lines: Mapping[str, int], trainers: Mapping[str, str | None]) -> str:
    """'PyTorch is easy': not measurable as stated, with what was counted of PyTorch's official route."""
    keras, torch = framework_lines["keras"], framework_lines["pytorch"]
    installed = [f"{name} {version}" for name, version in trainers.items() if version]
    others = (
        f"installed here: {', '.join(installed)}, not counted"
        if installed
        else f"none of {', '.join(trainers)} is installed here"
    )
    return (
        "not measurable as stated: 'easy' names no reference and no measure. What was counted: PyTorch's own "
        f"route, the explicit loop of its tutorials, takes {torch} framework lines for the course's tasks, "
        f"{torch / keras:.1f}× Keras's {keras}; PyTorch's core has no fit, and its ecosystem's trainers "
        f"(Lightning, Ignite) are other projects ({others})."
    )


def verdicts(framework_lines: Mapping[str, int]) -> str:
    """The three verdict lines of the easiest notebook, from the counted lines and the installed packages.

    "Easiest" compares each framework's official route: where TensorFlow's own high-level route is
    Keras, it is Keras's count, and the course's low-level TensorFlow (which writes Adam by hand)
    is left out of that comparison; it is weighed in "TensorFlow is steep" instead.
    """
    high_level = tensorflow_high_level()
    official = dict(framework_lines)
    note = ""
    if high_level["tf_keras_is_keras"]:
        official.pop("tensorflow", None)
        note = " TensorFlow's own high-level route is tf.keras, Keras itself: the same lines."
    return "\n".join(
        [
            f"Verdict on 'Keras is the easiest': {decision(official)}{note}",
            f"Verdict on 'TensorFlow is steep': {steep_decision(framework_lines, high_level)}",
            f"Verdict on 'PyTorch is easy': {easy_decision(framework_lines, pytorch_trainers())}",
        ]
    )
