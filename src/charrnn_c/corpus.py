"""A text file as training reads it: encoded a chunk at a time into a cache
file on disk, mapped back (np.memmap), and reused while the text is unchanged.

``encode_file`` never holds the text or its encoding in memory. It reads the
file twice, a chunk at a time (data.read_chunks): once to count its symbols
(which gives the vocabulary, the one Vocabulary.from_text gives for the
whole), once to encode them into the cache, hashing the indices on the way
(the fingerprint resume checks: the same digest ``fingerprint`` gives for the
whole array). Training then reads the map, so a text larger than memory
trains, and a second fit on the same file starts at once.

A cache file is

    MAGIC | header length (8 bytes, little-endian) | JSON header | zeros to a
    multiple of 64 | the indices (len(text) of the vocabulary's dtype)

written to a temporary file that is renamed over the cache only once whole,
so a crash never leaves a half cache under a cache's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import CHUNK_BYTES, read_chunks
from .vocab import SymbolCounts, Vocabulary, check_size

# Caches go in one directory of the user's, not beside the text: the text's
# directory may be read-only (a shared corpus, a package's data), a hidden
# file there would show in `git status` and travel with copies of the data,
# and one directory is one place to clear. This variable overrides it.
CACHE_ENV = "CHARRNN_C_CACHE_DIR"
MAGIC = b"CHRNNENC"
FORMAT_VERSION = 1
ALIGNMENT = 64
# The header holds the vocabulary, at most 1.1 M code points as JSON ints:
# anything longer is not a header of ours.
MAX_HEADER_BYTES = 16 << 20
SUFFIX = ".encoded"
TEMP_PREFIX = ".charrnn-c-tmp-"
# A temporary file this old is a build that was killed, not one under way.
STALE_SECONDS = 24 * 3600
FINGERPRINT_LENGTH = 32                 # hex digits of sha256 kept


@dataclass(frozen=True)
class EncodedText:
    """Text encoded for training: ``data`` (1-D, of ``vocab.dtype``) indexes
    ``vocab``; ``fingerprint`` is ``fingerprint(data)``."""

    data: np.ndarray
    vocab: Vocabulary
    fingerprint: str


def fingerprint(data: np.ndarray) -> str:
    """A short digest of encoded text, to refuse resuming on other text: the
    sha256 of its indices' bytes, so hashing them a chunk at a time gives the same."""
    # .data: the bytes as a memoryview, hashed in place (no copy).
    return hashlib.sha256(np.ascontiguousarray(data).data).hexdigest()[:FINGERPRINT_LENGTH]


