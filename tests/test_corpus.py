"""A text file encoded a chunk at a time into a cache on disk: the same indices,
vocabulary and fingerprint as the text in memory; reused while the file is
unchanged, rebuilt when it changes, never half written; bounded memory."""

import fcntl
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest

from charrnn_c import CharRNN, corpus, documents
from charrnn_c.filearray import FileArray
from charrnn_c.vocab import UnknownSymbolError, Vocabulary


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test its own cache directory, never the user's."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(corpus.CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def text(shakespeare):
    """The corpus with 2-, 3- and 4-byte characters and CRLF line ends mixed in."""
    return shakespeare[:200_000].replace("e", "é").replace("--", "—").replace(
        "\n\n", "\r\n😀\r\n")


def write(path, text):
    path.write_bytes(text.encode())
    return path


def rewrite(path, text):
    """Write ``text`` over ``path`` so that its ctime moves on (its granularity
    can be coarser than the time a write takes)."""
    before = os.stat(path).st_ctime_ns
    while True:
        write(path, text)
        if os.stat(path).st_ctime_ns != before:
            return
        time.sleep(0.005)


def cache_files(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def forbid_reading(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the text was read again")
    monkeypatch.setattr(documents, "read_chunks", fail)


@pytest.mark.parametrize("mode", ["chars", "bytes"])
def test_a_file_encodes_as_its_text_in_memory_does(tmp_path, cache, text, mode):
    encoded = corpus.encode_file(write(tmp_path / "t.txt", text), mode)
    vocab = Vocabulary.from_text(text, mode=mode)
    assert encoded.vocab == vocab
    assert isinstance(encoded.data, FileArray) and encoded.data.dtype == vocab.dtype
    assert os.path.dirname(encoded.data.filename) == str(cache)
    np.testing.assert_array_equal(encoded.data, vocab.encode(text))
    assert encoded.fingerprint == corpus.fingerprint(vocab.encode(text))
    assert not hasattr(encoded.data, "__setitem__")          # read-only


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 4096])
def test_chunks_split_inside_characters_encode_as_the_whole(tmp_path, text, chunk_bytes):
    text = text[:3000]
    encoded = corpus.encode_file(write(tmp_path / "t.txt", text), chunk_bytes=chunk_bytes)
    np.testing.assert_array_equal(encoded.data, Vocabulary.from_text(text).encode(text))


def test_a_crlf_file_keeps_its_carriage_returns(tmp_path):
    encoded = corpus.encode_file(write(tmp_path / "crlf.txt", "one\r\ntwo\r\n" * 10))
    assert encoded.vocab.symbols == ("\n", "\r", "e", "n", "o", "t", "w")
    assert encoded.vocab.decode(encoded.data) == "one\r\ntwo\r\n" * 10


def forbid_building(monkeypatch):
    """Let the text be read once, to verify a cache (no count, no write)."""
    real = getattr(documents.read_chunks, "real", documents.read_chunks)
    passes = []

    def once(*args, **kwargs):
        passes.append(1)
        assert len(passes) == 1, "the text was read again"
        return real(*args, **kwargs)
    once.real = real

    def fail(*args, **kwargs):
        raise AssertionError("the cache was built again")
    monkeypatch.setattr(documents, "read_chunks", once)
    monkeypatch.setattr(corpus, "_write", fail)
    return passes


def test_the_cache_is_reused_after_one_verifying_read(tmp_path, cache, text, monkeypatch):
    path = write(tmp_path / "t.txt", text)
    first = corpus.encode_file(path)
    passes = forbid_building(monkeypatch)
    again = corpus.encode_file(path)
    assert passes == [1]
    assert again.data.filename == first.data.filename
    assert again.vocab == first.vocab and again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.data, first.data)
    assert len(cache_files(cache)) == 1


@pytest.mark.parametrize("change", ["append", "same size and mtime", "new symbols"])
def test_a_changed_text_is_encoded_again_over_its_old_cache(tmp_path, cache, text, change):
    path = write(tmp_path / "t.txt", text)
    corpus.encode_file(path)
    if change == "append":
        new = text + "more"
        write(path, new)
    elif change == "same size and mtime":
        # What `cp -p` or `rsync -t` of an edited copy leaves: only ctime tells.
        mtime = os.stat(path).st_mtime_ns
        new = text.replace("KING", "QUEE")
        rewrite(path, new)
        os.utime(path, ns=(mtime, mtime))
        assert os.stat(path).st_size == len(text.encode())
    else:
        new = text + "ß"
        write(path, new)
    encoded = corpus.encode_file(path)
    assert encoded.vocab == Vocabulary.from_text(new)
    np.testing.assert_array_equal(encoded.data, encoded.vocab.encode(new))
    assert len(cache_files(cache)) == 1


