"""The claims experiments in PyTorch: the course's CNN, eager and under ``torch.compile``.

Imported only by worker processes (see :mod:`course_utils.workers`), never by the package.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..checks import accuracy
from ..system import setup
from .common import (ADAM_EPSILON, BATCH_SIZE, CNN_DROPOUT, LEARNING_RATE, SEED, epoch_seconds, image_data,
                     predict_in_batches, scaled_test_images)
from .debugging import describe_error
from .speed import SpeedSettings, measure_throughput

FLAT_FEATURES = 5 * 5 * 64  # two valid 3×3 convolutions and two 2×2 poolings take 28×28 down to 5×5


class CNN(nn.Module):
    def __init__(self, flat_features: int = FLAT_FEATURES):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(CNN_DROPOUT)
        self.logits = nn.Linear(flat_features, 10)
        for layer in (self.conv1, self.conv2, self.logits):  # match Keras: Glorot weights, zero biases
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.logits(self.dropout(torch.flatten(x, 1)))


def _start() -> CNN:
    setup(SEED)
    return CNN()


def _versions() -> dict:
    return {"framework": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads()}


def _loader(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE) -> DataLoader:
    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size,
                      shuffle=True, generator=torch.Generator().manual_seed(SEED))


def _trainer(model: CNN, forward: nn.Module):
    """One epoch of training with ``forward`` (the model itself, or its compiled version)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(images, labels):
        optimizer.zero_grad()
        loss = loss_fn(forward(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    def train_epoch(loader: DataLoader) -> float:
        model.train()
        return float(np.mean([train_step(images, labels).item() for images, labels in loader]))

    return train_epoch


def _logits(forward, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The outputs for ``x`` in batches, without gradients; put a model in eval mode first."""
    with torch.no_grad():
        return predict_in_batches(lambda batch: forward(torch.from_numpy(batch)).numpy(), x, batch_size)


def throughput(settings: dict, compiled: bool = False) -> dict:
    """Training and inference images per second, eager or with ``torch.compile``."""
    settings = SpeedSettings(**settings)
    model = _start()
    data = image_data(channels_first=True)
    # dynamic=False: every batch has the same shape, so the compiled graph never needs to generalise.
    forward = torch.compile(model, dynamic=False) if compiled else model
    train_epoch = _trainer(model, forward)

    def train_epochs(size: int, count: int) -> list[float]:
        return epoch_seconds(train_epoch, _loader(data.x_train[:size], data.y_train[:size], settings.batch_size),
                             count)

    def predict():
        forward.eval()
        return _logits(forward, data.x_test, settings.inference_batch)

    measured = measure_throughput(train_epochs, predict, len(data.y_train), data.n_test, settings)
    return {**measured, **_versions(), "params": sum(p.numel() for p in model.parameters())}


def train(epochs: int, n_train: int | None = None, log_dir: str | None = None,
          export_dir: str | None = None) -> dict:
    """Train the CNN; optionally log to TensorBoard and export it (torch.export and ONNX)."""
    model = _start()
    data = image_data(channels_first=True, n_train=n_train)
    loader = _loader(data.x_train, data.y_train)
    train_epoch = _trainer(model, model)
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
    result = {**_versions(), "losses": losses, "train_seconds": train_seconds,
              "test_accuracy": accuracy(logits, data.y_test), "n_train": len(data.y_train),
              "params": sum(p.numel() for p in model.parameters())}
    if export_dir:
        result["exports"] = export(model, Path(export_dir), data.x_test[:2], logits)
    return result


def export(model: CNN, folder: Path, example: np.ndarray, logits: np.ndarray) -> dict[str, str]:
    """Save the trained model with torch.export and as ONNX, beside the logits it gave on the test set."""
    folder.mkdir(parents=True, exist_ok=True)
    example_input = (torch.from_numpy(example),)
    batch = {0: torch.export.Dim("batch", min=1, max=1 << 16)}
    program = torch.export.export(model, example_input, dynamic_shapes=(batch,))
    torch.export.save(program, folder / "cnn.pt2")
    # One self-contained file: without external_data=False the weights go to a second file beside it.
    torch.onnx.export(model, example_input, folder / "cnn.onnx", dynamo=True, dynamic_shapes=(batch,),
                      input_names=["images"], output_names=["logits"], external_data=False, verbose=False)
    np.save(folder / "pytorch_reference.npy", logits)
    return {"torch.export": "cnn.pt2", "ONNX": "cnn.onnx", "reference": "pytorch_reference.npy"}


def reload(folder: str) -> dict:
    """In a fresh process: load the torch.export program (saved in eval mode) and predict the test set."""
    setup(SEED)
    program = torch.export.load(Path(folder) / "cnn.pt2")
    logits = _logits(program.module(), scaled_test_images(channels_first=True))
    np.save(Path(folder) / "torch.export_reloaded.npy", logits)
    return {**_versions(), "outputs": {"torch.export": "torch.export_reloaded.npy"}}


def shape_bug() -> dict:
    """Run the CNN built with one shape bug, and describe the error it raises."""
    setup(SEED)
    model = CNN(flat_features=7 * 7 * 64)  # BUG: the features are 5 × 5 × 64 (valid convolutions shrink)
    images = torch.from_numpy(image_data(channels_first=True, n_train=BATCH_SIZE).x_train)
    try:
        model(images)
    except Exception as error:  # the point is to look at whatever it raises
        return {**_versions(), "cases": [{"mode": "eager", "error": describe_error(error, __file__)}]}
    raise AssertionError("the buggy model ran without an error")


def halve_until_small(x):
    """Halve ``x`` until every value is at most 1: how many times depends on the data."""
    steps = 0
    while x.abs().max() > 1:
        x = x / 2
        steps += 1
    return x, steps


def graphs() -> dict:
    """Eager control flow, and what ``torch.compile`` captures and where it breaks the graph."""
    model = _start().eval()
    images = torch.from_numpy(image_data(channels_first=True, n_train=BATCH_SIZE).x_train)
    steps = {str(scale): halve_until_small(torch.full((3,), float(scale)))[1] for scale in (3, 100)}
    cnn = torch._dynamo.explain(model)(images)
    loop = torch._dynamo.explain(halve_until_small)(torch.full((3,), 100.0))
    return {
        **_versions(),
        "eager_steps": steps,
        "cnn": _explained(cnn),
        "halve_until_small": _explained(loop),
    }


def _explained(explanation) -> dict:
    """The graphs that Dynamo captured: how many, their operations, and where and why it broke them."""
    ops = [getattr(node.target, "__name__", str(node.target)) for graph in explanation.graphs
           for node in graph.graph.nodes if node.op in ("call_function", "call_method", "call_module")]
    breaks = {(reason.reason.splitlines()[0], frame.lineno, frame.line)
              for reason in explanation.break_reasons for frame in reason.user_stack[-1:]}
    return {"graphs": explanation.graph_count, "graph_breaks": explanation.graph_break_count, "ops": ops,
            "breaks": [{"reason": reason, "line": line, "source": source} for reason, line, source in sorted(breaks)]}
