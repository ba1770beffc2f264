"""Answers as plain JSON values: what a check sends to its judge, and what a graded notebook records.

A judge never sees the learner's objects, only numbers, lists and arrays rebuilt from JSON: an answer
whose ``==`` always says yes, or a tensor subclass with a custom ``__array__``, arrives as the plain
values it holds. The same encoding serves the learner's instant check, the judge service of a class
and the grader, so that all three judge the same values.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

import numpy as np


class BadAnswer(Exception):
    """The answer has the wrong type or shape; its message says what was expected."""


class Unreadable:
    """An answer the encoding could not turn into numbers: its judge says so in a line."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


DETACH = (
    "{name} could not be read as numbers ({error}). Pass a NumPy array or a tensor; "
    "a PyTorch tensor that needs gradients must be detached first: x.detach()."
)


def encode(value: object, name: str = "the answer") -> Any:
    """``value`` as JSON-ready data: numbers, text, None, lists (sequences) and ``{"array": ...}`` (arrays)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral) and not hasattr(value, "shape"):
        return int.__index__(value) if isinstance(value, int) else int(value)
    if isinstance(value, numbers.Real) and not hasattr(value, "shape"):
        number = float(value)
        return number if math.isfinite(number) else {"float": repr(number)}
    if isinstance(value, np.generic):
        return encode(value.item(), name)
    if isinstance(value, (tuple, list)):
        return [encode(part, name) for part in value]
    if hasattr(value, "__array__") or hasattr(value, "numpy"):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError, RuntimeError) as error:
            raise BadAnswer(DETACH.format(name=name, error=error)) from None
        if array.dtype.kind in "biuf":
            flat = array.astype(np.float64 if array.dtype.kind == "f" else np.int64).ravel().tolist()
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                flat = [number if math.isfinite(number) else repr(number) for number in flat]  # JSON has no NaN
            return {"array": flat, "shape": list(array.shape), "kind": array.dtype.kind}
    if hasattr(value, "__iter__") and hasattr(value, "__len__") and not isinstance(value, dict):
        return [encode(part, name) for part in value]  # a TensorShape, say
    return {"unreadable": type(value).__name__}


def decode(data: Any) -> object:
    """The plain value that :func:`encode` wrote: lists as tuples, arrays as NumPy arrays."""
    if isinstance(data, list):
        return tuple(decode(part) for part in data)
    if isinstance(data, dict):
        if "array" in data:
            dtype = {"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float64}[data["kind"]]
            values = [float(value) if isinstance(value, str) else value for value in data["array"]]
            return np.asarray(values, dtype=dtype).reshape(data["shape"])
        if "float" in data:
            return float(data["float"])
        return Unreadable(str(data.get("unreadable", "object")))
    return data


def dumps(value: object) -> str:
    """JSON text of an encoded value (NaN and infinities are already strings)."""
    return json.dumps(value, allow_nan=False)
