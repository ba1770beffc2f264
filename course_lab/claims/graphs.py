"""Claim: "Keras has static graphs and PyTorch dynamic ones".

tf.function's tracing and retracing, counted; AutoGraph; what Keras's ``fit`` runs on
each backend; PyTorch's eager control flow, and what ``torch.compile`` captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

from .backends import trainable_backends
from .common import KERAS, PYTORCH, TENSORFLOW, run_all

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class GraphsReport:
    """Tracing in TensorFlow, what Keras's ``fit`` runs on each backend, and what ``torch.compile`` captures."""

    runs: dict[str, dict]

    def retracing_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.runs["tensorflow"]["retracing"]).set_index("call")

    def fit_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for key, run in self.runs.items():
            if not key.startswith("keras-"):
                continue
            traced = run["python_train_step_calls"] < run["batches"]
            rows.append(
                {
                    "Keras backend": run["backend"],
                    "batches trained": run["batches"],
                    "Python train_step ran": run["python_train_step_calls"],
                    "so fit ran": "a traced graph" if traced else "eager Python, step by step",
                    "jit_compile": run["jit_compile"],
                }
            )
        return pd.DataFrame(rows).set_index("Keras backend")

    def dynamo_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for name, explained in (
            ("the CNN's forward", self.runs["pytorch"]["cnn"]),
            ("halve_until_small", self.runs["pytorch"]["halve_until_small"]),
        ):
            breaks = "; ".join(
                f"line {item['line']} `{item['source']}`: {item['reason']}" for item in explained["breaks"]
            )
            rows.append(
                {
                    "function": name,
                    "graphs": explained["graphs"],
                    "graph breaks": explained["graph_breaks"],
                    "operations captured": ", ".join(dict.fromkeys(explained["ops"])),
                    "where and why it broke": breaks or "—",
                }
            )
        return pd.DataFrame(rows).set_index("function")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "tf.function tracing": self.retracing_table(),
            "Keras fit": self.fit_table(),
            "torch.compile": self.dynamo_table(),
        }

    def verdict(self) -> str:
        tf_run, torch_run = self.runs["tensorflow"], self.runs["pytorch"]
        fit = self.fit_table()
        lines = [
            f"TensorFlow traced `scale` {tf_run['retracing'][-1]['traces so far']} times for "
            f"{len(tf_run['retracing'])} calls: a new shape or a new Python value makes a new graph; "
            f"with an input_signature of shape [None] it traced {tf_run['input_signature_traces']} time.",
            f"AutoGraph turned the data-dependent while loop into one graph ({tf_run['autograph_traces']} trace, "
            f"ops {', '.join(op for op in tf_run['autograph_ops'] if 'While' in op)}), which ran "
            f"{tf_run['autograph_steps']['3']} and {tf_run['autograph_steps']['100']} steps on two inputs.",
        ]
        for backend, row in fit.iterrows():
            lines.append(
                f"Keras's fit on {backend}: {row['so fit ran']} (train_step's Python ran "
                f"{row['Python train_step ran']} times for {row['batches trained']} batches)."
            )
        cnn, loop = torch_run["cnn"], torch_run["halve_until_small"]
        lines.append(
            f"PyTorch ran the same loop eagerly ({torch_run['eager_steps']['3']} and "
            f"{torch_run['eager_steps']['100']} steps); torch.compile captured the CNN in {cnn['graphs']} "
            f"graph with {cnn['graph_breaks']} breaks, but broke the loop into {loop['graphs']} graphs "
            f"({loop['graph_breaks']} breaks) at its data-dependent condition."
        )
        lines.append(f"Verdict on 'Keras has static graphs and PyTorch dynamic ones': {self.decision()}")
        return "\n".join(lines)

    def decision(self) -> str:
        """The claim's verdict: does Keras's fit trace its step on each backend, and does PyTorch trace on request?"""
        traced = {
            name.removeprefix("keras-"): run["python_train_step_calls"] < run["batches"]
            for name, run in self.runs.items()
            if name.startswith("keras-")
        }
        torch_traces = self.runs["pytorch"]["cnn"]["graphs"] >= 1
        if traced.get("tensorflow") and not all(traced.values()):
            eager = ", ".join(backend for backend, was in traced.items() if not was)
            return (
                f"outdated: Keras's fit traces a graph on TensorFlow but runs eagerly on {eager}, and PyTorch "
                f"{'traces' if torch_traces else 'does not trace'} the CNN with torch.compile on request: the "
                "graph is a choice of backend and settings, in both frameworks."
            )
        if traced.get("tensorflow"):
            return (
                "half true: Keras's fit traces a static graph on every backend measured here, and PyTorch runs "
                f"eagerly unless compiled{' (torch.compile traced the CNN)' if torch_traces else ''}."
            )
        return "it does not hold here: Keras's fit ran its step eagerly, batch by batch, even on TensorFlow."

    def check(self) -> None:
        tf_run, torch_run = self.runs["tensorflow"], self.runs["pytorch"]
        expected = [True, False, True, True, True, False]
        if [row["traced"] for row in tf_run["retracing"]] != expected:
            raise CheckFailed(
                f"tf.function traced on calls {[row['traced'] for row in tf_run['retracing']]}, "
                f"not {expected}: its retracing rules have changed."
            )
        if tf_run["input_signature_traces"] != 1 or tf_run["autograph_traces"] != 1:
            raise CheckFailed("a tf.function with an input_signature, or the AutoGraph loop, traced more than once.")
        same_steps = {"3": 2, "100": 7}
        if tf_run["autograph_steps"] != same_steps or torch_run["eager_steps"] != same_steps:
            raise CheckFailed(
                f"the loop ran {tf_run['autograph_steps']} (TF) and {torch_run['eager_steps']} "
                f"(PyTorch) steps; expected {same_steps}."
            )
        if not any("While" in op for op in tf_run["autograph_ops"]):
            raise CheckFailed(f"AutoGraph made no while loop: {tf_run['autograph_ops']}.")
        if (torch_run["cnn"]["graphs"], torch_run["cnn"]["graph_breaks"]) != (1, 0):
            raise CheckFailed(f"torch.compile did not capture the CNN in one graph: {torch_run['cnn']}.")
        if torch_run["halve_until_small"]["graph_breaks"] < 1:
            raise CheckFailed("torch.compile captured the data-dependent loop without a graph break.")
        fit = self.fit_table()
        if "tensorflow" not in fit.index or "torch" not in fit.index:
            raise CheckFailed("Keras's fit was not examined on both TensorFlow and PyTorch.")
        traced = fit["so fit ran"] == "a traced graph"
        if not traced["tensorflow"] or traced["torch"]:
            raise CheckFailed(f"Keras's fit should trace on TensorFlow and run eagerly on PyTorch:\n{fit}")
        print("✓ tracing, retracing, AutoGraph, Keras's fit and torch.compile's graph breaks all as described")


def trace_graphs() -> GraphsReport:
    """Run the graph experiments: TensorFlow, PyTorch, and Keras's fit on each installed backend."""
    jobs = [("tensorflow", TENSORFLOW, "graphs", {}, {}), ("pytorch", PYTORCH, "graphs", {}, {})]
    jobs += [(f"keras-{backend}", KERAS, "graphs", {"KERAS_BACKEND": backend}, {}) for backend in trainable_backends()]
    return GraphsReport(run_all(jobs, desc="graphs", parallel=True))
