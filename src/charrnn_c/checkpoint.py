"""How a checkpoint is written and read: one safetensors file, and what a CharRNN's holds.

Safetensors is a flat, framework-neutral format whose loading never runs code
(unlike pickle), so a checkpoint from anyone is safe to open, and any tool
that reads safetensors can read the arrays. A checkpoint holds

    tensors      the arrays, by name: bool, int8..int64, uint8..uint64,
                 float16, float32 or float64, any shape, little-endian on disk
    metadata     the safetensors header's string map:
        format           "charrnn-c"
        format_version   "1"
        charrnn_c        everything else as one JSON object: hyperparameters,
                         vocabulary, history, training position, RNG state
        sha256           of the entries above and every tensor's name, dtype,
                         shape and bytes; safetensors has no checksum of its own

A save is atomic: the file is written beside the target under a temporary
name, flushed to disk, then renamed over the target, so a crash at any moment
leaves either the old checkpoint or the new one, never half of one. Through a
symlink, the file it points to is replaced and the link kept; anything else
that is not a regular file (a FIFO, /dev/null) is refused, never replaced. A
save killed mid-write leaves its temporary file; the next save to the same
path removes it.

A training run saves only over the checkpoint it was loaded from or last
saved, unchanged since, and then only when it resumes (check_not_foreign):
a fresh run never replaces another model, nor a file that is no checkpoint,
unless told to (fit's overwrite=True, charrnn train --overwrite). And a run
holds its checkpoint path, by a lock beside it, until it ends (owning): a
second run onto the same path is refused, naming the first.

The metadata's size is bounded (MAX_METADATA_VALUES, counted before it is
parsed) and every history record checked for what training reads from it.

A CharRNN's checkpoint (save_model, load_model) holds

    tensors      the weights by their PyTorch names (weight_ih_l0, ...),
                 "optimizer.<buffer>" for each optimizer buffer, "hidden",
                 the carried state, and "training.params", the flat weights
                 training continues from, where keep_best kept others
    metadata     params (the hyperparameters), vocabulary, seed, optimizer
                 (name, learning_rate, steps), training (iterations, the
                 streams' position, smooth_loss, seconds, text_fingerprint,
                 and the learning-rate schedule's plan, absent before it
                 existed) and history (its "kept" record: keep_best's)

Before building anything, load_model compares every size in the metadata
with the tensors present, so that opening a checkpoint from anyone costs time
and memory in proportion to its file; it refuses, naming the field, values
training could not have written (NaN weights, a negative learning rate, a
reading position past the text's end). save_model runs the same checks
before it writes, so what it writes loads.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import safetensors
import safetensors.numpy

from . import checks
from .weights_file import weights_contents

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:
    from .model import CharRNN
    from .spec import ModelSpec
    from .vocab import Vocabulary

FORMAT = "charrnn-c"
FORMAT_VERSION = 1

# A save interrupted by SIGKILL or a power cut leaves a file starting with
# this beside the checkpoint; the prefix says what it is and that it can go.
# Its full name is TEMP_PREFIX + the checkpoint's name (its first 100 bytes
# in the file system's encoding, to stay under the usual 255-byte limit:
# cut_name) + "." + 16 random hex digits.
TEMP_PREFIX = ".charrnn-c-tmp-"
TEMP_NAME_BYTES = 100

DTYPES = tuple(np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"))

# Safetensors refuses larger headers; used only to tell a corrupt length
# field from a truncated header when explaining a failed load.
MAX_HEADER_BYTES = 100_000_000
# The metadata holds at most this many JSON values: a vocabulary of 1.1 M
# symbols and 360,000 history records (8 values each), about 400 MB in
# Python to load, where 24.5 million {} in a 98 MB file took 2 GB.
MAX_METADATA_VALUES = 4_000_000


class CheckpointError(ValueError):
    """The file exists but is not a checkpoint this charrnn-c can read."""


def save_checkpoint(path: str | os.PathLike[str], tensors: dict[str, np.ndarray],
                    metadata: dict[str, Any]) -> None:
    """Write ``tensors`` (name -> array) and ``metadata`` (a JSON-able dict) to ``path``.

    Everything is checked before anything is written. The file at ``path``
    is replaced atomically; if the save fails, it is left as it was.
    """
    target = _check_target(os.fspath(path))
    _write_atomically(target, checkpoint_bytes(tensors, metadata))


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise what save_checkpoint would if no checkpoint can be saved at ``path``.

    The same checks of the target, then a temporary file created and removed
    in its directory, which is the only sure test of permissions, ACLs and
    read-only mounts (os.access answers yes to root on a mode-0o555
    directory). Called before training, so a run cannot end unable to save.
    """
    fd, temp = _create_temp(*os.path.split(_check_target(os.fspath(path))))
    os.close(fd)
    os.remove(temp)


class CheckpointExistsError(FileExistsError, ValueError):
    """A run's checkpoint path holds a file the run did not come from (check_not_foreign).

    A FileExistsError, and also a ValueError, as a bad argument to fit is."""


