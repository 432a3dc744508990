"""A CharRNN checkpoint from anyone: refused at once and in little memory when its
values could not have come from training, naming the field; and a save that
would write such a file refused before the old one is touched."""

import copy
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from charrnn_c import CharRNN, CheckpointError
from charrnn_c import checkpoint
from charrnn_c import safetensors_file as cio
from charrnn_c.atomic_file import TEMP_PREFIX
from conftest import small

# conftest.small: Adagrad's, whose 'optimizer.mem' these tests spoil.


@pytest.fixture(scope="module")
def contents():
    """(tensors, metadata) of a small fitted 2-layer model: 2,720 parameters, 9 symbols."""
    model = small(hidden_size=8, num_layers=2, batch_size=2, seq_length=5, seed=0)
    model.fit("hello world, " * 30, iterations=4, progress=False)
    return checkpoint.contents(model.get_params(), model.vocab_, model.spec_, model._state)


def changed(contents, change):
    tensors, metadata = copy.deepcopy(contents)
    change(tensors, metadata)
    return tensors, metadata


def set_field(path, value):
    """A change that sets metadata[path[0]][path[1]]... to ``value``."""
    def change(tensors, metadata):
        node = metadata
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def load_bytes(data, tmp_path):
    """CharRNN.load of ``data`` written to a file; CheckpointError's message."""
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        CharRNN.load(path)
    return str(info.value)


def hostile_pickle(data):
    """A pickle that unpickles as a CharRNN holding the checkpoint ``data``."""
    model = CharRNN()
    model.__getstate__ = lambda: {"checkpoint": data}    # what a fitted model's gives
    return pickle.dumps(model)


# Sizes: each compared with the tensors present before anything is built.

@pytest.mark.parametrize("field, value", [
    ("num_layers", 10**5),     # was 2.2 s, 285 MB and a 7.5 MB message (10**6: 29 s, 2.3 GB)
    ("num_layers", 3),
    ("hidden_size", 10**9),    # was a MemoryError for 3.5 EiB
    ("hidden_size", 10**5),    # was a MemoryError for 37 GiB
    ("hidden_size", 7),
    ("batch_size", 10**12),
])
@pytest.mark.parametrize("how", ["load", "pickle"])
def test_a_size_the_tensors_do_not_have_is_refused_at_once_in_little_memory(
        tmp_path, contents, field, value, how):
    data = cio.checkpoint_bytes(*changed(contents, set_field(("params", field), value)))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        if how == "load":
            message = load_bytes(data, tmp_path)
        else:
            with pytest.raises(CheckpointError) as info:
                pickle.loads(hostile_pickle(data))
            message = str(info.value)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The file is 27 KB; reading and checking it takes a few times that.
    assert peak < 1_000_000, peak
    assert seconds < 0.5
    assert len(message) < 600 and field in message and f"{value}" in message


def test_the_size_error_says_what_the_tensors_hold(tmp_path, contents):
    data = cio.checkpoint_bytes(*changed(contents, set_field(("params", "hidden_size"), 10**9)))
    message = load_bytes(data, tmp_path)
    assert ("tensor 'weight_ih_l0' has shape (8, 9), but params (hidden_size=1000000000, "
            "num_layers=2, cell='rnn', dtype='float32') and the vocabulary (9 symbols) make "
            "it (1000000000, 9)") in message
    data = cio.checkpoint_bytes(*changed(contents, set_field(("params", "num_layers"), 10**6)))
    assert ("params['num_layers'] is 1000000, but the checkpoint holds 10 weight tensors"
            in load_bytes(data, tmp_path))


def test_missing_and_extra_weights_are_named_a_few_at_a_time(tmp_path, contents):
    def extra(tensors, metadata):
        for layer in range(2, 40):
            tensors[f"weight_hh_l{layer}"] = np.zeros((8, 8), np.float32)
    message = load_bytes(cio.checkpoint_bytes(*changed(contents, extra)), tmp_path)
    assert "unexpected ['weight_hh_l10', 'weight_hh_l11'" in message and "and 33 more" in message


# Values: what training could not have written is refused, naming the field.

def poison(name, value, index=0):
    def change(tensors, metadata):
        tensors[name].reshape(-1)[index] = value
    return change


