"""The claims experiments in low-level TensorFlow: the CNN notebook's own ``tf.Module`` and training step.

Eager, or with the step under ``tf.function`` as the notebook writes it. Imported only by
worker processes (see :mod:`course_lab.claims.workers`), never by the package.
"""

from __future__ import annotations

import time
from pathlib import Path

from course_utils.checks import accuracy
from course_utils.system import setup

import numpy as np
import tensorflow as tf

from . import common
from .common import BATCH_SIZE, SEED, image_data, notebook_cnn, predict_in_batches
from .debugging import describe_error, training_loop, training_loop_bug
from .speed import SpeedSettings

IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)


def _notebook() -> dict:
    """Seed, then run the CNN notebook's exported cells: ``model``, its ``optimizer`` and the traced ``train_step``."""
    setup("tensorflow", seed=SEED)
    return notebook_cnn("tensorflow")


def _versions() -> dict:
    return {"framework": "tensorflow", "version": tf.__version__}


def _params(model: tf.Module) -> int:
    return sum(int(tf.size(variable)) for variable in model.trainable_variables)


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE) -> tf.data.Dataset:
    # Shuffled with the global seed that setup() set, as in the notebook.
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _trainer(notebook: dict, compiled: bool):
    """One epoch of the notebook's step: traced by its ``@tf.function``, or its Python function run eagerly."""
    step = notebook["train_step"] if compiled else notebook["train_step"].python_function

    def train_epoch(batches: tf.data.Dataset) -> float:
        return float(tf.reduce_mean([step(images, labels) for images, labels in batches]))

    return train_epoch


class SpeedTrial:
    """One speed variant: the notebook's model and training step, traced (``function``) or eager (``eager``)."""

    def __init__(self, setting: str, data, settings: SpeedSettings):
        notebook = _notebook()
        model = notebook["model"]
        self.train_epoch = _trainer(notebook, compiled=setting == "function")
        self.forward = tf.function(model.__call__, input_signature=[IMAGES]) if setting == "function" else model
        self.data, self.settings = data, settings
        self.params, self.n_test = _params(model), data.n_test
        self.batches: dict[int, tf.data.Dataset] = {}

    def train(self, size: int) -> float:
        if size not in self.batches:
            self.batches[size] = _batches(self.data.x_train[:size], self.data.y_train[:size], self.settings.batch_size)
        return common.epoch_seconds(self.train_epoch, self.batches[size], 1)[0]

    def predict(self) -> float:
        start = time.perf_counter()
        predict_in_batches(self.forward, self.data.x_test, self.settings.inference_batch)
        return time.perf_counter() - start


def speed_trials(settings: SpeedSettings, variants: list[str]) -> dict[str, SpeedTrial]:
    """The speed claim's variants of this worker: ``function`` (the notebook's tf.function) and ``eager``."""
    data = image_data()
    return {setting: SpeedTrial(setting, data, settings) for setting in variants}


def train(epochs: int, n_train: int | None = None, log_dir: str | None = None, export_dir: str | None = None) -> dict:
    """Train the CNN with tf.function; optionally log to TensorBoard and export a SavedModel."""
    notebook = _notebook()
    model = notebook["model"]
    data = image_data(n_train=n_train)
    batches = _batches(data.x_train, data.y_train)
    train_epoch = _trainer(notebook, compiled=True)
    writer = tf.summary.create_file_writer(str(Path(log_dir) / "train")) if log_dir else None
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        losses.append(train_epoch(batches))
        if writer:
            with writer.as_default():
                tf.summary.scalar("epoch_loss", losses[-1], step=epoch)
    train_seconds = time.perf_counter() - start
    if writer:
        writer.close()
    logits = predict_in_batches(model, data.x_test)
    result = {
        **_versions(),
        "losses": losses,
        "train_seconds": train_seconds,
        "test_accuracy": accuracy(logits, data.y_test),
        "n_train": len(data.y_train),
        "params": _params(model),
    }
    if export_dir:
        result["exports"] = export(model, Path(export_dir), logits)
    return result


def export(model: tf.Module, folder: Path, logits: np.ndarray) -> dict[str, str]:
    """Save a SavedModel with a ``serve`` signature, and a LiteRT (TensorFlow Lite) file converted from it."""
    folder.mkdir(parents=True, exist_ok=True)
    model.serve = tf.function(model.__call__, input_signature=[IMAGES])
    tf.saved_model.save(model, str(folder / "tf_savedmodel"), signatures={"serving_default": model.serve})
    _write_signature(folder / "tf_savedmodel", folder / "tf_savedmodel_signature.json")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder / "tf_savedmodel"))
    (folder / "tensorflow_cnn.tflite").write_bytes(converter.convert())
    np.save(folder / "tensorflow_reference.npy", logits)
    return {"SavedModel": "tf_savedmodel", "LiteRT": "tensorflow_cnn.tflite", "reference": "tensorflow_reference.npy"}


