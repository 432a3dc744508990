"""charrnn_c.checks: each check on good values (and what it returns) and on bad
ones (and the message it gives), worded once for every entry point."""

import math
import re

import numpy as np
import pytest

from charrnn_c import checks
from charrnn_c.checks import InvalidParameterError

NAN, INF = float("nan"), float("inf")


def refused(message):
    """pytest.raises for an InvalidParameterError with exactly ``message``."""
    return pytest.raises(InvalidParameterError, match=f"^{re.escape(message)}$")


def test_invalid_parameter_error_is_both_a_value_error_and_a_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
    for caught in (ValueError, TypeError):
        with pytest.raises(caught):
            checks.positive_int("n", 0)
        with pytest.raises(caught):
            checks.positive_int("n", "1")


# positive_int

@pytest.mark.parametrize("value", [1, 2, 10**20, np.int64(3), np.uint8(1), np.int32(7)])
def test_positive_int_accepts_positive_integers_as_int(value):
    result = checks.positive_int("hidden_size", value)
    assert result == value and type(result) is int


@pytest.mark.parametrize("value", [0, -1, np.int64(0), 1.0, 2.5, True, False, "1", None, NAN,
                                   INF, [1]])
def test_positive_int_refuses_the_rest_bool_included(value):
    with refused(f"hidden_size must be a positive integer, got {value!r}"):
        checks.positive_int("hidden_size", value)


# one_of

def test_one_of_returns_a_choice_unchanged():
    assert checks.one_of("cell", "gru", ("rnn", "gru", "lstm")) == "gru"
    assert checks.one_of("cell", np.str_("lstm"), ("rnn", "lstm")) == "lstm"


@pytest.mark.parametrize("value, hint", [
    ("GRU", " (did you mean 'gru'?)"), ("gru ", " (did you mean 'gru'?)"), ("", ""),
    (None, ""), (1, ""), (["gru"], ""), (b"gru", "")])
def test_one_of_refuses_anything_else_listing_the_choices(value, hint):
    with refused(f"cell must be one of ('rnn', 'gru', 'lstm'), got {value!r}{hint}"):
        checks.one_of("cell", value, ["rnn", "gru", "lstm"])


def test_one_of_compares_types_too():
    # 1.0 == 1 and True == 1, but neither is the integer choice 1.
    assert checks.one_of("k", 1, (1, 2)) == 1
    for value in (1.0, "1"):
        with refused(f"k must be one of (1, 2), got {value!r}"):
            checks.one_of("k", value, (1, 2))


# positive_number

@pytest.mark.parametrize("value, expected", [(1, 1.0), (0.5, 0.5), (1e-300, 1e-300),
                                             (np.float32(0.25), 0.25), (np.int64(4), 4.0),
                                             (1e308, 1e308)])
def test_positive_number_accepts_finite_positive_numbers_as_float(value, expected):
    result = checks.positive_number("clip", value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [0, 0.0, -0.0, -1, -1e-300, NAN, INF, -INF, True, "1",
                                   None, np.float64("nan"), [1.0]])
def test_positive_number_refuses_zero_negatives_nan_inf_bool_and_none(value):
    with refused(f"clip must be a positive number, got {value!r}"):
        checks.positive_number("clip", value)


def test_positive_number_or_none():
    assert checks.positive_number("clip_norm", None, or_none=True) is None
    assert checks.positive_number("clip_norm", 2, or_none=True) == 2.0
    for value in (0, NAN, INF, False, "x"):
        with refused(f"clip_norm must be a positive number or None, got {value!r}"):
            checks.positive_number("clip_norm", value, or_none=True)


# non_negative_number

@pytest.mark.parametrize("value, expected", [(0, 0.0), (-0.0, 0.0), (2.5, 2.5), (INF, INF),
                                             (np.int32(3), 3.0)])
def test_non_negative_number_accepts_zero_and_infinity(value, expected):
    result = checks.non_negative_number("max_time", value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [-1, -1e-300, -INF, NAN, True, "0", None])
def test_non_negative_number_refuses_negatives_nan_bool_and_none(value):
    with refused(f"max_time must be a non-negative number, got {value!r}"):
        checks.non_negative_number("max_time", value)


def test_non_negative_number_or_none():
    assert checks.non_negative_number("max_time", None, or_none=True) is None
    assert checks.non_negative_number("max_time", 0, or_none=True) == 0.0
    with refused("max_time must be a non-negative number or None, got nan"):
        checks.non_negative_number("max_time", NAN, or_none=True)


# fraction

