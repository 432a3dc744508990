"""A run never loses a file it did not write, and a path is never taken for text (issue 15).

A checkpoint path that holds another model, or a file that is no checkpoint,
is refused before training, the file and the model left as they were, unless
fit(overwrite=True) / charrnn train --overwrite; a resumed run may write the
file it came from. A str that is surely a file's path is refused, not
trained on. Each through the Python API and the command line.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from charrnn_c import CharRNN
from charrnn_c.run_lock import CheckpointExistsError
from conftest import SMALL_FLAGS, small

# conftest.small's recipe is the one the messages below describe as "1 x 8 rnn".


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare[:8_000]


def fit(path, text, iterations, seed=0, **options):
    return small(hidden_size=8, seed=seed).fit(text, iterations=iterations, checkpoint=path,
                                               progress=False, **options)


def refusal(path, held, resumable=True):
    advice = "; to continue it, resume training from it with resume=True" * resumable
    return (f"{path} already holds {held}, which this run would overwrite: to replace it, "
            f"fit with overwrite=True{advice}; else save to another checkpoint")


def files_of(directory):
    """{name: bytes} of every file in ``directory``, to show none was lost or changed."""
    return {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}


# ----------------------------------------------------------------------
# The Python API

def test_a_fresh_fit_refuses_another_model_before_training_and_changes_nothing(tmp_path, text):
    path = tmp_path / "keep.safetensors"
    fit(path, text, 30)
    before = files_of(tmp_path)
    steps = []
    fresh = small(hidden_size=8, seed=1)
    with pytest.raises(CheckpointExistsError) as caught:
        fresh.fit(text, iterations=10, checkpoint=path, eval_every=1, callbacks=[steps.append],
                  progress=False)
    assert str(caught.value) == refusal(path, "a 1 x 8 rnn model trained 30 iterations")
    assert isinstance(caught.value, FileExistsError) and isinstance(caught.value, ValueError)
    assert steps == [] and not hasattr(fresh, "vocab_")
    assert files_of(tmp_path) == before

    # A fitted model fitted afresh is refused too, and left as it was (fit
    # used to reset it before looking at the checkpoint).
    fitted = small(hidden_size=8, seed=2).fit(text, iterations=7, progress=False)
    params, history = fitted.params_.copy(), list(fitted.history_)
    with pytest.raises(CheckpointExistsError):
        fitted.fit(text, iterations=10, checkpoint=path, progress=False)
    assert fitted.n_iter_ == 7 and fitted.history_ == history
    assert np.array_equal(fitted.params_, params)
    # So is the model loaded from it: a fresh run does not continue it.
    loaded = CharRNN.load(path)
    with pytest.raises(CheckpointExistsError):
        loaded.fit(text, iterations=10, checkpoint=path, progress=False)
    assert loaded.n_iter_ == 30
    assert files_of(tmp_path) == before

    # overwrite=True replaces it.
    fresh.fit(text, iterations=10, checkpoint=path, overwrite=True, progress=False)
    replaced = CharRNN.load(path)
    assert replaced.n_iter_ == 10 and replaced.seed_ == 1


def test_a_resumed_run_writes_the_file_it_came_from_and_no_other(tmp_path, text):
    path, other = tmp_path / "keep.safetensors", tmp_path / "other.safetensors"
    model = fit(path, text, 30)
    fit(other, text, 12, seed=5)
    other_bytes = other.read_bytes()

    # The model that saved it continues, and saving a copy elsewhere changes nothing.
    model.save(tmp_path / "copy.safetensors")
    model.fit(text, iterations=5, resume=True, checkpoint=path, progress=False)
    assert CharRNN.load(path).n_iter_ == 35
    # A model loaded from it continues it.
    loaded = CharRNN.load(path)
    loaded.fit(text, iterations=5, resume=True, checkpoint=path, progress=False)
    assert CharRNN.load(path).n_iter_ == 40

    # ... but not into a file of another model.
    with pytest.raises(CheckpointExistsError) as caught:
        loaded.fit(text, iterations=5, resume=True, checkpoint=other, progress=False)
    assert str(caught.value) == refusal(
        other, "a 1 x 8 rnn model trained 12 iterations, not the file this run was loaded "
               "from or last saved (or it has changed since)", resumable=False)
    assert other.read_bytes() == other_bytes and loaded.n_iter_ == 40
    # Nor into its own file once another has written it: the first model's
    # copy of iteration 35 would replace the 40 iterations there now.
    before = path.read_bytes()
    with pytest.raises(CheckpointExistsError, match="or it has changed since"):
        model.fit(text, iterations=5, resume=True, checkpoint=path, progress=False)
    assert path.read_bytes() == before and model.n_iter_ == 35
    # A copy of the model is another run (pickling keeps no file).
    with pytest.raises(CheckpointExistsError):
        copy.deepcopy(loaded).fit(text, iterations=5, resume=True, checkpoint=path,
                                  progress=False)
    # With overwrite=True, it may.
    loaded.fit(text, iterations=5, resume=True, checkpoint=other, overwrite=True,
               progress=False)
    assert CharRNN.load(other).n_iter_ == 45


def test_a_fresh_fit_leaves_the_files_of_the_run_before(tmp_path, text):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    model = fit(first, text, 20)
    before = first.read_bytes()
    model.fit(text, iterations=10, checkpoint=second, progress=False)      # a new run
    with pytest.raises(CheckpointExistsError, match="trained 20 iterations, not the file"):
        model.fit(text, iterations=5, resume=True, checkpoint=first, progress=False)
    assert first.read_bytes() == before


def test_a_change_made_after_loading_is_seen(tmp_path, text):
    path = tmp_path / "keep.safetensors"
    fit(path, text, 20)
    loaded = CharRNN.load(path)
    fit(tmp_path / "other.safetensors", text, 10, seed=3)
    # Copied over in place (same file, new contents), as cp does.
    with open(path, "r+b") as file:
        file.truncate(0)
        file.write((tmp_path / "other.safetensors").read_bytes())
    before = path.read_bytes()
    with pytest.raises(CheckpointExistsError, match="trained 10 iterations, not the file"):
        loaded.fit(text, iterations=5, resume=True, checkpoint=path, progress=False)
    assert path.read_bytes() == before


def foreign_safetensors(path):
    safetensors.numpy.save_file({"weight": np.zeros(3, dtype=np.float32)}, str(path))


@pytest.mark.parametrize("make", [
    lambda path: path.write_text("my notes, which took a week to write\n"),
    lambda path: path.write_bytes(b"\x00\x01garbage" * 50),
    foreign_safetensors,
], ids=["text", "garbage", "another format"])
def test_a_file_that_is_no_checkpoint_is_not_replaced_unless_asked(tmp_path, text, make):
    path = tmp_path / "keep.safetensors"
    make(path)
    before = files_of(tmp_path)
    model = small(hidden_size=8, seed=0)
    with pytest.raises(CheckpointExistsError) as caught:
        model.fit(text, iterations=5, checkpoint=path, progress=False)
    size = len(before["keep.safetensors"])
    assert str(caught.value) == refusal(
        path, f"a file that is not a charrnn-c checkpoint ({size:,} bytes)", resumable=False)
    assert not hasattr(model, "vocab_")
    # A resumed run did not come from it either.
    resumed = fit(None, text, 5)
    with pytest.raises(CheckpointExistsError, match="not a charrnn-c checkpoint"):
        resumed.fit(text, iterations=5, resume=True, checkpoint=path, progress=False)
    assert files_of(tmp_path) == before
    model.fit(text, iterations=5, checkpoint=path, overwrite=True, progress=False)
    assert CharRNN.load(path).n_iter_ == 5


def test_an_empty_file_holds_nothing_to_lose(tmp_path, text):
    path = tmp_path / "made-by-mktemp.safetensors"
    path.touch()
    fit(path, text, 5)
    assert CharRNN.load(path).n_iter_ == 5


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                    reason="symlinks need privileges on Windows")
def test_through_a_symlink_the_file_it_points_to_is_what_counts(tmp_path, text):
    target, link = tmp_path / "model.safetensors", tmp_path / "latest.safetensors"
    fit(target, text, 20)
    link.symlink_to(target.name)
    before = target.read_bytes()
    with pytest.raises(CheckpointExistsError, match="trained 20 iterations"):
        fit(link, text, 5)
    assert target.read_bytes() == before
    # Loaded through the link or from the file itself, it is the same file.
    CharRNN.load(link).fit(text, iterations=5, resume=True, checkpoint=target, progress=False)
    CharRNN.load(target).fit(text, iterations=5, resume=True, checkpoint=link, progress=False)
    assert link.is_symlink() and CharRNN.load(target).n_iter_ == 30


def test_a_str_that_is_surely_a_path_is_refused(tmp_path, monkeypatch, text):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "input.txt").write_text(text)
    monkeypatch.chdir(tmp_path)
    absolute = str(tmp_path / "data" / "input.txt")
    for path, what in [("data/input.txt", "the name of a file"),
                       (absolute, "the name of a file"),
                       ("data", "the name of a directory"),
                       ("data/inptu.txt", "a file's name (though no such file exists)"),
                       ("notes.MD", "a file's name (though no such file exists)")]:
        model = small(hidden_size=8, seed=0)
        with pytest.raises(ValueError) as caught:
            model.fit(path, iterations=1, progress=False)
        assert str(caught.value) == (f"text is {path!r}, {what}, but a str is the text itself: "
                                     f"to read a file, pass its path as pathlib.Path({path!r})")
        assert not hasattr(model, "vocab_")
    model = small(hidden_size=8, seed=0).fit(Path("data/input.txt"), iterations=1,
                                             progress=False)
    assert sorted(model.vocab_.symbols) == sorted(set(text))
    # Text that only looks a little like a path is text: one line without a
    # suffix, words around a file's name, a file's name on a line of its own.
    for not_a_path in ["abcd" * 100, "see notes.txt " * 20, text.replace("\n", " ")[:3000],
                       "data/input.txt\n" + text[:500], "x.txt" * 2 + " and more" * 10]:
        model = small(hidden_size=8, seed=0).fit(not_a_path, iterations=1, progress=False)
        assert model.n_iter_ == 1


def test_an_open_file_is_refused_with_a_hint(tmp_path, text):
    path = tmp_path / "input.txt"
    path.write_text(text)
    for mode, kind in (("r", "TextIOWrapper"), ("rb", "BufferedReader")):
        with open(path, mode) as file, pytest.raises(TypeError) as caught:
            small(hidden_size=8).fit(file, iterations=1, progress=False)
        assert str(caught.value) == (f"text must be a str, bytes, a path or a list of paths, "
                                     f"not {kind} (for an open file, pass its path as "
                                     f"pathlib.Path, or its read())")


# ----------------------------------------------------------------------
# The command line, in a directory of its own

def charrnn(directory, *args):
    return subprocess.run([sys.executable, "-m", "charrnn_c", *map(str, args)], cwd=directory,
                          capture_output=True, text=True, timeout=300)


QUIET = [*SMALL_FLAGS, "--hidden-size", 16, "--sample-every", 10**6, "--sample-seconds", 0,
         "--no-progress"]


def test_train_refuses_to_overwrite_another_model_unless_resumed_or_told(tmp_path, text):
    (tmp_path / "input.txt").write_text(text)
    (tmp_path / "other.txt").write_text(text[::-1])
    first = charrnn(tmp_path, "train", "input.txt", "--iterations", 30, *QUIET)
    assert first.returncode == 0, first.stderr
    (tmp_path / "keep.safetensors").write_bytes((tmp_path / "charrnn.safetensors").read_bytes())
    before = files_of(tmp_path)
    for checkpoint in (["--checkpoint", "charrnn.safetensors"],
                       ["--checkpoint", "keep.safetensors"]):
        # The same command again, and issue 15's: another text, 10 iterations.
        for again in (charrnn(tmp_path, "train", "input.txt", "--iterations", 10, *checkpoint),
                      charrnn(tmp_path, "train", "other.txt", "--iterations", 10,
                              *checkpoint)):
            name = checkpoint[-1]
            assert again.returncode == 1 and again.stdout == ""
            assert again.stderr == (
                f"charrnn: error: {name} already holds a 1 x 16 rnn model trained 30 "
                f"iterations, which this run would overwrite: to replace it, train with "
                f"--overwrite; to continue it, resume training from it with --resume; else "
                f"save to another checkpoint\n")
            assert files_of(tmp_path) == before

    resumed = charrnn(tmp_path, "train", "input.txt", "--resume", "--iterations", 10,
                      "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert "done (iterations): 40 iterations" in resumed.stdout
    assert "saved to charrnn.safetensors" in resumed.stdout
    assert CharRNN.load(tmp_path / "charrnn.safetensors").n_iter_ == 40

    replaced = charrnn(tmp_path, "train", "other.txt", "--checkpoint", "keep.safetensors",
                       "--iterations", 10, "--overwrite", *QUIET)
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stderr.startswith("training on other.txt")
    assert "saved to keep.safetensors" in replaced.stdout
    assert CharRNN.load(tmp_path / "keep.safetensors").n_iter_ == 10


def test_train_without_checkpoint_twice_keeps_both_runs(tmp_path, text):
    # Issue 23: the README's first command, pasted twice, runs twice; the
    # first run's model stays where it was.
    (tmp_path / "input.txt").write_text(text)
    first = charrnn(tmp_path, "train", "input.txt", "--iterations", 5, *QUIET)
    kept = (tmp_path / "charrnn.safetensors").read_bytes()
    for n in (2, 3):
        again = charrnn(tmp_path, "train", "input.txt", "--iterations", 5, *QUIET)
        assert first.returncode == again.returncode == 0, again.stderr
        assert (f"charrnn.safetensors holds an earlier run: this one saves to "
                f"charrnn-{n}.safetensors\n") in again.stderr
        assert f"saved to charrnn-{n}.safetensors" in again.stdout
        assert CharRNN.load(tmp_path / f"charrnn-{n}.safetensors").n_iter_ == 5
    assert (tmp_path / "charrnn.safetensors").read_bytes() == kept
    # --resume and --overwrite mean the default file itself.
    resumed = charrnn(tmp_path, "train", "input.txt", "--resume", "--iterations", 5,
                      "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert CharRNN.load(tmp_path / "charrnn.safetensors").n_iter_ == 10


def test_train_refuses_a_checkpoint_that_is_no_checkpoint(tmp_path, text):
    (tmp_path / "input.txt").write_text(text)
    (tmp_path / "notes.txt").write_text("a week of notes\n")
    before = files_of(tmp_path)
    refused = charrnn(tmp_path, "train", "input.txt", "--checkpoint", "notes.txt",
                      "--iterations", 5, *QUIET)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        "charrnn: error: notes.txt already holds a file that is not a charrnn-c checkpoint "
        "(16 bytes), which this run would overwrite: to replace it, train with --overwrite; "
        "else save to another checkpoint\n")
    assert files_of(tmp_path) == before


def test_train_reads_the_file_it_is_given_as_a_path(tmp_path, text):
    # The command line gives fit a path, never the str of one.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "input.txt").write_text(text)
    before = files_of(tmp_path / "data")
    result = charrnn(tmp_path, "train", "data/input.txt", "--iterations", 5,
                     "--checkpoint", "m.safetensors", *QUIET)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"training on data/input.txt ({len(text):,} bytes); Ctrl-C stops "
                             f"and saves\nnote: 125 characters is too few to learn much; for "
                             f"more, pass --minutes 5, or --epochs E or --iterations N\n")
    assert "done (iterations): 5 iterations" in result.stdout
    model = CharRNN.load(tmp_path / "m.safetensors")
    assert sorted(model.vocab_.symbols) == sorted(set(text))
    assert files_of(tmp_path / "data") == before


# Two runs at once onto one checkpoint (issue 22): the first holds the path
# to its end, the second is refused before it trains, naming the first.

HOLDING_RUN = """
import os, sys, time
from pathlib import Path
from charrnn_c import CharRNN
from conftest import small
checkpoint, directory, resume = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"