def test_a_cache_of_a_larger_vocabulary_still_obeys_max_size(tmp_path, text):
    path = write(tmp_path / "t.txt", text)
    corpus.encode_file(path)
    with pytest.raises(ValueError, match=r"distinct chars, more than max_size=10"):
        corpus.encode_file(path, max_size=10)


def test_a_given_vocabulary_encodes_with_its_indices_in_a_cache_of_its_own(
        tmp_path, cache, text, monkeypatch):
    path = write(tmp_path / "t.txt", text)
    wider = Vocabulary(sorted(set(text) | set("~§")))
    encoded = corpus.encode_file(path, vocab=wider)
    np.testing.assert_array_equal(encoded.data, wider.encode(text))
    assert encoded.vocab == wider
    own = corpus.encode_file(path)
    assert own.vocab == Vocabulary.from_text(text)
    assert len(cache_files(cache)) == 2
    forbid_building(monkeypatch)
    assert corpus.encode_file(path, vocab=wider).vocab == wider
    forbid_building(monkeypatch)
    assert corpus.encode_file(path, vocab=own.vocab).data.filename == own.data.filename


def test_a_given_vocabulary_missing_symbols_names_them_with_every_occurrence(tmp_path, text):
    path = write(tmp_path / "t.txt", text)
    narrow = Vocabulary(sorted(set(text) - {"é"}))
    with pytest.raises(UnknownSymbolError,
                       match=rf"1 distinct chars .*\({text.count('é')} occurrences\): 'é'"):
        corpus.encode_file(path, vocab=narrow, chunk_bytes=1000)


def test_a_write_cut_short_leaves_no_cache_and_the_next_run_builds_one(
        tmp_path, cache, text, monkeypatch):
    path = write(tmp_path / "t.txt", text)
    real = documents.read_chunks
    passes = []

    def interrupted(*args, **kwargs):
        passes.append(1)
        for number, chunk in enumerate(real(*args, **kwargs)):
            if len(passes) == 2 and number == 3:        # the encoding pass, midway
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(documents, "read_chunks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        corpus.encode_file(path, chunk_bytes=10_000)
    assert cache_files(cache) == []                     # not even the temporary file
    monkeypatch.setattr(documents, "read_chunks", real)
    np.testing.assert_array_equal(corpus.encode_file(path).data,
                                  Vocabulary.from_text(text).encode(text))


@pytest.mark.parametrize("damage", ["truncated", "header", "empty"])
def test_a_damaged_cache_is_never_used(tmp_path, cache, text, damage):
    path = write(tmp_path / "t.txt", text)
    name = corpus.encode_file(path).data.filename
    raw = open(name, "rb").read()
    damaged = {"truncated": raw[:-1], "header": raw[:20] + b"{" + raw[21:], "empty": b""}
    with open(name, "wb") as file:
        file.write(damaged[damage])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded = corpus.encode_file(path)
    np.testing.assert_array_equal(encoded.data, Vocabulary.from_text(text).encode(text))
    # A cut cache of ours is named as it is rebuilt; the others are not ours to name.
    assert [str(w.message).startswith(f"the encoded-text cache {name} does not hold")
            for w in caught] == ([True] if damage == "truncated" else [])


def test_writing_a_cache_deletes_those_of_texts_that_are_gone_and_dead_builds_files(
        tmp_path, cache, text):
    gone = write(tmp_path / "gone.txt", text[:5000])
    corpus.encode_file(gone)
    kept = write(tmp_path / "kept.txt", text[:6000])
    corpus.encode_file(kept)
    dead, live = cache / (corpus.TEMP_PREFIX + "a"), cache / (corpus.TEMP_PREFIX + "b")
    dead.write_bytes(b"killed midway")        # its builder's lock died with it
    live.write_bytes(b"under way")
    with open(live, "rb+") as held:           # a live builder holds its lock
        fcntl.flock(held, fcntl.LOCK_EX)
        gone.unlink()
        corpus.encode_file(write(tmp_path / "new.txt", text[:7000]))
    assert [name.split(".")[0] for name in cache_files(cache)] == ["", "kept", "new"]
    # A dead build's file went at once, not a day later (issue 22).
    assert live.exists() and not dead.exists()


def test_a_text_changing_while_it_is_read_is_refused(tmp_path, text, monkeypatch):
    path = write(tmp_path / "t.txt", text)
    real = documents.read_chunks
    passes = []

    def changing(*args, **kwargs):
        passes.append(1)
        if len(passes) == 2:
            with open(path, "a") as file:
                file.write("abc")
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "read_chunks", changing)
    with pytest.raises(RuntimeError, match="t.txt changed while it was being read"):
        corpus.encode_file(path)


