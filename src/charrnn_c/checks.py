"""Checks of user-given values, each worded once, for every entry point.

The estimator, the model specification, the data pipeline and the command
line all check their arguments with these, so that one mistake gets one
message wherever it is made. A failed check raises InvalidParameterError,
which is both a ValueError and a TypeError (as scikit-learn's is), so a
caller may catch either.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

# Counts of steps, iterations and characters are kept one by one: 2**62 is
# out of any run's reach, and a bound on what a file may claim.
MAX_COUNT = 2**62


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or out of its range; the message names it."""


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (bool and float refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def count(name: str, value: Any, or_none: bool = False,
          or_inf: bool = False) -> int | float | None:
    """A whole number >= 0, as an int: 1e4 is taken, 2.5 and True are not
    (or None, where ``or_none``; or inf, meaning no bound, where ``or_inf``)."""
    if value is None and or_none:
        return None
    if or_inf and _is_real(value) and value == math.inf:
        return math.inf
    whole = isinstance(value, numbers.Integral) or (_is_real(value) and _is_finite(value)
                                                    and float(value).is_integer())
    if isinstance(value, bool) or not whole or value < 0:
        also = "".join([", inf" if or_inf else "", " or None" if or_none else ""])
        raise InvalidParameterError(
            f"{name} must be a whole number >= 0{also}, got {value!r}")
    return int(value)


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if not any(isinstance(value, type(choice)) and value == choice for choice in choices):
        close = [choice for choice in choices if isinstance(value, str)
                 and isinstance(choice, str) and choice.lower() == value.strip().lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(f"{name} must be one of {choices}, got {value!r}{hint}")
    return value


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:                          # an int too large for a float
        return False


def positive_number(name: str, value: Any, or_none: bool = False,
                    or_inf: bool = False) -> float | None:
    """A finite number > 0 (or None, where ``or_none``; or inf, where ``or_inf``)."""
    if value is None and or_none:
        return None
    if or_inf and _is_real(value) and value == math.inf:
        return math.inf
    if not (_is_real(value) and _is_finite(value) and value > 0):
        raise InvalidParameterError(
            f"{name} must be a positive number{' or None' if or_none else ''}, got {value!r}")
    return float(value)


def non_negative_number(name: str, value: Any, or_none: bool = False,
                        finite: bool = False) -> float | None:
    """A number >= 0, infinity allowed unless ``finite`` (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    if not (_is_real(value) and value >= 0 and (_is_finite(value) or not finite)):  # NaN fails
        raise InvalidParameterError(
            f"{name} must be a {'finite' if finite else 'non-negative'} number"
            f"{' >= 0' if finite else ''}{' or None' if or_none else ''}, got {value!r}")
    return float(value) if _is_finite(value) else math.inf


def positive_count(name: str, value: Any, or_none: bool = False) -> int | None:
    """A whole number >= 1, as an int: 40 and 40.0 are taken, 2.5, inf and True
    are not (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    whole = isinstance(value, numbers.Integral) or (_is_real(value) and _is_finite(value)
                                                    and float(value).is_integer())
    if isinstance(value, bool) or not whole or value < 1:
        raise InvalidParameterError(f"{name} must be a whole number >= 1"
                                    f"{' or None' if or_none else ''}, got {value!r}")
    return int(value)


def normal(name: str, value: float | None, dtype: str) -> None:
    """Refuse a ``value`` > 0 below the smallest normal number of ``dtype``.

    The C core computes with denormals-are-zero and flush-to-zero set
    (fpmode.h), where such a value reads as 0: clip_norm=5e-324 turned
    clipping off (issue 22), clip 1e-40 in float32 zeroes every gradient.
    """
    if value is None or value == 0:
        return
    tiny = float(np.finfo(dtype).tiny)
    if abs(value) < tiny:
        raise InvalidParameterError(
            f"{name} must be 0 or at least {tiny:.4g}, the smallest normal {dtype}, got "
            f"{value!r}: the C core flushes smaller numbers to zero")


def probability(name: str, value: Any, or_none: bool = False) -> float | None:
    """A number in (0, 1] (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    if not (_is_real(value) and 0 < value <= 1):   # NaN fails too
        raise InvalidParameterError(f"{name} must be in (0, 1], got {value!r}")
    return float(value)


def fraction(name: str, value: Any) -> float:
    """A number in [0, 1)."""
    if not (_is_real(value) and 0 <= value < 1):   # NaN fails too
        raise InvalidParameterError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def unit_interval(name: str, value: Any) -> float:
    """A number in [0, 1]."""
    if not (_is_real(value) and 0 <= value <= 1):   # NaN fails too
        raise InvalidParameterError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def seed(name: str, value: Any) -> int | None:
    """An int seed >= 0 (as NumPy's SeedSequence takes), or None for fresh randomness."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                              or value < 0):
        raise InvalidParameterError(f"{name} must be a non-negative int or None, got {value!r}")
    return None if value is None else int(value)
