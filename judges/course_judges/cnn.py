"""Task 2's exercises: a third convolution, strides instead of pooling, what dropout does."""

from __future__ import annotations

from collections.abc import Mapping

from course_utils.tasks import CNN_PARAMS, FRAMEWORK_NAMES, conv_params, dense_params

import numpy as np

from .answers import BadAnswer, Judge, as_array, framework_of, whole_number
from .core import exercise

CHANNELS_FIRST = {"keras": False, "tensorflow": False, "pytorch": True}


def _shape_and_count(answer: object) -> tuple[tuple[int, int, int], int]:
    """``(shape, count)`` from the answer; a leading batch axis of 1 (or None) is dropped from the shape."""
    try:
        shape, count = answer  # type: ignore[misc]
    except (TypeError, ValueError):
        raise BadAnswer(
            "pass a pair: (the feature maps' shape, the parameter count), for example (tuple(x.shape), params)."
        ) from None
    if len(getattr(shape, "shape", ())) > 1:  # the feature maps themselves, a tensor or an array
        raise BadAnswer(
            f"the first of the pair holds numbers of shape {tuple(shape.shape)}: pass the feature maps' shape, "
            "tuple(x.shape), not the feature maps themselves."
        )
    try:
        shape = tuple(None if size is None else int(size) for size in shape)
    except (TypeError, ValueError, RuntimeError):
        raise BadAnswer(
            f"the first of the pair, {shape!r}, is not a shape: pass a tuple of whole numbers, such as tuple(x.shape)."
        ) from None
    if len(shape) == 4 and shape[0] in (None, 1):
        shape = shape[1:]
    if len(shape) != 3 or None in shape:
        raise BadAnswer(
            f"the shape {shape} is not that of one image's feature maps: "
            "pass height, width and channels (and the batch of 1, if you like)."
        )
    return shape, whole_number(count)  # type: ignore[return-value]


def _judge_feature_maps(
    height_width_channels: tuple[int, int, int],
    expected_count: int,
    shape_mistakes: Mapping[tuple[int, int, int], str],
    count_mistakes: Mapping[int, str],
) -> Judge:
    def judge(answer: object, given: Mapping[str, object]) -> str | None:
        framework = framework_of(given)
        shape, count = _shape_and_count(answer)
        height, width, channels = height_width_channels
        expected_shape = (channels, height, width) if CHANNELS_FIRST[framework] else height_width_channels
        if shape != expected_shape:
            if sorted(shape) == sorted(expected_shape):
                order = "channels first (N, C, H, W)" if CHANNELS_FIRST[framework] else "channels last (N, H, W, C)"
                return f"the shape {shape} has its axes in another order; {FRAMEWORK_NAMES[framework]} keeps {order}."
            as_hwc = (shape[1], shape[2], shape[0]) if CHANNELS_FIRST[framework] else shape
            return f"the feature maps are not {shape}: " + shape_mistakes.get(
                as_hwc,
                "without padding, a 3×3 window fits (size − 3) // stride + 1 times across; "
                "a 2×2 pooling halves the size, rounding down.",
            )
        if count != expected_count:
            return f"the shape is right, but not {count:,} parameters: " + count_mistakes.get(
                count,
                "each convolution has 3 × 3 × (input channels) weights and a bias per filter, "
                "and the dense layer a weight per feature and output.",
            )
        return None

    return judge


def _judge_dropout(answer: object, given: Mapping[str, object]) -> str | None:
    values = as_array(answer, "the dropped-out ones").ravel()
    if values.size < 1000:
        return f"that is {values.size} values; use at least 1,000, so that the fraction dropped is clear."
    if np.allclose(values, 1):
        return (
            "nothing was dropped: dropout is off outside training. Call it in training mode "
            "(training=True, or model.train() in PyTorch)."
        )
    dropped = float(np.mean(values == 0))
    kept = values[values != 0]
    if not np.allclose(kept, kept[0]):
        return "the kept values differ from each other: apply dropout to an array of ones."
    if abs(dropped - DROPOUT_RATE) > 0.05:
        return f"{dropped:.0%} of the values are zero; with a rate of {DROPOUT_RATE}, about half should be."
    if np.isclose(kept[0], 1):
        return "the kept values are still 1: the frameworks scale them by 1 / (1 − rate), so their sum stays the same."
    if not np.isclose(kept[0], 1 / (1 - DROPOUT_RATE)):
        return f"the kept values are {kept[0]:g}; each should be scaled by 1 / (1 − rate) = {1 / (1 - DROPOUT_RATE):g}."
    return None


DROPOUT_RATE = 0.5
THIRD_CONV_PARAMS = (
    conv_params(3, 1, 32) + conv_params(3, 32, 64) + conv_params(3, 64, 128) + dense_params(3 * 3 * 128, 10)
)
STRIDED_PARAMS = conv_params(3, 1, 32) + conv_params(3, 32, 64) + dense_params(6 * 6 * 64, 10)


EXERCISES = [
    exercise(
        "cnn.third_conv",
        _judge_feature_maps(
            (3, 3, 128),
            THIRD_CONV_PARAMS,
            {
                (5, 5, 128): "without padding, a 3×3 convolution trims a pixel from each side: 5 → 3.",
                (1, 1, 128): "no pooling after the third convolution.",
                (3, 3, 64): "128 filters make 128 channels.",
            },
            {
                THIRD_CONV_PARAMS
                - dense_params(3 * 3 * 128, 10)
                + dense_params(5 * 5 * 64, 10): "the dense layer now reads 3 × 3 × 128 = 1,152 features, not 1,600.",
                THIRD_CONV_PARAMS - 128: "the new convolution has a bias for each of its 128 filters.",
                CNN_PARAMS: "that is the model above, without the third convolution.",
                CNN_PARAMS
                + conv_params(3, 1, 128): "each of the 128 filters spans all 64 input channels: 3 × 3 × 64 weights.",
            },
        ),
    ),
    exercise(
        "cnn.strides",
        _judge_feature_maps(
            (6, 6, 64),
            STRIDED_PARAMS,
            {
                (7, 7, 64): "that would be with 'same' padding; without it, a 3×3 window with stride 2 fits "
                "(28 − 3) // 2 + 1 = 13 times across, then (13 − 3) // 2 + 1 = 6.",
                (5, 5, 64): "that is the pooled model's; remove the pooling layers.",
                (13, 13, 64): "that is after one strided convolution; the second has stride 2 as well.",
            },
            {
                CNN_PARAMS: "the convolutions keep their parameters, but the dense layer now reads 6 × 6 × 64 = 2,304 "
                "features, not 1,600."
            },
        ),
    ),
    exercise("cnn.dropout", _judge_dropout),
]