def check_not_foreign(model: CharRNN, path: str | os.PathLike[str], resume: bool) -> None:
    """Refuse to let a run of ``model`` save at ``path`` over a file it did not come from.

    A resumed run may replace the file it was loaded from or last saved to
    (it continues that file's model), as long as the file is unchanged since;
    a fresh run replaces nothing. Anything else in a regular file there is
    refused with CheckpointExistsError: another model (the run of 154,000
    iterations a 10-iteration run replaced, issue 15), and a file that is not
    a checkpoint at all (a text given as the checkpoint by mistake), which a
    save would destroy as surely. An empty file holds nothing to lose. What
    is not a regular file is check_writable's to refuse. CharRNN.fit calls
    this before training, so a refused run changes nothing; fit's
    overwrite=True skips it.
    """
    target = os.path.realpath(os.fspath(path))
    identity = _file_identity(target)
    if identity is None or identity[-1] == 0:
        return
    if resume and model._checkpoint_files.get(target) == identity:
        return
    held, advice = _describe_checkpoint(target), ""
    if held is None:
        held = f"a file that is not a charrnn-c checkpoint ({identity[-1]:,} bytes)"
    elif resume:
        held += (", not the file this run was loaded from or last saved (or it has changed "
                 "since)")
    else:
        advice = "; to continue it, resume training from it with resume=True"
    raise CheckpointExistsError(
        f"{os.fspath(path)} already holds {held}, which this run would overwrite: to replace "
        f"it, fit with overwrite=True{advice}; else save to another checkpoint")


# A run holds a lock on a small file beside its checkpoint for as long as it
# trains (owning): LOCK_PREFIX + the checkpoint's name (cut_name) + "." + 16
# hex digits of the name's sha256, holding who the run is.
LOCK_PREFIX = ".charrnn-c-run-"


class CheckpointInUseError(RuntimeError):
    """Another run under way saves to this checkpoint (owning); the message names it."""


