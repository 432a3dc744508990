"""Fine-tuning: fit(text, warm_start=True) and charrnn train --init-from start a
new run on new text from a trained model's weights (char-rnn's -init_from)."""

import warnings

import numpy as np
import pytest

from charrnn_c import CharRNN, UnknownSymbolError, cli

OPTIONS = dict(hidden_size=16, num_layers=1, batch_size=4, seq_length=20, seed=0,
               warmup=0, lr_schedule="constant", keep_best=False, learning_rate=0.01)
# Another text over the first's symbols: a line the first never holds, again and again.
NEW = "the king said hello to the world\n" * 300


@pytest.fixture(scope="module")
def trained(shakespeare):
    return CharRNN(**OPTIONS).fit(shakespeare[:40_000], iterations=80, progress=False)


def fine_tuned(trained, text, **fit):
    model = CharRNN(**trained.get_params())
    model.__setstate__(trained.__getstate__())        # a copy, the fixture untouched
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(text, warm_start=True, progress=False, **fit)


def test_a_fine_tuning_run_starts_from_the_models_weights_as_a_new_run(trained):
    model = fine_tuned(trained, NEW, iterations=0)
    np.testing.assert_array_equal(model.params_, trained.params_)
    assert model.vocab_ == trained.vocab_
    assert model.n_iter_ == 0 and model.optimizer_.steps == 0
    assert [record["iteration"] for record in model.history_] == [0]


def test_fine_tuning_learns_the_new_text_from_where_the_model_was(trained):
    held_out = NEW[-2_000:]
    before = trained.evaluate(held_out)["nats_per_char"]
    model = fine_tuned(trained, NEW, iterations=150)
    after = model.evaluate(held_out)["nats_per_char"]
    # A repeated line is learned far below what a Shakespeare model gives it.
    assert after < before - 1.0, (before, after)
    assert model.n_iter_ == 150


def test_symbols_the_vocabulary_lacks_are_refused_or_skipped(trained, tmp_path):
    strange = NEW + "\u20ac"
    with pytest.raises(UnknownSymbolError, match="'\u20ac'.*unknown='skip' drops them"):
        fine_tuned(trained, strange, iterations=5)
    in_memory = fine_tuned(trained, strange, iterations=20, unknown="skip")
    path = tmp_path / "new.txt"
    path.write_text(strange)
    from_file = fine_tuned(trained, path, iterations=20, unknown="skip")
    # The file is encoded a chunk at a time into a cache of its own: the same text.
    np.testing.assert_array_equal(from_file.params_, in_memory.params_)
    again = fine_tuned(trained, path, iterations=20, unknown="skip")      # from that cache
    np.testing.assert_array_equal(again.params_, in_memory.params_)


@pytest.mark.parametrize("change, error, message", [
    (dict(resume=True), ValueError, "give one"),
    (dict(unknown="drop"), ValueError, "unknown must be one of"),
])
def test_a_fine_tuning_run_that_cannot_be_is_refused(trained, change, error, message):
    with pytest.raises(error, match=message):
        fine_tuned(trained, NEW, iterations=1, **change)


def test_the_weights_shape_cannot_change_and_an_unfitted_model_has_none(trained):
    model = CharRNN(**trained.get_params())
    with pytest.raises(RuntimeError, match="not fitted"):
        model.fit(NEW, warm_start=True, iterations=1)
    model.__setstate__(trained.__getstate__())
    model.set_params(hidden_size=32)
    with pytest.raises(ValueError, match="hidden_size, num_layers, cell and dtype"):
        model.fit(NEW, warm_start=True, iterations=1)


def test_a_weights_only_model_fine_tunes(trained, tmp_path):
    trained.save(tmp_path / "w.safetensors", weights_only=True)
    model = CharRNN.load(tmp_path / "w.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(NEW, warm_start=True, iterations=3, progress=False)
    assert model.n_iter_ == 3 and not model.weights_only_
    model.save(tmp_path / "full.safetensors")          # a full checkpoint now
    assert CharRNN.load(tmp_path / "full.safetensors").n_iter_ == 3


def test_the_cli_fine_tunes_with_init_from(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    trained.save("base.safetensors")
    (tmp_path / "new.txt").write_text(NEW + "\u20ac")
    flags = ["--iterations", "30", "--no-progress", "--sample-seconds", "0",
             "--checkpoint", "tuned.safetensors"]
    assert cli.main(["train", "new.txt", "--init-from", "base.safetensors", *flags]) == 1
    assert "--skip-unknown drops them" in capsys.readouterr().err
    assert cli.main(["train", "new.txt", "--init-from", "base.safetensors", "--skip-unknown",
                     *flags]) == 0
    tuned = CharRNN.load(tmp_path / "tuned.safetensors")
    assert tuned.n_iter_ == 30 and tuned.vocab_ == trained.vocab_
    assert tuned.hidden_size == trained.hidden_size
    assert cli.main(["train", "new.txt", "--init-from", "base.safetensors", "--resume",
                     *flags]) == 1
    assert "give one" in capsys.readouterr().err
