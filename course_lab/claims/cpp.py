"""Claim: "TensorFlow has C++ and Python interfaces, PyTorch a C++ interface".

Both pip wheels carry their C++ side: the headers, and the shared libraries that Python itself
calls into. This finds them without importing either framework and, where a C++ compiler is at
hand, builds a program for each route that loads the deployment claim's trained CNN in C++, runs it
on test images, and compares its logits with the original model's:

- TensorFlow: its C API, ``TF_LoadSessionFromSavedModel`` on the SavedModel (the C API is what its
  Java, Go and Rust bindings wrap; ``LoadSavedModel`` in ``loader.h`` is the C++ equivalent).
- PyTorch: AOTInductor's ``torch::inductor::AOTIModelPackageLoader`` on a ``.pt2`` package, the route
  PyTorch documents for C++ inference now; and ``torch::jit::load`` on a TorchScript file, the route
  this course calls deprecated (see the TorchScript claim), beside it in full mode.

Each program takes a minute's share of compiling (PyTorch's headers are large: about 17 s each on
one idle core), so fast mode builds the two current routes and leaves TorchScript's to full mode.
"""

from __future__ import annotations

import importlib.util
import shutil
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

from .common import EXPORT_TOLERANCE, compare_outputs, output_folder, scaled_test_images, worker_slots

if TYPE_CHECKING:
    import pandas as pd

import numpy as np

# How many test images the C++ programs predict: enough to compare classes, one predict batch.
CPP_IMAGES = 1000

TF_LOADER = r"""// Load a SavedModel with TensorFlow's C API and run its serving signature on images read from a file.
// Usage: tf_load SAVEDMODEL INPUT_TENSOR OUTPUT_TENSOR IMAGES.f32 COUNT LOGITS.f32
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>
#include "tensorflow/c/c_api.h"

static TF_Output tensor(TF_Graph* graph, const std::string& name) {  // "op:index", as the signature names it
  size_t colon = name.rfind(':');
  int index = colon == std::string::npos ? 0 : std::atoi(name.c_str() + colon + 1);
  return TF_Output{TF_GraphOperationByName(graph, name.substr(0, colon).c_str()), index};
}

int main(int argc, char** argv) {
  if (argc != 7) { std::fprintf(stderr, "usage: %s SAVEDMODEL INPUT OUTPUT IMAGES COUNT LOGITS\n", argv[0]); return 2; }
  int64_t count = std::atoll(argv[5]);
  std::vector<float> images(count * 28 * 28);
  std::ifstream(argv[4], std::ios::binary).read(reinterpret_cast<char*>(images.data()), images.size() * sizeof(float));
  TF_Status* status = TF_NewStatus();
  TF_Graph* graph = TF_NewGraph();
  TF_SessionOptions* options = TF_NewSessionOptions();
  const char* tags[] = {"serve"};
  TF_Session* session = TF_LoadSessionFromSavedModel(options, nullptr, argv[1], tags, 1, graph, nullptr, status);
  if (TF_GetCode(status) != TF_OK) { std::fprintf(stderr, "load: %s\n", TF_Message(status)); return 1; }
  TF_Output input = tensor(graph, argv[2]), output = tensor(graph, argv[3]);
  if (!input.oper || !output.oper) { std::fprintf(stderr, "no tensor %s or %s\n", argv[2], argv[3]); return 1; }
  int64_t dims[] = {count, 28, 28, 1};
  TF_Tensor* in = TF_AllocateTensor(TF_FLOAT, dims, 4, images.size() * sizeof(float));
  std::memcpy(TF_TensorData(in), images.data(), images.size() * sizeof(float));
  TF_Tensor* out = nullptr;
  TF_SessionRun(session, nullptr, &input, &in, 1, &output, &out, 1, nullptr, 0, nullptr, status);
  if (TF_GetCode(status) != TF_OK) { std::fprintf(stderr, "run: %s\n", TF_Message(status)); return 1; }
  std::ofstream(argv[6], std::ios::binary).write(static_cast<const char*>(TF_TensorData(out)), TF_TensorByteSize(out));
  std::printf("TensorFlow %s, C API: loaded the SavedModel, ran %lld images\n", TF_Version(), (long long)count);
  TF_DeleteTensor(in);
  TF_DeleteTensor(out);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}
"""

