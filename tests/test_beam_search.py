"""Beam search (beam_search.py, CharRNN.beam_search, charrnn sample --beam):
against an exhaustive search over every continuation, scored by the model's
own log-probabilities; width 1 against greedy sampling; stop; bad arguments
named; the command line end to end."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from charrnn_c import CharRNN, kernels
from charrnn_c.beam_search import beam_search
from charrnn_c.checks import InvalidParameterError
from charrnn_c.spec import ModelSpec
from conftest import small

V, H = 4, 8
TEXT = "abcdbadcabddcbac" * 40             # 4 symbols, no line break


def log_prob(spec, params, h, prime, continuation):
    """log p(continuation | prime) from one stream's state h, by the kernel that scores text."""
    text = np.concatenate([prime, continuation]).astype(np.int32)
    state = np.expand_dims(h, -2).copy()
    lps, _ = kernels.target_log_probs(spec, params, text[:-1, None], text[1:, None], state)
    return float(lps[len(prime) - 1:, 0].sum())


def ends_at_first_stop(continuation, stop):
    """Whether ``continuation`` holds ``stop`` only as its ending (none: never)."""
    S = len(stop)
    hits = [t for t in range(S, len(continuation) + 1) if list(continuation[t - S:t]) == stop]
    return hits == [len(continuation)]


def exhaustive(spec, params, h, prime, n, stop=()):
    """The likeliest of every continuation beam search may end with: n characters
    without ``stop``, or fewer ending at its first ``stop``."""
    stop = list(stop)
    candidates = []
    for length in range(1, n + 1):
        for c in itertools.product(range(spec.vocab_size), repeat=length):
            finished = bool(stop) and ends_at_first_stop(c, stop)
            unfinished_n = length == n and not (stop and any(
                list(c[t - len(stop):t]) == stop for t in range(len(stop), n + 1)))
            if finished or unfinished_n:
                candidates.append((log_prob(spec, params, h, prime, np.array(c)), c))
    return max(candidates)


@pytest.fixture(params=[("rnn", 1), ("gru", 2), ("lstm", 2)], ids=lambda p: f"{p[0]}-{p[1]}")
def untrained(request):
    """A random float64 model (sharper than a fresh init: std 1) and a nonzero state."""
    cell, layers = request.param
    spec = ModelSpec(V, H, layers, cell=cell, dtype="float64")
    params = spec.init_params(seed=5, std=1.0)
    h = np.random.default_rng(2).normal(0, 0.5, spec.sample_state_shape())
    return spec, params, h


@pytest.mark.parametrize("prime", [[2], [0, 3, 1]])
def test_a_beam_as_wide_as_every_prefix_finds_the_exhaustive_best(untrained, prime):
    spec, params, h = untrained
    prime = np.array(prime, dtype=np.int32)
    best_score, best = exhaustive(spec, params, h, prime, 3)
    for width in (V ** 2, V ** 2 + 3):
        out, score = beam_search(spec, params, h, prime, 3, width, np.zeros(0, np.int32))
        assert tuple(out) == best
        assert score == pytest.approx(best_score, rel=1e-12)
        assert score == pytest.approx(log_prob(spec, params, h, prime, out), rel=1e-12)


@pytest.mark.parametrize("stop", [[1], [3, 0]])
def test_with_stop_the_exhaustive_best_may_be_a_shorter_text(untrained, stop):
    spec, params, h = untrained
    prime = np.array([0, 2], dtype=np.int32)
    best_score, best = exhaustive(spec, params, h, prime, 3, stop)
    out, score = beam_search(spec, params, h, prime, 3, V ** 2, np.array(stop, np.int32))
    assert tuple(out) == best
    assert score == pytest.approx(best_score, rel=1e-12)


def test_stop_ends_the_text_at_its_first_appearance():
    # An output bias that makes character 1 almost certain: the best text is "1" then stop.
    spec = ModelSpec(V, H, 1, dtype="float64")
    params = spec.init_params(seed=0, std=0.1)
    params[-V:] = [0.0, 6.0, 0.0, 0.0]
    h = np.zeros(spec.sample_state_shape())
    none = np.zeros(0, np.int32)
    out, _ = beam_search(spec, params, h, np.array([0], np.int32), 10, 3, none)
    assert list(out) == [1] * 10
    out, _ = beam_search(spec, params, h, np.array([0], np.int32), 10, 3, np.array([1, 1]))
    assert list(out) == [1, 1]


@pytest.mark.parametrize("stop", [[], [2], [1, 3]])
def test_width_one_is_greedy_sampling(untrained, stop):
    spec, params, h = untrained
    prime = np.array([1, 0], dtype=np.int32)
    rng = np.random.SeedSequence(0).generate_state(4, np.uint64)
    greedy, _ = kernels.sample(spec, params, h, rng, prime, 40, temperature=0, stop=stop)
    out, score = beam_search(spec, params, h, prime, 40, 1, np.array(stop, np.int32))
    np.testing.assert_array_equal(out, greedy)
    assert score == pytest.approx(log_prob(spec, params, h, prime, out), rel=1e-12)


