"""Experiments that test what blog posts claim about Keras, TensorFlow and PyTorch.

One module per claim. Each runs its experiment in fresh worker processes (one per
framework or Keras backend, see :mod:`course_lab.claims.workers`) and returns a report: tables,
a verdict worked out from the numbers, and ``check()``, which raises
:class:`~course_utils.checks.CheckFailed` when something real is missing.

| claim                                                   | run it with                      |
|---------------------------------------------------------|----------------------------------|
| "Keras is slower than PyTorch, and only for small data" | :func:`speed.measure_speed`       |
| "Keras's backends are TensorFlow, Theano and CNTK"      | :func:`backends.compare_backends` |
| "Keras has static graphs and PyTorch dynamic ones"      | :func:`graphs.trace_graphs`       |
| "PyTorch is easier to debug"                            | :func:`debugging.provoke_shape_bugs` |
| "PyTorch has no monitoring tool like TensorBoard"       | :func:`monitoring.log_to_tensorboard` |
| "PyTorch exports to ONNX, TensorFlow deploys"           | :func:`deployment.export_and_reload` |
| "Keras does distributed, data-parallel training"        | :func:`distributed.train_data_parallel` |
| "PyTorch shifts to graph mode with TorchScript"         | :func:`torchscript.script_trace_export` |
| "Keras can't do low-level work, nor PCA and clustering" | :func:`lowlevel.compare_with_numpy` |
| "Keras ships pretrained models, Xception to NASNet"     | :func:`pretrained.build_zoos`      |
| "TensorFlow and PyTorch have C++ interfaces"            | :func:`cpp.find_cpp_faces`         |

The experiments train the CNN of ``notebooks/02_cnn``: ``keras_cnn``, ``tensorflow_cnn`` and
``pytorch_cnn`` run that notebook's hyperparameters, model and training step from ``course_models``,
which ``course export`` writes from its cells, so the model a claim measures is the one the course
teaches. Only the workers import those three modules: importing this package imports no framework.
"""

from .backends import compare_backends
from .cpp import find_cpp_faces
from .debugging import provoke_shape_bugs
from .deployment import export_and_reload
from .distributed import train_data_parallel
from .graphs import trace_graphs
from .lowlevel import compare_with_numpy
from .monitoring import log_to_tensorboard
from .pretrained import build_zoos
from .speed import SpeedSettings, measure_speed
from .torchscript import script_trace_export

EXPERIMENTS = {
    "speed": measure_speed,
    "backends": compare_backends,
    "graphs": trace_graphs,
    "debugging": provoke_shape_bugs,
    "tensorboard": log_to_tensorboard,
    "deployment": export_and_reload,
    "distributed": train_data_parallel,
    "torchscript": script_trace_export,
    "lowlevel": compare_with_numpy,
    "pretrained": build_zoos,
    "cpp": find_cpp_faces,
}

__all__ = [
    "EXPERIMENTS",
    "SpeedSettings",
    "build_zoos",
    "compare_backends",
    "compare_with_numpy",
    "find_cpp_faces",
    "export_and_reload",
    "log_to_tensorboard",
    "measure_speed",
    "provoke_shape_bugs",
    "trace_graphs",
    "script_trace_export",
    "train_data_parallel",
]