def test_an_unwritable_cache_directory_falls_back_to_memory_with_a_warning(
        tmp_path, text, monkeypatch):
    blocker = write(tmp_path / "a file", "x")
    monkeypatch.setenv(corpus.CACHE_ENV, str(blocker / "cache"))
    path = write(tmp_path / "t.txt", text)
    with pytest.warns(UserWarning, match="cannot write the encoded text .* in memory instead"):
        encoded = corpus.encode_file(path)
    assert not isinstance(encoded.data, FileArray)
    np.testing.assert_array_equal(encoded.data, Vocabulary.from_text(text).encode(text))
    assert encoded.fingerprint == corpus.fingerprint(encoded.data)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_read_once_whole(tmp_path, text):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    source = write(tmp_path / "t.txt", text)
    copy = "import sys; open(sys.argv[2], 'wb').write(open(sys.argv[1], 'rb').read())"
    writer = subprocess.Popen([sys.executable, "-c", copy, str(source), str(pipe)])
    encoded = corpus.encode_file(pipe)
    writer.wait(timeout=60)
    np.testing.assert_array_equal(encoded.data, Vocabulary.from_text(text).encode(text))


def test_encoding_a_20_mb_file_holds_a_chunk_not_the_file(tmp_path, cache, text):
    # Measured, for this text (with characters beyond U+FFFF, 4 bytes each
    # in a str): 3.5 MB with 64 KB chunks, 15 MB with 1 MB chunks, for 2 MB
    # and 20 MB files alike; reading it whole would hold 80 MB of str alone.
    raw = text.encode()
    peaks = {}
    for megabytes in (2, 20):
        path = tmp_path / f"{megabytes}.txt"
        path.write_bytes((raw * (megabytes * 10**6 // len(raw) + 1))[:megabytes * 10**6])
        for chunk_bytes in (1 << 16, corpus.CHUNK_BYTES):
            for cache_file in cache.glob("*"):
                cache_file.unlink()         # a build each time, not the verifying read
            tracemalloc.start()
            try:
                corpus.encode_file(path, chunk_bytes=chunk_bytes)
                peaks[megabytes, chunk_bytes] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert peaks[20, 1 << 16] < 5 << 20, peaks
    for chunk_bytes in (1 << 16, corpus.CHUNK_BYTES):
        assert peaks[20, chunk_bytes] < 1.1 * peaks[2, chunk_bytes], peaks


# Through CharRNN.fit

# A constant rate: a decaying schedule plans to the end of each fit, so 100
# iterations and 100 more resumed would not be one fit of 200.
OPTIONS = dict(hidden_size=32, batch_size=2, seq_length=16, optimizer="adam", dtype="float64",
               seed=5, cell="lstm", num_layers=2, dropout=0.3, clip_norm=None,
               recurrent_init="normal", lr_schedule="constant", warmup=0, min_lr_ratio=0.0)


def test_fitting_on_a_path_is_fitting_on_its_text(tmp_path, text):
    path = write(tmp_path / "t.txt", text)
    in_memory = CharRNN(**OPTIONS).fit(text, iterations=60, progress=False)
    for _ in range(2):                                   # built, then from the cache
        from_file = CharRNN(**OPTIONS).fit(path, iterations=60, progress=False)
        assert from_file.vocab_ == in_memory.vocab_
        assert from_file._state.fingerprint == in_memory._state.fingerprint
        np.testing.assert_array_equal(from_file.params_, in_memory.params_)
        assert from_file.history_[-1]["val_loss"] == in_memory.history_[-1]["val_loss"]


RESUME_SCRIPT = """
import sys, numpy as np
from pathlib import Path
from charrnn_c import CharRNN
model = CharRNN.load(sys.argv[2]).fit(Path(sys.argv[1]), iterations=100, resume=True,
                                      progress=False)
np.save(sys.argv[3], model.params_)
"""


def test_a_fit_on_a_path_resumes_on_it_in_a_new_process_bit_identically(tmp_path, text):
    path = write(tmp_path / "t.txt", text)
    whole = CharRNN(**OPTIONS).fit(path, iterations=200, progress=False)
    half = CharRNN(**OPTIONS).fit(path, iterations=100, progress=False)
    half.save(tmp_path / "half.safetensors")
    subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(path),
                    str(tmp_path / "half.safetensors"), str(tmp_path / "resumed.npy")],
                   check=True, env=os.environ.copy())
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), whole.params_)
    # Text in memory and the file are one text to resume on.
    again = CharRNN.load(tmp_path / "half.safetensors").fit(text, iterations=100, resume=True,
                                                            progress=False)
    np.testing.assert_array_equal(again.params_, whole.params_)


