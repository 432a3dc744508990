"""Several files, or a directory's, as one text (documents.py): in the order of
their paths, a file separator (U+001C) between two, hidden files left out."""

import os
import warnings

import numpy as np
import pytest

from charrnn_c import CharRNN, cli, corpus
from charrnn_c.documents import DOCUMENT_BOUNDARY, Documents

A, B, C = "first play\nKING. Hail!\n", "second play\nQUEEN. Farewell.\n", "third\n"


@pytest.fixture
def plays(tmp_path, monkeypatch):
    monkeypatch.setenv(corpus.CACHE_ENV, str(tmp_path / "cache"))
    root = tmp_path / "plays"
    (root / "later").mkdir(parents=True)
    (root / "b.txt").write_text(B)
    (root / "a.txt").write_text(A)
    (root / "later" / "c.txt").write_text(C)
    (root / ".notes.txt").write_text("hidden \u20ac")            # left out
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("hidden too \u20ac")
    return root


def test_a_directory_is_its_files_in_path_order_with_a_boundary_between(plays):
    encoded = corpus.encode_file(plays)
    assert encoded.vocab.decode(encoded.data) == DOCUMENT_BOUNDARY.join([A, B, C])
    assert DOCUMENT_BOUNDARY in encoded.vocab.symbols and "\u20ac" not in encoded.vocab.symbols
    listed = corpus.encode_file([plays / "later" / "c.txt", plays / "a.txt"])
    assert listed.vocab.decode(listed.data) == C + DOCUMENT_BOUNDARY + A


def test_one_file_has_no_boundary_and_its_own_cache(plays):
    alone = corpus.encode_file(plays / "a.txt")
    assert alone.vocab.decode(alone.data) == A
    assert alone.fingerprint == corpus.encode_file(Documents([plays / "a.txt"])).fingerprint


def test_the_cache_is_reused_and_rebuilt_when_any_file_changes(plays):
    first = corpus.encode_file(plays)
    again = corpus.encode_file(plays)
    assert again.fingerprint == first.fingerprint
    assert len(list((plays.parent / "cache").glob("*.encoded"))) == 1
    (plays / "later" / "c.txt").write_text(C + "more\n")
    changed = corpus.encode_file(plays)
    assert changed.vocab.decode(changed.data) == DOCUMENT_BOUNDARY.join([A, B, C + "more\n"])
    assert changed.fingerprint != first.fingerprint


def test_bad_lists_and_empty_directories_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"must hold paths \(pathlib.Path\), not str"):
        Documents.of([str(tmp_path / "a.txt")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty is a directory with no files to train on"):
        CharRNN().fit(tmp_path / "empty")


def test_fit_and_evaluate_read_a_directory_as_the_text_in_memory(plays):
    text = DOCUMENT_BOUNDARY.join([A, B, C]) * 1
    options = dict(hidden_size=8, num_layers=1, batch_size=2, seq_length=10, seed=0,
                   val_fraction=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_files = CharRNN(**options).fit(plays, iterations=5, progress=False)
        in_memory = CharRNN(**options).fit(text, iterations=5, progress=False)
        np.testing.assert_array_equal(from_files.params_, in_memory.params_)
        assert from_files.evaluate(plays) == in_memory.evaluate(text)
        from_files.fit(plays, iterations=2, resume=True, progress=False)   # the same text
        with pytest.raises(ValueError, match="needs the text this model was trained on"):
            from_files.fit([plays / "a.txt", plays / "b.txt"], iterations=1, resume=True)


def test_the_cli_trains_on_several_files_or_a_directory(plays, monkeypatch, capsys):
    monkeypatch.chdir(plays.parent)
    flags = ["--hidden-size", "8", "--num-layers", "1", "--batch-size", "2", "--seq-length",
             "10", "--iterations", "3", "--no-progress", "--sample-seconds", "0"]
    assert cli.main(["train", "plays", *flags, "--checkpoint", "d.safetensors"]) == 0
    assert "training on plays/a.txt and 2 more file(s) (" in capsys.readouterr().err
    assert cli.main(["train", "plays/a.txt", "plays/b.txt", *flags,
                     "--checkpoint", "l.safetensors"]) == 0
    by_list = CharRNN.load("l.safetensors")
    assert DOCUMENT_BOUNDARY in by_list.vocab_.symbols
    assert os.path.exists("d.safetensors")
