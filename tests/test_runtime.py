"""The learner runtime, course_utils, stays small and plain: no framework, no notebook tooling, few lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import course_utils

RUNTIME = Path(course_utils.__file__).parent
# Lines of code: no blank lines, comments or docstrings. "At most about 1,500" (issue 10); issue 13 then
# added 73: TensorFlow's start-up log kept out, wrong answers shown as their message, hints starting over,
# a line at setup for a framework outside the supported versions, the sample and notebooks of a wheel
# installed without the checkout, found wherever the installer put them, and Colab's widget manager.
# The task notebooks' pictures then added 167 (plots.py, 160, and their re-export): drawn from NumPy
# arrays with alt text, so that the three frameworks' notebooks call them alike. Issue 20's exercises
# then added 22 net: the answers read from solutions/ (the markers' parsing went to course_tools), an
# exercise left to do told in a line, a wrong answer told without stopping Run All, and answers no judge
# foresaw told instead of raised; and 7 for the pictures' class names, those of the course's dataset
# (Fashion-MNIST's clothes are not labelled 0 to 9); and 10 for exercises.require, the graded test cells'
# check, which raises whatever the student's kernel set COURSE_EXERCISES to.
MAX_CODE_LINES = 1779
FORBIDDEN = (
    "tensorflow",
    "torch",
    "keras",
    "jax",
    "nbformat",
    "nbclient",
    "nbconvert",
    "course_tools",
    "course_lab.claims",
    "matplotlib",  # imported by plots.py only when a picture is drawn
)


def python_code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    import ast
    import io
    import tokenize

    text = path.read_text(encoding="utf-8")
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    skipped = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skipped:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_importing_every_runtime_module_loads_no_framework_and_no_notebook_tooling() -> None:
    modules = sorted(
        "course_utils" + "".join(f".{part}" for part in path.relative_to(RUNTIME).with_suffix("").parts)
        for path in RUNTIME.rglob("*.py")
    )
    modules = [module.removesuffix(".__init__") for module in modules]
    script = (
        "import importlib, json, sys\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "course_utils" in loaded and len(modules) > 10
    assert not loaded & set(FORBIDDEN), f"importing the learner runtime loaded {sorted(loaded & set(FORBIDDEN))}"


def test_the_learner_runtime_stays_small() -> None:
    counts = {path.relative_to(RUNTIME).as_posix(): python_code_lines(path) for path in RUNTIME.rglob("*.py")}
    total = sum(counts.values())
    largest = ", ".join(f"{name} {count}" for name, count in sorted(counts.items(), key=lambda item: -item[1])[:5])
    assert total <= MAX_CODE_LINES, f"course_utils has {total} lines of code, over {MAX_CODE_LINES}; largest: {largest}"


def test_code_lines_leave_out_docstrings_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "module.py"
    path.write_text(
        '"""Doc\nstring."""\n\n# a comment\nx = (\n    1,  # inline\n)\n\n\ndef f():\n    """Doc."""\n    return x\n'
    )
    assert python_code_lines(path) == 5  # x = (, 1, ), def f():, return x


def test_tensorflow_imported_after_the_course_prints_no_start_up_log() -> None:
    """TensorFlow's C++ core logs while it loads; imported after course_utils, none of it reaches stderr."""
    code = "import course_utils, tensorflow as tf; print(float(tf.constant(1.0) + 1))"
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "COURSE_TF_LOG")}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert quiet.stdout.strip() == "2.0"
    assert not [line for line in quiet.stderr.splitlines() if line.startswith(("I0000", "E0000", "WARNING: All log"))]


def test_setup_names_a_framework_outside_the_supported_versions(monkeypatch) -> None:
    from importlib import metadata

    from course_utils import system

    assert system.unsupported_versions("pytorch") == []  # the pinned versions are within the ranges
    old_torch = SimpleNamespace(metadata={"Name": "torch"}, version="2.1.0")
    monkeypatch.setattr(metadata, "distributions", lambda: [old_torch])
    (line,) = system.unsupported_versions("pytorch")
    assert line.startswith("Note: torch 2.1.0 is outside the versions this course is tested with (")


def test_the_quiet_tensorflow_import_drops_the_native_log_but_not_pythons_messages(tmp_path: Path) -> None:
    """A stand-in ``tensorflow`` writes as the real one's C++ core does, and as Python code does."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        "import os, sys, warnings\n"
        "os.write(2, b'native start-up log\\n')\n"
        "warnings.warn('a Python warning during the import')\n"
        "print('a Python message during the import', file=sys.stderr)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "COURSE_TF_LOG"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(RUNTIME.parent)])
    code = "import course_utils, tensorflow, os; os.write(2, b'native, after the import\\n')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "native start-up log" not in done.stderr
    assert "a Python warning during the import" in done.stderr, done.stderr
    assert "a Python message during the import" in done.stderr, done.stderr
    assert "native, after the import" in done.stderr, "stderr is itself again after the import"
