"""The Cython glue (_core) checks its own arguments: anyone can import it, so
a call with sizes that disagree with the spec tuple (issue 14: an
inconsistent vocabulary size, empty buffers, a heap-use-after-free under
ASan) must raise ValueError or TypeError before any pointer is taken, and
write nothing. .ci/sanitizers.sh runs this file under ASan and UBSan, where
a read or write outside a buffer aborts the run.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from charrnn_c import _core
from charrnn_c.optimizers import Adagrad, Adam
from charrnn_c.spec import ModelSpec

DOCUMENTED = (TypeError, ValueError)
T, B = 3, 2


def good_calls(cell="rnn", dtype="float64", num_layers=2, optimizer=Adagrad):
    """{name: (function, arguments, names of the arrays it writes)}, each call valid."""
    spec = ModelSpec(5, 4, num_layers, cell, dtype)
    rng = np.random.default_rng(0)
    params = spec.init_params(std=0.3)
    state = spec.state_shape(B)
    opt = optimizer(spec, 0.1)
    a, b = opt.core_buffers()
    config = opt.core_config(5.0, None)
    indices = rng.integers(0, 5, (T, B)).astype(np.int32)

    def workspace(with_grads, masked):
        return np.zeros(_core.workspace_size(spec.core, T, B, with_grads, masked), spec.np_dtype)

    mask = np.ones((num_layers - 1) * T * B * 4, spec.np_dtype)
    return {
        "forward_backward": (_core.forward_backward, dict(
            spec=spec.core, params=params, grads=np.zeros_like(params), inputs=indices,
            targets=indices[::-1].copy(), state0=np.zeros(state, spec.np_dtype),
            state_last=np.zeros(state, spec.np_dtype), mask=mask,
            workspace=workspace(True, True)), {"grads", "state_last", "workspace"}),
        "target_log_probs": (_core.target_log_probs, dict(
            spec=spec.core, log_probs=np.zeros((T, B)), params=params, inputs=indices,
            targets=indices, state0=np.zeros(state, spec.np_dtype),
            state_last=np.zeros(state, spec.np_dtype), workspace=workspace(False, False)),
            {"log_probs", "state_last", "workspace"}),
        "train_step": (_core.train_step, dict(
            spec=spec.core, config=config, params=params.copy(), grads=np.zeros_like(params),
            state_a=a, state_b=b, inputs=indices, targets=indices,
            state0=np.zeros(state, spec.np_dtype), state_last=np.zeros(state, spec.np_dtype),
            mask=None, workspace=workspace(True, False)),
            {"params", "grads", "state_a", "state_b", "state_last", "workspace"}),
        "optimizer_step": (_core.optimizer_step, dict(
            dtype=spec.core[1], config=config, params=params.copy(),
            grads=np.ones_like(params), state_a=a.copy(), state_b=None if b is None
            else b.copy()), {"params", "grads", "state_a", "state_b"}),
        "sample": (_core.sample, dict(
            spec=spec.core, out=np.zeros(7, np.int32), params=params,
            state=np.zeros(spec.sample_state_shape(), spec.np_dtype),
            rng=np.array([1, 2, 3, 4], np.uint64), prime=np.array([0, 1], np.int32),
            stop=np.array([3, 4], np.int32), temperature=1.0, top_k=0, top_p=1.0),
            {"out", "state", "rng"}),
        "sample_batch": (_core.sample_batch, dict(
            spec=spec.core, out=np.zeros((B, 7), np.int32), lengths=np.zeros(B, np.int32),
            params=params, state=np.zeros(spec.sample_state_shape(), spec.np_dtype),
            state_last=np.zeros(state, spec.np_dtype),
            rng=np.arange(1, 4 * B + 1, dtype=np.uint64).reshape(B, 4),
            prime=np.array([0, 1], np.int32), stop=np.array([3, 4], np.int32),
            temperature=1.0, top_k=0, top_p=1.0), {"out", "lengths", "state_last", "rng"}),
    }


CALLS = list(good_calls())
CASES = [(cell, dtype, optimizer) for cell in ("rnn", "gru", "lstm")
         for dtype in ("float32", "float64") for optimizer in (Adagrad, Adam)]


@pytest.mark.parametrize("cell, dtype, optimizer", CASES)
@pytest.mark.parametrize("name", CALLS)
def test_the_good_calls_work(name, cell, dtype, optimizer):
    function, arguments, _ = good_calls(cell, dtype, optimizer=optimizer)[name]
    function(**arguments)


def mutations(array):
    """(label, replacement) pairs: each a wrong array for where ``array`` goes."""
    flat = array.reshape(-1)
    other = np.float32 if array.dtype == np.float64 else np.float64
    doubled = np.zeros((2 * array.shape[0],) + array.shape[1:], array.dtype)
    misaligned = np.frombuffer(b"\0" * (array.nbytes + 1), np.uint8)[1:].view(array.dtype)
    return [
        ("one fewer", flat[:-1].copy()),
        ("one more", np.concatenate([flat, flat[:1]])),
        ("empty", np.zeros((0,) + array.shape[1:], array.dtype)),
        ("flattened", flat.copy()) if array.ndim > 1 else ("raised", flat[None].copy()),
        ("other dtype", array.astype(other)),
        ("strided", doubled[::2]),
        ("misaligned", misaligned.reshape(array.shape)),
        ("byte-swapped", array.astype(array.dtype.newbyteorder())),
        ("a list", array.tolist()),
    ]


def valid(name, argument, label):
    """Mutations that leave a good call: a bigger workspace; for sampling,
    an output of any length, a prime of another length (not none) and a stop
    sequence of any length."""
    resized = label in ("one fewer", "one more", "empty")
    sampling = name in ("sample", "sample_batch")
    return ((argument == "workspace" and label == "one more")
            or (name == "sample" and argument == "out" and resized)
            or (sampling and argument == "stop" and resized)
            or (sampling and argument == "prime" and label != "empty" and resized))


@pytest.mark.parametrize("cell, dtype, optimizer", [("lstm", "float32", Adam),
                                                    ("gru", "float64", Adagrad)])
@pytest.mark.parametrize("name", CALLS)
def test_every_wrong_array_is_refused_and_nothing_is_written(name, cell, dtype, optimizer):
    function, good, written = good_calls(cell, dtype, optimizer=optimizer)[name]
    for argument, array in good.items():
        if not isinstance(array, np.ndarray):
            continue
        for label, replacement in mutations(array):
            arguments = {k: v.copy() if isinstance(v, np.ndarray) else v
                         for k, v in good.items()}
            arguments[argument] = replacement
            before = {k: arguments[k].copy() for k in written if arguments.get(k) is not None
                      and k != "workspace" and isinstance(arguments[k], np.ndarray)}
            if valid(name, argument, label):
                function(**arguments)
                continue
            with pytest.raises(DOCUMENTED):
                function(**arguments)
                pytest.fail(f"{name}: {argument} {label} was accepted")
            for k, old in before.items():
                if k != argument:
                    np.testing.assert_array_equal(arguments[k], old, err_msg=f"{name} {k}")


@pytest.mark.parametrize("name", CALLS)
def test_a_read_only_buffer_is_refused_where_it_is_written(name):
    function, good, written = good_calls()[name]
    for argument in written:
        if good.get(argument) is None:
            continue
        arguments = dict(good)
        arguments[argument] = good[argument].copy()
        arguments[argument].flags.writeable = False
        with pytest.raises(ValueError, match=f"{argument} is read-only"):
            function(**arguments)


@pytest.mark.parametrize("name", ["forward_backward", "target_log_probs", "train_step",
                                  "sample", "sample_batch"])
@pytest.mark.parametrize("change", [(2, +1), (2, -1), (3, +1), (4, +1), (4, -1), (0, +1),
                                    (0, -1), (1, +1), (2, 2**31), (3, -5)])
def test_a_spec_tuple_that_disagrees_with_the_arrays_is_refused(name, change):
    # The sizes in the tuple say how far the C reads: V + 1 read past the
    # weights (issue 14's heap-use-after-free under ASan).
    function, arguments, _ = good_calls()[name]
    position, step = change
    core = list(arguments["spec"])
    core[position] += step
    with pytest.raises(DOCUMENTED):
        function(**{**arguments, "spec": tuple(core)})


def test_a_spec_that_is_not_five_ints_is_refused():
    function, arguments, _ = good_calls()["forward_backward"]
    for spec in [(0, 1, 5, 4), (0, 1, 5, 4, 2, 0), (0, 1, 5.5, 4, 2), (0, 1, 5, 4, 2**40)]:
        with pytest.raises(DOCUMENTED):
            function(**{**arguments, "spec": spec})


def test_indices_outside_the_vocabulary_are_refused_where_the_c_reads_them():
    for name, argument in [("forward_backward", "inputs"), ("forward_backward", "targets"),
                           ("target_log_probs", "targets"), ("train_step", "inputs"),
                           ("sample", "prime"), ("sample_batch", "prime")]:
        function, arguments, _ = good_calls()[name]
        for bad in (5, -1, 2**31 - 1):
            indices = arguments[argument].copy()
            indices.flat[-1] = bad
            with pytest.raises(ValueError, match=f"{argument} holds index {bad}, outside"):
                function(**{**arguments, argument: indices})


def test_adam_without_its_second_buffer_and_an_unknown_optimizer_are_refused():
    function, arguments, _ = good_calls(optimizer=Adam)["train_step"]
    with pytest.raises(ValueError, match="Adam needs state_b"):
        function(**{**arguments, "state_b": None})
    config = (7,) + arguments["config"][1:]
    with pytest.raises(ValueError, match="optimizer kind 7"):
        function(**{**arguments, "config": config})


def test_overlapping_buffers_are_refused_naming_both():
    function, arguments, _ = good_calls()["train_step"]
    with pytest.raises(ValueError, match="params and grads share memory"):
        function(**{**arguments, "grads": arguments["params"]})
    function, arguments, _ = good_calls()["forward_backward"]
    with pytest.raises(ValueError, match="state_last and state0 share memory"):
        function(**{**arguments, "state_last": arguments["state0"]})


def test_the_first_overlap_helper_is_exact_for_contiguous_buffers():
    a = np.zeros(10)
    assert _core.first_overlap((a[:5], a[5:]), ()) is None          # adjacent, disjoint
    assert _core.first_overlap((a[:6], a[5:]), ()) == (0, 1)
    assert _core.first_overlap((a[:5],), (np.zeros(3), a[4:5])) == (0, 2)
    assert _core.first_overlap((a, None), (a[:0],)) is None         # empty overlaps nothing
    assert _core.first_overlap((), (a, a)) is None                   # reads may overlap


# Hypothesis: a spec tuple of any small sizes against the arrays of another.

small = st.integers(-1, 7)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.sampled_from(CALLS), cell=st.integers(-1, 3), dtype=st.integers(-1, 2),
       V=small, H=small, L=small)
def test_any_spec_tuple_against_fixed_arrays_raises_or_matches(name, cell, dtype, V, H, L):
    function, arguments, _ = good_calls("gru", "float64", num_layers=2)[name]
    spec = (cell, dtype, V, H, L)
    if name == "optimizer_step":
        arguments = {**arguments, "dtype": dtype}
    else:
        arguments = {**arguments, "spec": spec}
    try:
        function(**arguments)
    except DOCUMENTED:
        return
    # Accepted: then the tuple is the one the arrays were made for.
    assert spec == (1, 1, 5, 4, 2) or name == "optimizer_step" and dtype == 1