@pytest.mark.parametrize("change, named", [
    # Were a raw OverflowError.
    (set_field(("training", "iterations"), math.inf), "training['iterations']"),
    (set_field(("optimizer", "steps"), math.inf), "steps"),
    # Were loaded as they were.
    (set_field(("optimizer", "learning_rate"), math.nan), "optimizer['learning_rate']"),
    (set_field(("optimizer", "learning_rate"), -1.0), "optimizer['learning_rate']"),
    (set_field(("optimizer", "learning_rate"), "0.1"), "optimizer['learning_rate']"),
    (set_field(("seed",), "abc"), "seed"),
    (set_field(("seed",), -3), "seed"),
    (set_field(("seed",), None), "seed"),
    (set_field(("training", "streams"), {"x": 1}), "stream_length"),
    (set_field(("training", "streams"), [0, 1]), "stream_length"),
    (set_field(("training", "streams", "position"), 7), "position"),       # not a multiple of 5
    (set_field(("training", "streams", "position"), 10**6), "position"),   # past the end
    (set_field(("training", "streams", "position"), -5), "position"),
    (set_field(("training", "streams", "epoch"), -1), "epoch"),
    (set_field(("training", "streams", "epoch"), 0.5), "epoch"),
    (set_field(("training", "streams", "batch_size"), 3), "batch_size"),
    (set_field(("training", "streams", "seq_length"), 6), "seq_length"),
    (set_field(("training", "streams", "stream_length"), 5), "stream_length"),
    (set_field(("training", "streams", "stream_length"), 10**30), "stream_length"),
    (set_field(("training", "streams", "extra"), 1), "keys"),
    (set_field(("training", "iterations"), -1), "training['iterations']"),
    (set_field(("training", "iterations"), 2.0), "training['iterations']"),
    (set_field(("training", "iterations"), True), "training['iterations']"),
    (set_field(("training", "smooth_loss"), math.nan), "training['smooth_loss']"),
    (set_field(("training", "smooth_loss"), math.inf), "training['smooth_loss']"),
    (set_field(("training", "smooth_loss"), 10**400), "training['smooth_loss']"),
    (set_field(("training", "seconds"), -1.0), "training['seconds']"),
    (set_field(("training", "text_fingerprint"), "not hex"), "text_fingerprint"),
    (set_field(("history",), 5), "history"),
    (set_field(("history",), [{"iteration": 1, "train_loss": 2.0, "val_loss": None}, 2]),
     "history[1]"),
    (poison("weight_hh_l1", np.nan, 5), "'weight_hh_l1' holds nan"),
    (poison("bias_o", np.inf), "'bias_o' holds inf"),
    (poison("hidden", -np.inf, 3), "'hidden' holds -inf"),
    (poison("optimizer.mem", np.nan), "'optimizer.mem' holds nan"),
    (poison("optimizer.mem", -1.0), "'optimizer.mem' holds -1.0, a negative sum of squares"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_value_training_cannot_write_is_refused_naming_the_field(tmp_path, contents,
                                                                    change, named):
    message = load_bytes(cio.checkpoint_bytes(*changed(contents, change)), tmp_path)
    assert "not a valid CharRNN checkpoint" in message and named in message


def test_the_untouched_contents_load(tmp_path, contents):
    # The baseline every case above changes one thing of.
    path = tmp_path / "good.safetensors"
    path.write_bytes(cio.checkpoint_bytes(*copy.deepcopy(contents)))
    assert CharRNN.load(path).n_iter_ == 4


# Saving: what would not load is not written.

@pytest.fixture
def fitted():
    return small(hidden_size=8, seed=0).fit("hello world, " * 30, iterations=3,
                                            progress=False)


@pytest.mark.parametrize("spoil, named", [
    # As set_params while fit ran in another thread made a periodic save write:
    # buffer 'mem' (15447,) vs (3111,).
    (lambda model: setattr(model, "hidden_size", 16), "hidden_size=16"),
    (lambda model: setattr(model, "batch_size", 4), "batch_size=4"),
    (lambda model: setattr(model, "cell", "gru"), "cell='gru'"),
    (lambda model: model.params_.__setitem__(3, np.nan), "holds nan"),
])
def test_a_save_that_would_not_load_raises_and_keeps_the_old_file(tmp_path, fitted, spoil,
                                                                   named):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    before = path.read_bytes()
    spoil(fitted)
    with pytest.raises(ValueError, match="not saved, as the checkpoint would not load") as info:
        fitted.save(path)
    assert named in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.safetensors"]
    with pytest.raises(ValueError, match="pickle: not saved"):
        pickle.dumps(fitted)


# Training: a checkpoint that cannot be written is found out before the first step.

def checkpoint_targets(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    return {"missing directory": (tmp_path / "nope" / "c", FileNotFoundError),
            "fifo": (tmp_path / "fifo", FileExistsError),
            "directory": (tmp_path, IsADirectoryError)}


@pytest.mark.parametrize("case", ["missing directory", "fifo", "directory"])
def test_fit_refuses_a_checkpoint_it_cannot_write_before_training(tmp_path, case):
    path, error = checkpoint_targets(tmp_path)[case]
    steps = []
    model = small(hidden_size=8, seed=0)
    with pytest.raises(error):
        model.fit("hello world, " * 30, iterations=50, eval_every=1, checkpoint=path,
                  callbacks=[steps.append], progress=False)
    assert steps == [] and not hasattr(model, "vocab_")     # refused before fit starts it


READ_ONLY_FIT = """
import os, sys
from charrnn_c import CharRNN
directory = sys.argv[1]
steps = []
try:
    CharRNN(hidden_size=8, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
            seed=0).fit("hello world, " * 30, iterations=50, eval_every=1,
                        checkpoint=os.path.join(directory, "c"),
                        callbacks=[steps.append], progress=False)
except PermissionError as error:
    print("refused", error.filename == directory, len(steps), os.listdir(directory))
"""


@pytest.mark.skipif(os.name != "posix", reason="read-only by permission bits is POSIX")
def test_fit_refuses_a_read_only_directory_before_training(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    os.chmod(directory, 0o555)
    command = [sys.executable, "-c", READ_ONLY_FIT, str(directory)]
    if os.geteuid() == 0:
        # Root writes through permission bits; a child without the
        # capabilities that allow it (CAP_DAC_*) meets them as a user does.
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root, this test needs setpriv (util-linux) to drop CAP_DAC_*"
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"] + command
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(directory, 0o755)
    assert result.stdout.split() == ["refused", "True", "0", "[]"], result.stderr


def test_check_writable_leaves_nothing_behind(tmp_path):
    cio.check_writable(tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []
    (tmp_path / "old.safetensors").write_bytes(b"x")
    cio.check_writable(tmp_path / "old.safetensors")
    assert os.listdir(tmp_path) == ["old.safetensors"]
    assert not any(name.startswith(TEMP_PREFIX) for name in os.listdir(tmp_path))


@pytest.mark.parametrize("history, named", [
    ([{"kept": True, "iteration": 4}], r"history\[0\] has no \['train_loss', 'val_loss'\]"),
    ([{"iteration": 4, "train_loss": 2.0, "val_loss": "low"}],
     r"history\[0\]\['val_loss'\] must be a number or None, got 'low'"),
    ([{"iteration": -1, "train_loss": 2.0, "val_loss": None}],
     r"history\[0\]\['iteration'\] must be a count"),
    ([{"iteration": 4, "train_loss": None, "val_loss": 1.0}],
     r"history\[0\]\['train_loss'\] must be a number"),
])
def test_a_history_record_without_what_training_reads_is_refused(tmp_path, contents, history,
                                                                 named):
    # [{"kept": true, "iteration": 20}] loaded, and charrnn train --resume
    # died at its first record with KeyError: 'val_loss' (issue 22).
    tensors, metadata = changed(contents, set_field(["history"], history))
    message = load_bytes(cio.checkpoint_bytes(tensors, metadata), tmp_path)
    assert re.search(named, message), message


def test_a_small_file_of_millions_of_empty_records_is_refused_before_they_are_built(
        tmp_path, contents):
    # 24.5 million {} in 98 MB took 11.8 s and 2.0 GB to open (issue 22); 5
    # million in 20 MB here, refused from the text's commas alone.
    tensors, metadata = contents
    text = cio._metadata_to_json(metadata)
    spam = text[:-1] + ', "padding": [' + "{}, " * 5_000_000 + "{}]}"
    header = {"format": cio.FORMAT, "format_version": str(cio.FORMAT_VERSION),
              "charrnn_c": spam}
    arrays = cio._check_tensors(tensors)
    header["sha256"] = cio._digest(header, arrays)
    import safetensors.numpy
    path = tmp_path / "spam.safetensors"
    path.write_bytes(safetensors.numpy.save(arrays, metadata=header))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"metadata holds about 5,00\d,\d\d\d values, "
                                                  r"more than the 4,000,000"):
            CharRNN.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 << 20, peak          # the 20 MB string and little else
