"""Checkpoints written by earlier versions still load, evaluate, sample and resume.

tests/data/v1_*.safetensors were saved by commit aad0fbf (format version 1),
before the Python layer was reshaped: 2 layers of 12, seq_length 10, batch 3,
dropout 0.1, seed 3, 40 iterations on the first 20,000 characters of the
built-in corpus. v1_expected.json holds what that version computed from them:
the held-out loss on the next 2,000 characters, a seeded sample, and the loss
after 5 more iterations resumed from the file. The same numbers now mean the
kernels, the checkpoint reader and the resume path did not change behaviour.
"""

import json
from pathlib import Path

import pytest

from charrnn_c import CharRNN
from charrnn_c.datasets import shakespeare

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "v1_expected.json").read_text())


@pytest.fixture(scope="module")
def corpus():
    text = shakespeare()
    return text[:20000], text[20000:22000]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_version_1_checkpoint_gives_the_numbers_it_gave_then(name, corpus):
    train, held_out = corpus
    expected = EXPECTED[name]
    model = CharRNN.load(DATA / name)
    assert model.n_iter_ == 40
    # Another BLAS (CI's oldest-SciPy run) rounds differently: 1.6e-10 apart
    # in float32 there; the same code on the same BLAS gives the same bits.
    rel = 1e-6 if model.dtype == "float32" else 1e-11
    assert model.evaluate(held_out)["nats_per_char"] == pytest.approx(expected["evaluate"],
                                                                     rel=rel)
    assert model.sample(60, prime="KING", seed=7) == expected["sample"]
    model.fit(train, iterations=5, resume=True, progress=False)
    assert model.n_iter_ == 45
    assert model.evaluate(held_out)["nats_per_char"] == pytest.approx(
        expected["resumed_5_evaluate"], rel=rel)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_version_1_checkpoint_passes_every_check_and_saves_back_the_same(name, tmp_path):
    # The checks of sizes and values added since (issue 14) must accept what
    # training wrote then; saving runs them again before writing.
    model = CharRNN.load(DATA / name)
    model.save(tmp_path / name)
    copy = CharRNN.load(tmp_path / name)
    assert copy.params_.tobytes() == model.params_.tobytes()
    assert copy.hidden_.tobytes() == model.hidden_.tobytes()
    assert copy._state.streams == model._state.streams == {
        "position": 400, "epoch": 0, "batch_size": 3, "seq_length": 10, "stream_length": 6333}
