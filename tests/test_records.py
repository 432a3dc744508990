"""Records (records.py): each line an independent record, trained from a zero
state between line breaks, and sampled whole (sample_records)."""

import random
import warnings

import numpy as np
import pytest

from charrnn_c import CharRNN, cli, kernels
from charrnn_c.records import RecordBatches, log_probs, split

SYLLABLES = ["ka", "ri", "to", "mi", "sa", "lo", "ne", "du", "va", "el", "an", "ra", "ko", "li"]


@pytest.fixture(scope="module")
def names():
    """About three thousand made-up names of 2 to 4 syllables, as makemore's names."""
    chooser = random.Random(0)
    return sorted({"".join(chooser.choice(SYLLABLES) for _ in range(chooser.randint(2, 4)))
                   .capitalize() for _ in range(3000)})


def fitted(text, params=(), **fit):
    model = CharRNN(hidden_size=64, num_layers=1, batch_size=16, seed=0, records=True,
                    learning_rate=0.01, warmup=0, **dict(params))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(text, progress=False, **fit)


def test_a_batch_is_whole_records_of_one_length_framed_by_the_end_symbol():
    data = np.array([1, 2, 0, 3, 4, 0, 0, 5, 0, 6, 7, 8], dtype=np.int32)   # 0 ends a record
    assert {length: starts.tolist() for length, starts in split(data, 0).items()} == {
        1: [7], 2: [0, 3], 3: [9]}
    batches = RecordBatches(data, 0, batch_size=2, seed=0)
    seen = []
    for _ in range(batches.batches_per_epoch):
        inputs, targets, reset = batches.next_batch()
        assert reset and inputs.shape == targets.shape and inputs.shape[1] == 2
        assert (inputs[0] == 0).all() and (targets[-1] == 0).all()
        np.testing.assert_array_equal(inputs[1:], targets[:-1])
        seen += [tuple(column) for column in targets[:-1].T]
    # Every record once an epoch; a length with fewer than a batch is filled with itself.
    assert sorted(set(seen)) == [(1, 2), (3, 4), (5,), (6, 7, 8)]
    assert batches.epoch == 0
    # Characters trained: each record's and its end, fillers included.
    assert batches.characters() == 2 * (3 + 2 + 4)
    batches.next_batch()
    assert batches.epoch == 1 and batches.characters() > 2 * (3 + 2 + 4)


def test_validation_scores_each_record_from_a_zero_state():
    model = fitted("ab\nba\nabc\n" * 50, iterations=3)
    data = model.vocab_.encode("ab\nabc\n")
    got = log_probs(model.spec_, model.params_, data, model.vocab_.line_break())
    one_by_one = []
    for record in ("ab", "abc"):             # by length, as log_probs orders them
        framed = model.vocab_.encode("\n" + record + "\n").astype(np.int32)
        h = np.zeros(model.spec_.state_shape(1), dtype=model.spec_.np_dtype)
        values, _ = kernels.target_log_probs(model.spec_, model.params_, framed[:-1, None],
                                             framed[1:, None], h)
        one_by_one.append(values.ravel())
    np.testing.assert_allclose(got, np.concatenate(one_by_one), rtol=1e-6)


def test_names_are_learned_and_sampled_whole(names):
    text = "\n".join(names) + "\n"
    model = fitted(text, iterations=600, eval_every=150)
    held_out = model.history_[-1]["val_loss"]
    counts = np.bincount(model.vocab_.encode(text))
    unigram = float(-(counts / counts.sum() * np.log(counts / counts.sum())).sum())
    assert held_out < unigram - 0.5, (held_out, unigram)
    samples = model.sample_records(50, seed=1)
    assert len(samples) == 50 and all(sample and "\n" not in sample for sample in samples)
    assert sum(sample not in names for sample in samples) > 25       # mostly new names
    assert model.sample_records(5, seed=2) == model.sample_records(5, seed=2)


def test_a_records_run_resumes_exactly(names, tmp_path):
    text = "\n".join(names) + "\n"
    fixed = {"lr_schedule": "constant", "keep_best": False}     # the same rate either way
    whole = fitted(text, fixed, iterations=40, eval_every=20)
    half = fitted(text, fixed, iterations=20, eval_every=20,
                  checkpoint=tmp_path / "m.safetensors")
    resumed = CharRNN.load(tmp_path / "m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed.fit(text, iterations=20, eval_every=20, resume=True, progress=False)
    np.testing.assert_array_equal(resumed.params_, whole.params_)
    assert half.n_iter_ == 20 and resumed.n_iter_ == 40


def test_the_cli_trains_and_samples_records(names, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    assert cli.main(["train", "names.txt", "--records", "--hidden-size", "32", "--num-layers",
                     "1", "--batch-size", "16", "--iterations", "50", "--no-progress",
                     "--sample-seconds", "0", "--checkpoint", "n.safetensors"]) == 0
    capsys.readouterr()
    assert cli.main(["sample", "n.safetensors", "--records", "7", "--seed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    assert CharRNN.load(tmp_path / "n.safetensors").records is True


def test_a_records_position_training_could_not_write_is_refused(names, tmp_path):
    from charrnn_c import CheckpointError, checkpoint
    from charrnn_c.safetensors_file import checkpoint_bytes

    model = fitted("\n".join(names) + "\n", iterations=3)
    tensors, metadata = checkpoint.contents(model.get_params(), model.vocab_, model.spec_,
                                            model._state)
    metadata["training"]["streams"] = {"position": 3}            # a Streams position
    with pytest.raises(CheckpointError, match=r"training\['streams'\] must hold "
                                              r"\['records_epoch'"):
        checkpoint.from_bytes(checkpoint_bytes(tensors, metadata))


def test_the_torch_backend_trains_records_as_the_c_core_does():
    pytest.importorskip("torch")
    text = "\n".join(["kari", "tomi", "salo", "nedu", "vael", "anra", "koli"] * 30) + "\n"
    options = dict(hidden_size=16, num_layers=1, batch_size=4, seed=0, records=True,
                   dtype="float64", lr_schedule="constant", warmup=0)
    ours = CharRNN(**options).fit(text, iterations=20, progress=False)
    theirs = CharRNN(**options).fit(text, iterations=20, progress=False, backend="torch")
    np.testing.assert_allclose(theirs.params_, ours.params_, rtol=0, atol=1e-12)


def test_the_held_out_records_are_spread_over_a_sorted_list_not_its_tail():
    from charrnn_c.records import split_validation
    data = np.array([1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10], dtype=np.int32)
    train, held = split_validation(data, 0, 0.25)
    assert held.tolist() == [4, 0, 8, 0]                   # the 4th and 8th of 10
    assert train.tolist() == [1, 0, 2, 0, 3, 0, 5, 0, 6, 0, 7, 0, 9, 0, 10]
    assert split_validation(data, 0, 0.0)[1].tolist() == []