def cache_directory() -> Path:
    """$CHARRNN_C_CACHE_DIR, else $XDG_CACHE_HOME/charrnn-c, else ~/.cache/charrnn-c."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "charrnn-c"


def encode_file(path: str | os.PathLike[str], mode: str = "chars", max_size: int = 10_000,
                vocab: Vocabulary | None = None,
                chunk_bytes: int = CHUNK_BYTES) -> EncodedText:
    """The file at ``path`` encoded with its own vocabulary (of ``mode``, at
    most ``max_size`` symbols), or with ``vocab`` when given (UnknownSymbolError
    if the text holds others), from the cache when it matches the file.

    The indices are a read-only np.memmap of the cache file; where the cache
    cannot be written, an array in memory, with a warning saying why.
    """
    path = Path(path)
    if vocab is not None:
        mode = vocab.mode
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        # A pipe or a device can be read only once: read whole, as text in memory is.
        pieces = list(read_chunks(path, mode, chunk_bytes))
        text = ("".join(p for p in pieces if isinstance(p, str)) if mode == "chars"
                else b"".join(p for p in pieces if isinstance(p, bytes)))
        vocab = vocab or Vocabulary.from_text(text, mode, max_size)
        data = vocab.encode(text)
        return EncodedText(data, vocab, fingerprint(data))
    key = _key(path, status, mode)
    cached = _cached(path, key, vocab)
    if cached is not None:
        if vocab is None:
            check_size(len(cached.vocab), mode, max_size)
        return cached

    counts = SymbolCounts(mode)
    for chunk in read_chunks(path, mode, chunk_bytes):
        counts.add(chunk)
    own: Vocabulary | None
    if vocab is None:
        vocab = own = counts.vocabulary(max_size)
    else:
        error = counts.unknown_to(vocab)
        if error is not None:
            raise error
        own = counts.vocabulary(None) if counts.total else None
    if counts.total == 0:                          # nothing to map
        data = np.zeros(0, dtype=vocab.dtype)
        return EncodedText(data, vocab, fingerprint(data))
    named_by = None if vocab == own else vocab
    header = {"format": "charrnn-c encoded text", "version": FORMAT_VERSION,
              "key": key | {"vocabulary": None if named_by is None else named_by.to_dict()},
              "vocabulary": vocab.to_dict(), "dtype": vocab.dtype.str, "length": counts.total,
              "fingerprint": "0" * FINGERPRINT_LENGTH}
    target = cache_directory() / _name(path, mode, named_by)
    try:
        return _write(target, header, key, named_by, path, vocab, chunk_bytes)
    except OSError as error:
        warnings.warn(f"cannot write the encoded text to {target} ({error}); encoding "
                      f"{path} in memory instead (set {CACHE_ENV} to a writable directory)",
                      stacklevel=2)
    data = np.empty(counts.total, dtype=vocab.dtype)
    end = 0

    def keep(indices: np.ndarray) -> None:
        nonlocal end
        data[end:end + indices.size] = indices
        end += indices.size

    return EncodedText(data, vocab, _encode(path, vocab, chunk_bytes, keep, key, counts.total))


def _cached(path: Path, key: dict[str, Any], vocab: Vocabulary | None) -> EncodedText | None:
    """The cache of ``path`` made for ``key`` and ``vocab`` (None: the text's own), or None."""
    directory, mode = cache_directory(), key["mode"]
    # First the cache of the text's own vocabulary: a model resumed on the
    # text it was fitted on has that one.
    cached = _load(directory / _name(path, mode, None), key, None)
    if cached is not None and vocab in (None, cached.vocab):
        return cached
    if vocab is None:
        return None
    return _load(directory / _name(path, mode, vocab), key, vocab)


# A cache is named by the text's real path, its mode and its vocabulary (the
# text's own, or the one given), so that a text that changes overwrites its
# cache instead of piling up new ones; and it is reused only while the file
# also has the size, mtime, ctime and inode in its header. Size and mtime
# alone miss a file rewritten at the same size within one mtime tick, or
# copied over keeping its mtime (cp -p, rsync -t); ctime changes with every
# write and cannot be set back. A needless rebuild costs seconds; a stale
# cache would silently train on other text.

def _key(path: Path, status: os.stat_result, mode: str) -> dict[str, Any]:
    return {"path": os.path.realpath(path), "size": status.st_size,
            "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns,
            "inode": status.st_ino, "mode": mode}


def _name(path: Path, mode: str, vocab: Vocabulary | None) -> str:
    named = [os.path.realpath(path), mode]
    if vocab is not None:
        named.append(json.dumps(vocab.to_dict()))
    digest = hashlib.sha256("\0".join(named).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{path.name[:100]}.{mode}.{digest[:16]}{SUFFIX}"


def _offset(header_length: int) -> int:
    """Where the indices start after a header of ``header_length`` bytes."""
    return -(-(len(MAGIC) + 8 + header_length) // ALIGNMENT) * ALIGNMENT


def _before_indices(header: dict[str, Any]) -> bytes:
    text = json.dumps(header).encode("ascii")        # json.dumps escapes all else
    start = len(MAGIC) + 8 + len(text)
    return MAGIC + len(text).to_bytes(8, "little") + text + bytes(_offset(len(text)) - start)


def _header(cache: Path) -> tuple[dict[str, Any], int, int]:
    """(the header, its length, the file's size); ValueError if not a cache file."""
    with open(cache, "rb") as file:
        if file.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{cache} is not an encoded text")
        length = int.from_bytes(file.read(8), "little")
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"{cache} is not an encoded text")
        header = json.loads(file.read(length).decode("ascii"))
        if not isinstance(header, dict):
            raise ValueError(f"{cache} is not an encoded text")
        return header, length, os.fstat(file.fileno()).st_size


def _load(cache: Path, key: dict[str, Any], vocab: Vocabulary | None) -> EncodedText | None:
    """The cache at ``cache`` if it is whole and made for ``key`` and ``vocab``
    (None: the text's own), else None."""
    try:
        header, length, size = _header(cache)
        expected = key | {"vocabulary": None if vocab is None else vocab.to_dict()}
        if header.get("version") != FORMAT_VERSION or header.get("key") != expected:
            return None
        found = Vocabulary.from_dict(header["vocabulary"])
        dtype, count = np.dtype(header["dtype"]), header["length"]
        digest = header["fingerprint"]
        offset = _offset(length)
        if (dtype != found.dtype or not isinstance(count, int) or count < 1
                or size != offset + count * dtype.itemsize
                or not isinstance(digest, str) or len(digest) != FINGERPRINT_LENGTH):
            return None
        data = np.memmap(cache, dtype=dtype, mode="r", offset=offset, shape=(count,))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return EncodedText(data, found, digest)


def _write(target: Path, header: dict[str, Any], key: dict[str, Any],
           named_by: Vocabulary | None, path: Path, vocab: Vocabulary,
           chunk_bytes: int) -> EncodedText:
    """Encode ``path`` into a new cache file at ``target``, then map it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            before = _before_indices(header)
            file.write(before)
            header["fingerprint"] = _encode(path, vocab, chunk_bytes,
                                            lambda indices: file.write(indices.data),
                                            key, header["length"])
            # The fingerprint has its placeholder's length: the header keeps its size.
            after = _before_indices(header)
            assert len(after) == len(before)
            file.seek(0)
            file.write(after)
            file.flush()
            # On disk before the rename, so a power cut cannot leave a cache's
            # name on unwritten data; the directory is not synced: a rename
            # lost to a power cut only costs a rebuild.
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
    encoded = _load(target, key, named_by)
    if encoded is None:                # replaced since, by a fit on newer text
        raise _changed(path)
    _prune(target.parent)
    return encoded


def _prune(directory: Path) -> None:
    """Delete the caches of texts that are gone, and temporary files a day
    old (a build killed midway): each is as large as its text."""
    for entry in directory.iterdir():
        try:
            if entry.name.startswith(TEMP_PREFIX):
                if time.time() - entry.stat().st_mtime > STALE_SECONDS:
                    entry.unlink()
            elif entry.name.endswith(SUFFIX):
                source = _header(entry)[0]["key"]["path"]
                if not os.path.exists(source):
                    entry.unlink()
        except (OSError, ValueError, KeyError, TypeError):
            continue


def _encode(path: Path, vocab: Vocabulary, chunk_bytes: int,
            write: Callable[[np.ndarray], object], key: dict[str, Any], length: int) -> str:
    """Encode ``path`` a chunk at a time, handing each chunk's indices to
    ``write``; return their fingerprint. The file must still be as ``key``
    says, holding ``length`` symbols, all in ``vocab``."""
    digest = hashlib.sha256()
    written = 0
    for chunk in read_chunks(path, vocab.mode, chunk_bytes):
        try:
            indices = vocab.encode(chunk)
        except ValueError:                 # a symbol the count did not see
            raise _changed(path) from None
        written += indices.size
        if written > length:
            raise _changed(path)
        write(indices)
        digest.update(indices.data)
    if written != length or _key(path, path.stat(), vocab.mode) != key:
        raise _changed(path)
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def _changed(path: Path) -> RuntimeError:
    return RuntimeError(f"{path} changed while it was being read; fit again once it is written")
