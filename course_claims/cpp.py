"""Claim: "TensorFlow has C++ and Python interfaces, PyTorch a C++ interface".

Both pip wheels carry their C++ side: the headers, and the shared libraries that Python itself
calls into. This finds them without importing either framework. Where a C++ compiler is at hand,
it builds and runs the smallest program of each against the installed wheel: TensorFlow's C API
printing its version, and libtorch multiplying two tensors (PyTorch's headers are large: about
17 s of compiling on one idle core).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

from .common import output_folder

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class CppFace:
    """A framework's C++ side, as its wheel installs it (paths relative to the package's folder)."""

    framework: str
    package: str
    headers: tuple[str, ...]
    libraries: tuple[str, ...]
    include: tuple[str, ...]  # folders to compile against
    program: str


CPP_FACES = (
    CppFace(
        "TensorFlow",
        "tensorflow",
        (
            "include/tensorflow/c/c_api.h",
            "include/tensorflow/cc/client/client_session.h",
            "include/tensorflow/cc/saved_model/loader.h",
        ),
        ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2"),
        ("include",),
        '#include <cstdio>\n#include "tensorflow/c/c_api.h"\n'
        'int main() { std::printf("TensorFlow %s, through its C API\\n", TF_Version()); }\n',
    ),
    CppFace(
        "PyTorch",
        "torch",
        ("include/torch/script.h", "include/torch/csrc/api/include/torch/torch.h"),
        ("lib/libtorch.so", "lib/libtorch_cpu.so", "lib/libc10.so"),
        ("include", "include/torch/csrc/api/include"),
        "#include <iostream>\n#include <torch/script.h>\n#include <torch/version.h>\n"
        "int main() {\n"
        "  at::Tensor product = torch::ones({2, 3}).mm(torch::ones({3, 2}));\n"
        '  std::cout << "libtorch " << TORCH_VERSION << ": ones(2, 3) x ones(3, 2) sums to "\n'
        "            << product.sum().item<float>() << std::endl;\n"
        "}\n",
    ),
)


def package_folder(package: str) -> Path | None:
    """Where ``package`` is installed, found without importing it (importing TensorFlow costs ~800 MB)."""
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def build_and_run(face: CppFace, root: Path, folder: Path) -> dict:
    """Compile ``face.program`` against the wheel in ``root``, run it, and say how it went."""
    source = folder / f"{face.package}_hello.cc"
    source.write_text(face.program)
    libraries = [root / library for library in face.libraries]
    command = [
        "g++",
        "-std=c++17",
        "-w",  # PyTorch's headers warn about C++20 features under C++17
        str(source),
        *[f"-I{root / include}" for include in face.include],
        *[f"-l:{library.name}" for library in libraries],
        *sorted({f"-L{library.parent}" for library in libraries}),
        *sorted({f"-Wl,-rpath,{library.parent}" for library in libraries}),
        "-o",
        str(folder / face.package),
    ]
    start = time.perf_counter()
    built = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if built.returncode != 0:
        return {"compiled": False, "seconds": seconds, "output": built.stderr.strip().splitlines()[-1]}
    ran = subprocess.run([str(folder / face.package)], capture_output=True, text=True)
    return {"compiled": True, "seconds": seconds, "ran": ran.returncode == 0, "output": ran.stdout.strip()}


@dataclass
class CppReport:
    """Each framework's C++ side: the files its wheel installed, and the program built against them."""

    found: dict[str, dict]  # framework: {"headers": [...], "missing": [...], "program": build_and_run() or None}
    compiler: str | None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = {}
        for framework, found in self.found.items():
            program = found["program"]
            if program is None:
                built = "not built: " + found["why_not"]
            elif program["compiled"]:
                built = f"compiled in {program['seconds']:.0f} s; printed: {program['output']}"
            else:
                built = f"did not compile: {program['output']}"
            rows[framework] = {
                "C++ files in the wheel": f"{len(found['present'])} of {len(found['present']) + len(found['missing'])}",
                "missing": ", ".join(found["missing"]) or "—",
                "smallest program": built,
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("framework")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"C++ in the wheels": self.table()}

    def decision(self) -> str:
        incomplete = [framework for framework, found in self.found.items() if found["missing"]]
        if incomplete:
            return f"partly: the installed {', '.join(incomplete)} lacks C++ files its interface needs here."
        ran = [f for f, found in self.found.items() if (found["program"] or {}).get("ran")]
        if not ran:
            how = "no C++ compiler here" if self.compiler is None else "no program was built here"
            return f"true as far as the files go: both wheels ship C++ headers and libraries, but {how}."
        return (
            "true of both: the pip wheels ship the C++ headers and libraries (Python itself calls them), and "
            f"a C++ program built against {' and '.join(ran)} ran here."
        )

    def verdict(self) -> str:
        return f"Verdict on 'TensorFlow has C++ and Python interfaces, PyTorch a C++ interface': {self.decision()}"

    def check(self) -> None:
        for framework, found in self.found.items():
            if found["missing"]:
                raise CheckFailed(f"{framework}'s wheel lacks {', '.join(found['missing'])}.")
            program = found["program"]
            if program is not None and not (program["compiled"] and program["ran"]):
                raise CheckFailed(f"the C++ program against {framework} failed: {program['output']}")
        print("✓ both wheels ship their C++ headers and libraries; the programs built here ran")


def find_cpp_faces() -> CppReport:
    """Look for each framework's C++ files and, with a compiler, build and run its program."""
    compiler = shutil.which("g++")
    folder = output_folder("runs", "cpp")
    found = {}
    for face in CPP_FACES:
        root = package_folder(face.package)
        files = [*face.headers, *face.libraries]
        present = [file for file in files if root and (root / file).is_file()]
        entry = {"present": present, "missing": [file for file in files if file not in present], "program": None}
        if compiler is None:
            entry["why_not"] = "no C++ compiler (g++) on this machine"
        elif not entry["missing"]:
            entry["program"] = build_and_run(face, root, folder)
        found[face.framework] = entry
    return CppReport(found, compiler)
