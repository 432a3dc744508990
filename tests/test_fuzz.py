"""Fuzzing the three doors untrusted data comes through: the kernel entry
points, text, and checkpoint files. Every input must end in a result or a
documented exception (TypeError, ValueError and its subclasses), never a
crash or a hang. .ci/sanitizers.sh runs this under ASan and UBSan.

The number of examples per test comes from the hypothesis profile:
HYPOTHESIS_PROFILE=long (see conftest.py) for a longer run by hand.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from charrnn_c import CharRNN, CheckpointError, kernels
from charrnn_c import checkpoint as checkpoint_io
from charrnn_c import safetensors_file
from charrnn_c.optimizers import Adagrad
from charrnn_c.spec import ModelSpec

DOCUMENTED = (TypeError, ValueError)
V, H, L = 5, 4, 2

dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16,
                          np.complex128, bool])


def arrays(shape_strategy):
    """Arrays of random dtype and shape, sometimes strided or read-only."""
    @st.composite
    def build(draw):
        shape = draw(shape_strategy)
        dtype = draw(dtypes)
        values = draw(st.sampled_from([0.0, 1.0, -1.0, 3.0, 1e30, np.nan, np.inf]))
        with np.errstate(invalid="ignore", over="ignore"):    # NaN and 1e30 into ints
            array = np.full(shape, values).astype(dtype)
        if draw(st.booleans()) and array.ndim >= 1 and array.shape[0] > 1:
            array = array[::2]
        if draw(st.booleans()):
            array.flags.writeable = False
        return array
    return build()


small_shapes = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)
SPEC = ModelSpec(V, H, L)
num_params = SPEC.num_params


def good_arguments():
    rng = np.random.default_rng(0)
    params = SPEC.init_params(std=0.3)
    return dict(spec=SPEC, optimizer=Adagrad(SPEC, 0.1), params=params,
                grads=np.zeros_like(params), inputs=rng.integers(0, V, (3, 2)),
                targets=rng.integers(0, V, (3, 2)), h0=np.zeros((L, 2, H)), clip=5.0)


def with_replaced(arguments, name, replacement):
    """The arguments with one replaced; "mem" is the optimizer's state buffer."""
    if name == "mem":
        arguments["optimizer"].buffers["mem"] = replacement
    else:
        arguments[name] = replacement
    return arguments


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["spec", "optimizer", "params", "grads", "mem", "inputs",
                             "targets", "h0", "clip", "clip_norm", "dropout"]),
       replacement=st.one_of(arrays(small_shapes),
                             arrays(st.just((num_params,))),
                             arrays(st.sampled_from([(L, 2, H), (3, 2), (2, 3), (L, 1, H)])),
                             st.none(), st.integers(), st.lists(st.integers(-2, 7)),
                             st.floats(), st.text(max_size=3)))
def test_train_step_with_one_bad_argument_raises_a_documented_error(name, replacement):
    arguments = with_replaced(good_arguments(), name, replacement)
    try:
        loss, h_last = kernels.train_step(**arguments)
    except DOCUMENTED:
        return
    # Accepted: then it was a valid input and the outputs have the right shapes.
    assert h_last.shape == arguments["h0"].shape
    assert isinstance(loss, float)


@given(index=st.integers(-2**40, 2**40), position=st.tuples(st.integers(0, 2),
                                                             st.integers(0, 1)))
def test_any_character_index_is_checked(index, position):
    arguments = good_arguments()
    arguments["inputs"][position] = index
    if 0 <= index < V:
        kernels.train_step(**arguments)
    else:
        with pytest.raises(ValueError, match="outside the vocabulary"):
            kernels.train_step(**arguments)


@given(value=st.sampled_from([np.nan, np.inf, -np.inf, 1e300]),
       where=st.integers(0, num_params - 1))
def test_non_finite_weights_give_a_non_finite_or_finite_loss_never_a_crash(value, where):
    arguments = good_arguments()
    arguments["params"][where] = value
    loss, h_last = kernels.sequence_loss(SPEC, arguments["params"], arguments["inputs"],
                                         arguments["targets"], arguments["h0"])
    assert h_last.shape == (L, 2, H)
    assert isinstance(loss, float)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200)),
       seq_length=st.integers(1, 30), batch_size=st.integers(1, 4))
def test_any_text_trains_or_raises_a_documented_error(text, seq_length, batch_size):
    vocab = "bytes" if isinstance(text, bytes) else "chars"
    model = CharRNN(hidden_size=4, seq_length=seq_length, batch_size=batch_size,
                    val_fraction=0.0, vocab=vocab, seed=0)
    try:
        model.fit(text, iterations=3, progress=False)
    except DOCUMENTED:
        return
    assert model.n_iter_ == 3 and np.isfinite(model.params_).all()


@pytest.fixture(scope="module")
def saved_model():
    # A 2-layer tanh RNN over one stream of 25 characters, trained by Adagrad
    # (the 'optimizer.mem' buffer mutated below).
    model = CharRNN(hidden_size=8, num_layers=2, cell="rnn", seq_length=25, batch_size=1,
                    optimizer="adagrad", clip_norm=None, recurrent_init="normal",
                    lr_schedule="constant", warmup=0, min_lr_ratio=0.0,
                    seed=0).fit("abcdefgh" * 50, iterations=5, progress=False)
    tensors, metadata = checkpoint_io.contents(model.get_params(), model.vocab_, model.spec_, model._state)
    return {k: np.array(v) for k, v in tensors.items()}, metadata


def mutations():
    """Ways to make a well-formed safetensors file a wrong CharRNN checkpoint."""
    def drop(name):
        return lambda t, m: t.pop(name)

    def reshape(name):
        return lambda t, m: t.__setitem__(name, t[name].reshape(-1)[:-1])

    def retype(name):
        return lambda t, m: t.__setitem__(name, t[name].astype(np.float64))

    def meta(path, value):
        def change(t, m):
            node = m
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        return change

    return [
        drop("weight_hh_l1"), drop("hidden"), drop("optimizer.mem"),
        reshape("weight_ih_l0"), reshape("bias_o"), reshape("hidden"), reshape("optimizer.mem"),
        retype("weight_ho"), retype("hidden"),
        lambda t, m: t.__setitem__("extra_weight", np.zeros(3, np.float32)),
        meta(("params", "hidden_size"), 9), meta(("params", "num_layers"), 3),
        meta(("params", "dtype"), "float16"), meta(("params", "cell"), "transformer"),
        meta(("params", "seq_length"), -1), meta(("params", "bogus"), 1),
        meta(("vocabulary", "symbols"), [97, 98]), meta(("vocabulary", "symbols"), [98, 97]),
        meta(("vocabulary", "mode"), "words"), meta(("vocabulary",), "abc"),
        meta(("optimizer", "name"), "sgd"), meta(("optimizer", "steps"), "many"),
        meta(("training", "iterations"), None), meta(("training",), []),
        lambda t, m: m.pop("history"), lambda t, m: m.pop("params"),
    ]


@pytest.mark.parametrize("mutate", mutations())
def test_a_well_formed_but_wrong_checkpoint_raises_checkpoint_error(tmp_path, saved_model,
                                                                     mutate):
    import copy
    tensors, metadata = copy.deepcopy(saved_model)
    mutate(tensors, metadata)
    path = tmp_path / "wrong.safetensors"
    safetensors_file.save_checkpoint(path, tensors, metadata)
    with pytest.raises(CheckpointError):
        CharRNN.load(path)


@settings(deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_never_a_checkpoint(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "random.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        CharRNN.load(path)
