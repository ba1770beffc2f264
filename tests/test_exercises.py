"""Exercises: right answers pass, typical mistakes get a hint that names them, notebooks use them all."""

from __future__ import annotations

import sys

from course_utils import exercises
from course_utils.checks import CheckFailed
from course_utils.tasks import FRAMEWORK_NAMES, FRAMEWORKS

import nbformat
import numpy as np
import pytest

from course_tools import answers, notebooks


def exercise_cells() -> dict:
    """Every notebook's exercise ids, from the cells that ask for an answer (``name = ...``) and check it."""
    found = {}
    for path in notebooks.course_notebooks():
        cells = nbformat.read(path, as_version=4).cells
        found[path] = [
            answers.exercise_id(cell.source)
            for cell in cells
            if cell.cell_type == "code" and answers.stub_block(cell.source)
        ]
    return found


def test_a_right_answer_prints_a_tick(capsys: pytest.CaptureFixture[str]) -> None:
    exercises.check("mlp.wider", (784 * 256 + 256) + (256 * 10 + 10))
    assert capsys.readouterr().out.startswith("✓ A wider hidden layer")


@pytest.mark.parametrize("answer", [203530, np.int64(203530), 203530.0, np.array(203530)])
def test_a_count_may_come_as_any_whole_number(answer: object) -> None:
    assert exercises.judge("mlp.wider", answer) is None


