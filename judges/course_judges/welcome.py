"""The welcome notebook's exercise."""

from __future__ import annotations

from course_utils.tasks import dense_params

from .answers import judge_count
from .core import exercise

EXERCISES = [
    exercise(
        "welcome.dense",
        judge_count(
            dense_params(784, 10),
            {
                784 * 10: "that counts the weights only; each of the 10 outputs also has a bias.",
                784 + 10: "inputs and outputs are connected all to all: multiply, don't add.",
                785: "that is one output's weights and bias; there are 10 outputs.",
            },
            "count one weight per input and output, plus one bias per output.",
        ),
    )
]
