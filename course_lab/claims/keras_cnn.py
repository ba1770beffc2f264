"""The claims experiments in Keras 3: the CNN notebook's own model, on whichever backend ``KERAS_BACKEND`` names.

The same code runs on TensorFlow, PyTorch and JAX: Keras reads ``KERAS_BACKEND`` once,
when it is imported, which is why each backend gets a worker process of its own.
Imported only by worker processes (see :mod:`course_lab.claims.workers`), never by the package.
"""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path

from course_utils.checks import accuracy
from course_utils.system import setup

import keras
import numpy as np
from keras import layers

from .common import BATCH_SIZE, SEED, fixed_batches, image_data, notebook_cnn, scaled_test_images, timed
from .debugging import describe_error, training_loop_bug
from .speed import SpeedSettings


def _notebook() -> dict:
    """Seed, then run the CNN notebook's exported cells: ``model``, built and compiled as the notebook does."""
    setup("keras", seed=SEED)
    return notebook_cnn("keras")


def _start() -> keras.Model:
    return _notebook()["model"]


def _versions() -> dict:
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}.get(backend)
    backend_version = importlib.import_module(module).__version__ if module else None
    return {"framework": "keras", "version": keras.__version__, "backend": backend, "backend_version": backend_version}


class EpochTimer(keras.callbacks.Callback):
    """Each epoch's seconds, as ``fit`` runs it."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class SpeedTrial:
    """One speed variant: the notebook's model, compiled as the notebook does but without the accuracy metric
    (PyTorch's loop computes the loss alone), ``default``, with XLA (``xla``) or in mixed bfloat16 (``bf16``)."""

    def __init__(self, setting: str, data, settings: SpeedSettings):
        # Keras's mixed-precision guide: set the policy before building the model; the loss stays float32.
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if setting == "bf16" else "float32")
        model = _start()
        keras.mixed_precision.set_global_policy("float32")
        model.compile(optimizer=model.optimizer, loss=model.loss, jit_compile=setting == "xla")
        self.model, self.data, self.settings = model, data, settings
        self.params, self.n_test = model.count_params(), data.n_test

    def train(self, size: int) -> float:
        timer = EpochTimer()  # the epoch alone, without fit's copying of the arrays before it
        self.model.fit(
            self.data.x_train[:size],
            self.data.y_train[:size],
            batch_size=self.settings.batch_size,
            epochs=1,
            callbacks=[timer],
            verbose=0,
        )
        return timer.seconds[0]

    def predict(self) -> float:
        start = time.perf_counter()
        self.model.predict(self.data.x_test, batch_size=self.settings.inference_batch, verbose=0)
        return time.perf_counter() - start


def speed_trials(settings: SpeedSettings, variants: list[str]) -> dict[str, SpeedTrial]:
    """The speed claim's variants of this worker, on its backend: ``default``, ``xla``, ``bf16``."""
    data = image_data()
    return {setting: SpeedTrial(setting, data, settings) for setting in variants}


def train(epochs: int, n_train: int | None = None, log_dir: str | None = None, export_dir: str | None = None) -> dict:
    """Train the CNN with ``fit``; optionally log to TensorBoard, save a .keras file and export for inference."""
    model = _start()
    data = image_data(n_train=n_train)
    callbacks = [keras.callbacks.TensorBoard(log_dir=log_dir)] if log_dir else []
    start = time.perf_counter()
    history = model.fit(
        data.x_train, data.y_train, batch_size=BATCH_SIZE, epochs=epochs, callbacks=callbacks, verbose=0
    )
    train_seconds = time.perf_counter() - start
    logits = keras.ops.convert_to_numpy(model.predict(data.x_test, batch_size=1000, verbose=0))
    result = {
        **_versions(),
        "losses": history.history["loss"],
        "train_seconds": train_seconds,
        "test_accuracy": accuracy(logits, data.y_test),
        "n_train": len(data.y_train),
        "params": model.count_params(),
    }
    if export_dir:
        result["exports"] = export(model, Path(export_dir), logits)
    return result


def export(model: keras.Model, folder: Path, logits: np.ndarray) -> dict[str, str]:
    """Save the whole model as a .keras file and, on TensorFlow, export a SavedModel and a LiteRT file."""
    folder.mkdir(parents=True, exist_ok=True)
    backend = keras.backend.backend()
    files = {".keras": f"cnn_{backend}.keras", "reference": f"keras_{backend}_reference.npy"}
    model.save(folder / files[".keras"])
    if backend == "tensorflow":
        files["Keras export"] = "keras_export"
        model.export(str(folder / files["Keras export"]), format="tf_saved_model", verbose=False)
        files["LiteRT (Keras export)"] = "keras_cnn.tflite"
        model.export(str(folder / files["LiteRT (Keras export)"]), format="litert", verbose=False)
    np.save(folder / files["reference"], logits)
    return files


