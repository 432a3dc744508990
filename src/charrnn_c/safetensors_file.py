"""The checkpoint container: named arrays and a JSON metadata dict in one safetensors file.

Safetensors is a flat, framework-neutral format whose loading never runs code
(unlike pickle), so a file from anyone is safe to open, and any tool that
reads safetensors can read the arrays. A file holds

    tensors      the arrays, by name: bool, int8..int64, uint8..uint64,
                 float16, float32 or float64, any shape, little-endian on disk
    metadata     the safetensors header's string map:
        format           "charrnn-c"
        format_version   "1"
        charrnn_c        everything else as one JSON object
        sha256           of the entries above and every tensor's name, dtype,
                         shape and bytes; safetensors has no checksum of its own

A save replaces the file atomically (atomic_file.py). The metadata's size
is bounded (MAX_METADATA_VALUES, counted before it is parsed). What a
CharRNN's checkpoint puts in it is checkpoint.py's to say.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from .atomic_file import TEMP_PREFIX, check_target, create_temp, file_kind, write_atomically

FORMAT = "charrnn-c"
FORMAT_VERSION = 1

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
    target = check_target(os.fspath(path))
    write_atomically(target, checkpoint_bytes(tensors, metadata))


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise what save_checkpoint would if no checkpoint can be saved at ``path``.

    The same checks of the target, then a temporary file created and removed
    in its directory, which is the only sure test of permissions, ACLs and
    read-only mounts (os.access answers yes to root on a mode-0o555
    directory). Called before training, so a run cannot end unable to save.
    """
    fd, temp = create_temp(*os.path.split(check_target(os.fspath(path))))
    os.close(fd)
    os.remove(temp)



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
        raise CheckpointError(f"{path}: not a checkpoint: it is {file_kind(info.st_mode)}, "
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



def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of the checkpoint at ``path``, from its header alone (cheap,
    whatever the file's size); CheckpointError or OSError where it has none."""
    path = os.fspath(path)
    with _library_errors(path, os.stat(path).st_size):
        with safetensors.safe_open(path, framework="np") as file:
            header = file.metadata() or {}
            names = sorted(file.keys())
    return _check_header(path, header, names)
