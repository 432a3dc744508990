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
leaves either the old checkpoint or the new one, never half of one.

A CharRNN's checkpoint (save_model, load_model) holds

    tensors      the weights by their PyTorch names (weight_ih_l0, ...),
                 "optimizer.<buffer>" for each optimizer buffer, and "hidden",
                 the carried state
    metadata     params (the hyperparameters), vocabulary, seed, optimizer
                 (name, learning_rate, steps), training (iterations, the
                 streams' position, smooth_loss, seconds, text_fingerprint)
                 and history
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import safetensors
import safetensors.numpy

if TYPE_CHECKING:
    from .model import CharRNN

FORMAT = "charrnn-c"
FORMAT_VERSION = 1

# A save interrupted by SIGKILL or a power cut leaves a file starting with
# this beside the checkpoint; the prefix says what it is and that it can go.
TEMP_PREFIX = ".charrnn-c-tmp-"

DTYPES = tuple(np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"))

# Safetensors refuses larger headers; used only to tell a corrupt length
# field from a truncated header when explaining a failed load.
MAX_HEADER_BYTES = 100_000_000


class CheckpointError(ValueError):
    """The file exists but is not a checkpoint this charrnn-c can read."""


def save_checkpoint(path: str | os.PathLike[str], tensors: dict[str, np.ndarray],
                    metadata: dict[str, Any]) -> None:
    """Write ``tensors`` (name -> array) and ``metadata`` (a JSON-able dict) to ``path``.

    Everything is checked before anything is written. The file at ``path``
    is replaced atomically; if the save fails, it is left as it was.
    """
    path = os.fspath(path)
    directory = _check_target(path)
    _write_atomically(path, directory, checkpoint_bytes(tensors, metadata))


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
    size = os.stat(path).st_size  # FileNotFoundError, PermissionError as usual

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
    """The directory to write in; the target must be a file in an existing directory."""
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a checkpoint file", path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(directory):
        raise FileNotFoundError(
            errno.ENOENT, "the directory to save the checkpoint in does not exist", directory)
    if not os.path.isdir(directory):
        raise NotADirectoryError(errno.ENOTDIR, "the checkpoint's parent is not a directory",
                                 directory)
    return directory


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
    return json.dumps(metadata, ensure_ascii=True, allow_nan=True)


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


def _write_atomically(path: str, directory: str, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, rename it over ``path``."""
    # Serialized in memory (checkpoint_bytes) rather than with save_file,
    # which (in safetensors 0.8) writes through a temporary file of its own:
    # mode 0o600, a name a crash would leave without our prefix, and no fsync.
    fd, temp = _create_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as file:
            _match_mode(temp, path)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        # Also on KeyboardInterrupt: no stray file, and path untouched.
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
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


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """(fd, path) of a new file in ``directory``, under a name no other save can pick.

    tempfile.mkstemp would do, but it creates files with mode 0o600, which
    would make every checkpoint private to its owner; 0o666 lets the umask
    decide, as it does for any new file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        # A shortened name keeps the whole under the usual 255-byte limit.
        temp = os.path.join(directory, f"{TEMP_PREFIX}{name[:100]}.{secrets.token_hex(8)}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


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
            return "not a safetensors file: its first 8 bytes are no header length"
        text = file.read(length)
    if text and not text.startswith(b"{"):
        return "not a safetensors file: no JSON header after the header length"
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
    tensors = dict(model.state_dict())
    buffers, scalars = model.optimizer_.state()
    for name, array in buffers.items():
        tensors[f"optimizer.{name}"] = array
    tensors["hidden"] = model.hidden_
    metadata = {
        "params": model.get_params(),
        "vocabulary": model.vocab_.to_dict(),
        "seed": model.seed_,
        "optimizer": {"name": model.optimizer_.name,
                      "learning_rate": model.optimizer_.learning_rate, **scalars},
        "training": {"iterations": model.n_iter_, "streams": model._stream_state,
                     "smooth_loss": model._smooth_loss, "seconds": model._elapsed,
                     "text_fingerprint": model._text_fingerprint},
        "history": model.history_,
    }
    return tensors, metadata


def model_from_contents(cls: type[CharRNN], tensors: dict[str, np.ndarray],
                        metadata: dict[str, Any], where: str) -> CharRNN:
    """The model ``tensors`` and ``metadata`` describe; CheckpointError, naming
    ``where`` and the problem, when they describe none."""
    from .optimizers import OPTIMIZERS
    from .vocab import Vocabulary

    try:
        model = cls(**metadata["params"])
        model._validate_params()
        model.vocab_ = Vocabulary.from_dict(metadata["vocabulary"])
        model.spec_ = spec = model._spec(len(model.vocab_))
        model.seed_ = metadata["seed"]
        model.params_ = np.zeros(spec.num_params, dtype=spec.np_dtype)
        weights = {name: tensors[name] for name in tensors
                   if not name.startswith("optimizer.") and name != "hidden"}
        for name, value in weights.items():
            if value.dtype != spec.np_dtype:
                raise ValueError(f"{name} is {value.dtype}, the model is {spec.dtype}")
        model.load_state_dict(weights)
        optimizer = metadata["optimizer"]
        model.optimizer_ = OPTIMIZERS[optimizer["name"]](spec, float(optimizer["learning_rate"]))
        buffers = {name[len("optimizer."):]: value for name, value in tensors.items()
                   if name.startswith("optimizer.")}
        model.optimizer_.load_state(buffers, optimizer)
        hidden = tensors["hidden"]     # the LSTM's holds h and c
        if hidden.shape != spec.state_shape(model.batch_size) or hidden.dtype != spec.np_dtype:
            raise ValueError(f"hidden has shape {hidden.shape} and dtype {hidden.dtype}")
        model.hidden_ = hidden.copy()
        training = metadata["training"]
        model.n_iter_ = int(training["iterations"])
        model._stream_state = training["streams"]
        model._smooth_loss = float(training["smooth_loss"])
        model._elapsed = float(training["seconds"])
        model._text_fingerprint = training["text_fingerprint"]
        model.history_ = list(metadata["history"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, NotImplementedError) as error:
        raise CheckpointError(
            f"{where}: not a valid CharRNN checkpoint: {type(error).__name__}: {error}"
        ) from None
    return model


def save_model(model: CharRNN, path: str | os.PathLike[str]) -> None:
    """Write a fitted model to ``path``, atomically (save_checkpoint)."""
    tensors, metadata = model_contents(model)
    save_checkpoint(path, tensors, metadata)


def load_model(cls: type[CharRNN], path: str | os.PathLike[str]) -> CharRNN:
    """The model saved at ``path``; CheckpointError names what is wrong."""
    tensors, metadata = load_checkpoint(path)
    return model_from_contents(cls, tensors, metadata, str(path))


def model_bytes(model: CharRNN) -> bytes:
    """The bytes of the file save_model writes (for pickling)."""
    tensors, metadata = model_contents(model)
    return checkpoint_bytes(tensors, metadata)


def model_from_bytes(cls: type[CharRNN], data: bytes) -> CharRNN:
    tensors, metadata = checkpoint_from_bytes(data)
    return model_from_contents(cls, tensors, metadata, "pickle")