# The two libtorch programs differ only in how they load the model and run it, which makes ``logits``.
LIBTORCH_LOADER = string.Template(
    r"""// Load $what; run it on images read from a file.
// Usage: $usage IMAGES.f32 COUNT LOGITS.f32
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>
$include
#include <torch/version.h>

int main(int argc, char** argv) {
  if (argc != 5) { std::fprintf(stderr, "usage: %s MODEL IMAGES COUNT LOGITS\n", argv[0]); return 2; }
  int64_t count = std::atoll(argv[3]);
  std::vector<float> images(count * 28 * 28);
  std::ifstream(argv[2], std::ios::binary).read(reinterpret_cast<char*>(images.data()), images.size() * sizeof(float));
$run
  std::ofstream(argv[4], std::ios::binary).write(static_cast<const char*>(logits.data_ptr()), logits.nbytes());
  std::printf("libtorch %s, $said, ran %lld images\n", TORCH_VERSION, (long long)count);
  return 0;
}
"""
)
AOTI_LOADER = LIBTORCH_LOADER.substitute(
    what="an AOTInductor package (.pt2) with its package loader",
    usage="aoti_load PACKAGE.pt2",
    include="#include <ATen/ATen.h>\n#include <torch/csrc/inductor/aoti_package/model_package_loader.h>",
    run="""  torch::inductor::AOTIModelPackageLoader loader(argv[1]);
  std::vector<at::Tensor> outputs = loader.run({at::from_blob(images.data(), {count, 1, 28, 28}, at::kFloat)});
  at::Tensor logits = outputs.at(0).contiguous();""",
    said="AOTIModelPackageLoader: loaded the package",
)
TORCHSCRIPT_LOADER = LIBTORCH_LOADER.substitute(
    what="a TorchScript file with torch::jit::load",
    usage="ts_load MODEL.pt",
    include="#include <torch/script.h>",
    run="""  torch::jit::script::Module module = torch::jit::load(argv[1]);
  module.eval();
  at::Tensor logits = module.forward({torch::from_blob(images.data(), {count, 1, 28, 28})}).toTensor().contiguous();""",
    said="torch::jit::load: loaded the TorchScript file",
)

TENSORFLOW_FILES = dict(
    package="tensorflow",
    headers=(
        "include/tensorflow/c/c_api.h",
        "include/tensorflow/cc/client/client_session.h",
        "include/tensorflow/cc/saved_model/loader.h",
    ),
    libraries=("libtensorflow_framework.so.2", "libtensorflow_cc.so.2"),
    include=("include",),
)
PYTORCH_FILES = dict(
    package="torch",
    headers=(
        "include/torch/script.h",
        "include/torch/csrc/api/include/torch/torch.h",
        "include/torch/csrc/inductor/aoti_package/model_package_loader.h",
    ),
    libraries=("lib/libtorch.so", "lib/libtorch_cpu.so", "lib/libc10.so"),
    include=("include", "include/torch/csrc/api/include"),
)


@dataclass(frozen=True)
class CppRoute:
    """One way to load a trained model in C++: its program, and the export it loads (from the deployment claim)."""

    framework: str
    route: str
    program: str
    model: str  # the key of the deployment export it loads
    channels_first: bool
    current: bool  # False for a route its framework deprecates
    full_mode_only: bool = False


