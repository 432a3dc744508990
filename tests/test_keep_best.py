"""keep_best: the model ends with its best record's weights, checkpoints hold them and
the weights training continues from, patience stops early, and the CLI's flags."""

import numpy as np
import pytest

from charrnn_c import CharRNN, CheckpointError, checkpoint, cli
from conftest import SMALL

# conftest.SMALL at 2 streams: its constant rate above all, so that training
# straight to 20 iterations passes through the weights a run of 40 has at its 20th.
OPTIONS = dict(SMALL, hidden_size=16, batch_size=2, dtype="float64", seed=3, n_threads=1)


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare[:30_000]


@pytest.fixture(scope="module")
def reference(text):
    """{iterations: weights} of the same model trained straight, keep_best off."""
    return {n: CharRNN(**OPTIONS, keep_best=False).fit(text, iterations=n, progress=False).params_
            for n in (20, 30, 40, 50)}


def scripted_validation(model, losses):
    """Make ``model``'s records measure these validation losses, in turn."""
    losses = iter(losses)
    model._evaluate = lambda spec, params, data: np.array([-next(losses)])
    return model


def test_the_model_ends_with_the_best_records_weights(text, reference):
    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5, 2.6])
    model.fit(text, iterations=40, eval_every=10, progress=False)
    assert model.n_iter_ == 40 and model.best_iteration_ == 20
    assert [r.get("kept", False) for r in model.history_] == [False, True, False, False]
    np.testing.assert_array_equal(model.params_, reference[20])
    np.testing.assert_array_equal(model._state.train_params, reference[40])


def test_without_keep_best_the_model_ends_with_the_last_step(text, reference):
    model = scripted_validation(CharRNN(**OPTIONS, keep_best=False), [3.0, 2.0, 2.5, 2.6])
    model.fit(text, iterations=40, eval_every=10, progress=False)
    assert model.best_iteration_ is None and model._state.train_params is None
    assert not any("kept" in r for r in model.history_)
    np.testing.assert_array_equal(model.params_, reference[40])


def test_the_checkpoint_keeps_both_and_resume_continues_from_the_last_step(text, reference,
                                                                           tmp_path):
    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5, 2.6])
    model.fit(text, iterations=40, eval_every=10, progress=False)
    model.save(tmp_path / "m.safetensors")
    loaded = CharRNN.load(tmp_path / "m.safetensors")
    assert loaded.best_iteration_ == 20
    np.testing.assert_array_equal(loaded.params_, reference[20])      # what samples use
    np.testing.assert_array_equal(loaded._state.train_params, reference[40])
    assert loaded.sample(50, seed=1) == model.sample(50, seed=1)

    # A worse record: the kept weights stay; training went on from 40, exactly.
    scripted_validation(loaded, [2.4]).fit(text, iterations=10, eval_every=10, resume=True,
                                           progress=False)
    assert loaded.best_iteration_ == 20
    np.testing.assert_array_equal(loaded.params_, reference[20])
    np.testing.assert_array_equal(loaded._state.train_params, reference[50])
    # A better one: kept, and the model's weights are training's again.
    scripted_validation(loaded, [1.0]).fit(text, iterations=10, eval_every=10, resume=True,
                                           progress=False)
    assert loaded.best_iteration_ == 60 and loaded._state.train_params is None
    assert [r["iteration"] for r in loaded.history_ if r.get("kept")] == [60]


def test_a_checkpoint_saved_mid_fit_holds_the_best_so_far_and_resumes_exactly(text, reference,
                                                                             tmp_path):
    path, copy = tmp_path / "m.safetensors", tmp_path / "at_30.safetensors"

    def keep_the_save_at_30(record):
        if record["iteration"] == 40:                 # the file is the save at 30 still
            copy.write_bytes(path.read_bytes())

    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5, 2.6])
    model.fit(text, iterations=40, eval_every=10, checkpoint=path, checkpoint_every=30,
              progress=False, callbacks=[keep_the_save_at_30])
    at_30 = CharRNN.load(copy)
    assert at_30.n_iter_ == 30 and at_30.best_iteration_ == 20
    np.testing.assert_array_equal(at_30.params_, reference[20])
    np.testing.assert_array_equal(at_30._state.train_params, reference[30])
    scripted_validation(at_30, [2.7]).fit(text, iterations=10, eval_every=10, resume=True,
                                          progress=False)
    np.testing.assert_array_equal(at_30._state.train_params, reference[40])


def test_a_record_seen_by_callbacks_is_marked_when_it_is_the_best_so_far(text):
    seen = []
    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5])
    model.fit(text, iterations=30, eval_every=10, progress=False,
              callbacks=[lambda record: seen.append(record.get("kept", False))])
    assert seen == [True, True, False]


