"""The claims experiments in PyTorch: the CNN notebook's own model and step, eager and under ``torch.compile``.

Imported only by worker processes (see :mod:`course_lab.claims.workers`), never by the package.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

from course_utils.checks import accuracy
from course_utils.system import setup

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from . import common
from .common import BATCH_SIZE, PREDICT_BATCH, SEED, image_data, notebook_cnn, predict_in_batches
from .debugging import describe_error, training_loop, training_loop_bug
from .speed import SpeedSettings


def _notebook() -> dict:
    """Seed, then run the CNN notebook's exported cells: ``model`` (channels-last), ``optimizer``, ``train_step``."""
    # The experiments compare the frameworks on the CPU, and the notebook's cells put the model on a GPU where
    # PyTorch sees one: hidden from this worker process before its first question to CUDA, whose answer stays.
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    setup("pytorch", seed=SEED)
    return notebook_cnn("pytorch")


def _versions() -> dict:
    return {"framework": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads()}


def _loader(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE) -> DataLoader:
    # Shuffled by PyTorch's global generator, which setup() seeded, as in the notebook.
    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size, shuffle=True)


def _trainer(notebook: dict):
    """One epoch of the notebook's ``train_step``: dropout on, the mean loss back."""
    model, train_step = notebook["model"], notebook["train_step"]

    def train_epoch(loader: DataLoader) -> float:
        model.train()
        return float(np.mean([train_step(images, labels).item() for images, labels in loader]))

    return train_epoch


def _logits(forward, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The outputs for ``x`` in batches, without gradients; put a model in eval mode first."""
    with torch.no_grad():
        return predict_in_batches(lambda batch: forward(torch.from_numpy(batch)).numpy(), x, batch_size)


class SpeedTrial:
    """One speed variant: the notebook's model and ``train_step``, eager, compiled or under bf16 autocast."""

    def __init__(self, setting: str, data, settings: SpeedSettings):
        notebook = _notebook()
        self.model, self.data, self.settings = notebook["model"], data, settings
        self.params, self.n_test = sum(p.numel() for p in self.model.parameters()), data.n_test
        # dynamic=False: every batch has the same shape, so the compiled graph never needs to generalise.
        forward = torch.compile(self.model, dynamic=False) if setting == "compile" else self.model
        if setting == "bf16":
            # PyTorch's CPU guide: autocast the forward pass only; the loss and backward run outside it.
            def forward(images, model=self.model):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(images).float()

        self.forward = forward
        notebook["model"] = forward  # the notebook's train_step calls whatever `model` names when it runs
        self.train_epoch = _trainer({**notebook, "model": self.model})
        self.loaders: dict[int, DataLoader] = {}

    def train(self, size: int) -> float:
        if size not in self.loaders:
            self.loaders[size] = _loader(self.data.x_train[:size], self.data.y_train[:size], self.settings.batch_size)
        return common.epoch_seconds(self.train_epoch, self.loaders[size], 1)[0]

    def predict(self) -> float:
        self.model.eval()
        start = time.perf_counter()
        _logits(self.forward, self.data.x_test, self.settings.inference_batch)
        return time.perf_counter() - start


def speed_trials(settings: SpeedSettings, variants: list[str]) -> dict[str, SpeedTrial]:
    """The speed claim's variants of this worker: ``eager``, ``compile`` (torch.compile), ``bf16`` (autocast)."""
    data = image_data(channels_first=True)
    return {setting: SpeedTrial(setting, data, settings) for setting in variants}


def matmul_peaks(size: int = 2048, seconds: float = 1.0) -> dict:
    """GFLOP/s of a ``size``² matrix multiply in float32 and bfloat16, each repeated for about ``seconds``."""
    setup("pytorch", seed=SEED)
    peaks = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        a @ b  # warm-up: oneDNN picks and builds its kernel
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            count += 1
        peaks[str(dtype).removeprefix("torch.")] = 2 * size**3 * count / (time.perf_counter() - start) / 1e9
    return {"gflops": peaks, "threads": torch.get_num_threads(), "size": size}


def train(epochs: int, n_train: int | None = None, log_dir: str | None = None, export_dir: str | None = None) -> dict:
    """Train the CNN; optionally log to TensorBoard and export it (torch.export and ONNX)."""
    notebook = _notebook()
    model = notebook["model"]
    data = image_data(channels_first=True, n_train=n_train)
    loader = _loader(data.x_train, data.y_train)
    train_epoch = _trainer(notebook)
    writer = None
    if log_dir:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(Path(log_dir) / "train"))
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        losses.append(train_epoch(loader))
        if writer:
            writer.add_scalar("epoch_loss", losses[-1], epoch)
    train_seconds = time.perf_counter() - start
    if writer:
        writer.close()
    logits = _logits(model.eval(), data.x_test)
    result = {
        **_versions(),
        "losses": losses,
        "train_seconds": train_seconds,
        "test_accuracy": accuracy(logits, data.y_test),
        "n_train": len(data.y_train),
        "params": sum(p.numel() for p in model.parameters()),
    }
    if export_dir:
        result["exports"] = export(model, Path(export_dir), data.x_test[:2], logits)
        result["cpp_exports"] = cpp_exports(model, Path(export_dir), data.x_test[:2])
    return result


