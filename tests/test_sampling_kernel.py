"""The C sampling loop: greedy decoding, the distribution it draws from,
top-k, top-p, stop sequences, continuation and determinism; and several
samples at once (sample_batch, CharRNN.sample(num_samples=k)): each stream
a single stream with its own generator and stop, the bad sizes refused."""

import numpy as np
import pytest

from charrnn_c import CharRNN, checks, kernels, reference
from charrnn_c.spec import ModelSpec

# Every test twice: products whole, and cut into small-matrix blocks (conftest).
pytestmark = pytest.mark.usefixtures("product_path")

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


# ----------------------------------------------------------------------
# Several samples at once: sample_batch, CharRNN.sample(num_samples=k)

def fresh_rngs(k, seed=0):
    """k streams' generator states, as CharRNN.sample(num_samples=k) makes them."""
    return np.random.SeedSequence(seed).generate_state(4 * k, np.uint64).reshape(k, 4)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batched_greedy_decoding_is_the_references_per_stream(cell, dtype):
    spec64, spec = ModelSpec(V, H, L, cell), ModelSpec(V, H, L, cell, dtype=dtype)
    params = spec64.init_params(seed=4, std=0.5)
    h = np.zeros(spec64.sample_state_shape())
    ours, h_ours = kernels.sample_batch(spec, params.astype(dtype), h.astype(dtype),
                                        fresh_rngs(5), [1, 2, 3], 40, temperature=0)
    ref, h_ref = reference.sample_batch(spec64, params, h, [1, 2, 3], 40, 0, [None] * 5)
    assert len(ours) == 5 and h_ours.shape == spec.state_shape(5)
    for stream, want in zip(ours, ref):
        np.testing.assert_array_equal(stream, want)
    # float32's rounding grows over 42 steps of these large (std 0.5) weights.
    np.testing.assert_allclose(h_ours, h_ref, atol=1e-3 if dtype == np.float32 else 1e-12)


def test_one_stream_of_a_batch_is_sample_character_for_character(model):
    stop = [3, 3]
    for temperature in (1.0, 0.7):
        single_rng, batch_rng = fresh_rng(11), fresh_rngs(1, 11)
        np.testing.assert_array_equal(single_rng, batch_rng[0])   # a prefix: the same state
        one, h_one = kernels.sample(SPEC, model, np.zeros((L, H)), single_rng, [1], 300,
                                    temperature, stop=stop)
        (batch,), h_batch = kernels.sample_batch(SPEC, model, np.zeros((L, H)), batch_rng, [1],
                                                 300, temperature, stop=stop)
        np.testing.assert_array_equal(batch, one)
        np.testing.assert_array_equal(h_batch[:, 0], h_one)
        np.testing.assert_array_equal(batch_rng[0], single_rng)   # advanced alike


def test_each_stream_is_a_single_stream_with_its_generator(model):
    # float64: the batch's gemm and one stream's gemv round alike to ~1e-16,
    # far too little to move a draw.
    rngs = fresh_rngs(6, 3)
    streams, h_last = kernels.sample_batch(SPEC, model, np.zeros((L, H)), rngs.copy(), [2],
                                           200)
    for k, stream in enumerate(streams):
        alone, h_alone = kernels.sample(SPEC, model, np.zeros((L, H)), rngs[k].copy(), [2], 200)
        np.testing.assert_array_equal(stream, alone)
        np.testing.assert_allclose(h_last[:, k], h_alone, rtol=0, atol=1e-12)
    assert len({tuple(s) for s in streams}) == 6          # independent: all different


def test_each_stream_stops_at_its_own_stop_sequence(model):
    rngs = fresh_rngs(12, 5)
    whole, _ = kernels.sample_batch(SPEC, model, np.zeros((L, H)), rngs.copy(), [1], 300)
    stop = np.array([0, 0])
    streams, _ = kernels.sample_batch(SPEC, model, np.zeros((L, H)), rngs.copy(), [1], 300,
                                      stop=stop)
    lengths = []
    for stream, full in zip(streams, whole):
        ends = [i + 2 for i in range(len(full) - 1) if (full[i:i + 2] == stop).all()]
        length = ends[0] if ends else 300
        np.testing.assert_array_equal(stream, full[:length])
        lengths.append(length)
    assert len(set(lengths)) > 3 and min(lengths) < 300      # they end apart


