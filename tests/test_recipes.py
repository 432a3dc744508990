"""The write-up's recipe one word away (CharRNN.writeup, --preset writeup), and
orthogonal recurrent weights."""

import numpy as np
import pytest

from charrnn_c import CharRNN, cli
from charrnn_c.checks import InvalidParameterError
from charrnn_c.spec import ModelSpec

WRITEUP = dict(hidden_size=100, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
               optimizer="adagrad", learning_rate=0.1, clip=5.0, clip_norm=None,
               dtype="float64", init_std=0.01, recurrent_init="normal", dropout=0.0,
               lr_schedule="constant", warmup=0, min_lr_ratio=0.0, keep_best=False)


def test_writeup_is_the_explicit_recipe():
    assert CharRNN.writeup().get_params() == CharRNN(**WRITEUP).get_params()
    # Everything else is CharRNN's default.
    defaults = CharRNN().get_params()
    assert {k: v for k, v in CharRNN.writeup().get_params().items() if k not in WRITEUP} == {
        k: v for k, v in defaults.items() if k not in WRITEUP}


def test_writeup_takes_overrides_and_refuses_unknown_names():
    model = CharRNN.writeup(hidden_size=512, num_layers=3, seed=4)
    assert (model.hidden_size, model.num_layers, model.seed, model.dtype) == (512, 3, 4,
                                                                              "float64")
    with pytest.raises(TypeError, match="hiden_size"):
        CharRNN.writeup(hiden_size=5)


def test_writeup_trains_as_the_explicit_model_does(shakespeare):
    text = shakespeare[:20_000]
    a = CharRNN.writeup(seed=0).fit(text, iterations=20, progress=False)
    b = CharRNN(**WRITEUP, seed=0).fit(text, iterations=20, progress=False)
    np.testing.assert_array_equal(a.params_, b.params_)
    # The write-up's start: N(0, 0.01^2) weights, in float64.
    fresh = CharRNN.writeup(seed=0).fit(text, iterations=0, progress=False)
    assert fresh.params_.dtype == np.float64
    assert np.std(fresh.state_dict()["weight_hh_l0"]) == pytest.approx(0.01, rel=0.05)


def test_preset_writeup_sets_the_defaults_and_options_given_still_win():
    parse = cli.build_parser().parse_args
    args = parse(["train", "--preset", "writeup"])
    for name, value in CharRNN.writeup().get_params().items():
        assert getattr(args, name) == value, name
    # Before or after --preset, an option given wins, even at CharRNN's default value.
    for argv in (["train", "--hidden-size", "50", "--dtype", "float32", "--preset", "writeup"],
                 ["train", "--preset=writeup", "--hidden-size", "50", "--dtype", "float32"],
                 ["train", "--pres", "writeup", "--hidden-size", "50", "--dtype", "float32"]):
        args = parse(argv)
        assert (args.hidden_size, args.dtype, args.seq_length, args.keep_best) == (
            50, "float32", 25, False), argv
    # Without --preset, nothing changes.
    assert parse(["train"]).dtype == CharRNN().dtype


def test_charrnn_train_preset_writeup_trains_the_writeup_model(tmp_path, shakespeare):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(shakespeare[:20_000])
    path = tmp_path / "m.safetensors"
    status = cli.main(["train", str(corpus), "--preset", "writeup", "--iterations", "5",
                       "--seed", "2", "--checkpoint", str(path), "--no-progress",
                       "--sample-seconds", "0"])
    assert status == 0
    assert CharRNN.load(path).get_params() == CharRNN.writeup(seed=2).get_params()


def test_a_bad_preset_is_named(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--preset", "karpathy"])
    assert "invalid choice: 'karpathy'" in capsys.readouterr().err


# ----------------------------------------------------------------------
# Orthogonal recurrent weights

@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-5)])
def test_orthogonal_init_makes_each_recurrent_gate_block_orthogonal(cell, dtype, tolerance):
    spec = ModelSpec(vocab_size=11, hidden_size=24, num_layers=3, cell=cell, dtype=dtype)
    normal = spec.unflatten(spec.init_params(seed=7, std=0.05))
    orthogonal = spec.unflatten(spec.init_params(seed=7, std=0.05, recurrent_init="orthogonal"))
    H, eye = spec.hidden_size, np.eye(spec.hidden_size)
    for name in normal:
        if name.startswith("weight_hh"):
            for block in np.split(orthogonal[name].astype(np.float64), spec.gates):
                np.testing.assert_allclose(block @ block.T, eye, atol=tolerance)
                np.testing.assert_allclose(block.T @ block, eye, atol=tolerance)
            assert orthogonal[name].shape == (spec.gates * H, H)
            assert not np.allclose(orthogonal[name], normal[name])
        else:                                        # every other value as drawn
            np.testing.assert_array_equal(orthogonal[name], normal[name])


def test_orthogonal_blocks_differ_and_follow_the_seed():
    spec = ModelSpec(5, 8, 2, "lstm")
    a = spec.unflatten(spec.init_params(seed=1, recurrent_init="orthogonal"))
    b = spec.unflatten(spec.init_params(seed=1, recurrent_init="orthogonal"))
    c = spec.unflatten(spec.init_params(seed=2, recurrent_init="orthogonal"))
    np.testing.assert_array_equal(a["weight_hh_l1"], b["weight_hh_l1"])
    assert not np.allclose(a["weight_hh_l1"], c["weight_hh_l1"])
    blocks = np.split(a["weight_hh_l0"], 4)
    assert not np.allclose(blocks[0], blocks[1])
    assert not np.allclose(a["weight_hh_l0"], a["weight_hh_l1"])


def test_charrnn_recurrent_init_reaches_the_weights_and_the_cli(tmp_path, shakespeare):
    text = shakespeare[:20_000]
    # A tanh RNN: its W_hh is one gate block, orthogonal as a whole.
    model = CharRNN(hidden_size=16, num_layers=2, cell="rnn", recurrent_init="orthogonal",
                    seed=0, dtype="float64").fit(text, iterations=0, progress=False)
    for layer in range(2):
        w = model.state_dict()[f"weight_hh_l{layer}"]
        np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-12)
    plain = CharRNN(hidden_size=16, num_layers=2, cell="rnn", recurrent_init="normal", seed=0,
                    dtype="float64").fit(text, iterations=0, progress=False)
    np.testing.assert_array_equal(model.state_dict()["weight_ih_l1"],
                                  plain.state_dict()["weight_ih_l1"])
    for value in ("normal", "orthogonal"):       # either way from the default
        args = cli.build_parser().parse_args(["train", "--recurrent-init", value])
        assert args.recurrent_init == value


def test_a_bad_recurrent_init_is_named():
    with pytest.raises(InvalidParameterError, match="recurrent_init must be one of"):
        CharRNN(recurrent_init="identity").fit("abcd" * 100, iterations=1, progress=False)
    with pytest.raises(InvalidParameterError, match="recurrent_init must be one of"):
        ModelSpec(5, 4, 1).init_params(recurrent_init="eye")
