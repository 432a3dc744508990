"""Checks of user-given values, each worded once, for every entry point.

The estimator, the model specification, the data pipeline and the command
line all check their arguments with these, so that one mistake gets one
message wherever it is made. A failed check raises InvalidParameterError,
which is both a ValueError and a TypeError (as scikit-learn's is), so a
caller may catch either.

An error about parameters carries them as data (ParameterMessage): the
parameter it is about, and its message as clauses of text and parts that
name parameters (Name, Setting, With), a method (Call) or words for Python
users only (PythonOnly). str() is the Python wording; another front end (the
command line, cli_wording.py) words each part in its own terms, by table
lookup, without parsing the text.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

# Counts of steps, iterations and characters are kept one by one: 2**62 is
# out of any run's reach, and a bound on what a file may claim.
MAX_COUNT = 2**62


@dataclass(frozen=True)
class Name:
    """A parameter named in a message: ``top_p`` (the command line: --top-p)."""
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Setting:
    """A parameter given a value, as advice names it: ``unknown='skip'``.

    ``shown`` is how the Python wording writes the value (repr by default:
    "10,000,000" for a count grouped by thousands)."""
    name: str
    value: Any
    shown: str | None = None

    def shown_value(self) -> str:
        return repr(self.value) if self.shown is None else self.shown

    def __str__(self) -> str:
        return f"{self.name}={self.shown_value()}"


@dataclass(frozen=True)
class With(Setting):
    """"with resume=False": a setting after "with", which a front end may word
    as leaving a switch out (the command line: "without --resume")."""

    def __str__(self) -> str:
        return f"with {super().__str__()}"


@dataclass(frozen=True)
class Call:
    """A method of the Python API named in advice ("fit with overwrite=True"):
    each front end names its own command for it."""
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class PythonOnly:
    """Words only the Python wording has: " or None", an aside on Python types."""
    text: str

    def __str__(self) -> str:
        return self.text


Part = Union[str, Name, Setting, Call, PythonOnly]
Clause = tuple[Part, ...]


class ParameterMessage(Exception):
    """An error whose message names parameters as data.

    ``param`` is the parameter the error is about (None where it is about
    none in particular). ``clauses`` is the message: the first clause says
    what is wrong, each later one advises (joined by "; " in the Python
    wording), and each is a tuple of parts (a plain str is a clause of text
    alone). A message given as one str, as older raise sites give it, is one
    clause of text.
    """

    def __init__(self, *clauses: str | Sequence[Part], param: str | None = None) -> None:
        self.param = param
        self.clauses: tuple[Clause, ...] = tuple(
            (clause,) if isinstance(clause, str) else tuple(clause) for clause in clauses)
        super().__init__("; ".join("".join(map(str, clause)) for clause in self.clauses))


class InvalidParameterError(ParameterMessage, ValueError, TypeError):
    """A parameter of the wrong type or out of its range; ``param`` names it."""


def clauses_of(error: BaseException) -> tuple[Clause, ...]:
    """``error``'s message as clauses: its parts where it carries them, else its
    text as one clause; for an error that words another inside its own."""
    if isinstance(error, ParameterMessage):
        return error.clauses
    return ((str(error),),)


def _or_none(or_none: bool) -> PythonOnly:
    # None is how Python leaves a parameter unset; a command line leaves the flag out.
    return PythonOnly(" or None" if or_none else "")


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (bool and float refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidParameterError((Name(name), f" must be a positive integer, got {value!r}"),
                                    param=name)
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
        raise InvalidParameterError((Name(name), " must be a whole number >= 0",
                                     ", inf" if or_inf else "", _or_none(or_none),
                                     f", got {value!r}"), param=name)
    return int(value)


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if not any(isinstance(value, type(choice)) and value == choice for choice in choices):
        close = [choice for choice in choices if isinstance(value, str)
                 and isinstance(choice, str) and choice.lower() == value.strip().lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(
            (Name(name), f" must be one of {choices}, got {value!r}{hint}"), param=name)
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
        raise InvalidParameterError((Name(name), " must be a positive number",
                                     _or_none(or_none), f", got {value!r}"), param=name)
    return float(value)


def non_negative_number(name: str, value: Any, or_none: bool = False,
                        finite: bool = False) -> float | None:
    """A number >= 0, infinity allowed unless ``finite`` (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    if not (_is_real(value) and value >= 0 and (_is_finite(value) or not finite)):  # NaN fails
        raise InvalidParameterError(
            (Name(name), f" must be a {'finite' if finite else 'non-negative'} number"
             f"{' >= 0' if finite else ''}", _or_none(or_none), f", got {value!r}"), param=name)
    return float(value) if _is_finite(value) else math.inf


def positive_count(name: str, value: Any, or_none: bool = False) -> int | None:
    """A whole number >= 1, as an int: 40 and 40.0 are taken, 2.5, inf and True
    are not (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    whole = isinstance(value, numbers.Integral) or (_is_real(value) and _is_finite(value)
                                                    and float(value).is_integer())
    if isinstance(value, bool) or not whole or value < 1:
        raise InvalidParameterError((Name(name), " must be a whole number >= 1",
                                     _or_none(or_none), f", got {value!r}"), param=name)
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
            (Name(name), f" must be 0 or at least {tiny:.4g}, the smallest normal {dtype}, "
             f"got {value!r}: the C core flushes smaller numbers to zero"), param=name)


def probability(name: str, value: Any, or_none: bool = False) -> float | None:
    """A number in (0, 1] (or None, where ``or_none``)."""
    if value is None and or_none:
        return None
    if not (_is_real(value) and 0 < value <= 1):   # NaN fails too
        raise InvalidParameterError((Name(name), f" must be in (0, 1], got {value!r}"),
                                    param=name)
    return float(value)


def fraction(name: str, value: Any) -> float:
    """A number in [0, 1)."""
    if not (_is_real(value) and 0 <= value < 1):   # NaN fails too
        raise InvalidParameterError((Name(name), f" must be a number in [0, 1), got {value!r}"),
                                    param=name)
    return float(value)


def unit_interval(name: str, value: Any) -> float:
    """A number in [0, 1]."""
    if not (_is_real(value) and 0 <= value <= 1):   # NaN fails too
        raise InvalidParameterError((Name(name), f" must be a number in [0, 1], got {value!r}"),
                                    param=name)
    return float(value)


def seed(name: str, value: Any) -> int | None:
    """An int seed >= 0 (as NumPy's SeedSequence takes), or None for fresh randomness."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                              or value < 0):
        raise InvalidParameterError((Name(name), " must be a non-negative int",
                                     PythonOnly(" or None"), f", got {value!r}"), param=name)
    return None if value is None else int(value)
