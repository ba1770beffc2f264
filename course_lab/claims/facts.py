"""Claims about the packages themselves, checked in what is installed: licence, languages, APIs, platforms.

Nothing here imports a framework: each fact is read from the installed packages' metadata and files,
so the overview notebook can check them in a second, within Binder's memory.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

if TYPE_CHECKING:
    import pandas as pd

FRAMEWORK_PACKAGES = {"Keras": "keras", "TensorFlow": "tensorflow", "PyTorch": "torch"}
# What each file's name says it holds. A compiled extension (.so, .pyd, .dylib) is machine code: the
# headers shipped beside it say which language it was compiled from.
LANGUAGES = {
    "Python": (".py",),
    "C++": (".h", ".hpp", ".hh", ".inl", ".cc", ".cpp"),
    "CUDA": (".cuh", ".cu"),
}
COMPILED = (".so", ".pyd", ".dylib")
# TensorFlow's levels, from the lowest: each is a module of its installed public API (``tensorflow/_api/v2``).
TENSORFLOW_LEVELS = {
    "raw_ops": "single kernels, one call per operation (tf.raw_ops)",
    "nn": "tensor operations and layers' maths (tf.nn, tf.math), with GradientTape and tf.Module",
    "data": "input pipelines (tf.data)",
    "keras": "Keras, the high-level API (tf.keras)",
}
# Keras's export formats, as its own ``export`` method lists them (read from its source).
KERAS_EXPORT = "keras/src/export/saved_model.py"
KERAS_MODEL = "keras/src/models/model.py"


def package_root(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def license_of(package: str) -> dict[str, str | None]:
    """The licence an installed package declares: its License-Expression, License field or classifiers."""
    try:
        metadata = importlib.metadata.metadata(package)
    except importlib.metadata.PackageNotFoundError:
        return {"version": None, "license": None}
    classifiers = [c.split(" :: ")[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    declared = metadata.get("License-Expression") or metadata.get("License") or "; ".join(classifiers) or None
    return {"version": metadata["Version"], "license": declared}


def file_languages(package: str) -> dict[str, int]:
    """How many files of each language the installed package holds, and how many compiled libraries."""
    root = package_root(package)
    counts: Counter = Counter()
    if root is None:
        return {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        name = path.name
        if any(name.endswith(suffix) or f"{suffix}." in name for suffix in COMPILED):
            counts["compiled libraries"] += 1
        for language, suffixes in LANGUAGES.items():
            if path.suffix in suffixes:
                counts[language] += 1
    return {key: counts.get(key, 0) for key in (*LANGUAGES, "compiled libraries")}


def tensorflow_levels() -> dict[str, bool]:
    """Which of TensorFlow's API levels its installed public API holds, read from its files.

    ``tf.keras`` is no module of TensorFlow's own since 2.16: TensorFlow depends on the Keras package
    and loads it as ``tf.keras`` on first use, so that level counts when the dependency and the
    loader are both there.
    """
    root = package_root("tensorflow")
    api = root / "_api" / "v2" if root else None
    levels = {level: bool(api and (api / level / "__init__.py").is_file()) for level in TENSORFLOW_LEVELS}
    if root and not levels["keras"]:
        requires = importlib.metadata.requires("tensorflow") or []
        loader = "_KerasLazyLoader" in (root / "__init__.py").read_text()
        levels["keras"] = loader and any(re.match(r"keras\b", requirement) for requirement in requires)
    return levels


def keras_export_formats() -> list[str]:
    """The formats ``model.export`` accepts in the installed Keras, read from its source without importing it."""
    root = package_root("keras")
    if root is None:
        return []
    source = (root.parent / KERAS_MODEL).read_text() if (root.parent / KERAS_MODEL).is_file() else ""
    match = re.search(r"def export\(.*?\"\"\"(.*?)\"\"\"", source, re.S)
    return sorted(set(re.findall(r'`"(\w+)"`', match.group(1)))) if match else []


@dataclass
class FactsReport:
    """What the installed packages say of their licence, languages, API levels and platforms."""

    licenses: dict[str, dict]
    languages: dict[str, dict[str, int]]
    levels: dict[str, bool]
    export_formats: list[str]
    web_and_jvm: dict[str, str | None]  # package: version, for the packages that would run Keras models there

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = {}
        for framework, package in FRAMEWORK_PACKAGES.items():
            found = self.languages.get(package, {})
            rows[framework] = {
                "version": self.licenses[package]["version"],
                "licence (its metadata)": self.licenses[package]["license"],
                **{f"{language} files": found.get(language, 0) for language in LANGUAGES},
                "compiled libraries": found.get("compiled libraries", 0),
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("package")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"packages": self.table()}

    def license_decision(self) -> str:
        found = self.licenses["keras"]
        if found["version"] is None:
            return "not shown here: Keras is not installed."
        if "MIT" in (found["license"] or ""):
            return f"it holds: Keras {found['version']} declares {found['license']!r} in its metadata."
        return (
            f"it does not hold for the installed Keras {found['version']}: its metadata declares "
            f"{found['license']!r}. (Keras was MIT-licensed until version 2.3 moved to Apache 2.0 in 2019.)"
        )

    def languages_decision(self) -> str:
        def spoken(package: str) -> list[str]:
            found = self.languages.get(package, {})
            return [language for language in LANGUAGES if found.get(language)]

        keras, tensorflow, torch = (spoken(package) for package in ("keras", "tensorflow", "torch"))
        if not (keras and tensorflow and torch):
            return "not shown here: a framework is not installed."
        compiled = {p: self.languages[p].get("compiled libraries", 0) for p in ("keras", "tensorflow", "torch")}
        keras_part = (
            "Keras is Python alone (no compiled library in its package)"
            if keras == ["Python"] and not compiled["keras"]
            else f"Keras holds {', '.join(keras)} files and {compiled['keras']} compiled libraries"
        )
        both = [lang for lang in ("Python", "C++") if lang in tensorflow and lang in torch]
        cuda = [name for name, found in (("TensorFlow", tensorflow), ("PyTorch", torch)) if "CUDA" in found]
        cuda_part = (
            f"CUDA headers ship in {' and '.join(cuda)}, though a CPU wheel runs no CUDA kernel"
            if cuda
            else "no CUDA file ships in these CPU wheels, so CUDA cannot be seen here"
        )
        head = "it holds as far as the installed files show" if both == ["Python", "C++"] else "partly"
        return (
            f"{head}: {keras_part}; TensorFlow and PyTorch ship {' and '.join(both)} "
            f"({compiled['tensorflow']} and {compiled['torch']} compiled libraries, with their C++ headers); "
            f"{cuda_part}. File counts show what ships, not the share of the source each language wrote."
        )

    def levels_decision(self) -> str:
        present = [TENSORFLOW_LEVELS[level] for level, found in self.levels.items() if found]
        missing = [level for level, found in self.levels.items() if not found]
        if not present:
            return "not shown here: TensorFlow is not installed."
        if missing:
            return f"partly: the installed TensorFlow lacks {', '.join(missing)}; it has {'; '.join(present)}."
        return (
            f"it holds: the installed TensorFlow's public API has {len(present)} levels, from {present[0]} to "
            f"{present[-1]}; the course's notebooks use two of them (Keras, and tf.Module with GradientTape)."
        )

    def web_jvm_decision(self) -> str:
        formats = ", ".join(self.export_formats) or "none found"
        installed = [f"{package} {version}" for package, version in self.web_and_jvm.items() if version]
        missing = [package for package, version in self.web_and_jvm.items() if not version]
        return (
            "not measurable here: running a model in a browser or on the JVM needs a browser or a JVM and "
            "their TensorFlow packages (TensorFlow.js, TensorFlow Java), none of which this course installs. "
            f"What is checkable offline: the installed Keras exports to {formats}; "
            f"{('installed: ' + ', '.join(installed) + '; ') if installed else ''}"
            f"not installed: {', '.join(missing) or 'nothing'}; and TensorFlow Java wraps the C API that "
            "loads the SavedModel in the deployment notebook's C++ program."
        )

    def verdict(self) -> str:
        return "\n".join(
            [
                f"Verdict on 'Keras is under the MIT license': {self.license_decision()}",
                "Verdict on 'Keras is written in Python; TensorFlow and PyTorch in Python, C++ and CUDA': "
                + self.languages_decision(),
                f"Verdict on 'TensorFlow offers several levels of abstraction': {self.levels_decision()}",
                f"Verdict on 'Keras models run on the web and on the JVM': {self.web_jvm_decision()}",
            ]
        )

    def check(self) -> None:
        for package in FRAMEWORK_PACKAGES.values():
            if self.licenses[package]["version"] and not self.licenses[package]["license"]:
                raise CheckFailed(f"{package} declares no licence in its metadata.")
            if self.licenses[package]["version"] and not self.languages.get(package, {}).get("Python"):
                raise CheckFailed(f"no Python file found in the installed {package}: {self.languages.get(package)}")
        print(f"✓ licences, languages and API levels read from {len(FRAMEWORK_PACKAGES)} installed packages")


def read_installed() -> FactsReport:
    """Read every fact from the installed packages, without importing a framework."""
    from .common import installed_versions

    packages = FRAMEWORK_PACKAGES.values()
    return FactsReport(
        {package: license_of(package) for package in packages},
        {package: file_languages(package) for package in packages},
        tensorflow_levels(),
        keras_export_formats(),
        installed_versions(["tensorflowjs"]),
    )


# What the course calls deprecated or renamed, where the installed packages cannot say it themselves:
# the published, dated source. The notebooks that measure the others are named.
OUTDATED = (
    ("TorchScript is deprecated", "torch", "deployment.ipynb: PyTorch's own warnings while tracing and saving"),
    ("TF Lite is now LiteRT", "ai-edge-litert", "deployment.ipynb: tf.lite.Interpreter's deprecation warning"),
    (
        "TorchServe is in limited maintenance",
        "torchserve",
        "its repository's notice (github.com/pytorch/serve, 2025); last PyPI release 0.12.0, September 2024",
    ),
    (
        "Theano is discontinued; PyTensor is its maintained fork",
        "theano",
        "Theano's last PyPI release, 1.0.5 (July 2020); PyTensor, the PyMC project's fork, is released on PyPI",
    ),
    ("", "pytensor", "installed or not, read from its metadata"),
)


def outdated_table() -> pd.DataFrame:
    """Each deprecated or renamed project: whether it is installed here, and where the evidence comes from."""
    import pandas as pd

    from .common import installed_versions

    versions = installed_versions([package for _, package, _ in OUTDATED])
    rows = [
        {
            "the course says": said or "↑",
            "package": package,
            "installed here": versions[package] or "not installed",
            "evidence": evidence,
        }
        for said, package, evidence in OUTDATED
    ]
    return pd.DataFrame(rows).set_index("the course says")