def reload(folder: str, keras_file: str) -> dict:
    """In a fresh process, on this process's backend: load a .keras file and predict the test set."""
    setup("keras", seed=SEED)
    model = keras.saving.load_model(Path(folder) / keras_file)
    logits = keras.ops.convert_to_numpy(model.predict(scaled_test_images(), batch_size=1000, verbose=0))
    name = f"{keras_file}_on_{keras.backend.backend()}.npy"
    np.save(Path(folder) / name, logits)
    return {**_versions(), "outputs": {".keras": name}}


def _with_shape_bug(model: keras.Model) -> keras.Model:
    """The debugging claim's planted bug, the same in every framework: the notebook's ``model`` built again from
    its own layers, but where it flattens the feature maps, a reshape to the 7 × 7 × 64 values of a model
    without pooling."""
    flatten = [type(layer) for layer in model.layers].index(layers.Flatten)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            *model.layers[:flatten],
            layers.Reshape((7 * 7 * 64,)),  # BUG: the features are 5 × 5 × 64
            *model.layers[flatten + 1 :],
        ],
        name="cnn",
    )
    return model


def _loop_with_label_bug(notebook: dict, data: tuple) -> None:
    """The CNN notebook's training loop, over ``data``, with the debugging claim's second bug."""
    model = notebook["model"]
    images, labels = data
    labels = labels + 1  # BUG: the ten classes are 0 to 9, not 1 to 10
    model.fit(images, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0)


def shape_bug() -> dict:
    """Build the notebook's CNN with the shape bug, train the right one with the label bug; describe both errors."""
    try:
        _with_shape_bug(_start())
    except Exception as error:  # the point is to look at whatever it raises
        cases = [{"bug": "model", "mode": "Sequential", "error": describe_error(error, __file__, _with_shape_bug)}]
    else:
        raise AssertionError("the buggy model was built without an error")
    data = fixed_batches(2)
    error = training_loop_bug(_loop_with_label_bug, _notebook(), data)
    cases.append({"bug": "loop", "mode": "fit", "error": error})
    return {**_versions(), "cases": cases}