ROUTES = (
    CppRoute("TensorFlow", "C API: TF_LoadSessionFromSavedModel", TF_LOADER, "SavedModel", False, True),
    CppRoute("PyTorch", "AOTInductor: AOTIModelPackageLoader", AOTI_LOADER, "AOTInductor", True, True),
    CppRoute("PyTorch", "TorchScript: torch::jit::load", TORCHSCRIPT_LOADER, "TorchScript", True, False, True),
)
FILES = {"TensorFlow": TENSORFLOW_FILES, "PyTorch": PYTORCH_FILES}


def package_folder(package: str) -> Path | None:
    """Where ``package`` is installed, found without importing it (importing TensorFlow costs ~800 MB)."""
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def compile_program(route: CppRoute, root: Path, folder: Path) -> dict:
    """Compile ``route.program`` against the wheel installed in ``root``; say how it went."""
    files = FILES[route.framework]
    name = route.route.split(":")[0].lower().replace(" ", "_")
    source, binary = folder / f"{name}_load.cc", folder / f"{name}_load"
    source.write_text(route.program)
    libraries = [root / library for library in files["libraries"]]
    # gold links against libtensorflow_cc.so.2 (1 GB) in 0.4 GB of memory and 3 s, GNU ld in 1 GB and 10 s.
    linker = ["-fuse-ld=gold"] if shutil.which("ld.gold") else []
    command = [
        "g++",
        "-std=c++17",
        "-O1",
        *linker,
        "-w",  # PyTorch's headers warn about C++20 features under C++17
        str(source),
        *[f"-I{root / include}" for include in files["include"]],
        *[f"-l:{library.name}" for library in libraries],
        *sorted({f"-L{library.parent}" for library in libraries}),
        *sorted({f"-Wl,-rpath,{library.parent}" for library in libraries}),
        "-o",
        str(binary),
    ]
    start = time.perf_counter()
    built = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if built.returncode != 0:
        return {"compiled": False, "seconds": seconds, "output": (built.stderr.strip().splitlines() or ["?"])[-1]}
    return {"compiled": True, "seconds": seconds, "binary": str(binary)}


def run_program(route: CppRoute, binary: str, model: Path, images: Path, logits: Path, extra: list[str]) -> dict:
    """Run a compiled loader on ``images``; it writes ``logits``. Its exit status and its one line of output."""
    if route.framework == "TensorFlow":
        arguments = [str(model), *extra, str(images), str(CPP_IMAGES), str(logits)]
    else:
        arguments = [str(model), str(images), str(CPP_IMAGES), str(logits)]
    ran = subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=300)
    output = ran.stdout.strip() or (ran.stderr.strip().splitlines() or ["no output"])[-1]
    return {"ran": ran.returncode == 0 and logits.is_file(), "output": output}


