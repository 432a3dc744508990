"""CharRNN's hyperparameters as plain data: each one's constraint declared once, checked in one place.

As scikit-learn's ``_parameter_constraints``: a table from each
hyperparameter's name to the check of its value (checks.py), read by
``validate``, which the estimator calls at fit and a checkpoint's reader
calls on the parameters a file holds; nothing builds an estimator to check a
dict. The parameters that name one of a fixed list (CHOICES) are also
checked as soon as they are given (``check_choices``: CharRNN's __init__ and
set_params), since a typo there ("GRU", "sgd") is never a value to tune.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import checks
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES
from .spec import CELLS, DTYPES, RECURRENT_INITS, ModelSpec
from .vocab import MODES

# The parameters that name one of a fixed list, and the list.
CHOICES: dict[str, tuple[Any, ...]] = {
    "cell": CELLS,
    "dtype": DTYPES,
    "optimizer": tuple(OPTIMIZERS),
    "vocab": MODES,
    "recurrent_init": RECURRENT_INITS,
    "lr_schedule": SCHEDULES,
    "keep_best": (True, False),
    "records": (True, False),
}


def _choice(name: str, value: Any) -> Any:
    return checks.one_of(name, value, CHOICES[name])


def _positive_or_none(name: str, value: Any) -> Any:
    return checks.positive_number(name, value, or_none=True)


def _positive_int_or_none(name: str, value: Any) -> Any:
    return None if value is None else checks.positive_int(name, value)


# Every hyperparameter, in CharRNN.__init__'s order, and the check of its value.
CONSTRAINTS: dict[str, Callable[[str, Any], Any]] = {
    "hidden_size": checks.positive_int,
    "num_layers": checks.positive_int,
    "cell": _choice,
    "seq_length": checks.positive_int,
    "batch_size": checks.positive_int,
    "learning_rate": _positive_or_none,
    "optimizer": _choice,
    "clip": checks.positive_number,
    "dtype": _choice,
    "val_fraction": checks.fraction,
    "vocab": _choice,
    "max_vocab_size": checks.positive_int,
    "init_std": _positive_or_none,
    "seed": checks.seed,
    "dropout": checks.fraction,
    "clip_norm": _positive_or_none,
    "n_threads": _positive_int_or_none,
    "recurrent_init": _choice,
    "lr_schedule": _choice,
    "warmup": checks.count,
    "min_lr_ratio": checks.unit_interval,
    "keep_best": _choice,
    "records": _choice,
}
# The parameters fit may choose from the budget (budget.py) when set to AUTO:
# CharRNN.auto() sets them all.
AUTO = "auto"
CHOSEN = ("hidden_size", "num_layers", "dropout", "learning_rate")
# Values the C core's flush-to-zero mode would read as 0 (checks.normal), in
# the model's dtype.
NORMAL_NUMBERS = ("clip", "clip_norm", "learning_rate")

# Hyperparameters added after the first checkpoints were written, each with
# the behaviour a checkpoint that lacks it was trained with: a file means what
# it meant when saved, whatever CharRNN's defaults have become since.
ADDED_PARAMS: dict[str, Any] = {
    "clip_norm": None, "n_threads": None, "recurrent_init": "normal",
    "lr_schedule": "constant", "warmup": 0, "min_lr_ratio": 0.0, "keep_best": False,
    "records": False}

# CharRNN.writeup(): the write-up's (min-char-rnn's) recipe, as CharRNN's parameters.
WRITEUP: dict[str, Any] = dict(
    hidden_size=100, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
    optimizer="adagrad", learning_rate=0.1, clip=5.0, clip_norm=None, dtype="float64",
    init_std=0.01, recurrent_init="normal", dropout=0.0, lr_schedule="constant", warmup=0,
    min_lr_ratio=0.0, keep_best=False)


def check_names(params: dict[str, Any]) -> None:
    """InvalidParameterError unless ``params`` names every hyperparameter, and no other."""
    unknown = [name for name in params if name not in CONSTRAINTS]
    if unknown:
        raise checks.InvalidParameterError(f"unknown parameter {unknown[0]!r}")
    missing = [name for name in CONSTRAINTS if name not in params]
    if missing:
        raise checks.InvalidParameterError(f"the parameters have no {missing[0]!r}")


def check_choices(params: dict[str, Any]) -> None:
    """The parameters of CHOICES that ``params`` holds, each checked: at once,
    where they are given (CharRNN's __init__ and set_params), since a typo
    there ("GRU", "sgd") is never a value to tune; scikit-learn's
    estimators check at fit only. Every other check waits for fit."""
    for name in CHOICES:
        if name in params:
            _choice(name, params[name])


def validate(params: dict[str, Any], auto: bool = False) -> None:
    """Every hyperparameter of ``params`` (a complete dict, as get_params gives)
    checked, here and only here; the layers below trust them. With ``auto``
    (an estimator's, before fit chooses), those of CHOSEN may be AUTO; a
    checkpoint's never are."""
    check_names(params)
    for name, check in CONSTRAINTS.items():
        value = params[name]
        if auto and name in CHOSEN and value == AUTO:
            continue
        try:
            check(name, value)
        except checks.InvalidParameterError as error:
            if not (auto and name in CHOSEN and isinstance(value, str)):
                raise
            first, *rest = checks.clauses_of(error)    # a misspelt "auto": say it is a value
            raise checks.InvalidParameterError(
                (*first, f" (or {AUTO!r}: fit chooses it)"), *rest, param=name) from None
    for name in NORMAL_NUMBERS:
        if not (auto and params[name] == AUTO):
            checks.normal(name, params[name], params["dtype"])


def model_spec(params: dict[str, Any], vocab_size: int) -> ModelSpec:
    """The ModelSpec of a model of ``params`` over ``vocab_size`` symbols."""
    return ModelSpec(vocab_size, params["hidden_size"], params["num_layers"], params["cell"],
                     params["dtype"])


def initial_std(params: dict[str, Any]) -> float:
    """init_std, or where None its rule: 0.01 for one layer (the write-up's),
    else 1 / sqrt(hidden_size) (CharRNN's docstring says why)."""
    if params["init_std"] is not None:
        return float(params["init_std"])
    return 0.01 if params["num_layers"] == 1 else 1 / math.sqrt(params["hidden_size"])