def graphs() -> dict:
    """What ``fit`` runs on this backend: a graph traced once, or the Python step at every batch.

    ``train_step`` is wrapped to count how often its Python body runs. Traced into a graph,
    it runs once per trace; run eagerly, once per batch.
    """
    model = _start()
    python_calls = []
    train_step = model.train_step

    def counted_train_step(*arguments):  # JAX's train_step takes the state too: (state, data)
        python_calls.append(1)
        return train_step(*arguments)

    model.train_step = counted_train_step  # fit looks the step up on the model, so it finds this one
    data = image_data(n_train=4 * BATCH_SIZE)
    epochs = 2
    model.fit(data.x_train, data.y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    return {
        **_versions(),
        "jit_compile": bool(model.jit_compile),
        "batches": epochs * len(data.y_train) // BATCH_SIZE,
        "python_train_step_calls": len(python_calls),
    }


class BatchLosses(keras.callbacks.Callback):
    """Each batch's own loss and seconds, as ``fit`` runs it (``fit`` logs the running mean of the epoch)."""

    def __init__(self):
        super().__init__()
        self.losses, self.seconds, self._mean = [], [], 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        mean = float(logs["loss"])
        self.losses.append((batch + 1) * mean - batch * self._mean)
        self._mean = mean


def _logical_cpus(count: int) -> list[str]:
    """Split this process's CPU into ``count`` logical devices, as many as a strategy needs replicas."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def data_parallel(replicas: int, steps: int) -> dict:
    """Train the notebook's model with ``fit`` under ``tf.distribute.MirroredStrategy`` over logical CPUs.

    With ``replicas=1``, the same training without a strategy: the one-process baseline.
    Returns each batch's loss and seconds, and how far apart the replicas' weights ended up.
    """
    import tensorflow as tf

    devices = _logical_cpus(replicas)
    strategy = tf.distribute.MirroredStrategy(devices) if replicas > 1 else tf.distribute.get_strategy()
    with strategy.scope():
        model = _notebook()["model"]
    x, y = fixed_batches(steps)
    timer = BatchLosses()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, callbacks=[timer], verbose=0)
    differences = []
    for variable in model.trainable_variables:
        copies = getattr(variable.value, "values", (variable.value,))  # a MirroredVariable holds one per replica
        differences += [float(np.max(np.abs(np.asarray(copy) - np.asarray(copies[0])))) for copy in copies[1:]]
    return {
        **_versions(),
        "replicas": strategy.num_replicas_in_sync,
        "local_batch": BATCH_SIZE // strategy.num_replicas_in_sync,
        "losses": timer.losses,
        "step_seconds": timer.seconds,
        "replica_max_difference": max(differences, default=0.0),
        "variable_type": type(model.trainable_variables[0].value).__name__,
    }


def multi_worker(steps: int, weights_file: str) -> dict:
    """One worker of ``fit`` under ``tf.distribute.MultiWorkerMirroredStrategy``, as ``TF_CONFIG`` describes it.

    Started once per worker, each process with its own ``TF_CONFIG`` (the cluster's addresses and its
    own index); the workers find each other over gRPC and average every gradient with a collective
    all-reduce. Each trains on its share of every global batch of 128 and, at the end, writes its
    weights to ``weights_file``, so that the replicas can be compared from outside: one process's
    word that its variables are mirrored is not evidence.
    """
    import json
    import os

    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG, waits for the other workers
    with strategy.scope():
        model = _notebook()["model"]
    x, y = fixed_batches(steps)
    # A dataset of the global batches (fit refuses NumPy arrays under this strategy): sharded by data,
    # the strategy splits each batch of 128 into one half per worker, as the other runs do.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE).with_options(options)
    timer = BatchLosses()
    try:
        model.fit(batches, epochs=1, callbacks=[timer], verbose=0)
        fit_error, route = None, "fit"
    except ValueError as error:
        # Keras 3.15's fit fails under this strategy before its first step (it reduces the (images,
        # labels) pair, then each scalar log along an axis 0 they lack). Recorded as it is; the same
        # Keras model and optimizer then train in TensorFlow's documented custom loop for the strategy.
        # The message prints the whole batch it failed on: keep its words, not the tensors.
        said = " ".join(re.sub(r"\(PerReplica:\{.*\}\)", "(a PerReplica batch)", str(error), flags=re.S).split())
        fit_error = f"{type(error).__name__}: {said[:200]}"
        route = "custom loop: strategy.run over the Keras model and optimizer"
        timer = _custom_loop(strategy, model, batches)
    weights = np.concatenate([np.asarray(variable.value).ravel() for variable in model.trainable_variables])
    np.save(weights_file, weights)
    return {
        **_versions(),
        "task": json.loads(os.environ["TF_CONFIG"])["task"],
        "replicas": strategy.num_replicas_in_sync,
        "local_batch": BATCH_SIZE // strategy.num_replicas_in_sync,
        "losses": timer.losses,
        "step_seconds": timer.seconds,
        "strategy": type(strategy).__name__,
        "variable_type": type(model.trainable_variables[0].value).__name__,
        "weights_file": weights_file,
        "fit_error": fit_error,
        "route": route,
    }


def _custom_loop(strategy, model: keras.Model, batches) -> BatchLosses:
    """Train one epoch with ``strategy.run``, as TensorFlow's multi-worker custom-loop tutorial does.

    Each replica computes its share of the global batch's mean loss; the Keras optimizer, called in a
    replica context, all-reduces the gradients before it applies them. Returns each step's loss and seconds.
    """
    import tensorflow as tf

    with strategy.scope():
        model.optimizer.build(model.trainable_variables)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            per_image = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_image, global_batch_size=BATCH_SIZE)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def step(images, labels):
        return strategy.reduce("SUM", strategy.run(replica_step, args=(images, labels)), axis=None)

    timer = BatchLosses()
    for images, labels in strategy.experimental_distribute_dataset(batches):
        start = time.perf_counter()
        loss = float(step(images, labels))  # float() waits for the step to finish
        timer.seconds.append(time.perf_counter() - start)
        timer.losses.append(loss)
    return timer


def distribution_api(replicas: int) -> dict:
    """What ``keras.distribution.DataParallel`` does on this process's backend: are the weights replicated?"""
    import importlib.util

    if keras.backend.backend() == "tensorflow":
        _logical_cpus(replicas)
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    model = _notebook()["model"]
    x, y = fixed_batches(2)
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    value = model.trainable_variables[0].value
    sharding = getattr(value, "sharding", None)  # JAX arrays carry their placement
    # Looked up as files: finding the module would import its backend package, and with it the framework.
    backends = Path(keras.__file__).parent / "src" / "backend"
    layout_modules = {
        name: (backends / name / "distribution_lib.py").is_file() for name in ("jax", "tensorflow", "torch")
    }
    backend_code = ""
    if layout_modules.get(keras.backend.backend()):
        module = importlib.import_module(f"keras.src.backend.{keras.backend.backend()}.distribution_lib")
        backend_code = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    return {
        **_versions(),
        "devices": devices,
        "variable_type": type(value).__name__,
        "placed_on_devices": len(getattr(sharding, "device_set", ())) or 1,
        "backends_with_distribution_code": [backend for backend, found in layout_modules.items() if found],
        "backend_code_says": backend_code,
    }


class DenseReLU(keras.layers.Layer):
    """A dense layer with a ReLU, written with ``keras.ops`` alone: it runs on every backend."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, x):
        return keras.ops.relu(keras.ops.matmul(x, self.kernel) + self.bias)


def pca(x, components: int):
    """Principal components with ``keras.ops``: the data centred, projected on the covariance's top eigenvectors."""
    ops = keras.ops
    centred = x - ops.mean(x, axis=0)
    covariance = ops.matmul(ops.transpose(centred), centred) / (x.shape[0] - 1)
    values, vectors = ops.eigh(covariance)  # ascending eigenvalues
    top = ops.flip(vectors[:, -components:], axis=1)
    return ops.matmul(centred, top), ops.flip(values[-components:], axis=0) / ops.sum(values)


def k_means(x, centroids, iterations: int):
    """Lloyd's k-means with ``keras.ops``: assign each point to its nearest centroid, move each to its points' mean."""
    ops = keras.ops
    for _ in range(iterations):
        distances = ops.sum(x**2, axis=1, keepdims=True) - 2 * ops.matmul(x, ops.transpose(centroids))
        assignment = ops.argmin(distances + ops.sum(centroids**2, axis=1), axis=1)
        members = ops.one_hot(assignment, centroids.shape[0])
        counts = ops.sum(members, axis=0)
        centroids = ops.matmul(ops.transpose(members), x) / ops.maximum(counts, 1)[:, None]
    return assignment, centroids


def low_level(folder: str, n_images: int = 1000, components: int = 2, clusters: int = 10, iterations: int = 10) -> dict:
    """Run the ``keras.ops`` layer, PCA and k-means on this backend; save their outputs for comparison."""
    setup("keras", seed=SEED)
    x = scaled_test_images()[:n_images].reshape(n_images, -1)
    layer = DenseReLU(16)
    layer.build(x.shape)
    rng = np.random.default_rng(SEED)  # the same weights on every backend, so that the outputs can be compared
    weights = [rng.normal(0, 0.05, (x.shape[1], 16)).astype("float32"), rng.normal(0, 0.05, 16).astype("float32")]
    layer.set_weights(weights)
    tensor = keras.ops.convert_to_tensor(x)
    projection, explained = pca(tensor, components)
    assignment, centroids = k_means(tensor, tensor[:clusters], iterations)
    outputs = {
        "layer": layer(tensor),
        "pca_projection": projection,
        "pca_explained": explained,
        "kmeans_assignment": assignment,
        "kmeans_centroids": centroids,
    }
    backend = keras.backend.backend()
    files = {}
    seconds = {
        "pca": timed(lambda: keras.ops.convert_to_numpy(pca(tensor, components)[0])),
        "kmeans": timed(lambda: keras.ops.convert_to_numpy(k_means(tensor, tensor[:clusters], iterations)[1])),
    }
    for name, value in outputs.items():
        files[name] = f"{backend}_{name}.npy"
        np.save(Path(folder) / files[name], keras.ops.convert_to_numpy(value))
    np.save(Path(folder) / "layer_weights.npy", np.concatenate([weights[0], weights[1][None]]))
    return {
        **_versions(),
        "files": files,
        "settings": {"n_images": n_images, "components": components, "clusters": clusters, "iterations": iterations},
        "seconds": seconds,
        "dispatch": dispatch(tensor),
    }


def dispatch(tensor) -> dict:
    """Where ``keras.ops.matmul`` computes on this backend: the function it calls, and the tensor it returns.

    Keras 3's ops are a thin layer: each looks up the backend's own function
    (``keras.src.backend.<backend>.numpy.matmul``), which calls the framework (``tf.matmul``,
    ``torch.matmul``, ``jnp.matmul``); the result is the framework's own tensor type.
    """
    import inspect

    from keras.src import backend as backends

    implementation = backends.numpy.matmul
    result = keras.ops.matmul(tensor[:2], keras.ops.transpose(tensor[:2]))
    source = inspect.getsource(implementation)
    framework_calls = sorted(set(re.findall(r"\b(tf|torch|jnp|jax|np)\.[a-z_.]*matmul", source)))
    return {
        "implementation": f"{implementation.__module__}.{implementation.__name__}",
        "result_type": f"{type(result).__module__}.{type(result).__qualname__}",
        "framework_calls": framework_calls,
    }