@contextmanager
def owning(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the checkpoint at ``path`` for one training run, or refuse with
    CheckpointInUseError naming the run that holds it.

    The foreign-file check (check_not_foreign) looks once, at the start: two
    runs started a second apart onto one path both passed it, both said
    "saved", and the file held only the second's model (issue 22). So a run
    takes an exclusive lock (flock) on a file beside the checkpoint, and
    holds it to its end; the system drops it when the process dies, even by
    SIGKILL. The file says who holds it, for the other run's message, and is
    removed at the end (a killed run's is taken over by the next). Where
    there are no locks (Windows, some NFS mounts), nothing is held.
    """
    target = _check_target(os.fspath(path))
    directory, name = os.path.split(target)
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    lock = os.path.join(directory, f"{LOCK_PREFIX}{cut_name(name, TEMP_NAME_BYTES)}.{digest}")
    fd = _hold(lock, os.fspath(path)) if sys.platform != "win32" else -1
    try:
        yield
    finally:
        if fd >= 0:
            try:
                if _same_file(fd, lock):
                    os.remove(lock)       # while still held: no other run holds it yet
            except OSError:
                pass
            os.close(fd)


def _hold(lock: str, path: str) -> int:
    """An fd holding the lock file ``lock`` of the checkpoint ``path`` (-1
    where locks do not work), stating this run in it."""
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError:
            return -1                     # check_writable has vouched for the directory
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise CheckpointInUseError(
                f"{path} is the checkpoint of another run under way ({holder}): two runs "
                f"saving to one checkpoint overwrite each other's model; wait for that run "
                f"to end, or save to another checkpoint") from None
        except OSError:
            os.close(fd)                  # no locks on this file system: go without
            return -1
        if not _same_file(fd, lock):      # removed by a run that ended meanwhile
            os.close(fd)
            continue
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        command = " ".join(sys.argv)[:200]
        holder = json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                             "started": started, "command": command})
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode("utf-8", "backslashreplace"), 0)
        return fd
    return -1


def _read_holder(fd: int) -> str:
    """Who holds a run's lock file, in words, from what it wrote there."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return (f"process {int(holder['pid'])} on {holder['host']}, started "
                f"{holder['started']}: {holder['command']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said which yet"


def _file_identity(path: str) -> tuple[int, ...] | None:
    """What tells the regular file at ``path`` from any other, or from itself
    after a change (a save renames a new file over it, a copy writes into it):
    device, inode, change and modification times, and size, last. None if
    there is no regular file there."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_dev, info.st_ino, info.st_ctime_ns, info.st_mtime_ns, info.st_size)


def _remember_file(model: CharRNN, path: str | os.PathLike[str],
                   identity: tuple[int, ...] | None = None) -> None:
    """Note that ``model``'s run came from, or wrote, the checkpoint at ``path``."""
    target = os.path.realpath(os.fspath(path))
    identity = identity or _file_identity(target)
    if identity is not None:
        model._checkpoint_files[target] = identity


def _describe_checkpoint(path: str) -> str | None:
    """'a 1 x 100 rnn model trained 154,000 iterations' when ``path`` holds a
    charrnn-c checkpoint (from its header alone: cheap, whatever its size), else None."""
    from .spec import CELLS

    try:
        with _library_errors(path, os.stat(path).st_size):
            with safetensors.safe_open(path, framework="np") as file:
                header = file.metadata() or {}
                names = sorted(file.keys())
        metadata = _check_header(path, header, names)
    except (CheckpointError, OSError):
        return None
    params, training = metadata.get("params"), metadata.get("training")
    if isinstance(params, dict) and isinstance(training, dict):
        sizes = [params.get("num_layers"), params.get("hidden_size"), training.get("iterations")]
        if all(type(size) is int for size in sizes) and params.get("cell") in CELLS:
            layers, hidden, iterations = sizes
            return (f"a {layers} x {hidden} {params['cell']} model trained {iterations:,} "
                    f"iterations")
    return "a charrnn-c checkpoint"


def checkpoint_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> bytes:
    """The bytes of the checkpoint file save_checkpoint writes (for pickling)."""
    arrays = _check_tensors(tensors)
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "charrnn_c": _metadata_to_json(metadata),
    }
    header["sha256"] = _digest(header, arrays)
    return safetensors.numpy.save(arrays, metadata=header)


def checkpoint_from_bytes(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, metadata) from checkpoint_bytes' output, checked as a file is."""
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as directory:
        path = os.path.join(directory, "checkpoint.safetensors")
        with open(path, "wb") as file:
            file.write(data)
        return load_checkpoint(path)


def load_checkpoint(path: str | os.PathLike[str]
                    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint; returns (tensors, metadata).

    ``tensors`` maps each name, in sorted order, to a new writable NumPy
    array; ``metadata`` is the dict that was saved (JSON turns tuples into
    lists). Raises CheckpointError, saying what is wrong, for anything that
    is not an intact checkpoint of a format version this code knows.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a checkpoint file", path)
    info = os.stat(path)  # FileNotFoundError, PermissionError as usual
    if not stat.S_ISREG(info.st_mode):
        # Opening a FIFO would wait for a writer forever, a device read forever.
        raise CheckpointError(f"{path}: not a checkpoint: it is {_kind(info.st_mode)}, "
                              f"not a regular file")
    size = info.st_size

    with _library_errors(path, size):
        # safe_open maps the file, so only the returned arrays take memory.
        with safetensors.safe_open(path, framework="np") as file:
            header = file.metadata() or {}
            names = sorted(file.keys())
            metadata = _check_header(path, header, names)
            tensors = {name: file.get_tensor(name) for name in names}

    if header.get("sha256") != _digest(header, tensors):
        raise CheckpointError(
            f"{path}: corrupt checkpoint: its contents do not match the sha256 "
            f"checksum written with them (changed on disk or in transfer)")
    return tensors, metadata


def _check_target(path: str) -> str:
    """The file a save to ``path`` replaces: ``path``, or the one a symlink there points to.

    It must be a regular file, or not exist yet, in an existing directory:
    renaming over anything else would destroy it (as root, /dev/null).
    """
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a checkpoint file", path)
    # Replacing the link itself would turn it into a file; update what it points to.
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    try:
        mode: int | None = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None                               # a new file; its directory is checked below
    if mode is not None and not stat.S_ISREG(mode):
        raise FileExistsError(errno.EEXIST, f"exists and is {_kind(mode)}, not a checkpoint "
                              f"file: refusing to replace it", path)
    directory = os.path.dirname(target)
    if not os.path.exists(directory):
        raise FileNotFoundError(
            errno.ENOENT, "the directory to save the checkpoint in does not exist", directory)
    if not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "the checkpoint's parent is not a directory",
                                 directory)
    return target


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for an error message."""
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return kind
    return "a special file"


def _check_tensors(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Contiguous little-endian copies (or the arrays themselves) of the tensors to save."""
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict of name -> array, not {type(tensors).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, array in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, not {type(name).__name__} {name!r}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved by safetensors and cannot name a tensor")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"tensor name {name!r} cannot be written as UTF-8") from None
        if not isinstance(array, np.ndarray):
            raise TypeError(f"tensor {name!r} must be a NumPy array, not {type(array).__name__}")
        if array.dtype.newbyteorder("=") not in DTYPES:
            supported = ", ".join(dtype.name for dtype in DTYPES)
            raise TypeError(
                f"tensor {name!r} has dtype {array.dtype}; a checkpoint holds {supported}")
        # Safetensors copies raw memory from the data pointer, so a strided view
        # must become contiguous first; it also stores little-endian only.
        # (np.ascontiguousarray would also turn a 0-d array into a 1-d one.)
        arrays[name] = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
    return arrays


def _metadata_to_json(metadata: dict[str, Any]) -> str:
    """``metadata`` as JSON text, after checking it comes back the same."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, not {type(metadata).__name__}")
    _check_json_value(metadata, "metadata", set())
    # NaN and infinities are allowed (Python's json reads them back), so a
    # history holding a diverged loss still saves. ASCII escapes keep lone
    # surrogates in strings, which UTF-8 cannot hold.
    text = json.dumps(metadata, ensure_ascii=True, allow_nan=True)
    try:
        _check_metadata_size("metadata", text)
    except CheckpointError as error:
        raise ValueError(f"{error}: not saved, as it would not load") from None
    return text


def _check_json_value(value: object, where: str, open_containers: set[int]) -> None:
    """Raise TypeError, naming the place, for what JSON would lose or refuse."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if not isinstance(value, (dict, list, tuple)):
        hint = " (use .item() or .tolist())" if isinstance(value, (np.generic, np.ndarray)) else ""
        raise TypeError(f"{where} is of type {type(value).__name__}, which JSON cannot "
                        f"hold{hint}")
    if id(value) in open_containers:
        raise TypeError(f"{where} contains itself, which JSON cannot hold")
    open_containers.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON keys must be strings, "
                                f"or they come back changed")
            _check_json_value(item, f"{where}[{key!r}]", open_containers)
    else:
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]", open_containers)
    open_containers.remove(id(value))