def test_weights_that_got_worse_for_real_are_not_the_ones_kept(text):
    val = text[-int(0.05 * len(text)):]

    def sabotage(record):
        if record["iteration"] == 300:                # after its weights were taken
            noise = np.random.default_rng(0).normal(0, 1.0, model.params_.shape)
            model.params_ += noise.astype(model.params_.dtype)
            model.optimizer_.learning_rate = 1e-6     # too slow to recover

    model = CharRNN(**dict(SMALL, hidden_size=32, batch_size=1, optimizer="adam", seed=0))
    model.fit(text, iterations=400, eval_every=100, callbacks=[sabotage], progress=False)
    losses = [r["val_loss"] for r in model.history_]
    kept = [r for r in model.history_ if r.get("kept")]
    assert len(kept) == 1 and kept[0]["val_loss"] == min(losses) < losses[-1]
    assert model.best_iteration_ == kept[0]["iteration"] <= 300
    assert model.evaluate(val)["nats_per_char"] == pytest.approx(kept[0]["val_loss"], rel=1e-9)


def test_patience_stops_after_that_many_records_without_improvement(text, reference):
    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5, 2.6, 1.0])
    model.fit(text, iterations=100, eval_every=10, patience=2, progress=False)
    assert model.stop_reason_ == "patience" and model.n_iter_ == 40
    np.testing.assert_array_equal(model.params_, reference[20])
    # Counted across resumes: one more record without improvement stops it again.
    scripted_validation(model, [2.2]).fit(text, iterations=100, eval_every=10, patience=3,
                                          resume=True, progress=False)
    assert model.stop_reason_ == "patience" and model.n_iter_ == 50


@pytest.mark.parametrize("patience, error, message", [
    (0, ValueError, "patience must be a positive integer"),
    (2.0, TypeError, "patience must be a positive integer"),
])
def test_a_bad_patience_is_named(text, patience, error, message):
    with pytest.raises(error, match=message):
        CharRNN(**OPTIONS).fit(text, iterations=5, patience=patience, progress=False)


def test_patience_without_validation_text_is_refused(text):
    with pytest.raises(ValueError, match="patience counts validation records"):
        CharRNN(**OPTIONS, val_fraction=0).fit(text, iterations=5, patience=2, progress=False)


def test_without_validation_text_keep_best_keeps_the_last_step(text, reference):
    model = CharRNN(**OPTIONS, val_fraction=0).fit(text, iterations=20, eval_every=5,
                                                   progress=False)
    assert model.best_iteration_ is None and not any("kept" in r for r in model.history_)


def test_after_divergence_the_kept_record_is_one_history_still_holds(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 60

    def sabotage(record):
        if record["iteration"] == 20:
            model.optimizer_.learning_rate = 1e6

    model = CharRNN(**dict(SMALL, hidden_size=16, batch_size=1, optimizer="adam", seed=0))
    with pytest.raises(FloatingPointError, match="restored to iteration 20"):
        model.fit(text, iterations=40, eval_every=10, callbacks=[sabotage], progress=False)
    kept = [r["iteration"] for r in model.history_ if r.get("kept")]
    assert kept == [model.best_iteration_] and model.best_iteration_ <= model.n_iter_ == 20
    model.save(tmp_path / "m.safetensors")                # passes the checks of a load
    assert CharRNN.load(tmp_path / "m.safetensors").best_iteration_ == model.best_iteration_


@pytest.mark.parametrize("change, message", [
    (lambda t, m: m["history"][0].update(kept=True), "marks 2 records 'kept'"),
    (lambda t, m: m["history"][1].update(kept="yes"), r"\['kept'\] must be true"),
    (lambda t, m: t.pop("training.params"), "'training.params'.*is missing"),
    (lambda t, m: m["history"][1].pop("kept"), "no earlier record is kept"),
    (lambda t, m: t.update({"training.params": t["training.params"][:-1]}), "has shape"),
])
def test_kept_state_training_could_not_have_written_is_refused(text, change, message):
    model = scripted_validation(CharRNN(**OPTIONS), [3.0, 2.0, 2.5])
    model.fit(text, iterations=30, eval_every=10, progress=False)
    tensors, metadata = checkpoint.contents(model.get_params(), model.vocab_, model.spec_, model._state)
    change(tensors, metadata)
    with pytest.raises(CheckpointError, match=message):
        CharRNN._from_contents(checkpoint.from_contents(tensors, metadata, "test"))


def test_the_cli_keeps_the_best_by_default_and_takes_no_keep_best_and_patience(tmp_path, text):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    args = cli.build_parser().parse_args(["train"])
    assert args.keep_best is True and args.patience is None
    path = tmp_path / "m.safetensors"
    status = cli.main(["train", str(corpus), "--hidden-size", "8", "--iterations", "40",
                       "--sample-every", "10", "--sample-seconds", "0", "--sample-length", "5",
                       "--seed", "0", "--checkpoint", str(path), "--no-keep-best",
                       "--patience", "1", "--no-progress"])
    assert status == 0
    model = CharRNN.load(path)
    assert model.keep_best is False and model.best_iteration_ is None
    # Patience 1 stops at the first record that does not improve (or runs to 40).
    losses = [r["val_loss"] for r in model.history_]
    assert model.n_iter_ == 40 or losses[-1] >= min(losses[:-1])
