"""Crash-safe file replacement: a file is written whole beside its target, then renamed over it.

A save is atomic: the new file is written under a temporary name in the
target's directory, flushed to disk, then renamed over the target, so a
crash at any moment leaves either the old file or the new one, never half
of one. Through a symlink, the file it points to is replaced and the link
kept; anything else that is not a regular file (a FIFO, /dev/null) is
refused, never replaced.

A writer holds a lock on its temporary file from creating it until the
rename; the system drops the lock when the process dies, even by SIGKILL,
so a later writer tells a killed writer's leftover from a live one's file
and removes it (remove_if_abandoned). Checkpoints (safetensors_file.py) and
the encoded-text cache (corpus.py) are both written this way.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

if sys.platform != "win32":
    import fcntl


# A save interrupted by SIGKILL or a power cut leaves a file starting with
# this beside the checkpoint; the prefix says what it is and that it can go.
# Its full name is TEMP_PREFIX + the checkpoint's name (its first 100 bytes
# in the file system's encoding, to stay under the usual 255-byte limit:
# cut_name) + "." + 16 random hex digits.
TEMP_PREFIX = ".charrnn-c-tmp-"
TEMP_NAME_BYTES = 100


def check_target(path: str) -> str:
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
        raise FileExistsError(errno.EEXIST, f"exists and is {file_kind(mode)}, not a checkpoint "
                              f"file: refusing to replace it", path)
    directory = os.path.dirname(target)
    if not os.path.exists(directory):
        raise FileNotFoundError(
            errno.ENOENT, "the directory to save the checkpoint in does not exist", directory)
    if not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "the checkpoint's parent is not a directory",
                                 directory)
    return target


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for an error message."""
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return kind
    return "a special file"


@contextmanager
def replacing(target: str, where: str = "the checkpoint's directory",
              saving: str | None = None) -> Iterator[tuple[int, str]]:
    """(fd, path) of a new file beside ``target`` (create_temp; ``where``
    names its directory in an error), for the block to write; when the block
    ends, the file is flushed to disk and renamed over ``target``; if it
    raises, the file is removed and ``target`` left as it was. ``saving``
    (e.g. "saving the checkpoint"): name ``target`` in the OSError of the
    flush or rename, which would name no file."""
    directory, name = os.path.split(target)
    fd, temp = create_temp(directory, name, where)
    try:
        yield fd, temp
        try:
            os.fsync(fd)
            if sys.platform == "win32":     # which renames no open file
                os.close(fd)
                fd = -1
            # Elsewhere the fd, and its lock, are kept until the rename is done, so
            # that no other writer's cleanup can take the file for a leftover.
            os.replace(temp, target)
        except OSError as error:
            raise error if saving is None else named(error, saving, target) from None
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


def named(error: OSError, saving: str, target: str) -> OSError:
    """``error`` naming ``target``: a full disk (ENOSPC) or a quota met by a
    write to a file descriptor names no file."""
    return type(error)(error.errno, f"{error.strerror or error} ({saving}; it is left as it "
                       f"was)", target)


def write_atomically(target: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it to disk,
    rename it over ``target`` (replacing), and make the rename durable."""
    # Serialized in memory (checkpoint_bytes) rather than with save_file,
    # which (in safetensors 0.8) writes through a temporary file of its own:
    # mode 0o600, a name a crash would leave without our prefix, and no fsync.
    directory, name = os.path.split(target)
    # First, so that the space the leftovers hold is free for this save.
    _remove_leftovers(directory, name, time.time())
    saving = "saving the checkpoint"
    with replacing(target, saving=saving) as (fd, temp):
        try:
            _match_mode(temp, target)
            with os.fdopen(fd, "wb", closefd=False) as file:
                file.write(data)
        except OSError as error:
            raise named(error, saving, target) from None
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


def create_temp(directory: str, name: str,
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
            if _lock(fd) and same_file(fd, temp):
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


def same_file(fd: int, path: str) -> bool:
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
                remove_if_abandoned(entry.path)
        except OSError:
            continue


def remove_if_abandoned(path: str) -> None:
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
            if same_file(fd, path):
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