def test_resuming_on_another_file_is_refused(tmp_path, text):
    model = CharRNN(hidden_size=16, seed=0).fit(write(tmp_path / "a.txt", text),
                                                iterations=5, progress=False)
    with pytest.raises(ValueError, match="resume=True needs the text"):
        model.fit(write(tmp_path / "b.txt", text[::-1]), iterations=5, resume=True,
                  progress=False)


# What another process, or whoever can write the cache directory, can do (issue 22)

def cache_of(cache):
    (found,) = [p for p in cache.iterdir() if p.name.endswith(corpus.SUFFIX)]
    return found


def indices_at(cache_file):
    """(where the indices start, the file's bytes)."""
    header, length, _ = corpus._header(cache_file)
    return corpus._offset(length), bytearray(cache_file.read_bytes())


@pytest.mark.parametrize("damage", ["one index changed", "another text's indices",
                                    "an index outside the vocabulary"])
def test_a_cache_that_is_not_the_texts_encoding_is_rebuilt_with_a_warning(tmp_path, cache,
                                                                          text, damage):
    path = write(tmp_path / "t.txt", text)
    first = corpus.encode_file(path)
    cache_file = cache_of(cache)
    offset, raw = indices_at(cache_file)
    if damage == "one index changed":
        raw[offset + 1000] = (raw[offset + 1000] + 1) % len(first.vocab)
    elif damage == "another text's indices":
        # A forgery: same header, length and vocabulary, other text (reversed).
        raw[offset:] = raw[offset:][::-1]
    else:
        raw[offset + 5] = 250
    cache_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=rf"cache {cache_file} does not hold the encoding "
                                         rf"of {path}.*rebuilding it") as caught:
        again = corpus.encode_file(path)
    if damage == "an index outside the vocabulary":
        assert "outside the vocabulary [0, 78)" in str(caught[0].message)
    np.testing.assert_array_equal(np.asarray(again.data), Vocabulary.from_text(text).encode(text))
    assert again.fingerprint == first.fingerprint
    # Rebuilt in place: the next one is trusted again, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert corpus.encode_file(path).fingerprint == first.fingerprint


def test_a_forged_cache_cannot_pass_a_resume(tmp_path, cache, text):
    path = write(tmp_path / "t.txt", text)
    model = CharRNN(hidden_size=8, num_layers=1, batch_size=2, seed=0).fit(
        path, iterations=2, progress=False)
    cache_file = cache_of(cache)
    offset, raw = indices_at(cache_file)
    raw[offset:] = raw[offset:][::-1]
    cache_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="rebuilding it"):
        model.fit(path, iterations=1, resume=True, progress=False)   # on the real text
    assert model.n_iter_ == 3


TRUNCATE_DURING_FIT = """
import os, sys
from pathlib import Path
from charrnn_c import CharRNN, corpus, streams
streams.READ_AHEAD = 64           # read the file at every step, not once a megabyte
path = Path(sys.argv[1])
model = CharRNN(hidden_size=8, num_layers=1, batch_size=4, seq_length=20, seed=0)
model.fit(path, iterations=1, progress=False)
(cache,) = [p for p in corpus.cache_directory().iterdir() if p.name.endswith(".encoded")]

def truncate(record):
    os.truncate(cache, 100)              # as a cleanup job, or another process, would

try:
    model.fit(path, iterations=200, eval_every=5, callbacks=[truncate], resume=True,
              progress=False)
except RuntimeError as error:
    print("RuntimeError", model.n_iter_, error)
"""