def test_batched_first_draws_follow_softmax_over_temperature(model):
    # 20,000 streams of one character: each frequency within 4.5 standard errors.
    for temperature in (1.0, 0.5):
        streams, _ = kernels.sample_batch(SPEC, model, np.zeros((L, H)), fresh_rngs(20000, 1),
                                          [2], 1, temperature)
        frequencies = np.bincount(np.concatenate(streams), minlength=V) / 20000
        expected = first_step_probabilities(model, temperature)
        standard_error = np.sqrt(expected * (1 - expected) / 20000)
        assert np.all(np.abs(frequencies - expected) <= 4.5 * standard_error + 1e-12)


def test_batched_samples_score_like_the_references(model):
    # Mean -log p per character of 300 streams of 30, under the model, from
    # the C batch and from the reference's sampler with NumPy generators:
    # the same distribution, so within 5 standard errors of the difference.
    def nats(streams):
        values = []
        for stream in streams:
            log_probs, _ = kernels.target_log_probs(
                SPEC, model, np.concatenate([[1], stream[:-1]])[:, None].astype(np.int32),
                stream[:, None], np.zeros((L, 1, H)))
            values.append(-log_probs.ravel())
        values = np.concatenate(values)
        return values.mean(), values.std(ddof=1) / np.sqrt(values.size)

    ours, _ = kernels.sample_batch(SPEC, model, np.zeros((L, H)), fresh_rngs(300, 2), [1], 30)
    generators = [np.random.default_rng(seed) for seed in range(300)]
    ref, _ = reference.sample_batch(SPEC, model, np.zeros((L, H)), [1], 30, 1.0, generators)
    (mean_ours, se_ours), (mean_ref, se_ref) = nats(ours), nats(ref)
    assert abs(mean_ours - mean_ref) <= 5 * np.hypot(se_ours, se_ref)


def test_no_characters_gives_every_stream_the_state_it_was_given(model):
    h = np.random.default_rng(0).standard_normal((L, H))
    streams, h_last = kernels.sample_batch(SPEC, model, h, fresh_rngs(3), [1], 0)
    assert [len(s) for s in streams] == [0, 0, 0]
    np.testing.assert_array_equal(h_last, np.stack([h] * 3, axis=1))


@pytest.mark.parametrize("rngs, error, message", [
    (np.zeros((0, 4), np.uint64), ValueError, "num_samples must be a positive integer, got 0"),
    (np.ones(4, np.uint64), TypeError, r"rng_states must be a writable \(K, 4\) uint64"),
    (np.ones((2, 4), np.int64), TypeError, r"rng_states must be a writable \(K, 4\) uint64"),
    (np.array([[1, 2, 3, 4], [0, 0, 0, 0]], np.uint64), ValueError,
     r"rng_states\[1\] is all zeros"),
])
def test_bad_generator_states_are_refused(model, rngs, error, message):
    with pytest.raises(error, match=message):
        kernels.sample_batch(SPEC, model, np.zeros((L, H)), rngs, [1], 5)


@pytest.mark.parametrize("num_samples", [0, -1, 2.5, True, "4"])
def test_a_num_samples_that_is_not_a_positive_integer_is_refused(num_samples):
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        kernels.check_num_samples(SPEC, num_samples, 10)