@dataclass
class CppReport:
    """Each framework's C++ side: the files its wheel installed, and the loaders built and run against them."""

    found: dict[str, dict]  # framework: {"present": [...], "missing": [...]}
    loaded: dict[str, dict]  # route: {"framework", "current", "compiled"..., "ran", "max_abs_difference"...}
    compiler: str | None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for route, result in self.loaded.items():
            files = self.found[result["framework"]]
            if "why_not" in result:
                outcome = "not built: " + result["why_not"]
            elif not result["compiled"]:
                outcome = f"did not compile: {result['output']}"
            else:
                outcome = f"compiled in {result['seconds']:.0f} s; {result['output']}"
            row = {
                "framework": result["framework"],
                "route": route,
                "documented as": "current" if result["current"] else "deprecated",
                "C++ files in the wheel": f"{len(files['present'])} of {len(files['present']) + len(files['missing'])}",
                "program": outcome,
            }
            if "max_abs_difference" in result:
                row["largest logit difference"] = f"{result['max_abs_difference']:.1e}"
                row["same predicted class"] = f"{result['same_prediction']:.2%}"
            rows.append(row)
        return pd.DataFrame(rows).set_index("route")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"C++ loaders": self.table()}

    def predicted(self, route: str) -> bool:
        result = self.loaded.get(route, {})
        return bool(result.get("ran")) and result.get("max_abs_difference", np.inf) <= EXPORT_TOLERANCE

    def half(self, framework: str) -> tuple[str, str]:
        """One framework's half of the claim, on its own evidence: (outcome, reason)."""
        files = self.found[framework]
        if files["missing"]:
            return "partly", f"its wheel lacks {', '.join(files['missing'])}"
        current = [
            route for route, result in self.loaded.items() if result["framework"] == framework and result["current"]
        ]
        worked = [route for route in current if self.predicted(route)]
        if worked:
            return "holds", f"a C++ program loaded its trained model ({worked[0]}) and predicted as the original"
        tried = [route for route in current if "why_not" not in self.loaded[route]]
        if tried:
            return "does not hold", f"the C++ program ({tried[0]}) did not predict as the original"
        return "as far as the files go", "its wheel ships the C++ headers and libraries, but no program was built here"

    def decision(self) -> str:
        halves = {framework: self.half(framework) for framework in self.found}
        parts = "; ".join(f"{framework}: {outcome} ({why})" for framework, (outcome, why) in halves.items())
        outcomes = {outcome for outcome, _ in halves.values()}
        if outcomes == {"holds"}:
            head = "true of both"
        elif "does not hold" in outcomes or "partly" in outcomes:
            head = "partly"
        elif "holds" in outcomes:
            head = "true of one, the other as far as the files go"
        else:
            head = "true as far as the files go"
        deprecated = [
            f"{route} {'also loaded and predicted as the original' if self.predicted(route) else 'did not'}"
            for route, result in self.loaded.items()
            if not result["current"] and "why_not" not in result
        ]
        extra = f" The route PyTorch deprecates: {'; '.join(deprecated)}." if deprecated else ""
        return f"{head}: {parts}.{extra}"

    def verdict(self) -> str:
        return f"Verdict on 'TensorFlow has C++ and Python interfaces, PyTorch a C++ interface': {self.decision()}"

    def check(self) -> None:
        for framework, files in self.found.items():
            if files["missing"]:
                raise CheckFailed(f"{framework}'s wheel lacks {', '.join(files['missing'])}.")
        for route, result in self.loaded.items():
            if "why_not" in result:
                continue
            if not (result["compiled"] and result["ran"]):
                raise CheckFailed(f"the C++ program for {route} failed: {result['output']}")
            if not self.predicted(route):
                raise CheckFailed(f"the C++ program for {route} predicts differently from the original: {result}")
        print(
            "✓ both wheels ship their C++ headers and libraries; every C++ loader built here predicted as the original"
        )


