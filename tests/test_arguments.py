"""Every argument of sample, generate, evaluate and score checked where it
enters, the message naming it (issue 22, finding 9): never NumPy's words, an
OverflowError, or a wrong answer."""

import math
import os
import subprocess
import sys

import pytest

from charrnn_c import CharRNN
from charrnn_c.checks import InvalidParameterError
from charrnn_c.vocab import UnknownSymbolError
from conftest import small


@pytest.fixture(scope="module")
def model():
    return small(hidden_size=8, seed=0).fit("abcab cab\n" * 100, iterations=3, progress=False)


@pytest.mark.parametrize("arguments, named", [
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
    (dict(n=math.inf), "n"), (dict(n=None), "n"), (dict(n=2.5), "n"), (dict(n="5"), "n"),
    (dict(top_k=math.inf), "top_k"), (dict(top_k=0), "top_k"), (dict(top_k="3"), "top_k"),
    (dict(temperature="1"), "temperature"), (dict(temperature="hot"), "temperature"),
    (dict(temperature=math.inf), "temperature"), (dict(temperature=-1), "temperature"),
    (dict(temperature=1e-320), "temperature"),     # flushed to zero: greedy, not hot
    (dict(top_p="0.5"), "top_p"), (dict(top_p=0), "top_p"), (dict(top_p=1.5), "top_p"),
    (dict(stop=5), "stop"),
])
def test_a_bad_sampling_argument_is_refused_by_name(model, arguments, named):
    with pytest.raises(InvalidParameterError, match=rf"^{named} must"):
        model.sample(**{"n": 5, **arguments})
    if "n" not in arguments:
        with pytest.raises(InvalidParameterError, match=rf"^{named} must"):
            model.generate(**arguments)          # at the call, not at the first next()


def test_whole_numbers_given_as_floats_still_sample(model):
    assert model.sample(5.0, top_k=2.0, seed=0) == model.sample(5, top_k=2, seed=0)


@pytest.mark.parametrize("max_chars", [1.5, -1, math.inf, "3"])
def test_generate_refuses_a_max_chars_that_is_no_count(model, max_chars):
    # 1.5 drew 2 characters and -1 none (issue 22).
    with pytest.raises(InvalidParameterError, match="^max_chars must"):
        model.generate(max_chars=max_chars)


def test_generate_draws_exactly_max_chars(model):
    assert len(list(model.generate(max_chars=3, seed=0))) == 3
    assert list(model.generate(max_chars=0)) == []


@pytest.mark.parametrize("name", ["stop", "prime"])
def test_an_unknown_symbol_in_stop_or_prime_is_named_without_unknown_skip(model, name):
    with pytest.raises(UnknownSymbolError) as caught:
        model.sample(5, **{name: "€"})
    message = str(caught.value)
    assert message.startswith(f"{name}='€'") and "'€'" in message
    assert "unknown=" not in message        # sample takes no unknown='skip'


@pytest.mark.parametrize("method", ["evaluate", "score", "score_samples"])
def test_a_str_naming_a_file_is_refused_as_fit_refuses_it(tmp_path, model, method, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "held_out.txt").write_text("abcab cab\n" * 10)
    # evaluate("held_out.txt") scored the 12 characters of the name (issue 22).
    with pytest.raises(ValueError, match=r"the name of a file.*pathlib.Path"):
        getattr(model, method)("held_out.txt")
    assert model.evaluate(tmp_path / "held_out.txt")["characters"] == 99


def test_unknown_must_be_error_or_skip(model):
    with pytest.raises(InvalidParameterError, match="^unknown must"):
        model.evaluate("abc", unknown="drop")


def test_a_text_too_short_for_its_streams_says_what_was_held_out():
    with pytest.raises(ValueError) as caught:
        CharRNN(seq_length=25, batch_size=1, seed=0).fit("abcdefghij" * 2 + "ab",
                                                         iterations=1, progress=False)
    message = str(caught.value)
    # 22 characters, 1 held out by val_fraction=0.05: 21 to train on, and it says so.
    assert "22 characters, less the last 1 held out for validation by val_fraction=0.05" \
        in message and "21 characters" in message


SURROGATES = """
import sys
from conftest import small
small(hidden_size=8, seed=0).fit("a\\udc80b\\ud800" * 100, iterations=3,
                                 progress=False).save(sys.argv[1])
"""


def test_charrnn_sample_of_a_lone_surrogate_model_writes_escapes(tmp_path):
    path = tmp_path / "m.safetensors"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__), "PYTHONIOENCODING": "utf-8"}
    subprocess.run([sys.executable, "-c", SURROGATES, str(path)], check=True, env=env,
                   timeout=120)
    result = subprocess.run([sys.executable, "-m", "charrnn_c", "sample", str(path), "-n",
                             "200", "--seed", "0"], capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert "\\udc80" in out or "\\ud800" in out