def _write_signature(saved_model: Path, path: Path) -> None:
    """The serving signature's input and output tensor names, for a C program that loads the SavedModel.

    The C API runs tensors by their graph names ("serving_default_images:0"), which only the
    SavedModel's own protocol buffer records; a C program has no parser for it.
    """
    import json

    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes())
    signature = saved.meta_graphs[0].signature_def["serving_default"]
    (input_info,), (output_info,) = signature.inputs.values(), signature.outputs.values()
    path.write_text(json.dumps({"input": input_info.name, "output": output_info.name}))


def reload(folder: str, saved_models: dict[str, str]) -> dict:
    """In a fresh process, with no Keras code: load SavedModels and predict the test set.

    ``saved_models`` maps a name to a SavedModel folder whose ``serve`` function takes the images.
    """
    setup("tensorflow", seed=SEED)
    folder = Path(folder)
    x_test = common.scaled_test_images()
    outputs = {}
    for name, path in saved_models.items():
        loaded = tf.saved_model.load(str(folder / path))
        outputs[name] = f"{name}_reloaded.npy"
        np.save(folder / outputs[name], predict_in_batches(loaded.serve, x_test))
    return {**_versions(), "outputs": outputs, "tf_lite_warnings": _tf_lite_warnings(folder)}


def _tf_lite_warnings(folder: Path) -> list[str]:
    """What the installed TensorFlow says when its own TF Lite interpreter opens a model: its word on LiteRT."""
    import warnings

    models = sorted(folder.glob("*.tflite"))
    if not models:
        return []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tf.lite.Interpreter(model_path=str(models[0]))
    return [" ".join(str(warning.message).split()) for warning in caught]


def _with_shape_bug(notebook: dict) -> tf.Module:
    """The debugging claim's planted bug, the same in every framework: the notebook's ``CNN``, but where it
    flattens the feature maps, a reshape to the 7 × 7 × 64 values of a model without pooling."""
    DROPOUT = notebook["DROPOUT"]  # the notebook's name, so that the method reads as the notebook's does

    class CNN(notebook["CNN"]):
        def __call__(self, images, training=False):
            x = tf.reshape(self.features(images), (-1, 7 * 7 * 64))  # BUG: the features are 5 × 5 × 64
            if training:
                x = tf.nn.dropout(x, rate=DROPOUT)
            return self.logits(x)

    return CNN()


def shape_bug() -> dict:
    """Run the notebook's CNN with the shape bug, eagerly and traced, and its training loop with the label
    bug; describe the errors they raise."""
    model = _with_shape_bug(_notebook())
    images = image_data(n_train=BATCH_SIZE).x_train
    cases = []
    for mode, forward in (("eager", model), ("tf.function", tf.function(model.__call__))):
        try:
            forward(images)
        except Exception as error:  # the point is to look at whatever it raises
            cases.append({"bug": "model", "mode": mode, "error": describe_error(error, __file__, _with_shape_bug)})
        else:
            raise AssertionError(f"the buggy model ran without an error ({mode})")
    data = common.fixed_batches(2)
    error = training_loop_bug(training_loop, _notebook()["train_step"], data)
    cases.append({"bug": "loop", "mode": "training loop", "error": error})
    return {**_versions(), "cases": cases}


def halve_until_small(x):
    """Halve ``x`` until every value is at most 1: how many times depends on the data."""
    steps = 0
    while tf.reduce_max(tf.abs(x)) > 1:
        x = x / 2
        steps += 1
    return x, steps


def graphs() -> dict:
    """tf.function's tracing and retracing, counted; and a data-dependent loop that AutoGraph turns into a graph."""
    setup("tensorflow", seed=SEED)
    traced_with = []

    @tf.function
    def scale(x, factor):
        traced_with.append(f"x of shape {x.shape}, factor {factor!r}")  # Python runs only while tracing
        return x * factor

    calls = [
        ("a tensor of shape [2], Python float 2.0", tf.ones([2]), 2.0),
        ("the same again", tf.ones([2]), 2.0),
        ("a new shape, [3]", tf.ones([3]), 2.0),
        ("a new Python float, 3.0", tf.ones([3]), 3.0),
        ("the factor as a tensor, 3.0", tf.ones([3]), tf.constant(3.0)),
        ("another tensor factor, 4.0", tf.ones([3]), tf.constant(4.0)),
    ]
    rows = []
    for label, x, factor in calls:
        before = scale.experimental_get_tracing_count()
        scale(x, factor)
        rows.append(
            {
                "call": label,
                "traced": scale.experimental_get_tracing_count() > before,
                "traces so far": scale.experimental_get_tracing_count(),
            }
        )
    general = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([None], tf.float32)])
    for size in (2, 3, 4, 5):
        general(tf.ones([size]))
    halve = tf.function(halve_until_small)
    steps = {str(value): int(halve(tf.fill([3], float(value)))[1]) for value in (3, 100)}
    graph = halve.get_concrete_function(tf.TensorSpec([3], tf.float32)).graph
    return {
        **_versions(),
        "retracing": rows,
        "traced_with": traced_with,
        "input_signature_traces": general.experimental_get_tracing_count(),
        "autograph_steps": steps,
        "autograph_traces": halve.experimental_get_tracing_count(),
        "autograph_ops": sorted({op.type for op in graph.get_operations()}),
    }
