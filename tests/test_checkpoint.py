"""Checkpoint files: exact round trips, atomic saves, a named error for every bad file."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from charrnn_c.atomic_file import TEMP_PREFIX
from charrnn_c.safetensors_file import (FORMAT, FORMAT_VERSION, CheckpointError, load_checkpoint,
                                        save_checkpoint)

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]

# Each problem a failed load can report; a message must name one of them.
PROBLEMS = ("truncated", "not a safetensors file", "not a valid safetensors file",
            "foreign safetensors file", "malformed checkpoint", "newer charrnn-c",
            "corrupt checkpoint")


def assert_same_tensors(loaded, saved):
    """Same names, and per name the same shape and the same bits, in native byte order."""
    assert sorted(loaded) == sorted(saved)
    for name, array in saved.items():
        native = array.astype(array.dtype.newbyteorder("="))
        assert loaded[name].dtype == native.dtype, name
        assert loaded[name].shape == native.shape, name
        assert loaded[name].tobytes() == native.tobytes(), name


def same_json(a, b):
    # JSON text compares NaN, -0.0, 1 vs 1.0 and key order exactly.
    return json.dumps(a) == json.dumps(b)


def small_checkpoint(path):
    """A real checkpoint of the kind CharRNN writes, small enough to corrupt bit by bit."""
    rng = np.random.default_rng(0)
    tensors = {"params": rng.standard_normal(12), "mem": rng.random(12).astype(np.float32),
               "h": np.zeros((1, 1, 3)), "position": np.array(7, dtype=np.int64)}
    metadata = {"hidden_size": 3, "vocab": "ab\n", "history": [4.1, 3.9]}
    save_checkpoint(path, tensors, metadata)
    return tensors, metadata


def load_error(path):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    return message


def files_in(directory):
    return sorted(os.listdir(directory))


# Round trips.

def arrays():
    dtypes = st.sampled_from(DTYPES).flatmap(
        lambda name: st.sampled_from([np.dtype(name), np.dtype(name).newbyteorder(">")]))
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return dtypes.flatmap(lambda dtype: hnp.arrays(dtype, shapes))


# Lone surrogates too: Python strings can hold them, UTF-8 cannot.
json_text = st.text(st.characters() | st.sampled_from("\ud800\udbff\udc00\udfff"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | json_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=20)
tensor_names = st.text(max_size=12).filter(lambda name: name != "__metadata__")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tensors=st.dictionaries(tensor_names, arrays(), max_size=5),
       metadata=st.dictionaries(json_text, json_values, max_size=6))
def test_a_checkpoint_round_trips_exactly(tmp_path, tensors, metadata):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, tensors, metadata)
    loaded, loaded_metadata = load_checkpoint(path)
    assert_same_tensors(loaded, tensors)
    assert same_json(loaded_metadata, metadata)
    assert files_in(tmp_path) == ["model.safetensors"]


@pytest.mark.parametrize("dtype, bits", [(np.float64, np.uint64), (np.float32, np.uint32)])
def test_special_floats_round_trip_bit_for_bit(tmp_path, dtype, bits):
    info = np.finfo(dtype)
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, info.tiny,
                       info.smallest_subnormal, -info.smallest_subnormal, info.max, info.min,
                       info.eps, np.pi], dtype=dtype)
    # A NaN with a payload, which any float arithmetic on the way would lose.
    payload = np.array([values.view(bits)[4] | bits(5)], dtype=bits).view(dtype)
    values = np.concatenate([values, payload])
    save_checkpoint(tmp_path / "c", {"x": values}, {})
    loaded, _ = load_checkpoint(tmp_path / "c")
    assert loaded["x"].dtype == dtype
    assert loaded["x"].view(bits).tolist() == values.view(bits).tolist()
    assert np.signbit(loaded["x"][1]) and not np.signbit(loaded["x"][0])


def test_metadata_keeps_unicode_big_integers_and_nan(tmp_path):
    metadata = {"vocab": "aé€𝄞\n\t\"\\\x00", "lone surrogate": "\ud800",
                "rng": {"state": {"state": 2**127 + 3, "inc": -(2**100)}},
                "history": [2.5, float("nan"), float("inf"), -0.0], "ok": True, "none": None,
                "nested": {"ünïcödé kéy": [[1, 2], {"x": []}]}}
    save_checkpoint(tmp_path / "c", {}, metadata)
    _, loaded = load_checkpoint(tmp_path / "c")
    assert same_json(loaded, metadata)
    assert loaded["rng"]["state"]["state"] == 2**127 + 3


def test_tuples_come_back_as_lists(tmp_path):
    save_checkpoint(tmp_path / "c", {}, {"betas": (0.9, 0.999)})
    assert load_checkpoint(tmp_path / "c")[1] == {"betas": [0.9, 0.999]}


def test_strided_and_big_endian_arrays_are_saved_by_value_and_left_alone(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tensors = {"every_other": base[:, ::2], "transposed": base.T,
               "big_endian": base.astype(">f8"), "fortran": np.asfortranarray(base)}
    before = {name: array.copy() for name, array in tensors.items()}
    save_checkpoint(tmp_path / "c", tensors, {})
    loaded, _ = load_checkpoint(tmp_path / "c")
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert array.dtype == before[name].dtype and np.array_equal(array, before[name])


def test_loaded_arrays_are_writable_copies(tmp_path):
    save_checkpoint(tmp_path / "c", {"a": np.ones(3), "b": np.ones(3)}, {})
    loaded, _ = load_checkpoint(tmp_path / "c")
    loaded["a"] += 1  # CharRNN updates loaded parameters in place
    assert loaded["a"].tolist() == [2.0, 2.0, 2.0] and loaded["b"].tolist() == [1.0] * 3


def test_str_and_pathlike_paths_are_the_same(tmp_path):
    save_checkpoint(str(tmp_path / "c"), {"a": np.ones(2)}, {"k": 1})
    assert load_checkpoint(tmp_path / "c")[1] == {"k": 1}
    save_checkpoint(tmp_path / "c", {"a": np.zeros(2)}, {"k": 2})
    loaded, metadata = load_checkpoint(str(tmp_path / "c"))
    assert metadata == {"k": 2} and loaded["a"].tolist() == [0.0, 0.0]
    assert files_in(tmp_path) == ["c"]


def test_the_file_is_plain_safetensors_with_our_metadata(tmp_path):
    save_checkpoint(tmp_path / "c", {"a": np.arange(3)}, {"vocab": "ab"})
    with safetensors.safe_open(str(tmp_path / "c"), framework="np") as file:
        header = file.metadata()
        assert file.get_tensor("a").tolist() == [0, 1, 2]
    assert header["format"] == FORMAT == "charrnn-c"
    assert header["format_version"] == str(FORMAT_VERSION) == "1"
    assert json.loads(header["charrnn_c"]) == {"vocab": "ab"}
    assert len(header["sha256"]) == 64


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_a_new_file_follows_the_umask_and_an_overwritten_one_keeps_its_mode(tmp_path):
    old_umask = os.umask(0o027)
    try:
        save_checkpoint(tmp_path / "c", {}, {})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o640
    os.chmod(tmp_path / "c", 0o604)
    save_checkpoint(tmp_path / "c", {"a": np.ones(1)}, {})
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o604


# Atomic saves.

class Boom(Exception):
    pass


def fail(*args, **kwargs):
    raise Boom("injected failure")


@pytest.mark.parametrize("where", ["safetensors.numpy.save", "os.fsync", "os.replace"])
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch,
                                                                  where, error):
    path = tmp_path / "c"
    small_checkpoint(path)
    before = path.read_bytes()

    def raise_error(*args, **kwargs):
        raise error("injected failure")

    module, name = where.rsplit(".", 1)
    monkeypatch.setattr(f"{module}.{name}", raise_error)
    with pytest.raises(error):
        save_checkpoint(path, {"params": np.zeros(5)}, {"new": True})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["c"]
    load_checkpoint(path)


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(Boom):
        save_checkpoint(tmp_path / "c", {"a": np.ones(3)}, {})
    assert files_in(tmp_path) == []


def test_a_save_that_stops_half_way_through_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c"
    small_checkpoint(path)
    before = path.read_bytes()
    real_fsync = os.fsync

    def written_then_fail(fd):
        # The whole new file is in the temporary file by now: cut it short, as a
        # full disk would, then fail.
        os.ftruncate(fd, 10)
        real_fsync(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", written_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"params": np.zeros(1000)}, {})
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["c"]


# Saving never destroys what is not a checkpoint.

def special_file(path, kind):
    """Make a FIFO, a socket or a /dev/null at ``path``; skip where the system cannot."""
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        import socket
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()  # the socket file stays
    else:
        try:  # /dev/null's device numbers on Linux; only root may make one
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, AttributeError):
            pytest.skip("cannot make a device node here (not root)")
    return os.stat(path).st_mode


@pytest.mark.skipif(os.name != "posix", reason="FIFOs, sockets and device nodes are POSIX")
@pytest.mark.parametrize("kind", ["FIFO", "socket", "character device"])
@pytest.mark.parametrize("through_symlink", [False, True])
def test_saving_onto_something_not_a_regular_file_raises_and_leaves_it(tmp_path, kind,
                                                                       through_symlink):
    # As root, saving to /dev/null replaced the device node with a file.
    special = tmp_path / "special"
    mode = special_file(special, kind)
    path = special
    if through_symlink:
        path = tmp_path / "link"
        path.symlink_to(special)
    with pytest.raises(FileExistsError, match=f"exists and is a {kind}.*refusing to replace") \
            as info:
        save_checkpoint(path, {"a": np.ones(2)}, {})
    assert info.value.filename == str(path)
    assert os.stat(special).st_mode == mode
    assert files_in(tmp_path) == sorted(["special"] + (["link"] if through_symlink else []))


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "latest").mkdir()
    target = tmp_path / "runs" / "model-1.safetensors"
    small_checkpoint(target)
    link = tmp_path / "latest" / "model.safetensors"
    link.symlink_to(os.path.join("..", "runs", "model-1.safetensors"))  # relative, as ln -s
    save_checkpoint(link, {"a": np.arange(3)}, {"new": True})
    assert os.readlink(link) == os.path.join("..", "runs", "model-1.safetensors")
    assert load_checkpoint(target)[1] == {"new": True}
    assert files_in(tmp_path / "runs") == ["model-1.safetensors"]
    assert files_in(tmp_path / "latest") == ["model.safetensors"]


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "model.safetensors"
    link.symlink_to(tmp_path / "target.safetensors")
    save_checkpoint(link, {"a": np.arange(3)}, {"k": 1})
    assert link.is_symlink() and load_checkpoint(tmp_path / "target.safetensors")[1] == {"k": 1}


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_loading_a_fifo_is_refused_instead_of_waiting_for_a_writer(tmp_path):
    # In a process of its own: opening a FIFO blocks with the GIL held.
    os.mkfifo(tmp_path / "fifo")
    load = ("import sys\nfrom charrnn_c.safetensors_file import load_checkpoint\n"
            "try:\n    load_checkpoint(sys.argv[1])\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n")
    try:
        result = subprocess.run([sys.executable, "-c", load, str(tmp_path / "fifo")],
                                capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("load_checkpoint waited for a writer on a FIFO")
    assert result.stdout.startswith("CheckpointError ")
    assert "it is a FIFO, not a regular file" in result.stdout


# A save killed mid-write leaves a temporary file; the next save removes it.

def leftover(directory, name, age=60.0):
    """A file as a save of ``name`` killed ``age`` seconds ago leaves behind."""
    path = directory / f"{TEMP_PREFIX}{name}.{os.urandom(8).hex()}"
    path.write_bytes(b"half a checkpoint")
    then = time.time() - age
    os.utime(path, (then, then))
    return path.name


@pytest.mark.skipif(os.name != "posix", reason="the lock a live save holds is flock")
def test_the_next_save_removes_what_killed_saves_left_and_nothing_else(tmp_path):
    import fcntl
    dead = [leftover(tmp_path, "model.safetensors") for _ in range(3)]
    keep = [
        leftover(tmp_path, "other.safetensors"),          # another checkpoint's
        leftover(tmp_path, "model.safetensors", age=-60),  # written after this save began
        f"{TEMP_PREFIX}model.safetensors.notours",         # not a name we give
        "model.safetensors.bak",
    ]
    (tmp_path / keep[2]).write_bytes(b"")
    (tmp_path / keep[3]).write_bytes(b"")
    live = leftover(tmp_path, "model.safetensors")
    keep.append(live)
    held = os.open(tmp_path / live, os.O_RDWR)  # as a live save holds its file
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        save_checkpoint(tmp_path / "model.safetensors", {"a": np.ones(2)}, {})
    finally:
        os.close(held)
    assert files_in(tmp_path) == sorted(keep + ["model.safetensors"])
    assert not set(dead) & set(files_in(tmp_path))


def test_leftovers_beside_a_symlinks_target_are_removed_there(tmp_path):
    (tmp_path / "runs").mkdir()
    stale = leftover(tmp_path / "runs", "model-1.safetensors")
    (tmp_path / "model.safetensors").symlink_to(tmp_path / "runs" / "model-1.safetensors")
    save_checkpoint(tmp_path / "model.safetensors", {}, {})
    assert files_in(tmp_path / "runs") == ["model-1.safetensors"] and stale


# Run by the kill test: on each line of stdin, fork a saver that writes version
# after version of a multi-megabyte checkpoint until it is killed. Forking from
# one process that has imported NumPy once keeps each round to milliseconds.
SAVER = textwrap.dedent("""
    import itertools, os, sys
    import numpy as np
    from charrnn_c.safetensors_file import save_checkpoint

    path, size = sys.argv[1], int(sys.argv[2])

    def say(line):
        os.write(1, (line + "\\n").encode())  # one write per line: lines never interleave

    say("ready")
    for line in sys.stdin:
        first = int(line)
        pid = os.fork()
        if pid == 0:
            for version in itertools.count(first):
                save_checkpoint(path, {"weights": np.arange(size, dtype=np.float64) + version,
                                       "mem": np.full(size, version, dtype=np.float32)},
                                {"version": version})
                say(f"saved {version}")
        say(f"forked {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"dead {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1}")
""")


def expected_version(version, size):
    return {"weights": np.arange(size, dtype=np.float64) + version,
            "mem": np.full(size, version, dtype=np.float32)}


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the saver is forked")
def test_killing_a_saver_at_random_moments_never_leaves_a_broken_file(tmp_path):
    size, rounds = 1 << 19, 24  # 6 MB a save, several milliseconds each
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, expected_version(0, size), {"version": 0})
    current = 0
    rng = np.random.default_rng(1)
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(size)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid, saved = None, []  # the live saver's pid; the versions it reported saved

    def read():
        nonlocal pid
        line = saver.stdout.readline()
        assert line, "the saver process exited"
        word, value = line.split()
        if word == "saved":
            saved.append(int(value))
        if word == "dead":
            pid = None  # reaped: its pid may be reused, so never kill it again
        return word, int(value)

    try:
        assert saver.stdout.readline() == "ready\n"
        changed = 0
        for turn in range(rounds):
            first = (turn + 1) * 1_000_000
            saver.stdin.write(f"{first}\n")
            saver.stdin.flush()
            saved.clear()
            while pid is None:
                word, value = read()
                assert word != "dead", "the saver died before it was killed"
                if word == "forked":
                    pid = value
            # Every other round lets a save complete first, so kills land both
            # in the first save and between or inside later ones.
            while turn % 2 and not saved:
                assert read()[0] != "dead", "the saver died before it was killed"
            time.sleep(rng.uniform(0, 0.03))
            os.kill(pid, signal.SIGKILL)
            while (word_value := read())[0] != "dead":
                pass
            assert word_value[1] == signal.SIGKILL, "the saver failed instead of being killed"

            tensors, metadata = load_checkpoint(path)  # checksum verified too
            version = metadata["version"]
            # The old version or a new one; never older than a save that finished.
            if saved:
                assert max(saved) <= version <= max(saved) + 1
            else:
                assert version in (current, first)
            assert_same_tensors(tensors, expected_version(version, size))
            changed += version != current
            current = version
            # A kill can leave a temporary file behind, but only under our prefix.
            assert all(name == path.name or name.startswith(TEMP_PREFIX)
                       for name in files_in(tmp_path))
        assert changed > 0
        # The next save, here, removes every file the killed ones left.
        save_checkpoint(path, expected_version(0, size), {"version": 0})
        assert files_in(tmp_path) == [path.name]
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        saver.stdin.close()  # the saver's loop ends, and with it the saver
        try:
            saver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            saver.kill()
            saver.wait()
        saver.stdout.close()


# Bad arguments to save: the error names the culprit, and nothing is written.

@pytest.mark.parametrize("metadata, culprit", [
    ({"x": object()}, r"metadata\['x'\] is of type object"),
    ({"history": [1.0, np.float32(2.0)]}, r"metadata\['history'\]\[1\] is of type float32.*item"),
    ({"h": np.zeros(3)}, r"metadata\['h'\] is of type ndarray.*tolist"),
    ({"x": {3: "c"}}, "metadata\\['x'\\] has the key 3; JSON keys must be strings"),
    ({1: "a"}, "metadata has the key 1"),
    ({"s": {1, 2}}, r"metadata\['s'\] is of type set"),
    ([("a", 1)], "metadata must be a dict, not list"),
])
def test_metadata_json_cannot_hold_is_a_type_error(tmp_path, metadata, culprit):
    small_checkpoint(tmp_path / "c")
    before = (tmp_path / "c").read_bytes()
    with pytest.raises(TypeError, match=culprit):
        save_checkpoint(tmp_path / "c", {}, metadata)
    assert (tmp_path / "c").read_bytes() == before
    assert files_in(tmp_path) == ["c"]


def test_metadata_that_contains_itself_is_a_type_error(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(TypeError, match=r"metadata\['a'\]\[0\] contains itself"):
        save_checkpoint(tmp_path / "c", {}, loop)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("tensors, error, culprit", [
    ({"weights": [1.0, 2.0]}, TypeError, "tensor 'weights' must be a NumPy array, not list"),
    ({"weights": np.float64(1.0)}, TypeError, "tensor 'weights' must be a NumPy array"),
    ({"w": np.array([1, "a"], dtype=object)}, TypeError, "tensor 'w' has dtype object"),
    ({"z": np.zeros(2, np.complex128)}, TypeError, "tensor 'z' has dtype complex128"),
    ({"s": np.array(["ab"])}, TypeError, "tensor 's' has dtype <U2"),
    ({"r": np.zeros(2, [("a", "f8")])}, TypeError, "tensor 'r' has dtype"),
    ({3: np.zeros(2)}, TypeError, "tensor names must be strings, not int 3"),
    ({"__metadata__": np.zeros(2)}, ValueError, "'__metadata__' is reserved"),
    ({"\ud800": np.zeros(2)}, ValueError, "cannot be written as UTF-8"),
    ([np.zeros(2)], TypeError, "tensors must be a dict"),
])
def test_a_bad_tensor_is_named(tmp_path, tensors, error, culprit):
    with pytest.raises(error, match=culprit):
        save_checkpoint(tmp_path / "c", tensors, {})
    assert files_in(tmp_path) == []


def test_saving_onto_a_directory_is_an_is_a_directory_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="d'"):
        save_checkpoint(tmp_path / "d", {}, {})
    assert files_in(tmp_path) == ["d"] and files_in(tmp_path / "d") == []


def test_saving_into_a_missing_directory_names_it(tmp_path):
    missing = tmp_path / "runs" / "today"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        save_checkpoint(missing / "c", {}, {})
    assert info.value.filename == str(missing)
    assert files_in(tmp_path) == []


def test_saving_below_a_file_is_a_not_a_directory_error(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="'.*f'"):
        save_checkpoint(tmp_path / "f" / "c", {}, {})


# Bad files to load: each raises the named exception, saying what is wrong.

def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(tmp_path / "nope")
    assert info.value.filename == str(tmp_path / "nope")


def test_a_file_in_a_missing_directory_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(tmp_path / "runs" / "c")
    assert info.value.filename == str(tmp_path / "runs" / "c")


def test_a_directory_is_an_is_a_directory_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory") as info:
        load_checkpoint(tmp_path)
    assert info.value.filename == str(tmp_path)


@pytest.mark.slow
def test_every_truncation_is_reported_as_truncated(tmp_path):
    small_checkpoint(tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    cuts = sorted(set(range(0, header_end + 16)) | set(range(header_end, len(data), 7)))
    for cut in cuts:
        (tmp_path / "cut").write_bytes(data[:cut])
        assert "truncated" in load_error(tmp_path / "cut"), cut


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 100, 10_000])
def test_random_bytes_are_not_a_safetensors_file(tmp_path, size):
    rng = np.random.default_rng(size)
    for _ in range(5):
        (tmp_path / "r").write_bytes(rng.bytes(size))
        message = load_error(tmp_path / "r")
        assert "not a safetensors file" in message or "truncated" in message


@pytest.mark.parametrize("content", [
    (20).to_bytes(8, "little") + b"x" * 40,
    (8).to_bytes(8, "little") + b'{"a": 1}',
    (2).to_bytes(8, "little") + b"[]",
    b"PK\x03\x04" + b"\x00" * 60,  # a zip, e.g. a torch.save file
])
def test_a_file_with_no_safetensors_header_is_refused(tmp_path, content):
    (tmp_path / "x").write_bytes(content)
    message = load_error(tmp_path / "x")
    assert "safetensors file" in message


@pytest.mark.slow
def test_every_bit_flip_in_the_header_is_caught(tmp_path):
    small_checkpoint(tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for offset in range(header_end):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[offset] ^= 1 << bit
            (tmp_path / "f").write_bytes(flipped)
            message = load_error(tmp_path / "f")
            assert any(problem in message for problem in PROBLEMS), (offset, bit, message)


@pytest.mark.slow
def test_every_bit_flip_in_the_tensor_data_fails_the_checksum(tmp_path):
    small_checkpoint(tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for offset in range(header_end, len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[offset] ^= 1 << bit
            (tmp_path / "f").write_bytes(flipped)
            message = load_error(tmp_path / "f")
            assert "corrupt checkpoint" in message and "sha256" in message, (offset, bit)


def test_a_tensor_rewritten_by_another_tool_fails_the_checksum(tmp_path):
    tensors, _ = small_checkpoint(tmp_path / "c")
    with safetensors.safe_open(str(tmp_path / "c"), framework="np") as file:
        header = file.metadata()
    safetensors.numpy.save_file({**tensors, "params": tensors["params"] + 1},
                                str(tmp_path / "c"), metadata=header)
    assert "corrupt checkpoint" in load_error(tmp_path / "c")


def test_a_foreign_safetensors_file_is_named_as_such(tmp_path):
    safetensors.numpy.save_file({"embedding.weight": np.zeros((2, 2), np.float32)},
                                str(tmp_path / "model.safetensors"))
    message = load_error(tmp_path / "model.safetensors")
    assert "foreign safetensors file" in message and "no 'format' entry" in message
    assert "metadata keys: none" in message and "'embedding.weight'" in message


def test_a_safetensors_file_of_another_format_lists_its_keys(tmp_path):
    safetensors.numpy.save_file({"w": np.zeros(2)}, str(tmp_path / "m"),
                                metadata={"format": "pt", "author": "someone"})
    message = load_error(tmp_path / "m")
    assert "foreign safetensors file" in message and "'format' is 'pt'" in message
    assert "'author', 'format'" in message


def write_with_header(path, **header):
    safetensors.numpy.save_file({"w": np.zeros(2)}, str(path), metadata=header)


def test_a_newer_format_version_says_to_upgrade(tmp_path):
    write_with_header(tmp_path / "c", format=FORMAT, format_version=str(FORMAT_VERSION + 1),
                      charrnn_c="{}", sha256="0" * 64)
    message = load_error(tmp_path / "c")
    assert "written by a newer charrnn-c" in message and "upgrade" in message


@pytest.mark.parametrize("header, problem", [
    (dict(format_version="one", charrnn_c="{}"), "format_version is 'one'"),
    (dict(charrnn_c="{}"), "format_version is None"),
    (dict(format_version="0", charrnn_c="{}"), "no checkpoint format version 0"),
    (dict(format_version="1"), "'charrnn_c' metadata entry is missing"),
    (dict(format_version="1", charrnn_c="{not json"), "'charrnn_c' metadata entry is not valid"),
    (dict(format_version="1", charrnn_c=""), "not valid JSON"),
    (dict(format_version="1", charrnn_c="[1, 2]"), "is a JSON list, not an object"),
    (dict(format_version="1", charrnn_c="{}"), "'sha256' metadata entry is missing"),
])
def test_malformed_metadata_is_a_checkpoint_error(tmp_path, header, problem):
    write_with_header(tmp_path / "c", format=FORMAT, **header)
    message = load_error(tmp_path / "c")
    assert "malformed checkpoint" in message and problem in message


def test_a_library_panic_becomes_a_checkpoint_error(tmp_path, monkeypatch):
    small_checkpoint(tmp_path / "c")

    class PanicException(BaseException):  # how a Rust panic reaches Python
        pass

    def panic(*args, **kwargs):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(safetensors, "safe_open", panic)
    message = load_error(tmp_path / "c")
    assert "PanicException: index out of bounds" in message


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("steps", [-1, 1.5, "3", 2**62])
def test_an_optimizer_step_count_training_cannot_reach_is_refused_on_load(steps):
    # Adam loaded at step -1 would take step 0, dividing by 1 - beta1^0 = 0.
    from charrnn_c import CharRNN
    from charrnn_c.checkpoint import contents, from_bytes
    from charrnn_c.safetensors_file import checkpoint_bytes

    model = CharRNN(hidden_size=4, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
                    optimizer="adam", seed=0).fit("abcab" * 40, iterations=2, progress=False)
    tensors, metadata = contents(model.get_params(), model.vocab_, model.spec_, model._state)
    metadata["optimizer"]["steps"] = steps
    with pytest.raises(CheckpointError, match=r"pickle: not a valid CharRNN checkpoint: "
                                              r"ValueError: the adam optimizer's steps must "
                                              rf"be a count >= 0, got {steps!r}"):
        CharRNN._from_contents(from_bytes(checkpoint_bytes(tensors, metadata)))


def test_a_checkpoint_without_the_newer_hyperparameters_loads_them_as_they_were_then():
    # A file written before a hyperparameter existed was trained without it:
    # it loads with the behaviour it had then, not with CharRNN's defaults now.
    from charrnn_c import CharRNN
    from charrnn_c.checkpoint import contents, from_bytes
    from charrnn_c.safetensors_file import checkpoint_bytes

    then = dict(clip_norm=None, n_threads=None, recurrent_init="normal", lr_schedule="constant",
                warmup=0, min_lr_ratio=0.0, keep_best=False)
    model = CharRNN(hidden_size=4, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
                    optimizer="adagrad", seed=0, **then).fit("abcab" * 40, iterations=2,
                                                             progress=False)
    tensors, metadata = contents(model.get_params(), model.vocab_, model.spec_, model._state)
    for name in then:
        del metadata["params"][name]
    loaded = CharRNN._from_contents(from_bytes(checkpoint_bytes(tensors, metadata)))
    assert {name: getattr(loaded, name) for name in then} == then
    assert loaded.get_params() == model.get_params()


def test_a_long_non_ascii_checkpoint_name_saves(tmp_path):
    # 252 bytes, legal; its temporary name, cut to 100 characters (240 bytes
    # of them), was too long to create: ENAMETOOLONG at every save (issue 22).
    name = "模型" * 40 + ".safetensors"
    assert len(os.fsencode(name)) == 252
    for value in (1, 2):                         # a new file, then one replaced
        save_checkpoint(tmp_path / name, {"w": np.full(3, value)}, {"n": value})
    assert os.listdir(tmp_path) == [name]
    tensors, metadata = load_checkpoint(tmp_path / name)
    assert tensors["w"].tolist() == [2, 2, 2] and metadata == {"n": 2}