def test_truncating_the_cache_during_fit_raises_instead_of_sigbus(tmp_path, cache, text):
    path = write(tmp_path / "t.txt", text)
    result = subprocess.run([sys.executable, "-c", TRUNCATE_DURING_FIT, str(path)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, corpus.CACHE_ENV: str(cache)})
    # Today's map died of SIGBUS (rc -7, 135 from a shell), no exception.
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    kind, iterations, message = result.stdout.split(" ", 2)
    assert kind == "RuntimeError" and int(iterations) == 5       # stopped at once, consistent
    assert "another process truncated it" in message and ".encoded" in message


def test_a_long_non_ascii_name_caches(tmp_path, cache, text):
    # 238 bytes, legal: cut to 100 characters (300 bytes) the cache's name
    # was too long and every fit fell back to memory (issue 22).
    name = "莎士比亚全集" * 13 + ".txt"
    assert len(os.fsencode(name)) == 238
    path = write(tmp_path / name, text[:5000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoded = corpus.encode_file(path)
    assert isinstance(encoded.data, FileArray)
    (cache_file,) = cache_files(cache)
    assert len(os.fsencode(cache_file)) <= 255 and cache_file.startswith("莎士比亚全集")


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
from charrnn_c import corpus
real = corpus._encode

def killed(path, vocab, chunk_bytes, write, key, length):
    write(vocab.encode("a" * 1000 if vocab.mode == "chars" else b"a" * 1000))
    os.kill(os.getpid(), signal.SIGKILL)       # as the OOM killer does, mid-build

corpus._encode = killed
corpus.encode_file(Path(sys.argv[1]))
"""


def test_a_killed_builds_temporary_file_is_removed_by_the_next_build(tmp_path, cache, text):
    path = write(tmp_path / "t.txt", text)
    result = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(path)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, corpus.CACHE_ENV: str(cache)})
    assert result.returncode == -signal.SIGKILL, result.stderr
    (left,) = cache_files(cache)
    assert left.startswith(corpus.TEMP_PREFIX)
    # Kept for 24 hours before (issue 22); gone at the next build now.
    corpus.encode_file(write(tmp_path / "other.txt", text[:3000]))
    assert not any(name.startswith(corpus.TEMP_PREFIX) for name in cache_files(cache))


@pytest.mark.parametrize("read_ahead", [1, 300, 1 << 20])
@pytest.mark.parametrize("batch_size, seq_length", [(1, 25), (3, 7), (8, 50)])
def test_streams_over_a_cache_file_give_the_batches_of_the_array(tmp_path, text, monkeypatch,
                                                                 read_ahead, batch_size,
                                                                 seq_length):
    from charrnn_c import streams as data_module
    monkeypatch.setattr(data_module, "READ_AHEAD", read_ahead)   # blocks refilled often
    encoded = corpus.encode_file(write(tmp_path / "t.txt", text[:20_000]))
    on_file = data_module.Streams(encoded.data, batch_size, seq_length)
    in_memory = data_module.Streams(np.asarray(encoded.data), batch_size, seq_length)
    for _ in range(2 * on_file.batches_per_epoch + 3):         # across two wraps
        for mine, theirs in zip(on_file.next_batch(), in_memory.next_batch()):
            np.testing.assert_array_equal(mine, theirs)
    assert on_file.state() == in_memory.state()


def test_evaluating_a_file_holds_a_chunk_not_the_file(tmp_path, text):
    # evaluate, score and charrnn eval held the whole text, 18 bytes per
    # character: 880 MB for 50 MB (issue 22). Now sums, a chunk at a time.
    model = CharRNN(hidden_size=8, num_layers=1, batch_size=2, seed=0).fit(
        text, iterations=1, progress=False)
    raw, peaks = text.encode(), {}
    for megabytes in (2, 6):
        path = tmp_path / f"{megabytes}.txt"
        path.write_bytes((raw * (megabytes * 10**6 // len(raw) + 1))[:megabytes * 10**6])
        tracemalloc.start()
        try:
            result = model.evaluate(path)
            peaks[megabytes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        in_memory = model.evaluate(path.read_bytes().decode("utf-8"))
        assert result == in_memory                   # the same windows, the same sums
    assert peaks[6] < 1.1 * peaks[2] and peaks[6] < 40 << 20, peaks
