"""Claim: Keras ships pretrained models, "Xception, VGG16, VGG19, ResNet, ResNetV2, InceptionV3,
InceptionResNetV2, MobileNet, MobileNetV2, DenseNet, NASNet".

Each architecture the article lists is built with ``weights=None`` from Keras Applications, and
from torchvision where it has one, and its parameter count compared with the published figure:
keras.io's table (millions, rounded) and the ``num_params`` that torchvision records with its
weights. Counting costs no memory: Keras builds inside a ``StatelessScope`` that leaves the
variables uninitialised, torchvision on PyTorch's ``meta`` device. One forward pass on one image
is timed for the models whose weights fit in the memory left. The weights themselves cannot be
downloaded here, so the offline path is shown instead: weights saved to a local file, loaded into
a fresh model, the same predictions.
"""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.checks import CheckFailed

import numpy as np

from .common import MEMORY_PER_WORKER, SEED, available_memory, output_folder, run_jobs

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Architecture:
    """One architecture of the article's list: its Keras builder, keras.io's count, torchvision's builder."""

    family: str  # as the article names it
    keras: str
    published_millions: float  # keras.io/api/applications, "Parameters"
    torchvision: str | None


ARTICLE_ARCHITECTURES = (
    Architecture("Xception", "Xception", 22.9, None),
    Architecture("VGG16", "VGG16", 138.4, "vgg16"),
    Architecture("VGG19", "VGG19", 143.7, "vgg19"),
    Architecture("ResNet", "ResNet50", 25.6, "resnet50"),
    Architecture("ResNetV2", "ResNet50V2", 25.6, None),
    Architecture("InceptionV3", "InceptionV3", 23.9, "inception_v3"),
    Architecture("InceptionResNetV2", "InceptionResNetV2", 55.9, None),
    Architecture("MobileNet", "MobileNet", 4.3, None),
    Architecture("MobileNetV2", "MobileNetV2", 3.5, "mobilenet_v2"),
    Architecture("DenseNet", "DenseNet121", 8.1, "densenet121"),
    Architecture("NASNet", "NASNetMobile", 5.3, None),
)
KERAS_PUBLISHED = "https://keras.io/api/applications/"
# Building VGG19 (143.7 M parameters) raised a Keras process's peak by 1,368 MB: float32 weights
# and the initialisers' temporaries come to about 10 bytes a parameter.
BYTES_TO_BUILD_PER_PARAMETER = 10
ROUND_TRIP = {"keras": "MobileNetV2", "torchvision": "mobilenet_v2"}  # small enough for Binder


# Binder's limit for the notebook and its workers together. Fast mode keeps within it on any machine,
# so that what a learner runs there is what the tests ran (the workers once peaked at 2.7 GB in all).
BINDER_MEMORY = 2 * 2**30


def timed_architectures(free_bytes: int | None = None) -> list[str]:
    """The families whose forward pass is timed: those a worker can build in the memory left beside it.

    The memory left is this machine's, and in fast mode at most Binder's 2 GB.
    """
    if free_bytes is None:
        free_bytes = min(available_memory(), BINDER_MEMORY) if config.fast_mode() else available_memory()
    free = free_bytes
    budget = free - MEMORY_PER_WORKER
    return [
        a.family for a in ARTICLE_ARCHITECTURES if a.published_millions * 1e6 * BYTES_TO_BUILD_PER_PARAMETER <= budget
    ]


# Where each library keeps the pretrained weights it downloaded: the only weights this machine can check offline.
WEIGHT_CACHES = {"keras": Path("~/.keras/models"), "torchvision": Path("~/.cache/torch/hub/checkpoints")}


def cached_weights(zoo: str) -> list[str]:
    """The weight files ``zoo`` downloaded earlier and keeps in its cache (``KERAS_HOME``, ``TORCH_HOME`` honoured)."""
    folder = _cache_folder(zoo)
    return sorted(path.name for path in folder.glob("*") if path.suffix in {".h5", ".keras", ".pth", ".pt"})


