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
    "pandas",  # the study notebooks' (course_lab), not the runtime's: pyproject's extra `lab`
    "psutil",
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


def test_the_default_dependencies_are_what_the_runtime_imports() -> None:
    """``pip install course-utils`` (a hosted runtime's install) brings what the task notebooks' packages
    import, course_utils and course_models, and nothing else: the study notebooks' and the tools' are extras."""
    import ast
    from importlib.metadata import packages_distributions

    from course_utils.files import load_toml

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = load_toml(RUNTIME.parent / "pyproject.toml")["project"]
    declared = {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}
    frameworks = {canonicalize_name(Requirement(text).name) for text in project["optional-dependencies"]["frameworks"]}
    imported = set()
    for package in ("course_utils", "course_models"):
        for path in (RUNTIME.parent / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    # IPython comes with ipywidgets; google.colab is Colab's own; the references are a distribution of their own.
    imported -= {*sys.stdlib_module_names, "course_utils", "course_models", "course_judges", "IPython", "google"}
    owners = packages_distributions()
    needed = {canonicalize_name(owners.get(module, [module])[0]) for module in imported} - frameworks
    assert needed == declared, (
        f"imported, not declared: {needed - declared}; declared, not imported: {declared - needed}"
    )


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


def native_log(text: str) -> list[str]:
    """The lines of TensorFlow's C++ start-up log in ``text``."""
    return [line for line in text.splitlines() if line.startswith(("I0000", "E0000", "WARNING: All log"))]


def test_in_a_notebook_tensorflow_imported_after_the_course_shows_no_start_up_log() -> None:
    """The notebooks' first cell imports the course, then TensorFlow: its C++ log stays out of the outputs.

    The kernel shows what is written to file descriptor 2 in the cell's output (ipykernel's default), so the
    same cell under ``COURSE_TF_LOG=show`` must show the log: else this test could not fail.
    """
    import nbformat
    from nbclient import NotebookClient

    source = "import course_utils\nimport tensorflow as tf\nprint(float(tf.constant(1.0) + 1))"
    # ipykernel leaves file descriptor 2 alone where it finds pytest's PYTEST_CURRENT_TEST: a learner's has none.
    left_out = ("TF_CPP_MIN_LOG_LEVEL", "COURSE_TF_LOG", "PYTEST_CURRENT_TEST")
    env = {key: value for key, value in os.environ.items() if key not in left_out}
    shown = {}
    for log in ("", "show"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        NotebookClient(notebook, kernel_name="python3", timeout=300).execute(env={**env, "COURSE_TF_LOG": log})
        shown[log] = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert "2.0" in shown[""] and not native_log(shown[""]), shown[""]
    assert native_log(shown["show"]), "the kernel shows TensorFlow's log unless the course keeps it out"


def test_importing_the_course_outside_a_notebook_changes_no_import_machinery() -> None:
    """The command line, the claims' workers, scripts and tests import the course and nothing else changes."""
    code = (
        "import sys; before = list(sys.meta_path), sys.stderr\n"
        "import course_utils, course_utils.exercises\n"
        "print(list(sys.meta_path) == before[0] and sys.stderr is before[1])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


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
    code = (
        "import course_utils, os; course_utils.quiet_tensorflow_start()\n"  # a script asks for it itself
        "import tensorflow; os.write(2, b'native, after the import\\n')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "native start-up log" not in done.stderr
    assert "a Python warning during the import" in done.stderr, done.stderr
    assert "a Python message during the import" in done.stderr, done.stderr
    assert "native, after the import" in done.stderr, "stderr is itself again after the import"


# The packages from the bottom up: each may import those before it, never one after it (CONTRIBUTING.md).
LAYERS = ("course_utils", "course_models", "course_lab", "course_tools")


def imported_course_packages(source: str) -> set[str]:
    """The course packages that ``source`` imports, absolute imports only (relative ones stay in a package)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(LAYERS)


def test_imports_only_go_down() -> None:
    root = Path(course_utils.__file__).parent.parent
    arrows_up = []
    for level, package in enumerate(LAYERS):
        for path in sorted((root / package).rglob("*.py")):
            above = imported_course_packages(path.read_text(encoding="utf-8")) - set(LAYERS[: level + 1])
            arrows_up += [f"{path.relative_to(root)} imports {name}" for name in sorted(above)]
    assert not arrows_up, arrows_up


def test_no_notebook_imports_the_maintainers_tools() -> None:
    import json

    root = Path(course_utils.__file__).parent.parent
    found = []
    for path in sorted((root / "notebooks").rglob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            # IPython magics (%pip) are not Python: only the lines that parse matter here.
            lines = [line for line in source.splitlines() if line.lstrip().startswith(("import ", "from "))]
            if "course_tools" in imported_course_packages("\n".join(line.strip() for line in lines)):
                found.append(str(path.relative_to(root)))
    assert not found, found


def test_the_import_check_sees_an_arrow_up() -> None:
    assert imported_course_packages("import os\nfrom course_tools import cli\nfrom . import x") == {"course_tools"}
    assert imported_course_packages("import course_lab.claims.speed as s") == {"course_lab"}