def test_ties_go_to_the_lower_index_as_in_greedy_sampling():
    # Zero weights: every character equally likely at every step, every score a tie.
    spec = ModelSpec(V, H, 1, dtype="float64")
    params, h = np.zeros(spec.num_params), np.zeros(spec.sample_state_shape())
    rng = np.random.SeedSequence(0).generate_state(4, np.uint64)
    greedy, _ = kernels.sample(spec, params, h, rng, [3], 6, temperature=0)
    for width in (1, 3):
        out, score = beam_search(spec, params, h, np.array([3], np.int32), 6, width,
                                 np.zeros(0, np.int32))
        np.testing.assert_array_equal(out, greedy)
        assert score == pytest.approx(6 * np.log(1 / V), rel=1e-12)


@pytest.fixture(scope="module")
def trained():
    return small(hidden_size=H, seed=0, dtype="float64").fit(TEXT, iterations=150,
                                                               progress=False)


def text_log_prob(model, prime, text):
    vocab = model.vocab_
    h = np.zeros(model.spec_.sample_state_shape())
    return log_prob(model.spec_, model.params_, h, vocab.encode(prime), vocab.encode(text))


def test_the_estimators_beam_of_width_one_is_greedy_sampling(trained):
    greedy = trained.sample(30, prime="ab", temperature=0)
    assert trained.beam_search(30, prime="ab", beam_width=1) == greedy
    greedy = trained.sample(30, prime="ab", temperature=0, stop="ca")
    assert trained.beam_search(30, prime="ab", beam_width=1, stop="ca") == greedy


@pytest.mark.parametrize("prime", ["KING", "The ", "ROMEO:\n"])
def test_a_wider_beam_finds_likelier_text_than_greedy_on_a_trained_model(shakespeare, prime):
    model = small(hidden_size=32, seed=0, dtype="float64").fit(shakespeare[:20_000],
                                                               iterations=300, progress=False)
    greedy = text_log_prob(model, prime, model.sample(40, prime=prime, temperature=0))
    scores = [text_log_prob(model, prime, model.beam_search(40, prime=prime, beam_width=width))
              for width in (2, 5)]
    assert greedy + 1 < min(scores)           # 2.4 to 8 nats likelier, at this seed
    assert model.beam_search(40, prime=prime) == model.beam_search(40, prime=prime)


def test_the_estimators_beam_without_a_prime_starts_where_sample_does(trained):
    # From the warm state after a line break, as sample: width 1 is greedy there too.
    assert trained.beam_search(20, beam_width=1) == trained.sample(20, temperature=0)
    assert trained.beam_search(20, prime="", beam_width=1) == trained.sample(20, temperature=0)


def test_the_estimators_stop_is_included_and_ends_the_text(trained):
    text = trained.beam_search(200, prime="ab", beam_width=4, stop="a")
    assert text.endswith("a") and text.count("a") == 1
    assert trained.beam_search(0, prime="ab") == ""


@pytest.mark.parametrize("arguments, param", [
    (dict(beam_width=0), "beam_width"), (dict(beam_width=-2), "beam_width"),
    (dict(beam_width=2.0), "beam_width"), (dict(beam_width=True), "beam_width"),
    (dict(beam_width="3"), "beam_width"), (dict(beam_width=10 ** 12), "beam_width"),
    (dict(n=-1), "n"), (dict(n=2.5), "n"), (dict(n=None), "n"),
])
def test_bad_arguments_are_named(trained, arguments, param):
    with pytest.raises(InvalidParameterError) as raised:
        trained.beam_search(**{"n": 5, **arguments})
    assert raised.value.param == param
    assert param in str(raised.value)


def test_bad_prime_and_stop_are_named(trained):
    with pytest.raises(InvalidParameterError, match="prime"):
        trained.beam_search(5, prime=3)
    with pytest.raises(ValueError, match=r"stop='z'"):
        trained.beam_search(5, prime="ab", stop="z")
    with pytest.raises(RuntimeError, match="not fitted"):
        CharRNN().beam_search(5)


def charrnn(*args):
    return subprocess.run([sys.executable, "-m", "charrnn_c", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_the_command_line_prints_the_prime_then_the_beams_text(trained, tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    trained.save(checkpoint)
    result = charrnn("sample", checkpoint, "-n", 25, "--prime", "ab", "--beam", 6)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ab" + trained.beam_search(25, prime="ab", beam_width=6) + "\n"
    omitted = charrnn("sample", checkpoint, "-n", 25, "--prime", "ab", "--beam", 6,
                      "--omit-prime", "--stop", "d")
    assert omitted.returncode == 0, omitted.stderr
    assert omitted.stdout == trained.beam_search(25, prime="ab", beam_width=6, stop="d") + "\n"


@pytest.mark.parametrize("options, status, fragment", [
    (["--temperature", "0.5"], 1, "it takes no --temperature"),
    (["--top-k", "2", "--seed", "1"], 1, "it takes no --top-k, --seed"),
    (["--top-p", "0.9"], 1, "it takes no --top-p"),
    (["--stream"], 2, "--stream: not allowed with argument --beam"),
    (["-k", "2"], 2, "--num-samples: not allowed with argument --beam"),
    (["--temperature", "0.5", "--beam", "0"], 2, "argument --beam: "),
])
def test_the_command_line_refuses_a_draws_options_with_beam(trained, tmp_path, options,
                                                              status, fragment):
    checkpoint = tmp_path / "model.safetensors"
    trained.save(checkpoint)
    result = charrnn("sample", checkpoint, "-n", 5, "--beam", 3, *options)
    assert result.returncode == status
    assert result.stdout == ""
    assert fragment in result.stderr
    if status == 1:
        assert result.stderr.splitlines() == [f"charrnn: error: --beam searches for the most "
                                              f"likely text and draws nothing: {fragment}"]