def _digest(header: dict[str, str], tensors: dict[str, np.ndarray]) -> str:
    """sha256 of the header entries, except its own, and the tensors, in a fixed order.

    A manifest of the entries and each tensor's name, dtype and shape comes
    first, with its length, so the tensor bytes that follow have known
    boundaries and no two different checkpoints hash the same input.
    """
    names = sorted(tensors)
    little = {name: tensors[name].astype(tensors[name].dtype.newbyteorder("<"), order="C",
                                         copy=False)
              for name in names}
    manifest = json.dumps([
        sorted((key, value) for key, value in header.items() if key != "sha256"),
        [[name, little[name].dtype.str, list(little[name].shape)] for name in names],
    ]).encode("ascii")
    digest = hashlib.sha256(len(manifest).to_bytes(8, "little"))
    digest.update(manifest)
    for name in names:
        # .data: the same bytes as a memoryview, which NumPy's stubs type as a
        # buffer on every Python (ndarray's own __buffer__ only from 3.12).
        digest.update(little[name].reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def _write_atomically(target: str, data: bytes) -> None:
    """Write to a temporary file beside ``target``, flush it to disk, rename it over ``target``."""
    # Serialized in memory (checkpoint_bytes) rather than with save_file,
    # which (in safetensors 0.8) writes through a temporary file of its own:
    # mode 0o600, a name a crash would leave without our prefix, and no fsync.
    directory, name = os.path.split(target)
    # First, so that the space the leftovers hold is free for this save.
    _remove_leftovers(directory, name, time.time())
    fd, temp = _create_temp(directory, name)
    try:
        _match_mode(temp, target)
        try:
            with os.fdopen(fd, "wb", closefd=False) as file:
                file.write(data)
            os.fsync(fd)
            if sys.platform == "win32":     # which renames no open file
                os.close(fd)
                fd = -1
            # Elsewhere the fd, and its lock, are kept until the rename is done, so
            # that no other save's cleanup can take the file for a leftover.
            os.replace(temp, target)
        except OSError as error:
            # A full disk (ENOSPC), a quota: name the checkpoint, which the
            # error of a write to a file descriptor does not.
            raise type(error)(error.errno, f"{error.strerror or error} (saving the "
                              f"checkpoint; it is left as it was)", target) from None
    except BaseException:
        # Also on KeyboardInterrupt: no stray file, and target untouched.
        if fd >= 0:
            os.close(fd)
            fd = -1
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    # The rename itself is durable only once the directory entry is on disk.
    if os.name == "posix":
        try:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES):
                raise