def cpp_exports(model: nn.Module, folder: Path, example: np.ndarray) -> dict:
    """The model for C++ by the deprecated route, a TorchScript file; and what PyTorch warns while making it.

    The warnings are the installed PyTorch's own word on TorchScript. The AOTInductor package is made
    later, by :func:`aoti_package`, in a process of its own (see there).
    """
    import warnings

    example_input = (torch.from_numpy(example),)
    # TorchScript names the class by its module, course_models.cnn_pytorch: a name torch::jit::load parses back.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.save(torch.jit.trace(model, example_input), str(folder / "cnn_torchscript.pt"))
    warned = sorted({str(warning.message).splitlines()[0] for warning in caught})
    return {"files": {"TorchScript": "cnn_torchscript.pt"}, "TorchScript warnings": warned}


def aoti_package(folder: str, program: str = "cnn.pt2", package: str = "cnn_aoti.pt2") -> dict:
    """Compile the saved ``torch.export`` program into an AOTInductor package, for C++ to load.

    AOTInductor writes C++ and builds a shared library with the C++ compiler (15 to 30 s on one core,
    the compiler near 0.6 GB): in a process of its own, after training, so that it never runs beside a
    TensorFlow worker within Binder's 2 GB.
    """
    from torch._inductor import aoti_compile_and_package

    start = time.perf_counter()
    aoti_compile_and_package(torch.export.load(Path(folder) / program), package_path=str(Path(folder) / package))
    return {**_versions(), "package": package, "seconds": time.perf_counter() - start}


def export(model: nn.Module, folder: Path, example: np.ndarray, logits: np.ndarray) -> dict[str, str]:
    """Save the trained model with torch.export, as ONNX and as an ExecuTorch program, beside its test logits."""
    folder.mkdir(parents=True, exist_ok=True)
    example_input = (torch.from_numpy(example),)
    batch = {0: torch.export.Dim("batch", min=1, max=1 << 16)}
    program = torch.export.export(model, example_input, dynamic_shapes=(batch,))
    torch.export.save(program, folder / "cnn.pt2")
    # One self-contained file: without external_data=False the weights go to a second file beside it.
    torch.onnx.export(
        model,
        example_input,
        folder / "cnn.onnx",
        dynamo=True,
        dynamic_shapes=(batch,),
        input_names=["images"],
        output_names=["logits"],
        external_data=False,
        verbose=False,
    )
    (folder / "cnn.pte").write_bytes(executorch_program(model, example_input))
    np.save(folder / "pytorch_reference.npy", logits)
    return {
        "torch.export": "cnn.pt2",
        "ONNX": "cnn.onnx",
        "ExecuTorch": "cnn.pte",
        "reference": "pytorch_reference.npy",
    }


def executorch_program(model: nn.Module, example_input: tuple[torch.Tensor, ...]) -> bytes:
    """The model lowered to an ExecuTorch program, its layers delegated to XNNPACK, the CPU kernels phones run.

    ExecuTorch plans its memory ahead for fixed shapes, so the program takes batches of exactly
    ``PREDICT_BATCH`` images. XNNPACK's passes expect weights in the default memory order (they lay
    them out for the phone's CPU themselves), so a copy of the model in that order is lowered, not
    the channels-last one that trains faster here.
    """
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    default_order = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    batch = torch.zeros(PREDICT_BATCH, *example_input[0].shape[1:])
    program = torch.export.export(default_order, (batch,))
    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer


def reload(folder: str) -> dict:
    """In a fresh process: load the torch.export program (saved in eval mode) and predict the test set."""
    setup("pytorch", seed=SEED)
    program = torch.export.load(Path(folder) / "cnn.pt2")
    logits = _logits(program.module(), common.scaled_test_images(channels_first=True))
    np.save(Path(folder) / "torch.export_reloaded.npy", logits)
    return {**_versions(), "outputs": {"torch.export": "torch.export_reloaded.npy"}}


def _with_shape_bug(notebook: dict) -> nn.Module:
    """The debugging claim's planted bug, the same in every framework: the notebook's ``CNN``, but where it
    flattens the feature maps (as Keras's Flatten does), a reshape to the 7 × 7 × 64 values of a model
    without pooling."""

    class CNN(notebook["CNN"]):
        def forward(self, images):
            return self.logits(self.dropout(self.features(images).reshape(-1, 64 * 7 * 7)))  # BUG: 64 × 5 × 5

    return CNN().to(notebook["device"], memory_format=torch.channels_last)


def shape_bug() -> dict:
    """Run the notebook's CNN with the shape bug, and its training loop with the label bug; describe both errors."""
    model = _with_shape_bug(_notebook())
    images = torch.from_numpy(image_data(channels_first=True, n_train=BATCH_SIZE).x_train)
    try:
        model(images)
    except Exception as error:  # the point is to look at whatever it raises
        cases = [{"bug": "model", "mode": "eager", "error": describe_error(error, __file__, _with_shape_bug)}]
    else:
        raise AssertionError("the buggy model ran without an error")
    data = tuple(torch.from_numpy(array) for array in common.fixed_batches(2, channels_first=True))
    notebook = _notebook()
    notebook["model"].train()
    error = training_loop_bug(training_loop, notebook["train_step"], data)
    cases.append({"bug": "loop", "mode": "training loop", "error": error})
    return {**_versions(), "cases": cases}


def halve_until_small(x):
    """Halve ``x`` until every value is at most 1: how many times depends on the data."""
    steps = 0
    while x.abs().max() > 1:
        x = x / 2
        steps += 1
    return x, steps


def graphs() -> dict:
    """Eager control flow, and what ``torch.compile`` captures and where it breaks the graph."""
    model = _notebook()["model"].eval()
    images = torch.from_numpy(image_data(channels_first=True, n_train=BATCH_SIZE).x_train)
    steps = {str(scale): halve_until_small(torch.full((3,), float(scale)))[1] for scale in (3, 100)}
    cnn = torch._dynamo.explain(model)(images)
    loop = torch._dynamo.explain(halve_until_small)(torch.full((3,), 100.0))
    return {**_versions(), "eager_steps": steps, "cnn": _explained(cnn), "halve_until_small": _explained(loop)}


def _explained(explanation) -> dict:
    """The graphs that Dynamo captured: how many, their operations, and where and why it broke them."""
    ops = [
        getattr(node.target, "__name__", str(node.target))
        for graph in explanation.graphs
        for node in graph.graph.nodes
        if node.op in ("call_function", "call_method", "call_module")
    ]
    breaks = {
        (reason.reason.splitlines()[0], frame.lineno, frame.line)
        for reason in explanation.break_reasons
        for frame in reason.user_stack[-1:]
    }
    return {
        "graphs": explanation.graph_count,
        "graph_breaks": explanation.graph_break_count,
        "ops": ops,
        "breaks": [{"reason": reason, "line": line, "source": source} for reason, line, source in sorted(breaks)],
    }


def torchscript(n_images: int = 256) -> dict:
    """Script, trace and export the notebook's trained-from-scratch CNN; compare each with eager PyTorch.

    Returns the largest output difference of each, and the warnings that scripting and tracing raise
    in this PyTorch: its own word on TorchScript's status.
    """
    import warnings

    model = _notebook()["model"].eval()
    images = torch.from_numpy(image_data(channels_first=True, n_train=n_images).x_train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted = torch.jit.script(model)
        traced = torch.jit.trace(model, images[:2])
    exported = torch.export.export(model, (images[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with torch.no_grad():
        eager = model(images)
        outputs = {"TorchScript (script)": scripted(images), "TorchScript (trace)": traced(images)}
        outputs["torch.export"] = exported.module()(images)
    said = sorted(
        {f"{warning.category.__name__}: {warning.message}" for warning in caught if "jit" in str(warning.message)}
    )
    return {
        **_versions(),
        "max_difference": {name: float((output - eager).abs().max()) for name, output in outputs.items()},
        "warnings": said,
        "images": len(images),
    }