def test_more_streams_than_a_call_takes_are_refused_before_any_allocation(monkeypatch):
    # V = 7, H = 16: a product takes num_samples rows of 16 values as a C int.
    # (The limit's streams would need more memory than this machine has: say
    # the machine does not tell, to see the first limit alone.)
    monkeypatch.setattr(kernels, "_physical_memory", lambda: None)
    limit = (2**31 - 1) // 16
    assert kernels.check_num_samples(SPEC, limit, 0) == limit
    with pytest.raises(ValueError, match=f"num_samples={limit + 1:,} is more streams than one "
                                         f"call takes for this model \\(at most {limit:,}\\)"):
        kernels.check_num_samples(SPEC, limit + 1, 10)
    with pytest.raises(ValueError, match="more streams than one call takes"):
        kernels.check_num_samples(SPEC, 10**12, 10)


def test_more_memory_than_the_machine_has_is_refused_naming_both_sizes(monkeypatch):
    monkeypatch.setattr(kernels, "_physical_memory", lambda: 2**30)
    kernels.check_num_samples(SPEC, 1000, 1000)                         # 4 MB of text
    with pytest.raises(ValueError, match=r"num_samples=1,000,000 samples of n=1,000 characters "
                                         r"need about [0-9.]+ GiB at once, more than this "
                                         r"machine's 1\.0 GiB"):
        kernels.check_num_samples(SPEC, 10**6, 1000)


def test_a_real_machine_refuses_a_petabyte_of_samples():
    if kernels._physical_memory() is None:
        pytest.skip("the system does not say how much memory it has")
    with pytest.raises(ValueError, match="GiB at once, more than this machine's"):
        kernels.check_num_samples(SPEC, 10**8, 2**31 - 1)


# CharRNN.sample(num_samples=k)

@pytest.fixture(scope="module")
def small_model(shakespeare):
    # float64: a batch of streams and one stream round alike to ~1e-16 (see above).
    model = CharRNN(hidden_size=24, dtype="float64", seed=0)
    model.fit(shakespeare[:20_000], iterations=200, eval_every=200)
    return model


def test_num_samples_gives_a_list_and_the_same_seed_the_same_list(small_model):
    first = small_model.sample(60, prime="KING", seed=3, num_samples=4)
    assert isinstance(first, list) and len(first) == 4
    assert all(isinstance(text, str) and len(text) == 60 for text in first)
    assert small_model.sample(60, prime="KING", seed=3, num_samples=4) == first
    assert small_model.sample(60, prime="KING", seed=4, num_samples=4) != first
    assert len(set(first)) == 4
    # One sample is sample() itself; and a stream does not depend on how many run with it.
    assert small_model.sample(60, prime="KING", seed=3, num_samples=1) == [
        small_model.sample(60, prime="KING", seed=3)]
    assert small_model.sample(60, prime="KING", seed=3, num_samples=2) == first[:2]


def test_num_samples_stops_each_sample_at_its_own_stop(small_model):
    texts = small_model.sample(400, prime="KING", seed=1, stop="\n", num_samples=8)
    for text in texts:
        assert "\n" not in text[:-1] and (text.endswith("\n") or len(text) == 400)
    assert len({len(text) for text in texts}) > 1


def test_num_samples_is_checked_where_it_enters(small_model):
    with pytest.raises(ValueError, match="num_samples must be a positive integer, got 0"):
        small_model.sample(10, num_samples=0)
    with pytest.raises(ValueError, match="more streams than one call takes"):
        small_model.sample(10, num_samples=10**12)


@pytest.mark.parametrize("call, param", [
    (lambda model: model.sample(5, prime=3), "prime"),
    (lambda model: model.sample(5, stop=3), "stop"),
    (lambda model: model.generate(prime=[1]), "prime"),
])
def test_a_prime_or_stop_that_is_not_text_is_refused_by_name(call, param):
    # sample(prime=3) once failed inside len() with a bare TypeError.
    model = CharRNN(hidden_size=8, num_layers=1, cell="rnn", batch_size=1, seq_length=10,
                    seed=0).fit("abcabd" * 30, iterations=2, progress=False)
    with pytest.raises(checks.InvalidParameterError, match=rf"^{param} must be a str") as raised:
        call(model)
    assert raised.value.param == param