def _load_cached(zoo: str, load) -> dict[str, str]:
    """Load each cached weights file into the architecture it belongs to: ``{file: "loaded" or the error}``.

    A file belongs to an architecture whose builder's name it starts with (``mobilenet_v2_weights...``,
    ``resnet50-0676ba61.pth``); the others are listed as not matched. Only memory-light ones are tried.
    """
    outcome = {}
    folder_files = cached_weights(zoo)
    for name in folder_files:
        key = name.lower().replace("-", "_")
        match = next(
            (
                arch
                for arch in ARTICLE_ARCHITECTURES
                if (arch.keras if zoo == "keras" else arch.torchvision or "\0").lower() in key.replace("_", "")
                or (arch.torchvision or "\0") in key
            ),
            None,
        )
        if match is None or match.published_millions > 30:
            outcome[name] = "not loaded: no architecture of the list, or too large for Binder's memory"
            continue
        try:
            load(match, str(_cache_folder(zoo) / name))
            outcome[name] = f"loaded into {match.family}"
        except Exception as error:  # a corrupt or foreign file: what it says is the finding
            outcome[name] = f"did not load into {match.family}: {type(error).__name__}"
    return outcome


def _cache_folder(zoo: str) -> Path:
    import os

    if zoo == "keras" and os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]) / "models"
    if zoo == "torchvision" and os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    return WEIGHT_CACHES[zoo].expanduser()


def _forward_ms(forward, image) -> float:
    """Milliseconds of one forward pass on one image: the median of three, after one to warm up."""
    forward(image)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        forward(image)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def keras_zoo(folder: str, timed: list[str]) -> dict:
    """In a fresh process: count, time and round-trip the Keras Applications the article lists."""
    import keras

    keras.utils.set_random_seed(SEED)
    models = {}
    for arch in ARTICLE_ARCHITECTURES:
        build = getattr(keras.applications, arch.keras)
        with keras.StatelessScope(initialize_variables=False):  # shapes only: no memory for the weights
            counted = build(weights=None).count_params()
        models[arch.family] = {"params": counted}
        if arch.family in timed:
            model = build(weights=None)
            image = np.random.default_rng(SEED).random((1, *model.input_shape[1:]), dtype=np.float32)
            models[arch.family]["forward_ms"] = _forward_ms(lambda x, model=model: model(x, training=False), image)
            del model
            keras.backend.clear_session()
    build = getattr(keras.applications, ROUND_TRIP["keras"])
    model = build(weights=None)
    images = np.random.default_rng(SEED).random((4, *model.input_shape[1:]), dtype=np.float32)
    path = Path(folder) / "keras_mobilenet_v2.weights.h5"
    model.save_weights(path)
    reloaded = build(weights=str(path))  # what weights="imagenet" does after its download, from a local file
    difference = np.abs(np.asarray(model(images)) - np.asarray(reloaded(images))).max()
    applications = [name for name in dir(keras.applications) if name[0].isupper()]
    # The public keras.applications.mobilenet_v2 does not re-export where its weights come from.
    from keras.src.applications.mobilenet_v2 import BASE_WEIGHT_PATH

    return {
        "cached_weights": _load_cached(
            "keras", lambda arch, path: getattr(keras.applications, arch.keras)(weights=path)
        ),
        "version": keras.__version__,
        "backend": keras.backend.backend(),
        "models": models,
        "zoo": len(applications),
        "round_trip": {"file": path.name, "max_abs_difference": float(difference)},
        "weights_from": BASE_WEIGHT_PATH,
    }