def _create_temp(directory: str, name: str,
                 where: str = "the checkpoint's directory") -> tuple[int, str]:
    """(fd, path) of a new file in ``directory``, under a name no other save can pick,
    locked (where the system can) for as long as the fd is open.

    tempfile.mkstemp would do, but it creates files with mode 0o600, which
    would make every checkpoint private to its owner; 0o666 lets the umask
    decide, as it does for any new file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f"{TEMP_PREFIX}{cut_name(name, TEMP_NAME_BYTES)}."
                                       f"{secrets.token_hex(8)}")
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            # Name the directory the user chose, not our temporary file in it.
            raise type(error)(error.errno, f"{error.strerror} (cannot create a file in "
                              f"{where})", directory) from None
        try:
            if _lock(fd) and _same_file(fd, temp):
                return fd, temp
        except BaseException:
            os.close(fd)
            os.remove(temp)
            raise
        # Between creating and locking it, another save took it for a leftover.
        os.close(fd)
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def cut_name(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` bytes in the file system's encoding
    (os.fsencode), between characters.

    File systems limit a name's bytes, not its characters: cut to 100
    characters, the 252-byte "模型" * 40 + ".safetensors" made a temporary
    name of 332 bytes, and no save could create it (issue 22).
    """
    end = len(name)
    while len(os.fsencode(name[:end])) > limit:
        # Each character takes at most 4 bytes: drop at least what is over.
        end -= max(1, (len(os.fsencode(name[:end])) - limit) // 4)
    return name[:end]


def _lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` if free; True also where locks do not exist.

    A save holds one on its temporary file until the file is renamed; the
    system releases it when the process dies, even by SIGKILL, which is how
    a later save tells a crashed save's leftover from a live save's file.
    """
    if sys.platform == "win32":
        return True                # an open file cannot be deleted there
    else:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            pass                   # no locks on this file system (some NFS): go without
        return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _remove_leftovers(directory: str, name: str, before: float) -> None:
    """Remove the temporary files that killed saves of ``name`` left in ``directory``.

    A save holds a lock on its temporary file from creating it until renaming
    it, and the system drops the lock when the process dies, even by SIGKILL;
    so a file here whose lock can be taken is a dead save's. No age margin:
    the lock tells a dead save's file from a live one's at once, and a margin
    of seconds would leave behind every leftover of a quick crash loop. Only
    files last written before this save began (``before``) are candidates,
    which keeps safe a save on another machine sharing the directory, where
    locks may be local to each. Where no lock can be taken (some NFS mounts,
    Windows while the file is open) nothing is removed. Best effort: a
    leftover that cannot be removed is no reason to fail the save.
    """
    pattern = re.compile(re.escape(f"{TEMP_PREFIX}{cut_name(name, TEMP_NAME_BYTES)}.")
                         + "[0-9a-f]{16}")
    try:
        with os.scandir(directory) as scan:
            entries = [entry for entry in scan if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < before:
                _remove_if_abandoned(entry.path)
        except OSError:
            continue


def _remove_if_abandoned(path: str) -> None:
    """Delete the file at ``path`` unless a live save has it open."""
    if sys.platform == "win32":
        try:
            os.remove(path)            # refused while a save has it open
        except PermissionError:
            pass
    else:
        # Read-write: NFS emulates flock with fcntl locks, whose exclusive kind
        # needs a writable fd. O_NONBLOCK: should the name have become a FIFO,
        # do not wait on it.
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return                 # a live save holds it, or no locks here: keep it
            if _same_file(fd, path):
                os.remove(path)
        finally:
            os.close(fd)


def _match_mode(temp: str, path: str) -> None:
    """Keep an overwritten checkpoint's permissions, as open(path, "wb") would."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return
    os.chmod(temp, mode)


def _check_header(path: str, header: dict[str, str], names: list[str]) -> dict[str, Any]:
    """The saved metadata dict, once the header says this is a checkpoint we can read."""
    if header.get("format") != FORMAT:
        found = (f"its 'format' is {header['format']!r}, not {FORMAT!r}" if "format" in header
                 else "its metadata has no 'format' entry")
        keys = ", ".join(repr(key) for key in sorted(header)) or "none"
        shown = ", ".join(repr(name) for name in names[:8])
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        raise CheckpointError(
            f"{path}: a foreign safetensors file, not a charrnn-c checkpoint: {found} "
            f"(metadata keys: {keys}; {len(names)} tensor(s){': ' if names else ''}{shown}{more})")

    version = header.get("format_version")
    if version is None or not re.fullmatch(r"[0-9]{1,9}", version):
        raise CheckpointError(f"{path}: malformed checkpoint: format_version is {version!r}, "
                              f"not a whole number")
    if int(version) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer charrnn-c (checkpoint format version {int(version)}; "
            f"this one reads up to version {FORMAT_VERSION}); upgrade charrnn-c to load it")
    if int(version) != FORMAT_VERSION:
        raise CheckpointError(f"{path}: malformed checkpoint: there is no checkpoint format "
                              f"version {int(version)}")

    text = header.get("charrnn_c")
    if text is None:
        raise CheckpointError(f"{path}: malformed checkpoint: the 'charrnn_c' metadata "
                              f"entry is missing")
    _check_metadata_size(path, text)
    try:
        metadata = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CheckpointError(f"{path}: malformed checkpoint: the 'charrnn_c' metadata "
                              f"entry is not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: malformed checkpoint: the 'charrnn_c' metadata "
                              f"entry is a JSON {type(metadata).__name__}, not an object")
    if "sha256" not in header:
        raise CheckpointError(f"{path}: malformed checkpoint: the 'sha256' metadata entry "
                              f"is missing")
    return metadata


def _check_metadata_size(where: str, text: str) -> None:
    """CheckpointError if the metadata's JSON ``text`` holds more values than
    MAX_METADATA_VALUES, counted by its commas (a bound: a comma in a string
    counts too), at C speed, before any is built: a 98 MB history of 24.5
    million {} took 11.8 s and 2.0 GB to open (issue 22)."""
    values = text.count(",") + 1
    if values > MAX_METADATA_VALUES:
        raise CheckpointError(
            f"{where}: not a checkpoint training writes: its metadata holds about "
            f"{values:,} values, more than the {MAX_METADATA_VALUES:,} a checkpoint may "
            f"(a history of about {MAX_METADATA_VALUES // 8:,} records); refused before "
            f"reading them")


@contextmanager
def _library_errors(path: str, size: int) -> Iterator[None]:
    """Turn whatever the safetensors reader raises into a CheckpointError.

    Its Rust core raises SafetensorError for a bad file and, on a bug, a
    PanicException that derives from BaseException, so only the exceptions
    about the process rather than the file are let through.
    """
    try:
        yield
    except (CheckpointError, OSError, MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        problem = _diagnose(path, size) or "not a valid safetensors file"
        if problem.startswith("not a safetensors file"):
            # Another kind of file altogether: what it is not, in the user's
            # terms, without the reader's words about header bytes.
            raise CheckpointError(f"{path} is not a charrnn checkpoint: {problem}") from None
        raise CheckpointError(
            f"{path}: {problem} (safetensors: {type(error).__name__}: {error})") from error


def _diagnose(path: str, size: int) -> str | None:
    """Why safetensors refused the file, when that is truncation or not safetensors at all.

    Only explains a failure: what is read here is never used to load anything.
    """
    if size < 8:
        return f"truncated or not a safetensors file: only {size} byte(s)"
    with open(path, "rb") as file:
        length = int.from_bytes(file.read(8), "little")
        if length > MAX_HEADER_BYTES:
            return "not a safetensors file (its first 8 bytes are no header length)"
        text = file.read(length)
    if text and not text.startswith(b"{"):
        return "not a safetensors file (no JSON header after the header length)"
    if len(text) < length:
        return (f"truncated: the header should be {length} bytes, but the file ends "
                f"{len(text)} bytes into it")
    try:
        entries = json.loads(text)
        data_end = max((entry["data_offsets"][1] for key, entry in entries.items()
                        if key != "__metadata__"), default=0)
    except (ValueError, RecursionError, TypeError, KeyError, IndexError, AttributeError):
        return None
    data_size = size - 8 - length
    if isinstance(data_end, int) and data_end > data_size:
        return (f"truncated: the header promises {data_end} bytes of tensor data, "
                f"but the file holds only {data_size}")
    return None


# ----------------------------------------------------------------------
# What a CharRNN's checkpoint holds

def model_contents(model: CharRNN) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, metadata) of a fitted model, as save_model writes them."""
    from .training import saved_weights

    weights, training_params = saved_weights(model)
    tensors = {name: view.copy() for name, view in model.spec_.unflatten(weights).items()}
    if training_params is not None:
        tensors[TRAINING_PARAMS] = training_params
    buffers, scalars = model.optimizer_.state()
    for name, array in buffers.items():
        tensors[f"optimizer.{name}"] = array
    tensors["hidden"] = model.hidden_
    if getattr(model, "_warm_state", None) is not None:
        tensors[WARM_STATE] = model._warm_state
    metadata = {
        "params": model.get_params(),
        "vocabulary": model.vocab_.to_dict(),
        "seed": model.seed_,
        "optimizer": {"name": model.optimizer_.name,
                      "learning_rate": model.optimizer_.learning_rate, **scalars},
        "training": {"iterations": model.n_iter_, "streams": model._stream_state,
                     "smooth_loss": model._smooth_loss, "seconds": model._elapsed,
                     "window_loss": list(model._window_loss),
                     "text_fingerprint": model._text_fingerprint,
                     "schedule": None if model._schedule is None else model._schedule.to_dict()},
        "history": model.history_,
    }
    return tensors, metadata


def model_from_contents(cls: type[CharRNN], tensors: dict[str, np.ndarray],
                        metadata: dict[str, Any], where: str) -> CharRNN:
    """The model ``tensors`` and ``metadata`` describe; CheckpointError, naming
    ``where`` and the problem, when they describe none."""
    from .optimizers import OPTIMIZERS
    from .schedules import Plan
    from .weights_file import WEIGHTS_ONLY, model_from_weights

    try:
        if WEIGHTS_ONLY in metadata:             # a weights-only file (weights_file.py)
            return model_from_weights(cls, tensors, metadata)
        # Everything is checked first: what is built below is then no larger
        # than the tensors the file holds.
        model, vocab, spec = _checked_contents(cls, tensors, metadata)
        model.vocab_ = vocab
        model.spec_ = spec
        model.seed_ = metadata["seed"]
        model.params_ = np.zeros(spec.num_params, dtype=spec.np_dtype)
        model.load_state_dict({view.name: tensors[view.name] for view in spec.param_views})
        optimizer = metadata["optimizer"]
        model.optimizer_ = OPTIMIZERS[optimizer["name"]](spec, float(optimizer["learning_rate"]))
        buffers = {name[len("optimizer."):]: value for name, value in tensors.items()
                   if name.startswith("optimizer.")}
        model.optimizer_.load_state(buffers, optimizer)
        model.hidden_ = tensors["hidden"].copy()     # the LSTM's holds h and c
        # Files before it: unprimed samples start from a zero state, as they did.
        model._warm_state = tensors[WARM_STATE].copy() if WARM_STATE in tensors else None
        training = metadata["training"]
        model.n_iter_ = training["iterations"]
        model._stream_state = training["streams"]
        model._smooth_loss = float(training["smooth_loss"])
        # Files before window_loss: the next record averages the steps after the load.
        window = training.get("window_loss", [0.0, 0])
        model._window_loss = (float(window[0]), int(window[1]))
        model._elapsed = float(training["seconds"])
        model._text_fingerprint = training["text_fingerprint"]
        model.history_ = list(metadata["history"])
        model._schedule = (None if training.get("schedule") is None
                           else Plan.from_dict(training["schedule"]))
        model._train_params = (tensors[TRAINING_PARAMS].copy() if TRAINING_PARAMS in tensors
                               else None)
        model.best_iteration_ = next((record["iteration"] for record in model.history_
                                      if record.get("kept")), None)
        model._checkpoint_files = {}             # load_model adds the file it read
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, NotImplementedError) as error:
        raise CheckpointError(
            f"{where}: not a valid CharRNN checkpoint: {type(error).__name__}: {error}"
        ) from None
    return model


def save_model(model: CharRNN, path: str | os.PathLike[str]) -> None:
    """Write a fitted model to ``path``, atomically (save_checkpoint), once it is
    sure to load: ValueError, and the file left as it was, if it would not."""
    tensors, metadata = _loadable_contents(model, os.fspath(path))
    save_checkpoint(path, tensors, metadata)
    _remember_file(model, path)               # this run's own to overwrite when it resumes


def save_weights(model: CharRNN, path: str | os.PathLike[str], dtype: str | None) -> None:
    """Write the weights-only file of ``model`` (weights_file.py) to ``path``, atomically."""
    tensors, metadata = weights_contents(model, dtype)
    save_checkpoint(path, tensors, metadata)


def load_model(cls: type[CharRNN], path: str | os.PathLike[str]) -> CharRNN:
    """The model saved at ``path``; CheckpointError names what is wrong."""
    # Taken first: should the file change while it is read, it is then not this model's.
    identity = _file_identity(os.path.realpath(os.fspath(path)))
    tensors, metadata = load_checkpoint(path)
    model = model_from_contents(cls, tensors, metadata, str(path))
    _remember_file(model, path, identity)
    return model


def model_bytes(model: CharRNN) -> bytes:
    """The bytes of the file save_model writes (for pickling); a model loaded
    from a weights-only file pickles as one."""
    if model._weights_only:
        return checkpoint_bytes(*weights_contents(model, None))
    tensors, metadata = _loadable_contents(model, "pickle")
    return checkpoint_bytes(tensors, metadata)


def model_from_bytes(cls: type[CharRNN], data: bytes) -> CharRNN:
    tensors, metadata = checkpoint_from_bytes(data)
    return model_from_contents(cls, tensors, metadata, "pickle")


def _loadable_contents(model: CharRNN, where: str
                       ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """model_contents(model), after the checks a load makes of them.

    A model whose hyperparameters were changed after fitting (set_params
    hidden_size, batch_size...) would otherwise write a file that cannot be
    loaded, over the last good one.
    """
    tensors, metadata = model_contents(model)
    try:
        _checked_contents(type(model), tensors, metadata)
    except (KeyError, TypeError, ValueError, NotImplementedError) as error:
        raise ValueError(f"{where}: not saved, as the checkpoint would not load: "
                         f"{type(error).__name__}: {error}") from None
    return tensors, metadata


# What training leaves in a checkpoint, beyond the hyperparameters' own checks
# (CharRNN._validate_params): counts and measures that could not be otherwise.
METADATA_KEYS = ("params", "vocabulary", "seed", "optimizer", "training", "history")
TRAINING_KEYS = ("iterations", "streams", "smooth_loss", "seconds", "text_fingerprint")
# What every history record holds (checkpoints of every version).
RECORD_KEYS = ("iteration", "train_loss", "val_loss")
# The weights training continues from, where keep_best kept others as the model's.
TRAINING_PARAMS = "training.params"
# The state an unprimed sample starts from (training.warm_state); optional.
WARM_STATE = "sampling.warm_state"
# Hyperparameters added after the first checkpoints were written, each with
# the behaviour a checkpoint that lacks it was trained with: a file means what
# it meant when saved, whatever CharRNN's defaults have become since.
ADDED_PARAMS = {"clip_norm": None, "n_threads": None, "recurrent_init": "normal",
                "lr_schedule": "constant", "warmup": 0, "min_lr_ratio": 0.0,
                "keep_best": False}
# Iterations are counted one by one: 2**62 is out of any run's reach (and the
# bound optimizers.py puts on steps).
MAX_COUNT = 2**62
# The text's fingerprint (training.py): 32 hex digits of a sha256.
FINGERPRINT = re.compile("[0-9a-f]{32}")
# Arrays are checked for NaN and inf this many values at a time, so that the
# check of a large model takes at most a megabyte more.
FINITE_CHUNK = 1 << 20
SHOWN_NAMES = 5


def _checked_contents(cls: type[CharRNN], tensors: dict[str, np.ndarray],
                      metadata: dict[str, Any]) -> tuple[CharRNN, Vocabulary, ModelSpec]:
    """(unfitted model, vocabulary, spec) once ``tensors`` and ``metadata`` are a
    checkpoint training could have written; ValueError or TypeError naming
    the field otherwise.

    Every size in the metadata is compared with the tensors present before
    anything is built from it, so a file's hostile sizes cost nothing: only
    arrays as large as the file's own are allocated afterwards. (num_layers
    10**6 in a 3 KB file took 29 s, 2.3 GB and an 80 MB message to refuse;
    hidden_size 10**9 asked NumPy for 3.5 EiB.)
    """
    from .optimizers import OPTIMIZERS
    from .vocab import Vocabulary

    for key in METADATA_KEYS:
        if key not in metadata:
            raise ValueError(f"the metadata has no {key!r} entry")
    params = {**ADDED_PARAMS, **_dict(metadata, "params")}
    model = cls(**params)                         # TypeError names an unknown parameter
    model._validate_params()
    vocab = Vocabulary.from_dict(metadata["vocabulary"])

    weights = [name for name in tensors if not name.startswith("optimizer.")
               and name not in ("hidden", TRAINING_PARAMS, WARM_STATE)]
    # Each layer has 4 weight tensors and the output layer 2: a num_layers the
    # tensors cannot hold is refused before the spec lists that many views.
    if 4 * model.num_layers + 2 > len(weights):
        raise ValueError(f"params['num_layers'] is {model.num_layers}, but the checkpoint "
                         f"holds {len(weights)} weight tensors: 4 per layer and 2 for the "
                         f"output layer")
    spec = model._spec(len(vocab))
    views = {view.name: view for view in spec.param_views}
    missing = [name for name in views if name not in tensors]
    unexpected = sorted(name for name in weights if name not in views)
    if missing or unexpected:
        raise ValueError(f"the weight tensors do not fit params: missing {_some(missing)}, "
                         f"unexpected {_some(unexpected)}")
    sizes = (f"params (hidden_size={spec.hidden_size}, num_layers={spec.num_layers}, "
             f"cell={spec.cell!r}, dtype={spec.dtype!r}) and the vocabulary "
             f"({spec.vocab_size} symbols)")
    for view in spec.param_views:
        _check_tensor(tensors, view.name, view.shape, spec.np_dtype, sizes)

    optimizer = _dict(metadata, "optimizer")
    name = optimizer.get("name")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"optimizer['name'] must be one of {tuple(OPTIMIZERS)}, got {name!r}")
    checks.positive_number("optimizer['learning_rate']", optimizer.get("learning_rate"))
    # Its steps are Optimizer.load_state's to check.
    buffers = sorted(key[len("optimizer."):] for key in tensors if key.startswith("optimizer."))
    if buffers != sorted(OPTIMIZERS[name].buffer_names):
        raise ValueError(f"the {name} optimizer keeps the buffers "
                         f"{list(OPTIMIZERS[name].buffer_names)}, the checkpoint holds {buffers}")
    for buffer in buffers:
        _check_tensor(tensors, f"optimizer.{buffer}", (spec.num_params,), spec.np_dtype, sizes,
                      # its square root would make the next weights NaN
                      non_negative=buffer in OPTIMIZERS[name].squared_buffers)
    _check_tensor(tensors, "hidden", spec.state_shape(model.batch_size), spec.np_dtype,
                  f"{sizes} with batch_size={model.batch_size}")
    if TRAINING_PARAMS in tensors:
        _check_tensor(tensors, TRAINING_PARAMS, (spec.num_params,), spec.np_dtype, sizes)
    if WARM_STATE in tensors:
        _check_tensor(tensors, WARM_STATE, spec.sample_state_shape(), spec.np_dtype, sizes)

    seed = metadata["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be the int >= 0 that training used, got {seed!r}")
    training = _dict(metadata, "training")
    for key in TRAINING_KEYS:
        if key not in training:
            raise ValueError(f"training has no {key!r} entry")
    _count(training, "iterations", "training")
    for key in ("smooth_loss", "seconds"):
        # A mean cross-entropy and a duration: finite and >= 0.
        if checks.non_negative_number(f"training[{key!r}]", training[key]) == math.inf:
            raise ValueError(f"training[{key!r}] must be finite, got {training[key]!r}")
    window = training.get("window_loss", [0.0, 0])
    if not (isinstance(window, list) and len(window) == 2):
        raise ValueError(f"training['window_loss'] must be [sum, steps], got {window!r}")
    _count({"steps": window[1]}, "steps", "training['window_loss']")
    if checks.non_negative_number("training['window_loss'][0]", window[0]) == math.inf:
        raise ValueError(f"training['window_loss'] must be finite, got {window!r}")
    fingerprint = training["text_fingerprint"]
    if fingerprint is not None and not (isinstance(fingerprint, str)
                                        and FINGERPRINT.fullmatch(fingerprint)):
        raise ValueError(f"training['text_fingerprint'] must be 32 hex digits or None, "
                         f"got {fingerprint!r}")
    _check_streams(training["streams"], model.batch_size, model.seq_length)
    history = metadata["history"]
    if not isinstance(history, list):
        raise ValueError(f"history must be a list of records, not {type(history).__name__}")
    for index, record in enumerate(history):
        if not isinstance(record, dict):
            raise ValueError(f"history[{index}] must be a record (a dict), got {record!r:.80}")
        _check_record(record, f"history[{index}]")
    _check_kept(history, training, TRAINING_PARAMS in tensors)
    return model, vocab, spec


def _check_record(record: dict[str, Any], where: str) -> None:
    """``record`` has what training, keep_best, patience and the command line
    read from a record: [{"kept": true, "iteration": 20}] loaded, and
    charrnn train --resume died on KeyError: 'val_loss' (issue 22)."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"{where} has no {_some(missing)} entry: a record holds at least "
                         f"{list(RECORD_KEYS)}")
    _count(record, "iteration", where)
    for key in ("train_loss", "val_loss"):
        value = record[key]
        # NaN and infinity are kept: a diverged run's records hold them.
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                or (value is None and key == "val_loss")):
            allowed = "a number or None" if key == "val_loss" else "a number"
            raise ValueError(f"{where}[{key!r}] must be {allowed}, got {value!r:.80}")
    if "resumed_at" in record:
        _count(record, "resumed_at", where)


def _check_kept(history: list[dict[str, Any]], training: dict[str, Any],
                has_training_params: bool) -> None:
    """keep_best's record and the schedule's plan are ones training could leave:
    at most one record "kept", at or before the last iteration, and
    "training.params" exactly when the kept record is not the last state."""
    from .schedules import Plan

    iterations = training["iterations"]
    kept = [index for index, record in enumerate(history) if "kept" in record]
    if len(kept) > 1:
        raise ValueError(f"history marks {len(kept)} records 'kept' "
                         f"(at {_some([str(index) for index in kept])}); "
                         f"keep_best keeps one")
    at = None
    if kept:
        record = history[kept[0]]
        if record["kept"] is not True:
            raise ValueError(f"history[{kept[0]}]['kept'] must be true, got {record['kept']!r}")
        _count(record, "iteration", f"history[{kept[0]}]")
        at = record["iteration"]
        if at > iterations:
            raise ValueError(f"history[{kept[0]}] is kept at iteration {at}, after the "
                             f"checkpoint's {iterations}")
    if has_training_params and (at is None or at == iterations):
        raise ValueError(f"tensor {TRAINING_PARAMS!r} holds the weights training continues "
                         f"from, but no earlier record is kept (the model's weights are "
                         f"training's)")
    if not has_training_params and at is not None and at != iterations:
        raise ValueError(f"history keeps the record of iteration {at}, but tensor "
                         f"{TRAINING_PARAMS!r}, the weights of iteration {iterations} that "
                         f"training continues from, is missing")
    schedule = training.get("schedule")
    if schedule is not None:
        plan = Plan.from_dict(schedule)
        if plan.start_iteration > iterations or plan.start_seconds > training["seconds"]:
            raise ValueError(f"training['schedule'] starts at iteration "
                             f"{plan.start_iteration} and {plan.start_seconds} s, after the "
                             f"checkpoint's {iterations} and {training['seconds']} s")


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent[key]
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a dict, not {type(value).__name__}")
    return value


def _count(parent: dict[str, Any], key: str, where: str) -> None:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_COUNT:
        raise ValueError(f"{where}[{key!r}] must be a count >= 0, got {value!r}")


def _some(names: list[str]) -> list[str] | str:
    """At most SHOWN_NAMES of ``names``, so that a message stays short."""
    if len(names) <= SHOWN_NAMES:
        return names
    return f"{names[:SHOWN_NAMES]} and {len(names) - SHOWN_NAMES} more"


def _check_tensor(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
                  dtype: np.dtype, sizes: str, non_negative: bool = False) -> None:
    """The tensor ``name`` is there, with ``shape`` and ``dtype``, and holds finite values."""
    if name not in tensors:
        raise ValueError(f"tensor {name!r} is missing")
    array = tensors[name]
    if array.shape != shape:
        raise ValueError(f"tensor {name!r} has shape {array.shape}, but {sizes} make it {shape}")
    if array.dtype != dtype:
        raise ValueError(f"tensor {name!r} is {array.dtype}, but params['dtype'] is "
                         f"{dtype.name!r}")
    flat = array.reshape(-1)
    for start in range(0, flat.size, FINITE_CHUNK):
        chunk = flat[start:start + FINITE_CHUNK]
        if not np.isfinite(chunk).all():
            bad = chunk[~np.isfinite(chunk)][0]
            raise ValueError(f"tensor {name!r} holds {bad}, which training never writes")
        if non_negative and (chunk < 0).any():
            raise ValueError(f"tensor {name!r} holds {chunk[chunk < 0][0]}, a negative sum of "
                             f"squares, which training never writes")


def _check_streams(state: Any, batch_size: int, seq_length: int) -> None:
    """The saved reading position is one that Streams of these sizes can be at.

    Streams.restore owns what that is; the text is not in the checkpoint, so a
    zero-stride array of the saved length stands in for it, at no cost in
    memory, and resuming on the real text checks the length as well.
    """
    from .data import Streams

    if state is None:                           # saved before the first step
        return
    length = state.get("stream_length") if isinstance(state, dict) else None
    if isinstance(length, bool) or not isinstance(length, int) or not (
            seq_length < length < MAX_COUNT // batch_size):
        raise ValueError(f"training['streams']['stream_length'] must be an int > "
                         f"seq_length={seq_length}, got {length!r}")
    text = np.broadcast_to(np.zeros(1, dtype=np.uint8), (batch_size * length,))
    try:
        Streams(text, batch_size, seq_length).restore(state)
    except ValueError as error:
        raise ValueError(f"training['streams'] is no reading position: {error}") from None
