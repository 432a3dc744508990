"""Which run may write a checkpoint: a fresh run never replaces another's file, two runs never share one.

A training run saves only over the checkpoint it was loaded from or last
saved, unchanged since, and then only when it resumes (check_not_foreign):
a fresh run never replaces another model, nor a file that is no checkpoint,
unless told to (fit's overwrite=True, charrnn train --overwrite). And a run
holds its checkpoint path, by a lock beside it, until it ends (owning): a
second run onto the same path is refused, naming the first.

A run knows its own files by their identity (file_identity: device, inode,
times and size), which the model keeps as plain data: {real path: identity}.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from . import checks
from .atomic_file import TEMP_NAME_BYTES, check_target, cut_name, same_file
from .safetensors_file import CheckpointError, read_metadata
from .spec import CELLS

if sys.platform != "win32":
    import fcntl

# The files a run came from or wrote: {real path: file_identity}.
OwnFiles = dict[str, tuple[int, ...]]


class CheckpointExistsError(checks.ParameterMessage, FileExistsError, ValueError):
    """A run's checkpoint path holds a file the run did not come from (check_not_foreign).

    A FileExistsError, and also a ValueError, as a bad argument to fit is."""


def check_not_foreign(path: str | os.PathLike[str], resume: bool, own: OwnFiles) -> None:
    """Refuse to let a run save at ``path`` over a file it did not come from
    (``own``: the files it came from or wrote, remember_file).

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
    identity = file_identity(target)
    if identity is None or identity[-1] == 0:
        return
    if resume and own.get(target) == identity:
        return
    held, advice = describe_checkpoint(target), []
    if held is None:
        held = f"a file that is not a charrnn-c checkpoint ({identity[-1]:,} bytes)"
    elif resume:
        held += (", not the file this run was loaded from or last saved (or it has changed "
                 "since)")
    else:
        advice = [("to continue it, resume training from it ", checks.With("resume", True))]
    raise CheckpointExistsError(
        (f"{os.fspath(path)} already holds {held}, which this run would overwrite: to replace "
         "it, ", checks.Call("fit"), " ", checks.With("overwrite", True)),
        *advice, "else save to another checkpoint", param="checkpoint")


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
    target = check_target(os.fspath(path))
    directory, name = os.path.split(target)
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    lock = os.path.join(directory, f"{LOCK_PREFIX}{cut_name(name, TEMP_NAME_BYTES)}.{digest}")
    fd = _hold(lock, os.fspath(path)) if sys.platform != "win32" else -1
    try:
        yield
    finally:
        if fd >= 0:
            try:
                if same_file(fd, lock):
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
        if not same_file(fd, lock):      # removed by a run that ended meanwhile
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


def file_identity(path: str) -> tuple[int, ...] | None:
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


def remember_file(own: OwnFiles, path: str | os.PathLike[str],
                  identity: tuple[int, ...] | None = None) -> None:
    """Note in ``own`` that the run came from, or wrote, the checkpoint at ``path``
    (``identity``: the file's, taken before it was read)."""
    target = os.path.realpath(os.fspath(path))
    identity = identity or file_identity(target)
    if identity is not None:
        own[target] = identity


def describe_checkpoint(path: str) -> str | None:
    """'a 1 x 100 rnn model trained 154,000 iterations' when ``path`` holds a
    charrnn-c checkpoint (from its header alone: cheap, whatever its size), else None."""
    try:
        metadata = read_metadata(path)
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

