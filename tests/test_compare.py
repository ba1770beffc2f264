"""The comparison notebook's helpers: lines of code counted from notebooks, results joined, steps side by side."""

from __future__ import annotations

from pathlib import Path

from course_utils import results
from course_utils.checks import CheckFailed
from course_utils.data import Dataset

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools import compare, records

MODEL = {
    "keras": "model = keras.Sequential([layers.Dense(10)])",
    "tensorflow": "class MLP(tf.Module):\n    def __call__(self, x):\n        return x @ self.w",
    "pytorch": "class MLP(nn.Module):\n    def forward(self, x):\n        return self.logits(x)",
}


def paired_notebook(framework: str, tags: tuple[str, ...] = ("define-model", "train-step", "evaluate")):
    shared = "EPOCHS = course.epochs(full=10, fast=8)\n\n# a comment\nprint('start')"
    cells = [new_markdown_cell("## Setup"), new_code_cell(shared)]
    for tag in ("define-model", "train-step", "evaluate"):
        source = MODEL[framework] if tag == "define-model" else f"{framework}_{tag.replace('-', '_')}()"
        cells.append(new_code_cell(source, metadata={"tags": [tag]} if tag in tags else {}))
    cells.append(new_code_cell(f'%time\ncourse.check_results("mlp", "{framework}", probabilities)'))
    cells += [new_markdown_cell("## Exercises"), new_code_cell("wide = keras.Sequential([layers.Dense(256)])")]
    return new_notebook(cells=cells)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A notebooks folder: the MLP in three frameworks, the CNN in Keras only."""
    for framework in ("keras", "tensorflow", "pytorch"):
        (tmp_path / "01_mlp").mkdir(exist_ok=True)
        nbformat.write(paired_notebook(framework), tmp_path / "01_mlp" / f"{framework}.ipynb")
    (tmp_path / "02_cnn").mkdir()
    nbformat.write(paired_notebook("keras"), tmp_path / "02_cnn" / "keras.ipynb")
    return tmp_path


def test_code_lines_leave_out_blanks_comments_and_magics() -> None:
    source = "x = 1\n\n   # why\n%time\n!ls\n    y = x  # inline comments stay\n"
    assert compare.code_lines(source) == ["x = 1", "y = x  # inline comments stay"]


def test_framework_lines_set_aside_what_all_three_share() -> None:
    sources = {
        "keras": 'EPOCHS = 3\nmodel.fit(x)\ncheck("keras")\n)\n)',
        "tensorflow": 'EPOCHS = 3\nfor batch in data:\n    step(batch)\ncheck("tensorflow")\n)',
        "pytorch": "EPOCHS = 3\nfor batch in data:\n    step(batch)\ncheck('pytorch')\n)",
    }
    own = compare.framework_lines(sources)
    assert own["keras"] == ["model.fit(x)", ")"], "a line shared once is set aside once, not every time"
    assert own["tensorflow"] == own["pytorch"] == ["for batch in data:", "step(batch)"]


def test_api_names_are_framework_attribute_chains() -> None:
    code = "model = keras.Sequential([layers.Dense(10)])\nopt = torch.optim.Adam(p)\nx = np.zeros(3)\ntf.nn.relu(x)"
    assert compare.api_names(code) == {"keras.Sequential", "layers.Dense", "torch.optim.Adam", "tf.nn.relu"}


def test_notebook_code_stops_at_the_exercises(root: Path) -> None:
    code = compare.notebook_code(root / "01_mlp" / "keras.ipynb")
    assert "Dense(10)" in code and "Dense(256)" not in code


def test_lines_of_code_counts_each_notebook_and_each_step(root: Path) -> None:
    loc = compare.lines_of_code(root).set_index(["task", "framework"])
    assert list(loc.index) == [("mlp", "keras"), ("mlp", "tensorflow"), ("mlp", "pytorch"), ("cnn", "keras")]
    assert loc.loc[("mlp", "tensorflow"), "define-model"] == 3 and loc.loc[("mlp", "keras"), "train-loop"] == 0
    # The shared setup and the check (which differs only in the framework's name) are not framework code.
    assert loc.loc[("mlp", "keras"), "framework lines"] == 3
    assert loc.loc[("mlp", "pytorch"), "framework lines"] == 5
    assert loc.loc[("mlp", "keras"), "all code lines"] == 6
    assert loc.loc[("mlp", "keras"), "framework API names"] == 2  # keras.Sequential, layers.Dense
    assert pd.isna(loc.loc[("cnn", "keras"), "framework lines"]), "no comparison without all three notebooks"


def test_the_course_notebooks_are_counted() -> None:
    loc = compare.lines_of_code()
    assert not loc.empty and (loc["define-model"] > 0).all() and (loc["all code lines"] > 0).all()


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    dataset = Dataset(
        np.zeros((40, 28, 28), np.uint8),
        np.zeros(40, np.uint8),
        np.zeros((10, 28, 28), np.uint8),
        np.zeros(10, np.uint8),
        source="sample",
    )
    for framework, accuracy in (("keras", 0.91), ("pytorch", 0.93)):
        results.record_results(
            "mlp",
            framework,
            accuracy,
            train_seconds=12.0,
            params=101_770,
            epochs=4,
            dataset=dataset,
            framework_version="1",
        )
    return records.load_results()


def test_comparison_table_joins_results_and_lines(root: Path, recorded: pd.DataFrame) -> None:
    table = compare.comparison_table(recorded, compare.lines_of_code(root))
    assert list(table.index) == [("mlp", "keras"), ("mlp", "pytorch")]
    assert table.loc[("mlp", "pytorch"), "s per epoch"] == 3.0
    assert table.loc[("mlp", "keras"), "framework lines"] == 3
    assert compare.comparison_table(recorded.iloc[0:0], compare.lines_of_code(root)).empty


def test_missing_runs_names_the_notebooks_to_run(root: Path, recorded: pd.DataFrame) -> None:
    missing = compare.missing_runs(recorded, root)
    assert [path.relative_to(root).as_posix() for path in missing] == ["01_mlp/tensorflow.ipynb", "02_cnn/keras.ipynb"]
    assert len(compare.missing_runs(recorded.iloc[0:0], root)) == 4


def test_check_comparison_wants_tagged_steps_and_consistent_records(root: Path, recorded: pd.DataFrame) -> None:
    loc = compare.lines_of_code(root)
    table = compare.comparison_table(recorded, loc)
    compare.check_comparison(table, loc)
    wrong = table.copy()
    wrong.loc[("mlp", "keras"), "parameters"] = 99
    with pytest.raises(CheckFailed, match="inconsistent"):
        compare.check_comparison(wrong, loc)
    nbformat.write(paired_notebook("pytorch", tags=("define-model", "evaluate")), root / "01_mlp" / "pytorch.ipynb")
    with pytest.raises(CheckFailed, match="no code cell tagged 'train-step'"):
        compare.check_comparison(table, compare.lines_of_code(root))
    with pytest.raises(CheckFailed, match="no paired notebooks"):
        compare.check_comparison(table, loc.iloc[0:0])


def test_side_by_side_shows_each_step_from_the_tagged_cells(root: Path) -> None:
    sources = compare.step_sources("mlp", root)
    assert list(sources) == list(compare.STEPS)
    assert sources["define-model"]["pytorch"] == MODEL["pytorch"] and sources["train-loop"]["keras"] == ""
    tabs = compare.side_by_side("mlp", root)
    assert len(tabs.children) == len(compare.STEPS) and tabs.titles[0] == "Define the model"
    keras, tensorflow, pytorch = tabs.children[0].children
    assert "Keras" in keras.value and "Sequential" in keras.value and "forward" in pytorch.value
    assert "no cell tagged" in tabs.children[2].children[0].value
    with pytest.raises(ValueError, match="no paired notebooks for task 'gan'"):
        compare.step_sources("gan", root)


def test_plot_comparison_draws_one_panel_per_measure(root: Path, recorded: pd.DataFrame) -> None:
    loc = compare.lines_of_code(root)
    figure = compare.plot_comparison(compare.comparison_table(recorded, loc), loc)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["test accuracy", "s per epoch", "peak memory MB", "framework lines"]
