"""The weights-only file: save(weights_only=True, dtype=...) and CharRNN.load of it.

It loads for sampling, scoring, evaluation and pickling; its size is one copy of
the weights; float16 halves float32; resuming from it is refused with a
message saying why; the full format still loads as before.
"""

import os
import pickle

import numpy as np
import pytest

from charrnn_c import CharRNN, CheckpointError
from charrnn_c.safetensors_file import load_checkpoint, save_checkpoint

from conftest import small


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare[:20000]


@pytest.fixture(scope="module", params=["rnn", "gru", "lstm"])
def model(request, text):
    return small(hidden_size=24, num_layers=2, cell=request.param, seed=1,
                 optimizer="adam").fit(text, iterations=60, progress=False)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_loads_and_samples_scores_as_its_weights_say(model, text, tmp_path, dtype):
    path = tmp_path / "w.safetensors"
    model.save(path, weights_only=True, dtype=dtype)
    loaded = CharRNN.load(path)
    assert loaded.dtype == ("float64" if dtype == "float64" else "float32")
    # The weights are the model's, rounded to the stored dtype and no further.
    np.testing.assert_array_equal(loaded.params_,
                                  model.params_.astype(dtype).astype(loaded.dtype))
    held_out = text[-600:]
    difference = np.abs(loaded.score_samples(held_out) - model.score_samples(held_out)).max()
    assert difference < {"float16": 2e-2, "float32": 1e-5, "float64": 1e-5}[dtype]
    assert loaded.evaluate(held_out)["characters"] == 599
    if dtype != "float16":
        assert loaded.sample(200, prime="KING.", seed=4) == model.sample(200, prime="KING.",
                                                                         seed=4)
    again = pickle.loads(pickle.dumps(loaded))
    assert again.sample(100, seed=2) == loaded.sample(100, seed=2)
    assert loaded.vocab_.symbols == model.vocab_.symbols
    assert loaded.n_iter_ == model.n_iter_ == 60


def test_holds_one_copy_of_the_weights(model, tmp_path):
    full, f32, f16 = (tmp_path / name for name in ("full", "f32", "f16"))
    model.save(full)
    model.save(f32, weights_only=True, dtype="float32")
    model.save(f16, weights_only=True, dtype="float16")
    weights = model.params_.size
    # The header (vocabulary, hyperparameters) is a few kB; the rest is the weights.
    assert 4 * weights < os.path.getsize(f32) < 4 * weights + 8000
    assert 2 * weights < os.path.getsize(f16) < 2 * weights + 8000
    # Weights and Adam's two moments (and training's weights, where keep_best kept others).
    assert os.path.getsize(full) > 3 * 4 * weights
    tensors, _ = load_checkpoint(f16)
    assert {array.dtype.name for array in tensors.values()} == {"float16"}
    # Two layers' 4 tensors, the output's 2, and where unprimed samples start.
    assert "sampling.warm_state" in tensors and len(tensors) == 4 * 2 + 2 + 1


def test_refuses_to_resume_with_the_reason(model, text, tmp_path):
    path = tmp_path / "w.safetensors"
    model.save(path, weights_only=True)
    loaded = CharRNN.load(path)
    with pytest.raises(ValueError, match="resume=True needs a full checkpoint.*weights-only"):
        loaded.fit(text, iterations=1, resume=True)
    with pytest.raises(ValueError, match="save\\(path, weights_only=True\\)"):
        loaded.save(tmp_path / "full.safetensors")
    # A fresh fit of it trains a new model of the same recipe.
    fresh = loaded.fit(text, iterations=2, progress=False)
    assert fresh.n_iter_ == 2 and not fresh.weights_only_
    fresh.save(tmp_path / "full.safetensors")


def test_bad_arguments_name_themselves(model, tmp_path):
    with pytest.raises(ValueError, match="dtype must be one of"):
        model.save(tmp_path / "w", weights_only=True, dtype="int8")
    with pytest.raises(ValueError, match="pass weights_only=True"):
        model.save(tmp_path / "w", dtype="float16")
    with pytest.raises(ValueError, match="weights_only must be one of"):
        model.save(tmp_path / "w", weights_only="yes")
    huge = pickle.loads(pickle.dumps(model))
    huge.params_[0] = 1e6
    with pytest.raises(ValueError, match="float16.*'weight_ih_l0' holds 1e\\+06"):
        huge.save(tmp_path / "w", weights_only=True, dtype="float16")
    assert not (tmp_path / "w").exists()


def test_a_tampered_weights_file_is_refused(model, tmp_path):
    path = tmp_path / "w.safetensors"
    model.save(path, weights_only=True, dtype="float16")
    tensors, metadata = load_checkpoint(path)
    for change, message in [
        (lambda t, m: t.pop("bias_o"), "holds 9 weight tensors"),
        (lambda t, m: t.update(extra=t.pop("bias_o")),
         "missing \\['bias_o'\\], unexpected \\['extra'\\]"),
        (lambda t, m: t.update(bias_o=t["bias_o"].astype(np.float32)), "bias_o.*float32"),
        (lambda t, m: m["params"].update(dtype="float64"), "is float16.*'float64'"),
        (lambda t, m: m["params"].update(num_layers=10**6), "num_layers"),
        (lambda t, m: m.update(weights_only="yes"), "weights_only must be true"),
        (lambda t, m: m.pop("vocabulary"), "no 'vocabulary' entry"),
        (lambda t, m: t["weight_ho"].__setitem__((0, 0), np.nan), "weight_ho.*nan"),
    ]:
        t = {name: array.copy() for name, array in tensors.items()}
        m = {**metadata, "params": dict(metadata["params"])}
        change(t, m)
        save_checkpoint(tmp_path / "bad.safetensors", t, m)
        with pytest.raises(CheckpointError, match=message):
            CharRNN.load(tmp_path / "bad.safetensors")


def test_the_command_line_reads_it(model, tmp_path, capsys):
    from charrnn_c.cli import main

    path = tmp_path / "w.safetensors"
    model.save(path, weights_only=True, dtype="float16")
    assert main(["info", str(path)]) == 0
    assert "a weights-only file" in capsys.readouterr().out
    assert main(["sample", str(path), "-n", "40", "--seed", "3", "--omit-prime"]) == 0
    assert capsys.readouterr().out == CharRNN.load(path).sample(40, seed=3) + "\n"
    assert main(["train", "--resume", "--checkpoint", str(path), "--iterations", "1"]) == 1
    assert "needs a full checkpoint" in capsys.readouterr().err
