"""The comparison notebook's helpers: lines of code counted from notebooks, results joined, steps side by side."""

from __future__ import annotations

import itertools
from pathlib import Path

from course_utils import results
from course_utils.checks import CheckFailed
from course_utils.data import Dataset
from course_utils.tasks import FRAMEWORKS, TASKS

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lab import compare, records

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


def test_the_course_notebooks_are_counted_each_step_where_its_notebook_has_it() -> None:
    loc = compare.lines_of_code().set_index(["task", "framework"])
    assert sorted(loc.index) == sorted(itertools.product(TASKS, FRAMEWORKS)), "all nine task notebooks, once each"
    for (task, framework), counts in loc.iterrows():
        notebook = nbformat.read(compare.paired_notebooks()[task][framework], as_version=4)
        tags = {tag for cell in notebook.cells if cell.cell_type == "code" for tag in cell.metadata.get("tags", [])}
        for step in compare.STEPS:  # read here with nbformat, not through the helpers under test
            assert (counts[step] > 0) == (step in tags), f"{task}/{framework}: {step} counted {counts[step]}"
        assert sum(counts[step] for step in compare.STEPS) <= counts["all code lines"]
        # The three frameworks' notebooks differ, but share their setup and check: some lines are each one's own.
        assert 0 < counts["framework lines"] < counts["all code lines"], f"{task}/{framework}"
        assert counts["framework API names"] > 0, f"{task}/{framework}"


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


def test_plot_comparison_draws_a_readable_panel_per_measure_with_one_legend(root: Path, recorded: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    from course_lab import figures

    loc = compare.lines_of_code(root)
    figure = compare.plot_comparison(compare.comparison_table(recorded, loc), loc)
    try:
        assert tuple(figure.get_size_inches()) == (10, 7.9)
        axes = figure.axes
        assert [axis.get_subplotspec().get_geometry()[:2] for axis in axes] == [(2, 2)] * 4
        assert [axis.get_title() for axis in axes] == [
            "Test accuracy",
            "Training time per epoch",
            "Peak memory of the kernel",
            "Lines of framework code",
        ]
        assert all(axis.get_xlabel() == "task" and axis.get_ylabel() for axis in axes)
        assert all(axis.get_ylim()[0] == 0 for axis in axes), "every axis starts at zero"
        accuracy, per_epoch, _memory, lines = axes
        assert accuracy.get_ylim()[1] >= 1 and list(accuracy.get_yticks()) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
        assert [tick.get_text() for tick in accuracy.get_xticklabels()] == ["MLP"]

        def printed(axis) -> list[str]:
            return [text.get_text() for text in axis.texts if text.get_text()]

        # Keras 91%, PyTorch 93% (no TensorFlow run), 3 s per epoch; lines counted in all four notebooks.
        assert printed(accuracy) == ["91.0", "93.0"] and printed(per_epoch) == ["3.0", "3.0"]
        # Framework lines for the MLP (Keras 3, TensorFlow 5, PyTorch 5); the CNN's Keras alone has none to show.
        assert printed(lines) == ["3", "5", "5"]
        assert [tick.get_text() for tick in lines.get_xticklabels()] == ["MLP", "CNN"]
        # One legend for all panels, above them, naming every framework shown once, in its colour.
        assert all(axis.get_legend() is None for axis in axes) and len(figure.legends) == 1
        legend = figure.legends[0]
        assert [text.get_text() for text in legend.get_texts()] == ["Keras", "TensorFlow", "PyTorch"]
        colours = [matplotlib_colour(patch.get_facecolor()) for patch in legend.get_patches()]
        assert colours == [matplotlib_colour(c) for c in figures.framework_colours(["keras", "tensorflow", "pytorch"])]
        assert legend.get_window_extent().y0 >= max(axis.get_window_extent().y1 for axis in axes)
    finally:
        plt.close(figure)


def matplotlib_colour(colour: object) -> tuple[float, ...]:
    from matplotlib.colors import to_rgba

    return tuple(round(channel, 3) for channel in to_rgba(colour))


def test_plot_comparison_puts_fewer_panels_in_a_row(root: Path, recorded: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    table = compare.comparison_table(recorded, compare.lines_of_code(root)).drop(columns=["peak memory MB"])
    figure = compare.plot_comparison(table, compare.lines_of_code(root).iloc[0:0])
    try:
        assert [axis.get_title() for axis in figure.axes] == ["Test accuracy", "Training time per epoch"]
        assert [axis.get_subplotspec().get_geometry()[:2] for axis in figure.axes] == [(1, 2)] * 2
        assert figure.get_size_inches()[0] == 10
    finally:
        plt.close(figure)
    with pytest.raises(ValueError, match="nothing to plot"):
        compare.plot_comparison(table.iloc[0:0], compare.lines_of_code(root).iloc[0:0])


def test_the_tables_show_percent_seconds_and_counts_not_raw_floats(root: Path, recorded: pd.DataFrame) -> None:
    from course_lab import tables

    table = compare.comparison_table(recorded, compare.lines_of_code(root))
    table.loc[("mlp", "keras"), ["training s", "s per epoch", "peak memory MB"]] = [1234.567, 0.0712, 2048.4]
    table.loc[("mlp", "pytorch"), "peak memory MB"] = float("nan")  # not measured
    html = tables.styled(table).to_html()
    for shown in ("91.00%", "93.00%", "1,234.6", "0.07", "3.0", "101,770", "2,048", ">MLP<", ">Keras<", ">PyTorch<"):
        assert shown in html, shown
    for raw in ("0.91", "1234.567", "101770", ">mlp<", ">keras<"):
        assert raw not in html, raw
    assert 'class="dataframe"' in html and "text-align: right" in html
    # The same table as text, for a front end without HTML: aligned, formatted alike.
    text = repr(tables.styled(table)).splitlines()
    assert text[2].split() == ["MLP", "Keras", "91.00%", "1,234.6", "0.07", "101,770", "3", "2,048", "sample"]
    assert text[3].split() == ["PyTorch", "93.00%", "12.0", "3.0", "101,770", "5", "—", "sample"]
    # The numbers stay numbers underneath, and the lines-of-code table's gap is a dash, not "nan".
    assert tables.styled(table).data.loc[("mlp", "keras"), "test accuracy"] == 0.91
    loc_html = tables.styled(compare.lines_of_code(root).set_index(["task", "framework"])).to_html()
    assert ">—<" in loc_html and "nan" not in loc_html.lower()


def test_two_styled_tables_on_one_page_keep_their_styles_apart(root: Path, recorded: pd.DataFrame) -> None:
    from course_lab import tables

    loc = compare.lines_of_code(root).set_index(["task", "framework"])
    ids = {
        tables.styled(frame).to_html().split('<table id="', 1)[1].split('"', 1)[0] for frame in (loc, loc.iloc[:, :2])
    }
    assert len(ids) == 2
    assert tables.seconds(0.0712) == "0.07" and tables.seconds(5.1655) == "5.2" and tables.seconds(1234.5) == "1,234.5"
    assert tables.percent(0.98765) == "98.77%" and tables.count(101770) == "101,770"
