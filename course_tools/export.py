"""``course export``: the notebooks' cells tagged ``export``, written out as the package ``course_models``.

As d2l's ``#@save`` and nbdev's ``#| export`` do, the notebook stays the one source: each task notebook
that tags cells ``export`` gets one module, ``course_models/<task>_<framework>.py``, which holds those
cells verbatim, in notebook order, below the import lines they need, taken from the notebook's set-up
cell. Running the module runs the cells as the notebook does, from a real file, so that tracebacks,
``inspect.getsource`` and ``torch.jit.script`` find their lines. The modules are checked in; the tests
regenerate them and fail on any difference (tests/test_export.py). The package's own ``__init__.py``
(``fresh``, ``constants``) is written by hand and finds the generated modules in its folder.

This is the one place that reads notebook code to make Python of it; it writes text and runs nothing.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from pathlib import Path

from course_utils import config
from course_utils.cells import HOSTED_SETUP, code_cells, course_notebooks

EXPORT_TAG = "export"
PACKAGE = "course_models"
PACKAGE_DIR = config.PROJECT_ROOT / PACKAGE
COMMAND = "course export"


class ExportError(ValueError):
    """A notebook's exported cells cannot make a module: a name they use comes from a cell left out."""


def module_name(notebook: Path) -> str:
    """``notebooks/02_cnn/pytorch.ipynb`` gives ``cnn_pytorch``: the task, then the framework."""
    folder = notebook.parent.name.split("_", 1)[-1]
    return f"{folder}_{notebook.stem}".replace("-", "_")


def exported_notebooks(root: Path | None = None) -> dict[str, Path]:
    """The notebooks with cells tagged ``export``, by the name of their module, in notebook order."""
    found = {}
    for path in course_notebooks(root):
        if any(EXPORT_TAG in tags for tags, _ in code_cells(path)):
            name = module_name(path)
            if name in found:
                raise ExportError(f"{path} and {found[name]} would both be {PACKAGE}.{name}.")
            found[name] = path
    return found


def module_source(notebook: Path, root: Path | None = None) -> str:
    """The text of the module made of ``notebook``'s cells tagged ``export``."""
    root = root or config.NOTEBOOKS_DIR
    cells = code_cells(notebook)
    exported = [(number, tags, source.rstrip()) for number, (tags, source) in enumerate(cells, 1) if EXPORT_TAG in tags]
    code = "\n\n".join(source for _, _, source in exported)
    setup = next((source for tags, source in cells if HOSTED_SETUP not in tags), "")
    free = _free_names(code, notebook)
    header, provided = _setup_lines(setup, free)
    missing = sorted(free - provided - set(dir(builtins)))
    if missing:
        raise ExportError(
            f"{notebook}: the cells tagged {EXPORT_TAG!r} use {', '.join(missing)}, which no exported cell "
            "and no import of the set-up cell defines: tag the cell that defines them too."
        )
    shown = notebook.relative_to(root.parent).as_posix() if notebook.is_relative_to(root.parent) else notebook.name
    text = (
        f"# Generated from {shown}; do not edit, run `{COMMAND}`.\n"
        f'"""The cells of {shown} tagged ``{EXPORT_TAG}``, verbatim: running this module runs them.\n\n'
        f"Edit the notebook, then run `{COMMAND}` to write this file again.\n"
        f'"""\n\n{header}'
    )
    for number, tags, source in exported:
        shown_tags = ", ".join(tag for tag in tags if tag != EXPORT_TAG) or EXPORT_TAG
        text += _blank_lines(text, source) + f"# %% code cell {number} ({shown_tags})\n{source}"
    return text + "\n"


def _blank_lines(before: str, after: str) -> str:
    """The line breaks between two pieces of code, as ruff lays them out (so that the module passes its checks).

    Two blank lines around a function or class, one after imports, two otherwise.
    """
    last = _statements(before)[-1:]
    first = _statements(after)[:1]
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if any(isinstance(node, definitions) for node in last + first):
        return "\n\n\n"
    if last and isinstance(last[0], (ast.Import, ast.ImportFrom)):
        return "\n\n"
    return "\n\n\n"


def _statements(source: str) -> list[ast.stmt]:
    try:
        return ast.parse(source).body
    except SyntaxError:
        return []


def _free_names(code: str, notebook: Path) -> set[str]:
    """The global names ``code`` uses but does not define itself: what its imports must provide."""
    try:
        table = symtable.symtable(code, str(notebook), "exec")
    except SyntaxError as error:
        raise ExportError(f"{notebook}: a cell tagged {EXPORT_TAG!r} is not plain Python: {error}") from None
    defined = {symbol.get_name() for symbol in table.get_symbols() if symbol.is_assigned() or symbol.is_imported()}
    used: set[str] = set()
    tables = [table]
    while tables:
        scope = tables.pop()
        used |= {
            symbol.get_name()
            for symbol in scope.get_symbols()
            if symbol.is_referenced() and (symbol.is_global() or scope is table)
        }
        tables += scope.get_children()
    return used - defined


def _setup_lines(setup: str, free: set[str]) -> tuple[str, set[str]]:
    """The set-up cell's lines that provide ``free`` names: its imports, in its groups, then its assignments.

    Returns the lines and the names they provide. An import of several names keeps only those used.
    """
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return "", set()
    lines = setup.splitlines()
    groups: list[list[str]] = []
    assignments, provided = [], set()
    previous_end = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            kept = [alias for alias in node.names if (alias.asname or alias.name).split(".")[0] in free]
            if previous_end is None or any(not line.strip() for line in lines[previous_end : node.lineno - 1]):
                groups.append([])
            previous_end = node.end_lineno
            if not kept:
                continue
            provided |= {(alias.asname or alias.name).split(".")[0] for alias in kept}
            if len(kept) == len(node.names):
                groups[-1].append(ast.get_source_segment(setup, node))
            else:
                groups[-1].append(ast.unparse(type(node)(**{**vars(node), "names": kept})))
        elif isinstance(node, ast.Assign):
            names = {target.id for target in node.targets if isinstance(target, ast.Name)}
            if names & free:
                assignments.append(ast.get_source_segment(setup, node))
                provided |= names
    imports = "\n\n".join("\n".join(group) for group in groups if group)
    if assignments:
        assignments.insert(0, "# From the notebook's set-up cell:")
    return "\n\n".join(part for part in (imports, "\n".join(assignments)) if part), provided


def package_files(root: Path | None = None) -> dict[str, str]:
    """The generated modules of ``course_models`` as ``course export`` writes them: ``{file name: text}``.

    The package's ``__init__.py`` is written by hand: it finds the modules in its folder.
    """
    return {f"{name}.py": module_source(path, root) for name, path in exported_notebooks(root).items()}


def is_generated(path: Path) -> bool:
    """True for a module that ``course export`` wrote (its first line says so)."""
    first = path.read_text(encoding="utf-8").partition("\n")[0]
    return first.startswith("# Generated from ") and first.endswith(f"run `{COMMAND}`.")


def export(out: Path | None = None, root: Path | None = None) -> list[Path]:
    """Write the generated modules of ``course_models`` (to ``out``, by default the checkout's); remove those
    that no notebook makes any more. Returns the files written.
    """
    out = out or PACKAGE_DIR
    out.mkdir(parents=True, exist_ok=True)
    files = package_files(root)
    for stale in sorted(out.glob("*.py")):
        if stale.name not in files and is_generated(stale):
            stale.unlink()
    written = []
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