def import_torchvision() -> tuple[types.ModuleType, str | None]:
    """torchvision, and a note if it could only be imported without its C++ operators.

    PyPI's torchvision for Linux is built for CUDA. Beside a CPU-only torch its C++ operators
    (detection's ``nms`` and others) do not load, and ``import torchvision`` fails while registering
    them. The model builders are plain Python and need none of them, so the import is retried
    without that registration. With matching builds (a GPU machine, Colab), the first import works.
    """
    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        for name in [name for name in sys.modules if name.startswith("torchvision")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torch
        import torchvision

        note = (
            f"torchvision {torchvision.__version__}'s C++ operators did not load beside torch {torch.__version__} "
            f"({error}); its model builders, plain Python, were used without them."
        )
        return torchvision, note
    return torchvision, None


def torchvision_zoo(folder: str, timed: list[str]) -> dict:
    """In a fresh process: count, time and round-trip the torchvision equivalents of the article's list."""
    import torch

    torchvision, note = import_torchvision()
    torch.manual_seed(SEED)
    models = {}
    for arch in ARTICLE_ARCHITECTURES:
        if arch.torchvision is None:
            continue
        build = torchvision.models.get_model_builder(arch.torchvision)
        with torch.device("meta"):  # shapes only: no memory for the weights
            model = build(weights=None)
        counted = sum(p.numel() for p in model.parameters())
        # Keras counts batch normalisation's moving mean and variance as parameters; PyTorch keeps them as buffers.
        statistics = sum(
            b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var"))
        )
        published = torchvision.models.get_model_weights(arch.torchvision).DEFAULT.meta["num_params"]
        models[arch.family] = {"params": counted, "published": published, "keras_way": counted + statistics}
        if arch.family in timed:
            model = build(weights=None).eval()
            size = 299 if arch.torchvision == "inception_v3" else 224
            image = torch.from_numpy(np.random.default_rng(SEED).random((1, 3, size, size), dtype=np.float32))
            with torch.no_grad():
                models[arch.family]["forward_ms"] = _forward_ms(model, image)
            del model
    build = torchvision.models.get_model_builder(ROUND_TRIP["torchvision"])
    model = build(weights=None).eval()
    images = torch.from_numpy(np.random.default_rng(SEED).random((4, 3, 224, 224), dtype=np.float32))
    path = Path(folder) / "torchvision_mobilenet_v2.pt"
    torch.save(model.state_dict(), path)
    reloaded = build(weights=None).eval()
    reloaded.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        difference = (model(images) - reloaded(images)).abs().max().item()
    weights = torchvision.models.get_model_weights(ROUND_TRIP["torchvision"]).DEFAULT

    def load_torchvision(arch: Architecture, path: str) -> None:
        build = torchvision.models.get_model_builder(arch.torchvision)
        build(weights=None).load_state_dict(torch.load(path, weights_only=True))

    return {
        "cached_weights": _load_cached("torchvision", load_torchvision),
        "version": torchvision.__version__,
        "note": note,
        "models": models,
        "zoo": len(torchvision.models.list_models(module=torchvision.models)),
        "round_trip": {"file": path.name, "max_abs_difference": float(difference)},
        "weights_from": weights.url,
    }


def rounds_to(count: int, published_millions: float) -> bool:
    """Whether ``count`` parameters is what keras.io prints, in millions to one decimal."""
    return round(count / 1e6, 1) == published_millions


@dataclass
class PretrainedReport:
    """The article's architectures in each zoo: parameter counts, forward times, the offline round trip."""

    keras: dict
    torchvision: dict | None  # None when the torchvision worker failed
    failure: str | None = None  # why it did

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for arch in ARTICLE_ARCHITECTURES:
            found = self.keras["models"][arch.family]
            row = {
                "family": arch.family,
                "Keras builder": arch.keras,
                "Keras parameters": f"{found['params']:,}",
                "keras.io": f"{arch.published_millions} M",
                "Keras ms per image": _ms(found),
            }
            theirs = (self.torchvision or {}).get("models", {}).get(arch.family)
            row["torchvision builder"] = arch.torchvision or "—"
            row["torchvision parameters"] = f"{theirs['params']:,}" if theirs else "—"
            row["torchvision publishes"] = f"{theirs['published']:,}" if theirs else "—"
            row["torchvision, counted as Keras counts"] = f"{theirs['keras_way']:,}" if theirs else "—"
            row["torchvision ms per image"] = _ms(theirs) if theirs else "—"
            rows.append(row)
        return pd.DataFrame(rows).set_index("family")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"architectures": self.table()}

    def mismatched(self) -> dict[str, list[str]]:
        """The families whose counted parameters differ from the published figure, by zoo."""
        keras = [
            arch.family
            for arch in ARTICLE_ARCHITECTURES
            if not rounds_to(self.keras["models"][arch.family]["params"], arch.published_millions)
        ]
        theirs = (self.torchvision or {}).get("models", {})
        torchvision = [family for family, found in theirs.items() if found["params"] != found["published"]]
        return {"Keras": keras, "torchvision": torchvision}

    def decision(self) -> str:
        """The claim's verdict, from what each zoo built and how its counts compare with the published ones.

        It says what was checked: the architectures, and the pretrained weights only where cached.
        """
        listed = len(ARTICLE_ARCHITECTURES)
        wrong = self.mismatched()
        weights = self.weights_checked()
        if wrong["Keras"]:
            return (
                f"partly: Keras Applications builds all {listed} families, but {', '.join(wrong['Keras'])} "
                f"differ from keras.io's published parameter counts here; {weights}."
            )
        claim = (
            f"true of the architectures: Keras Applications builds all {listed} families the article lists, each "
            f"with the parameter count keras.io publishes, among {self.keras['zoo']} architectures in all; {weights}"
        )
        if self.torchvision is None:
            return f"{claim}. torchvision could not be compared here ({self.failure})."
        covered = ", ".join(self.torchvision["models"])
        other = f" ({', '.join(wrong['torchvision'])} differ from its published counts)" if wrong["torchvision"] else ""
        return (
            f"{claim}. Not unique: torchvision builds {len(self.torchvision['models'])} of them ({covered}){other}, "
            f"among {self.torchvision['zoo']} image classification architectures."
        )

    def weights_checked(self) -> str:
        """What was checked of the pretrained weights: only the files a cache holds, loaded; else nothing."""
        found = {
            zoo: (run or {}).get("cached_weights", {})
            for zoo, run in (("Keras", self.keras), ("torchvision", self.torchvision))
        }
        loaded = [
            f"{file} ({zoo})"
            for zoo, files in found.items()
            for file, said in files.items()
            if said.startswith("loaded")
        ]
        if loaded:
            return f"the pretrained weights were checked where cached: {', '.join(loaded)} loaded"
        if any(found.values()):
            return "cached weight files were found but none loaded into an architecture of the list"
        return (
            "the pretrained weights themselves were not checked: no weights file is cached here "
            f"({', '.join(str(path) for path in WEIGHT_CACHES.values())}), and downloading them needs the internet"
        )

    def verdict(self) -> str:
        lines = []
        for zoo, run in (("Keras", self.keras), ("torchvision", self.torchvision)):
            if run is None:
                lines.append(f"torchvision did not run: {self.failure}")
                continue
            trip = run["round_trip"]
            lines.append(
                f"{zoo} {run['version']}: weights saved to {trip['file']} and loaded into a fresh model; "
                f"largest difference in its predictions {trip['max_abs_difference']:.1e}. Online, the pretrained "
                f"weights come from {run['weights_from']}."
            )
            if run.get("note"):
                lines.append(run["note"])
        untimed = [a.family for a in ARTICLE_ARCHITECTURES if "forward_ms" not in self.keras["models"][a.family]]
        if untimed:
            lines.append(f"Not timed, their weights being too large for the memory left here: {', '.join(untimed)}.")
        lines.append(f"Verdict on 'Keras ships pretrained models, from Xception to NASNet': {self.decision()}")
        return "\n".join(lines)

    def check(self) -> None:
        wrong = self.mismatched()
        if wrong["Keras"] or wrong["torchvision"]:
            raise CheckFailed(f"parameter counts differ from the published ones: {wrong}")
        for zoo, run in (("Keras", self.keras), ("torchvision", self.torchvision)):
            if run is not None and run["round_trip"]["max_abs_difference"] != 0:
                raise CheckFailed(f"{zoo}'s weights, saved and loaded back, changed the model's predictions.")
        built = len(self.keras["models"]) + len((self.torchvision or {}).get("models", {}))
        print(f"✓ {built} architectures built; every count is the published one; both weight files load back exactly")


def _ms(found: dict) -> str:
    return f"{found['forward_ms']:.0f}" if "forward_ms" in found else "not timed"


def build_zoos() -> PretrainedReport:
    """Build the article's architectures in Keras (its default backend) and in torchvision, one process each.

    One after the other, so that neither disturbs the other's timings.
    """
    folder = output_folder("exports", "pretrained")
    timed = timed_architectures()
    jobs = [
        ("keras", __name__, "keras_zoo", {}, {"folder": str(folder), "timed": timed}),
        ("torchvision", __name__, "torchvision_zoo", {}, {"folder": str(folder), "timed": timed}),
    ]
    results, failures = run_jobs(jobs, desc="build the zoos")
    if "keras" in failures:
        raise CheckFailed(f"Keras Applications could not be built: {failures['keras']}")
    failure = failures.get("torchvision", "").splitlines()[0] if "torchvision" in failures else None
    return PretrainedReport(results["keras"], results.get("torchvision"), failure)
