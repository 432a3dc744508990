"""The C sampling loop: greedy decoding, the distribution it draws from,
top-k, top-p, stop sequences, continuation and determinism."""

import numpy as np
import pytest

from charrnn_c import kernels, reference
from charrnn_c.spec import ModelSpec

V, H, L = 7, 16, 2
SPEC = ModelSpec(V, H, L)


@pytest.fixture
def model():
    params = SPEC.init_params(seed=3, std=0.5)
    params[-V:] = np.linspace(-1, 1, V)           # an uneven output bias
    return params


def fresh_rng(seed=0):
    return np.random.SeedSequence(seed).generate_state(4, np.uint64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_temperature_zero_is_the_references_greedy_decoding(model, dtype):
    h = np.zeros((L, H))
    spec = ModelSpec(V, H, L, dtype=dtype)
    ours, h_ours = kernels.sample(spec, model.astype(dtype), h.astype(dtype), fresh_rng(),
                                  [1, 2, 3], 40, temperature=0)
    ref, h_ref = reference.sample(SPEC, model, h, [1, 2, 3], 40, 0, None)
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_allclose(h_ours, h_ref, atol=1e-5 if dtype == np.float32 else 1e-12)


def first_draw_frequencies(params, draws, **options):
    """How often each character is drawn first after the prime [2]."""
    rng = fresh_rng(1)
    counts = np.zeros(V)
    for _ in range(draws):
        x, _ = kernels.sample(SPEC, params, np.zeros((L, H)), rng, [2], 1, **options)
        counts[x[0]] += 1
    return counts / draws


def first_step_probabilities(params, temperature):
    logits, _ = reference.step(SPEC, params, 2, np.zeros((L, H)))
    return reference.softmax(logits / temperature)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draws_follow_softmax_over_temperature(model, temperature):
    frequencies = first_draw_frequencies(model, 20000, temperature=temperature)
    expected = first_step_probabilities(model, temperature)
    # 20,000 draws: each frequency within 4.5 standard errors.
    standard_error = np.sqrt(expected * (1 - expected) / 20000)
    assert np.all(np.abs(frequencies - expected) <= 4.5 * standard_error + 1e-12)


def test_top_k_draws_only_from_the_k_most_likely(model):
    expected = first_step_probabilities(model, 1.0)
    top3 = np.argsort(expected)[::-1][:3]
    frequencies = first_draw_frequencies(model, 6000, top_k=3)
    assert set(np.flatnonzero(frequencies)) == set(top3)
    renormalized = expected[top3] / expected[top3].sum()
    np.testing.assert_allclose(frequencies[top3], renormalized, atol=0.03)


def test_top_k_never_leaves_the_top_k_over_a_long_text(model):
    params, h = model, np.zeros((L, H))
    out, _ = kernels.sample(SPEC, params, h, fresh_rng(), [0], 300, top_k=2)
    # Replay the text through the reference and rank each drawn character.
    logits, h = reference.step(SPEC, params, 0, h)
    for x in out:
        assert x in np.argsort(logits)[::-1][:2]
        logits, h = reference.step(SPEC, params, x, h)


def test_top_p_keeps_the_smallest_head_reaching_p(model):
    expected = first_step_probabilities(model, 1.0)
    order = np.argsort(expected)[::-1]
    head = order[:np.searchsorted(np.cumsum(expected[order]), 0.6) + 1]
    frequencies = first_draw_frequencies(model, 6000, top_p=0.6)
    assert set(np.flatnonzero(frequencies)) == set(head)


def test_top_k_1_and_a_tiny_top_p_are_greedy(model):
    greedy, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(), [4], 50, temperature=0)
    for options in ({"top_k": 1}, {"top_p": 1e-9}):
        out, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(), [4], 50, **options)
        np.testing.assert_array_equal(out, greedy)


def test_the_same_rng_state_gives_the_same_text(model):
    a, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(7), [1], 200)
    b, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(7), [1], 200)
    c, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(8), [1], 200)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_a_continuation_equals_one_long_call(model):
    whole, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(5), [1], 100)
    rng = fresh_rng(5)
    first, h = kernels.sample(SPEC, model, np.zeros((L, H)), rng, [1], 40)
    rest, _ = kernels.sample(SPEC, model, h, rng, first[-1:], 60)
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


def test_generation_stops_after_the_stop_sequence(model):
    whole, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(2), [1], 300)
    stop = whole[20:22]
    # The first place the pair ends in the text is where it must stop.
    ends = [i + 2 for i in range(len(whole) - 1) if (whole[i:i + 2] == stop).all()]
    out, _ = kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(2), [1], 300, stop=stop)
    np.testing.assert_array_equal(out, whole[:ends[0]])


@pytest.mark.parametrize("options, message", [
    ({"temperature": -1}, "temperature must be"),
    ({"temperature": float("nan")}, "temperature must be"),
    ({"top_k": 0}, "top_k must be"),
    ({"top_p": 0.0}, "top_p must be"),
    ({"top_p": 1.5}, "top_p must be"),
    ({"prime": []}, "prime must hold at least one"),
    ({"prime": [V]}, "prime holds index 7"),
    ({"stop": [-1]}, "stop holds index -1"),
    ({"n": -1}, "n must be a non-negative"),
])
def test_bad_sampling_arguments_are_value_errors(model, options, message):
    arguments = {"prime": [1], "n": 5, **options}
    with pytest.raises(ValueError, match=message):
        kernels.sample(SPEC, model, np.zeros((L, H)), fresh_rng(), **arguments)


def test_a_zero_rng_state_is_refused(model):
    with pytest.raises(ValueError, match="all zeros"):
        kernels.sample(SPEC, model, np.zeros((L, H)), np.zeros(4, np.uint64), [1], 5)
