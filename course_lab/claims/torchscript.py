"""Claim: "PyTorch's eager mode shifts seamlessly to graph mode with TorchScript, and TorchServe deploys it at scale".

The CNN notebook's model is scripted, traced and exported with ``torch.export``, each compared with
eager PyTorch on the same images; the installed PyTorch is asked what it says about TorchScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

from .common import EXPORT_TOLERANCE, PYTORCH, installed_versions, run_all

if TYPE_CHECKING:
    import pandas as pd

# TorchServe's status cannot be measured offline: what its maintainers published, with the dates.
TORCHSERVE_STATUS = (
    "TorchServe's repository (github.com/pytorch/serve) has been marked 'Limited Maintenance' since early 2025: "
    "no planned updates, bug fixes or security patches; its last release on PyPI is 0.12.0, of September 2024."
)


@dataclass
class TorchScriptReport:
    """The CNN scripted, traced and exported, against eager PyTorch; and what PyTorch says of TorchScript."""

    run: dict
    torchserve_version: str | None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {"graph": name, "largest difference from eager": f"{difference:.1e}"}
            for name, difference in self.run["max_difference"].items()
        ]
        return pd.DataFrame(rows).set_index("graph")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"graphs": self.table()}

    def torchscript_decision(self) -> str:
        exact = all(difference <= EXPORT_TOLERANCE for difference in self.run["max_difference"].values())
        same = (
            "the graphs compute what eager PyTorch does"
            if exact
            else "the graphs do not compute what eager PyTorch does"
        )
        deprecated = [warning for warning in self.run["warnings"] if "deprecated" in warning.lower()]
        if deprecated:
            return (
                f"outdated: PyTorch {self.run['version']} still scripts and traces the CNN, and {same}, but it "
                f"warns: {deprecated[0].split(': ', 1)[-1]}"
            )
        return f"it holds in PyTorch {self.run['version']}: the CNN scripts and traces without a warning, and {same}."

    def torchserve_decision(self) -> str:
        """Not a measurement: deploying at scale needs a model server and many machines, and the project's
        status is what its maintainers published. What this machine can say is whether it is installed."""
        installed = f"installed here ({self.torchserve_version})" if self.torchserve_version else "not installed here"
        return (
            "not measurable here: serving at scale needs TorchServe running on many machines, and TorchServe is "
            f"{installed} (pip metadata). Its status, as its maintainers published it (not measured): "
            f"{TORCHSERVE_STATUS}"
        )

    def verdict(self) -> str:
        return "\n".join(
            [
                f"Verdict on 'eager mode shifts to graph mode with TorchScript': {self.torchscript_decision()}",
                f"Verdict on 'TorchServe deploys PyTorch models at scale': {self.torchserve_decision()}",
            ]
        )

    def check(self) -> None:
        graphs = self.run["max_difference"]
        if set(graphs) != {"TorchScript (script)", "TorchScript (trace)", "torch.export"}:
            raise CheckFailed(f"graphs made: {sorted(graphs)}; expected script, trace and torch.export.")
        wrong = {name: difference for name, difference in graphs.items() if not difference <= EXPORT_TOLERANCE}
        if wrong:
            raise CheckFailed(f"these graphs compute something else than eager PyTorch: {wrong}")
        print(f"✓ scripted, traced and exported, each equal to eager PyTorch on {self.run['images']} images")


def script_trace_export() -> TorchScriptReport:
    """Run the experiment in a fresh PyTorch process."""
    runs = run_all([("pytorch", PYTORCH, "torchscript", {}, {})], desc="TorchScript")
    return TorchScriptReport(runs["pytorch"], installed_versions(["torchserve"])["torchserve"])