@pytest.mark.parametrize(
    "answer, named",
    [
        (101_770, "128 hidden units"),  # the model above, unchanged
        (784 * 256 + 256 * 10, "biases"),
        (784 * 256 + 256, "output layer"),
        (203_531, "n × m weights and m biases"),
        (2.5, "whole number"),
        ("203530", "whole number"),
    ],
)
def test_a_wrong_count_gets_a_hint_that_names_the_mistake(
    answer: object, named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COURSE_EXERCISES", raising=False)  # as a learner runs it: told, and the notebook goes on
    exercises.check("mlp.wider", answer)
    told = capsys.readouterr()
    assert told.out == "" and told.err.startswith("✗ A wider hidden layer") and named in " ".join(told.err.split())
    assert "exercises.hint('mlp.wider')" in told.err
    monkeypatch.setenv("COURSE_EXERCISES", "strict")  # the test suite: a wrong reference answer fails it
    with pytest.raises(exercises.WrongAnswer, match=named) as raised:
        exercises.check("mlp.wider", answer)
    assert isinstance(raised.value, CheckFailed)


@pytest.mark.parametrize("answer", [..., (..., 34_826), [..., ...]])
def test_an_answer_left_to_do_is_told_in_one_line(
    answer: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COURSE_EXERCISES", raising=False)
    exercises.check("cnn.strides", answer, framework="keras")
    told = capsys.readouterr()
    assert told.err == "" and "yours to do" in told.out and len(told.out.strip().splitlines()) <= 2
    monkeypatch.setenv("COURSE_EXERCISES", "strict")
    with pytest.raises(exercises.WrongAnswer, match="yours to do"):
        exercises.check("cnn.strides", answer, framework="keras")


def test_require_raises_whatever_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_EXERCISES", raising=False)  # a student's kernel may unset it
    with pytest.raises(exercises.WrongAnswer, match="not it"):
        exercises.require("mlp.wider", 101_770)
    with pytest.raises(exercises.WrongAnswer, match="yours to do"):
        exercises.require("mlp.wider", ...)


def test_none_is_told_as_none_not_as_nan() -> None:
    problem = exercises.judge("cnn.dropout", None)
    assert "is None" in problem and "NaN" not in problem


def test_feature_maps_in_place_of_their_shape_are_named() -> None:
    feature_maps = np.zeros((1, 6, 6, 64), dtype=np.float32)
    problem = exercises.judge("cnn.strides", (feature_maps, 41_866), framework="keras")
    assert "(1, 6, 6, 64)" in problem and "tuple(x.shape)" in problem and "pass a pair" not in problem


@pytest.mark.parametrize("answer, named", [(7840, "weights only"), (794, "multiply"), (785, "10 outputs")])
def test_welcome_exercise_names_each_mistake(answer: int, named: str) -> None:
    assert named in exercises.judge("welcome.dense", answer)
    assert exercises.judge("welcome.dense", 784 * 10 + 10) is None


def test_softmax_by_hand() -> None:
    logits = np.random.default_rng(0).normal(scale=3, size=(5, 10)).astype(np.float32)
    exponentials = np.exp(logits)
    assert exercises.judge("mlp.softmax", exponentials / exponentials.sum(axis=1, keepdims=True), logits=logits) is None
    mistakes = {
        "divide each row": exponentials,
        "without exponentiating": logits / logits.sum(axis=1, keepdims=True),
        "columns add up to 1": exponentials / exponentials.sum(axis=0, keepdims=True),
        "one number per image": exponentials.argmax(axis=1),
        "shape (10,)": exponentials[0],
    }
    for named, answer in mistakes.items():
        assert named in exercises.judge("mlp.softmax", answer, logits=logits), named


def test_softmax_needs_the_logits() -> None:
    assert "logits=..." in exercises.judge("mlp.softmax", np.ones((5, 10)) / 10)


def test_framework_defaults_to_the_one_named_in_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils import system

    strided = (((6, 6, 64)), 41_866)
    monkeypatch.setattr(system, "_framework_in_use", None)
    assert "framework=..." in exercises.judge("cnn.strides", strided)
    monkeypatch.setattr(system, "_framework_in_use", "keras")
    assert exercises.judge("cnn.strides", strided) is None
    monkeypatch.setattr(system, "_framework_in_use", "pytorch")  # channels first
    assert "another order" in exercises.judge("cnn.strides", strided)


def test_momentum_mistakes_made_with_real_optimizers() -> None:
    torch = pytest.importorskip("torch")

    def two_steps(make_optimizer) -> np.ndarray:
        w = torch.tensor([1.0, -2.0], requires_grad=True)
        optimizer = make_optimizer([w])
        for _ in range(2):
            optimizer.zero_grad()
            (w**2).sum().backward()
            optimizer.step()
        return w.detach().numpy()

    assert exercises.judge("mlp.momentum", two_steps(lambda w: torch.optim.SGD(w, lr=0.1, momentum=0.9))) is None
    mistakes = {
        "momentum of 0.9 is missing": lambda w: torch.optim.SGD(w, lr=0.1),
        "Nesterov": lambda w: torch.optim.SGD(w, lr=0.1, momentum=0.9, nesterov=True),
        "Adam": lambda w: torch.optim.Adam(w, lr=0.1),
    }
    for named, make_optimizer in mistakes.items():
        assert named in exercises.judge("mlp.momentum", two_steps(make_optimizer)), named
    assert "did not move" in exercises.judge("mlp.momentum", [1.0, -2.0])
    gradient_needed = torch.tensor([0.46, -0.92], requires_grad=True)
    assert "detach" in exercises.judge("mlp.momentum", gradient_needed)


def test_recurrent_counts_follow_each_frameworks_bias_convention() -> None:
    torch = pytest.importorskip("torch")

    def count(*modules) -> int:
        return sum(p.numel() for module in modules for p in module.parameters())

    gru = count(torch.nn.GRU(28, 64), torch.nn.Linear(64, 10))
    both_ways = count(torch.nn.LSTM(28, 64, bidirectional=True), torch.nn.Linear(128, 10))
    assert exercises.judge("rnn.gru", gru, framework="pytorch") is None
    assert exercises.judge("rnn.bidirectional", both_ways, framework="pytorch") is None
    # The same models with one bias vector per gate, as the low-level TensorFlow notebook writes them.
    one_bias_gru = gru - 3 * 64
    assert exercises.judge("rnn.gru", one_bias_gru, framework="tensorflow") is None
    assert "two bias vectors" in exercises.judge("rnn.gru", one_bias_gru, framework="pytorch")
    assert "one bias vector" in exercises.judge("rnn.gru", gru, framework="tensorflow")
    assert "one bias vector" in exercises.judge("rnn.bidirectional", both_ways, framework="keras")
    lstm_model = count(torch.nn.LSTM(28, 64), torch.nn.Linear(64, 10))
    assert "three gates, not four" in exercises.judge("rnn.gru", lstm_model, framework="pytorch")
    assert "one-direction model" in exercises.judge("rnn.bidirectional", lstm_model, framework="pytorch")
    narrow_head = count(torch.nn.LSTM(28, 64, bidirectional=True), torch.nn.Linear(64, 10))
    assert "128 inputs" in exercises.judge("rnn.bidirectional", narrow_head, framework="pytorch")
    assert "pass one of" in exercises.judge("rnn.gru", gru, framework="jax")


def test_columns_are_a_transpose_of_rows(sample_images: np.ndarray) -> None:
    assert exercises.judge("rnn.columns", sample_images.transpose(0, 2, 1), images=sample_images) is None
    assert exercises.judge("rnn.columns", np.swapaxes(sample_images, 1, 2), images=sample_images) is None
    assert "the batch's too" in exercises.judge("rnn.columns", sample_images.T, images=sample_images)
    assert "still the rows" in exercises.judge("rnn.columns", sample_images, images=sample_images)
    assert "flips" in exercises.judge("rnn.columns", sample_images[:, :, ::-1], images=sample_images)
    rotated = np.rot90(sample_images, axes=(1, 2))  # a transpose and a flip: columns, but right to left
    assert "swap the last two axes" in exercises.judge("rnn.columns", rotated, images=sample_images)
    assert "expected (5, 28, 28)" in exercises.judge("rnn.columns", sample_images[:, :14], images=sample_images)


def test_convolution_exercises_with_real_layers() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def shape_and_count(features, head) -> tuple:
        return tuple(features(torch.zeros(1, 1, 28, 28)).shape), sum(
            p.numel() for module in (features, head) for p in module.parameters()
        )

    pooled = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2)]
    third = shape_and_count(nn.Sequential(*pooled, nn.Conv2d(64, 128, 3)), nn.Linear(128 * 3 * 3, 10))
    assert exercises.judge("cnn.third_conv", third, framework="pytorch") is None
    channels_last = ((1, 3, 3, 128), third[1])
    assert exercises.judge("cnn.third_conv", channels_last, framework="tensorflow") is None
    assert "another order" in exercises.judge("cnn.third_conv", channels_last, framework="pytorch")
    padded = shape_and_count(nn.Sequential(*pooled, nn.Conv2d(64, 128, 3, padding=1)), nn.Linear(128 * 5 * 5, 10))
    assert "5 → 3" in exercises.judge("cnn.third_conv", padded, framework="pytorch")
    old_head = (third[0], third[1] - 11_530 + 16_010)
    assert "1,152 features" in exercises.judge("cnn.third_conv", old_head, framework="pytorch")

    strided = [nn.Conv2d(1, 32, 3, stride=2), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2)]
    assert (
        exercises.judge(
            "cnn.strides", shape_and_count(nn.Sequential(*strided), nn.Linear(64 * 6 * 6, 10)), framework="pytorch"
        )
        is None
    )
    same = [nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1)]
    assert "'same' padding" in exercises.judge(
        "cnn.strides", shape_and_count(nn.Sequential(*same), nn.Linear(64 * 7 * 7, 10)), framework="pytorch"
    )
    assert "a pair" in exercises.judge("cnn.strides", 41_866, framework="pytorch")

    ones = torch.ones(10_000)
    torch.manual_seed(0)
    assert exercises.judge("cnn.dropout", nn.functional.dropout(ones, 0.5, training=True)) is None
    assert "training mode" in exercises.judge("cnn.dropout", nn.functional.dropout(ones, 0.5, training=False))
    assert "about half" in exercises.judge("cnn.dropout", nn.functional.dropout(ones, 0.2, training=True))
    unscaled = (torch.rand(10_000) > 0.5).float()  # a mask by hand, without the frameworks' scaling
    assert "still 1" in exercises.judge("cnn.dropout", unscaled)