def hold(record):
    (directory / "started").write_text("")
    deadline = time.monotonic() + 120
    while not (directory / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

model = CharRNN.load(checkpoint) if resume else small(hidden_size=16, seed=0)
model.fit(Path(sys.argv[4]), iterations=20, eval_every=10, checkpoint_every=5, callbacks=[hold],
          checkpoint=checkpoint, resume=resume, progress=False)
"""


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "charrnn_c", "train", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("resume", [False, True])
def test_a_second_run_onto_a_checkpoint_in_use_is_refused_naming_the_first(tmp_path, text,
                                                                          resume):
    checkpoint, corpus_file = tmp_path / "same.safetensors", tmp_path / "corpus.txt"
    corpus_file.write_text(text)
    if resume:
        small(hidden_size=16, seed=0).fit(corpus_file, iterations=5, checkpoint=checkpoint,
                                          progress=False)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    first = subprocess.Popen([sys.executable, "-c", HOLDING_RUN, str(checkpoint),
                              str(tmp_path), "1" if resume else "0", str(corpus_file)],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        while not (tmp_path / "started").exists():
            assert first.poll() is None, first.stderr.read()
        flags = (["--resume"] if resume else
                 ["--hidden-size", 12, "--overwrite"])    # not even --overwrite takes it
        second = run_cli(corpus_file, "--checkpoint", checkpoint, "--iterations", 3,
                         "--no-progress", *SMALL_FLAGS, *flags)
    finally:
        (tmp_path / "release").write_text("")
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()
    # Both exited 0 and the file held the second's model (issue 22).
    assert second.returncode == 1, second.stdout + second.stderr
    assert (f"{checkpoint} is the checkpoint of another run under way (process {first.pid} "
            in second.stderr), second.stderr
    model = CharRNN.load(checkpoint)
    assert model.hidden_size == 16 and model.n_iter_ == (25 if resume else 20)
    # The lock's file went with its run; the next run takes the path.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "release",
                                                          "same.safetensors", "started"]
    again = run_cli(corpus_file, "--checkpoint", checkpoint, "--iterations", 2,
                    "--no-progress", "--resume")
    assert again.returncode == 0, again.stderr


def test_a_killed_runs_lock_file_is_taken_over_and_removed(tmp_path, text):
    from charrnn_c import run_lock as cio
    checkpoint = tmp_path / "model.safetensors"
    with cio.owning(checkpoint):
        (lock,) = [p for p in tmp_path.iterdir() if p.name.startswith(cio.LOCK_PREFIX)]
        # Held: a run in this process (another thread's model) is refused too.
        with pytest.raises(cio.CheckpointInUseError, match=rf"process {os.getpid()} on "):
            small(hidden_size=8, seed=0).fit(text, iterations=1, checkpoint=checkpoint,
                                             progress=False)
        assert not checkpoint.exists()
    assert not lock.exists()
    lock.write_text('{"pid": 1, "host": "gone", "started": "then", "command": "killed"}')
    small(hidden_size=8, seed=0).fit(text, iterations=1, checkpoint=checkpoint,
                                     progress=False)          # no lock held on it: taken
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