def find_cpp_faces(exports: str | Path | None = None, references: dict[str, str] | None = None) -> CppReport:
    """Find each framework's C++ files; with a compiler, build each route's loader and run it on the exports.

    ``exports`` is the deployment claim's folder of trained exports (``exports/claims-deployment`` by
    default), ``references`` the file of each framework's original test logits there. Without them, or
    without a compiler, the programs are not built, and the report says why.
    """
    from concurrent.futures import ThreadPoolExecutor

    compiler = shutil.which("g++")
    folder = output_folder("runs", "cpp")
    exports = Path(exports) if exports else config.WORK_DIR / "exports" / "claims-deployment"
    references = references or {"TensorFlow": "tensorflow_reference.npy", "PyTorch": "pytorch_reference.npy"}
    found = {}
    for framework, files in FILES.items():
        root = package_folder(files["package"])
        wanted = [*files["headers"], *files["libraries"]]
        present = [file for file in wanted if root and (root / file).is_file()]
        found[framework] = {"present": present, "missing": [f for f in wanted if f not in present], "root": root}
    models = _exported_models(exports)
    loaded, to_build = {}, []
    for route in ROUTES:
        result = {"framework": route.framework, "current": route.current}
        if compiler is None:
            result["why_not"] = "no C++ compiler (g++) on this machine"
        elif found[route.framework]["missing"]:
            result["why_not"] = "the wheel lacks C++ files"
        elif route.model not in models and not (route.model == "AOTInductor" and (exports / "cnn.pt2").is_file()):
            # AOTInductor's package is compiled here, from the deployment's torch.export program.
            result["why_not"] = f"no {route.model} export in {exports}: run the deployment claim first"
        elif route.full_mode_only and config.fast_mode():
            result["why_not"] = (
                "fast mode builds the current routes only (about 17 s of compiling each); full mode builds it"
            )
        else:
            to_build.append(route)
        loaded[route.route] = result

    def build(route: CppRoute) -> dict:
        if route.model == "AOTInductor" and route.model not in models:
            made = _make_aoti_package(exports)
            if "package" not in made:
                return made
            models[route.model] = (exports / made["package"], [])
        return compile_program(route, found[route.framework]["root"], folder)

    # Two at once where there are two cores: PyTorch's side (AOTInductor's compile, then the loader's)
    # beside TensorFlow's; each peaks near 0.6 GB, within Binder's 2 GB with the notebook.
    with ThreadPoolExecutor(min(2, worker_slots())) as pool:
        builds = dict(zip(to_build, pool.map(build, to_build)))
    for route, built in builds.items():
        result = loaded[route.route] | built
        if "why_not" in built:
            loaded[route.route] = result
            continue
        if built["compiled"]:
            images = folder / f"images_{'nchw' if route.channels_first else 'nhwc'}.f32"
            if not images.is_file():
                scaled_test_images(route.channels_first)[:CPP_IMAGES].astype("float32").tofile(images)
            logits = folder / f"{route.model}_logits.f32"
            model, extra = models[route.model]
            result |= run_program(route, built["binary"], model, images, logits, extra)
            if result["ran"]:
                reference = np.load(exports / references[route.framework])
                if len(reference) != len(scaled_test_images(route.channels_first)):
                    # Exported in the other mode (the sample's test set, or MNIST's): not the same images.
                    result |= {"ran": False, "output": "the exports' test set is not this mode's: rerun deployment"}
                    loaded[route.route] = result
                    continue
                reference = reference[:CPP_IMAGES]
                result |= compare_outputs(reference, np.fromfile(logits, np.float32).reshape(reference.shape))
        result.pop("binary", None)
        loaded[route.route] = result
    for files in found.values():
        files.pop("root")
    return CppReport(found, loaded, compiler)


def _make_aoti_package(exports: Path) -> dict:
    """Compile the deployment's ``torch.export`` program into an AOTInductor package, in a PyTorch worker."""
    from .common import PYTORCH
    from .workers import WorkerFailed, run_worker

    try:
        return run_worker(PYTORCH, "aoti_package", folder=str(exports))
    except WorkerFailed as error:
        return {"compiled": False, "seconds": 0.0, "output": f"AOTInductor failed: {str(error).splitlines()[-1]}"}


def _exported_models(exports: Path) -> dict[str, tuple[Path, list[str]]]:
    """The deployment exports a C++ route loads, found in ``exports``: ``{model: (path, extra arguments)}``."""
    import json

    models = {}
    signature = exports / "tf_savedmodel_signature.json"
    if signature.is_file():  # the SavedModel's input and output tensors, as its serving signature names them
        names = json.loads(signature.read_text())
        models["SavedModel"] = (exports / "tf_savedmodel", [names["input"], names["output"]])
    for model, file in (("AOTInductor", "cnn_aoti.pt2"), ("TorchScript", "cnn_torchscript.pt")):
        if (exports / file).is_file():
            models[model] = (exports / file, [])
    program = exports / "cnn.pt2"
    if (
        "AOTInductor" in models
        and program.is_file()
        and program.stat().st_mtime > models["AOTInductor"][0].stat().st_mtime
    ):
        del models["AOTInductor"]  # compiled from an older torch.export program: compiled again
    return models