@pytest.mark.parametrize("value", [0, 0.0, 0.5, math.nextafter(1.0, 0.0), np.float32(0.25),
                                   np.int64(0)])
def test_fraction_accepts_numbers_in_0_1_as_float(value):
    result = checks.fraction("dropout", value)
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", [1, 1.0, 1.5, -0.1, -1e-300, NAN, INF, -INF, True, False,
                                   "0.5", None])
def test_fraction_refuses_the_rest_one_nan_and_bool_included(value):
    with refused(f"dropout must be a number in [0, 1), got {value!r}"):
        checks.fraction("dropout", value)


# seed

@pytest.mark.parametrize("value, expected", [(None, None), (0, 0), (2**63 - 1, 2**63 - 1),
                                             (np.int64(5), 5), (np.uint64(7), 7)])
def test_seed_accepts_integers_and_none(value, expected):
    result = checks.seed("seed", value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value", [1.0, True, False, "0", NAN, [0], -1, np.int64(-5)])
def test_seed_refuses_floats_bools_strings_and_negatives(value):
    # NumPy's SeedSequence refuses a negative seed with a message naming nothing.
    with refused(f"seed must be a non-negative int or None, got {value!r}"):
        checks.seed("seed", value)


def test_positive_number_takes_infinity_only_where_asked():
    # The kernels take clip=inf as "no elementwise clip"; CharRNN does not.
    assert checks.positive_number("clip", math.inf, or_inf=True) == math.inf
    with refused("clip must be a positive number, got inf"):
        checks.positive_number("clip", math.inf)
    with refused("clip must be a positive number, got -inf"):
        checks.positive_number("clip", -math.inf, or_inf=True)


# count

@pytest.mark.parametrize("value, expected", [(0, 0), (7, 7), (np.int64(3), 3), (1e4, 10_000),
                                             (2.0, 2), (10**20, 10**20)])
def test_count_takes_whole_numbers_as_int(value, expected):
    result = checks.count("iterations", value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [-1, 2.5, True, NAN, INF, -INF, "3", None, [1]])
def test_count_refuses_fractions_negatives_bool_nan_inf_and_none(value):
    with refused(f"iterations must be a whole number >= 0, got {value!r}"):
        checks.count("iterations", value)


def test_count_takes_inf_and_none_only_where_asked():
    assert checks.count("iterations", INF, or_inf=True) == INF
    assert checks.count("iterations", None, or_none=True) is None
    with refused("iterations must be a whole number >= 0, inf or None, got -inf"):
        checks.count("iterations", -INF, or_none=True, or_inf=True)


# Errors that carry their parameter

@pytest.mark.parametrize("check, arguments", [
    (checks.positive_int, (0,)), (checks.count, (-1,)), (checks.one_of, ("x", ("a", "b"))),
    (checks.positive_number, (0,)), (checks.non_negative_number, (-1,)),
    (checks.positive_count, (0,)), (checks.normal, (1e-320, "float64")),
    (checks.probability, (2,)), (checks.fraction, (1,)), (checks.unit_interval, (2,)),
    (checks.seed, (-1,)),
])
def test_every_check_names_its_parameter_as_data(check, arguments):
    with pytest.raises(InvalidParameterError) as caught:
        check("window_size", *arguments)
    assert caught.value.param == "window_size"
    # The message's first part is the parameter itself, for a front end to name.
    assert caught.value.clauses[0][0] == checks.Name("window_size")
    assert str(caught.value).startswith("window_size must be ")


def test_the_python_wording_joins_the_parts_and_the_clauses():
    error = InvalidParameterError(
        (checks.Name("top_k"), " must be a positive integer", checks.PythonOnly(" or None"),
         ", got 0"),
        ("for new text, ", checks.Call("fit"), " ", checks.With("resume", False)),
        ("try ", checks.Setting("num_samples", 10**6, f"{10**6:,}"), " or ",
         checks.Setting("vocab", "bytes")),
        param="top_k")
    assert str(error) == ("top_k must be a positive integer or None, got 0; for new text, fit "
                          "with resume=False; try num_samples=1,000,000 or vocab='bytes'")
    assert error.param == "top_k" and len(error.clauses) == 3


def test_a_message_given_as_one_str_is_one_clause_of_text():
    error = InvalidParameterError("prime must be a str")
    assert str(error) == "prime must be a str" and error.param is None
    assert error.clauses == (("prime must be a str",),)


def test_the_parts_survive_pickling():
    import pickle

    error = InvalidParameterError((checks.Name("n"), " must be 1"), "or 2", param="n")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.param, again.clauses) == (str(error), "n", error.clauses)