@pytest.fixture
def sample_images() -> np.ndarray:
    from course_utils.data import load_sample

    return load_sample().x_test[:5]


def test_hints_come_one_at_a_time_then_point_to_the_solution(capsys: pytest.CaptureFixture[str]) -> None:
    exercises._hints_given.clear()
    total = len(exercises.get_exercise("mlp.momentum").hints)
    for number in range(1, total + 2):
        exercises.hint("mlp.momentum")
        out = capsys.readouterr().out
        assert out.startswith(f"Hint {min(number, total)} of {total}:")
        assert ("last hint" in out) == (number >= total)


@pytest.mark.parametrize(
    "framework, code",
    [("pytorch", "nn.Linear(28 * 28, 256)"), ("keras", "layers.Dense(256"), ("tensorflow", "Dense(28 * 28, 256)")],
)
def test_solution_shows_the_worked_answer_and_the_framework_code(
    framework: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exercises.solution("mlp.wider", framework=framework)
    out = capsys.readouterr().out
    assert "203,530" in out
    assert f"The code in {FRAMEWORK_NAMES[framework]}:" in out and code in out
    assert "BEGIN SOLUTION" not in out


def test_solution_follows_the_framework_of_setup_and_reads_no_notebook(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    from course_utils import config, system

    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "nowhere")  # a learner's copy, anywhere, edited
    monkeypatch.setattr(system, "_framework_in_use", "pytorch")
    exercises.solution("cnn.dropout")
    out = capsys.readouterr().out
    assert "The code in PyTorch:" in out and "nn.functional.dropout(ones, DROPOUT, training=True)" in out
    monkeypatch.setattr(system, "_framework_in_use", None)
    exercises.solution("cnn.dropout")
    assert "framework='keras' or 'pytorch' or 'tensorflow'" in capsys.readouterr().out
    exercises.solution("welcome.dense")  # the same in every framework
    assert "answer = 784 * 10 + 10" in capsys.readouterr().out


def test_solution_says_so_when_the_answers_are_not_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    import course_judges.solutions

    monkeypatch.setattr(course_judges.solutions, "SOLUTIONS_DIR", tmp_path)
    monkeypatch.setattr(course_judges, "SOLUTIONS_DIR", tmp_path)
    exercises.solution("mlp.wider", framework="keras")
    out = capsys.readouterr().out
    assert "203,530" in out and "not installed here" in out


def test_without_the_references_a_check_says_it_is_judged_when_graded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A graded class's server installs no course_judges: no answer to read, and no ✓ or ✗ to trust."""
    monkeypatch.setitem(sys.modules, "course_judges", None)  # import course_judges raises ImportError
    monkeypatch.delenv("COURSE_JUDGE_URL", raising=False)
    with pytest.raises(exercises.NoJudge):
        exercises.judge("mlp.wider", 203_530)
    exercises.check("mlp.wider", 101_770)
    exercises.require("mlp.wider", 203_530)  # nothing to judge with here: told, not raised
    exercises.solution("mlp.wider")
    out = " ".join(capsys.readouterr().out.split())  # wrapped at 100 columns
    assert out.count("judged when your work is graded") == 2 and "✓" not in out and "✗" not in out
    assert "not available here" in out and "203,530" not in out


def test_a_check_asks_the_class_judge_service_when_one_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With COURSE_JUDGE_URL, the answer goes to the service as plain JSON, with the hub's token."""
    import http.server
    import json
    import threading

    asked = []

    class Judge(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            asked.append((body, self.headers.get("Authorization")))
            right = body["answer"] == 203_530
            reply = json.dumps({"right": right, "message": "" if right else "not 256 units"}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("COURSE_JUDGE_URL", f"http://127.0.0.1:{server.server_port}/judge")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
        monkeypatch.delenv("COURSE_EXERCISES", raising=False)
        assert exercises.judge("mlp.wider", np.int64(203_530)) is None
        exercises.check("mlp.wider", 101_770)
        assert "not 256 units" in capsys.readouterr().err
        assert asked[0] == ({"exercise": "mlp.wider", "answer": 203_530, "given": {}}, "token secret")
        server.shutdown()
        exercises.check("mlp.wider", 203_530)
        assert "judged when your work is graded" in " ".join(capsys.readouterr().out.split())
    finally:
        server.shutdown()
        server.server_close()


def test_an_unknown_exercise_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="mlp.wider") as raised:
        exercises.check("mlp.wide", 1)
    shown = raised.value._render_traceback_()  # what IPython shows: the message alone, no traceback
    assert len(shown) == 1 and " ".join(shown[0].split()) == f"UnknownExercise: {raised.value}"


def test_an_answer_no_judge_foresaw_is_told_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    class Odd:  # a learner's object whose conversion itself fails
        def __array__(self, *args, **kwargs):
            raise KeyError("odd")

        def __len__(self):
            raise KeyError("odd")

        def __iter__(self):
            raise KeyError("odd")

    monkeypatch.delenv("COURSE_EXERCISES", raising=False)
    assert "could not read this answer (KeyError" in exercises.judge("cnn.third_conv", Odd(), framework="keras")
    monkeypatch.setenv("COURSE_EXERCISES", "strict")
    with pytest.raises(KeyError):
        exercises.judge("cnn.third_conv", Odd(), framework="keras")


def test_every_exercise_in_a_notebook_is_known() -> None:
    for path, ids in exercise_cells().items():
        for found in ids:
            assert found in exercises.EXERCISES, f"{path} checks unknown exercise {found!r}"


def test_every_task_notebook_ends_with_two_to_four_exercises_the_same_in_each_framework() -> None:
    cells = exercise_cells()
    for folder in notebooks.task_folders():
        task = folder.name.split("_", 1)[1]
        known = [e.id for e in exercises.EXERCISES.values() if e.task == task]
        for framework in FRAMEWORKS:
            path = folder / f"{framework}.ipynb"
            if path.is_file():
                assert 2 <= len(cells[path]) <= 4, f"{path} has {len(cells[path])} exercises"
                assert cells[path] == known, f"{path} checks {cells[path]}, the {task} exercises are {known}"


def test_every_exercise_has_its_words_and_every_text_its_exercise() -> None:
    from course_utils.exercises import core
    from course_utils.files import load_toml

    import course_judges

    texts, references = load_toml(core.TEXTS), load_toml(course_judges.core.TEXTS)
    assert list(texts) == list(references) == list(course_judges.REFERENCES) == list(exercises.EXERCISES)
    for name, words in texts.items():
        # The learner's side has no praise and no worked answer: they name the answer.
        assert set(words) - {"given"} == {"title", "hints"}, name
        assert all(isinstance(hint, str) and hint for hint in words["hints"]), name
        assert set(references[name]) == {"praise", "worked"}, name
