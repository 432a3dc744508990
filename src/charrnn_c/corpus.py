"""A text file as training reads it: encoded a chunk at a time into a cache
file on disk, mapped back (np.memmap), and reused while the text is unchanged.

``encode_file`` never holds the text or its encoding in memory. It reads the
file twice, a chunk at a time (reading.read_chunks): once to count its symbols
(which gives the vocabulary, the one Vocabulary.from_text gives for the
whole), once to encode them into the cache, hashing the indices on the way
(the fingerprint resume checks: the same digest ``fingerprint`` gives for the
whole array). Training then reads the cache a window at a time (FileArray,
by offset: a map dies of SIGBUS when another process truncates the file), so
a text larger than memory trains.

A cache is not trusted: anyone who can write the cache directory could
choose what is trained. Before use its indices are compared, a chunk at a
time, with the text's own encoding (one read of the text and of the cache,
no count and no write, so cheaper than a build) and hashed: the fingerprint
is computed, never read. A cache that differs (an index changed, another
text's indices, one outside the vocabulary) is rebuilt, with a warning that
names it.

A cache file is

    MAGIC | header length (8 bytes, little-endian) | JSON header | zeros to a
    multiple of 64 | the indices (len(text) of the vocabulary's dtype)

written to a temporary file that is renamed over the cache only once whole,
so a crash never leaves a half cache under a cache's name. The builder holds
a lock on its temporary file (as a checkpoint save does: atomic_file.py), so
the next build removes a killed build's file at once, not a day later.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from . import checks
from .atomic_file import TEMP_PREFIX, cut_name, remove_if_abandoned, replacing
from .documents import Documents, sources
from .filearray import FileArray, can_read_by_offset
from .reading import CHUNK_BYTES, read_text
from .vocab import MAX_VOCAB_SIZE, UNKNOWN_POLICIES, SymbolCounts, Vocabulary, check_size

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
# Where no lock can be taken (some NFS mounts), a temporary file this old is
# a build that was killed, not one under way.
STALE_SECONDS = 24 * 3600
# A cache's name begins with the text's name, at most this many bytes of it
# in the file system's encoding (the rest of the name takes 31 more).
NAME_BYTES = 100
FINGERPRINT_LENGTH = 32                 # hex digits of sha256 kept


@dataclass(frozen=True)
class EncodedText:
    """Text encoded for training: ``data`` (1-D, of ``vocab.dtype``: an
    array, or a FileArray over a cache) indexes ``vocab``; ``fingerprint``
    is ``fingerprint(data)``."""

    data: np.ndarray | FileArray
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


def encode(text: str | bytes | os.PathLike[str] | Sequence[os.PathLike[str]],
           mode: str = "chars", max_size: int = MAX_VOCAB_SIZE,
           vocab: Vocabulary | None = None, unknown: str = "error") -> EncodedText:
    """Any text fit takes, encoded with its own vocabulary (or ``vocab``, whose
    symbols the text must hold, or with unknown="skip" loses those it does
    not): a file (a path), a directory's files or a list of files
    (documents.py) through the cache (encode_file), a str or bytes in
    memory (read_text's checks first: a str that names a file is refused)."""
    if isinstance(text, (os.PathLike, list, tuple)):
        return encode_file(text, mode, max_size, vocab, unknown=unknown)
    # Anything else is read_text's to refuse (an open file: TypeError naming it).
    read = read_text(cast("str | bytes", text), vocab.mode if vocab is not None else mode)
    vocab = vocab or Vocabulary.from_text(read, mode=mode, max_size=max_size)
    data = vocab.encode(read, unknown=unknown)
    return EncodedText(data, vocab, fingerprint(data))


def encode_file(path: str | os.PathLike[str] | Sequence[os.PathLike[str]] | Documents,
                mode: str = "chars",
                max_size: int = MAX_VOCAB_SIZE,
                vocab: Vocabulary | None = None,
                chunk_bytes: int = CHUNK_BYTES, unknown: str = "error") -> EncodedText:
    """The file at ``path`` (or the files of a directory or a list, as one
    text: documents.py) encoded with its own vocabulary (of ``mode``, at
    most ``max_size`` symbols), or with ``vocab`` when given (UnknownSymbolError
    if the text holds others; with unknown="skip" they are left out, into a
    cache of its own), from the cache when it matches the file.

    The indices are a FileArray over the cache file (a read-only np.memmap
    where files cannot be read by offset); where the cache cannot be
    written, an array in memory, with a warning saying why.
    """
    source = path if isinstance(path, Documents) else Documents.of(path)
    if vocab is not None:
        mode = vocab.mode
    if not source.all_regular():
        # A pipe or a device can be read only once: read whole, as text in memory is.
        pieces = list(source.chunks(mode, chunk_bytes))
        text = ("".join(p for p in pieces if isinstance(p, str)) if mode == "chars"
                else b"".join(p for p in pieces if isinstance(p, bytes)))
        vocab = vocab or Vocabulary.from_text(text, mode, max_size)
        data = vocab.encode(text, unknown=unknown)
        return EncodedText(data, vocab, fingerprint(data))
    # Skipping is asked only with a vocabulary, and keys a cache of its own.
    skip = vocab is not None and checks.one_of("unknown", unknown, UNKNOWN_POLICIES) == "skip"
    key = source.key(mode) | ({"unknown": "skip"} if skip else {})
    cached = _cached(source, key, vocab, chunk_bytes)
    if cached is not None:
        if vocab is None:
            check_size(len(cached.vocab), mode, max_size)
        return cached

    counts = SymbolCounts(mode)
    for chunk in source.chunks(mode, chunk_bytes):
        counts.add(chunk)
    own: Vocabulary | None
    if vocab is None:
        vocab = own = counts.vocabulary(max_size)
    else:
        error = counts.unknown_to(vocab)
        if error is not None and not skip:
            raise error
        own = counts.vocabulary(None) if counts.total else None
    length = counts.count_of(vocab)
    if length == 0:                          # nothing to map
        data = np.zeros(0, dtype=vocab.dtype)
        return EncodedText(data, vocab, fingerprint(data))
    named_by = None if vocab == own and not skip else vocab
    header = {"format": "charrnn-c encoded text", "version": FORMAT_VERSION,
              "key": key | {"vocabulary": None if named_by is None else named_by.to_dict()},
              "vocabulary": vocab.to_dict(), "dtype": vocab.dtype.str, "length": length,
              "fingerprint": "0" * FINGERPRINT_LENGTH}
    target = cache_directory() / _name(source, key, named_by)
    try:
        return _write(target, header, key, named_by, source, vocab, chunk_bytes)
    except OSError as error:
        warnings.warn(f"cannot write the encoded text to {target} ({error}); encoding "
                      f"{source} in memory instead (set {CACHE_ENV} to a writable directory)",
                      stacklevel=2)
    data = np.empty(length, dtype=vocab.dtype)
    end = 0

    def keep(indices: np.ndarray) -> None:
        nonlocal end
        data[end:end + indices.size] = indices
        end += indices.size

    return EncodedText(data, vocab, _encode(source, vocab, chunk_bytes, keep, key, length))


def _cached(source: Documents, key: dict[str, Any], vocab: Vocabulary | None,
            chunk_bytes: int) -> EncodedText | None:
    """The cache of ``source`` made for ``key`` and ``vocab`` (None: the text's own), or None."""
    directory = cache_directory()
    # First the cache of the text's own vocabulary: a model resumed on the
    # text it was fitted on has that one (a skipping encoding has its own).
    if "unknown" not in key:
        cached = _load(directory / _name(source, key, None), key, None, vocab, source,
                       chunk_bytes)
        if cached is not None or vocab is None:
            return cached
    return _load(directory / _name(source, key, vocab), key, vocab, vocab, source, chunk_bytes)


# A cache is named by the text's real path, its mode and its vocabulary (the
# text's own, or the one given), so that a text that changes overwrites its
# cache instead of piling up new ones; and it is reused only while the file
# also has the size, mtime, ctime and inode in its header. Size and mtime
# alone miss a file rewritten at the same size within one mtime tick, or
# copied over keeping its mtime (cp -p, rsync -t); ctime changes with every
# write and cannot be set back. A needless rebuild costs seconds; a stale
# cache would silently train on other text.

def _file_part(key: dict[str, Any]) -> dict[str, Any]:
    """What of ``key`` says which files, as they were (Documents.key): not how
    they are encoded."""
    return {name: value for name, value in key.items() if name != "unknown"}


def _name(source: Documents, key: dict[str, Any], vocab: Vocabulary | None) -> str:
    mode = key["mode"]
    named = [*sources(key), mode]
    if vocab is not None:
        named.append(json.dumps(vocab.to_dict()))
    if "unknown" in key:                        # symbols outside vocab skipped
        named.append("skip")
    digest = hashlib.sha256("\0".join(named).encode("utf-8", "surrogateescape")).hexdigest()
    # Cut by bytes: 100 characters of Chinese are 300 (issue 22).
    return f"{cut_name(source.name, NAME_BYTES)}.{mode}.{digest[:16]}{SUFFIX}"


def _offset(header_length: int) -> int:
    """Where the indices start after a header of ``header_length`` bytes."""
    return -(-(len(MAGIC) + 8 + header_length) // ALIGNMENT) * ALIGNMENT


def _before_indices(header: dict[str, Any]) -> bytes:
    text = json.dumps(header).encode("ascii")        # json.dumps escapes all else
    start = len(MAGIC) + 8 + len(text)
    return MAGIC + len(text).to_bytes(8, "little") + text + bytes(_offset(len(text)) - start)


def _header(cache: Path) -> tuple[dict[str, Any], int, int]:
    """(the header, its length, the file's size); ValueError if not a cache file."""
    fd = os.open(cache, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        return _read_header(fd, cache)
    finally:
        os.close(fd)


def _read_header(fd: int, cache: Path) -> tuple[dict[str, Any], int, int]:
    """_header of the cache open as ``fd``."""
    with os.fdopen(fd, "rb", closefd=False) as file:
        if file.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{cache} is not an encoded text")
        length = int.from_bytes(file.read(8), "little")
        if length > MAX_HEADER_BYTES:
            raise ValueError(f"{cache} is not an encoded text")
        header = json.loads(file.read(length).decode("ascii"))
        if not isinstance(header, dict):
            raise ValueError(f"{cache} is not an encoded text")
        return header, length, os.fstat(fd).st_size


class _BadCache(Exception):
    """A cache that does not hold its text's encoding; the message says how."""


class _NotOurs(Exception):
    """A cache made for another version of the text, or another vocabulary."""


def _load(cache: Path, key: dict[str, Any], named_by: Vocabulary | None,
          wanted: Vocabulary | None, source: Documents, chunk_bytes: int) -> EncodedText | None:
    """The cache at ``cache`` if it is whole, made for ``key`` and ``named_by``
    (None: the text's own), of the vocabulary ``wanted`` (None: any), and
    holds the encoding of ``source`` (_verify); else None, with a warning
    where it looked like a cache of ours and was not that text's."""
    try:
        fd = os.open(cache, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    data: FileArray | None = None           # once made, it owns fd
    try:
        header, length, size = _read_header(fd, cache)
        expected = key | {"vocabulary": None if named_by is None else named_by.to_dict()}
        if header.get("version") != FORMAT_VERSION or header.get("key") != expected:
            raise _NotOurs
        found = Vocabulary.from_dict(header["vocabulary"])
        if wanted is not None and found != wanted:
            raise _NotOurs
        dtype, count = np.dtype(header["dtype"]), header["length"]
        offset = _offset(length)
        if (dtype != found.dtype or not isinstance(count, int) or count < 1
                or size != offset + count * dtype.itemsize):
            raise _BadCache(f"its header says {count!r} indices of {dtype}, and it holds "
                            f"{size - offset:,} bytes of them")
        data = FileArray(fd, offset, count, dtype, str(cache))
        fingerprint = _verify(data, found, source, key, chunk_bytes)
        if header.get("fingerprint") != fingerprint:
            raise _BadCache("its header's fingerprint is not its indices'")
    except BaseException as error:
        if data is not None:
            data.close()
        else:
            os.close(fd)
        if isinstance(error, _BadCache):
            warnings.warn(f"the encoded-text cache {cache} does not hold the encoding of "
                          f"{source} ({error}): rebuilding it", stacklevel=4)
            return None
        if isinstance(error, (_NotOurs, OSError, ValueError, KeyError, TypeError)):
            return None
        raise
    if not can_read_by_offset():
        data.close()
        return EncodedText(np.memmap(cache, dtype=dtype, mode="r", offset=offset,
                                     shape=(count,)), found, fingerprint)
    return EncodedText(data, found, fingerprint)


def _verify(data: FileArray, vocab: Vocabulary, source: Documents, key: dict[str, Any],
            chunk_bytes: int) -> str:
    """The fingerprint of ``data``, once it is shown to be ``source`` encoded
    with ``vocab``, a chunk at a time: _BadCache where it is not. The
    text's own encoding decides, never what the cache says of itself."""
    digest = hashlib.sha256()
    done = 0
    for chunk in source.chunks(vocab.mode, chunk_bytes):
        try:
            expected = vocab.encode(chunk, unknown=key.get("unknown", "error"))
        except ValueError:
            raise _BadCache("the text holds symbols its vocabulary does not") from None
        if done + expected.size > len(data):
            raise _BadCache(f"the text holds more than its {len(data):,} indices")
        cached = data.read(done, done + expected.size)
        if not np.array_equal(cached, expected):
            at = done + int(np.argmax(cached != expected))
            shown = int(cached[at - done])
            what = (f"index {shown}, outside the vocabulary [0, {len(vocab)})"
                    if shown >= len(vocab) else f"index {shown}")
            raise _BadCache(f"symbol {at:,} is {what}, not the text's {int(expected[at - done])}")
        digest.update(cached.data)
        done += expected.size
    if done != len(data):
        raise _BadCache(f"it holds {len(data):,} indices for a text of {done:,} symbols")
    if source.key(vocab.mode) != _file_part(key):
        raise _changed(source)
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def _write(target: Path, header: dict[str, Any], key: dict[str, Any],
           named_by: Vocabulary | None, source: Documents, vocab: Vocabulary,
           chunk_bytes: int) -> EncodedText:
    """Encode ``source`` into a new cache file at ``target``, then open it for reading."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # First, so that the space killed builds hold is free for this one.
    _prune(target.parent, time.time())
    # Locked while this build lives (atomic_file.create_temp): a killed
    # build's file is then told from a live one's, and removed at once.
    reader = -1
    try:
        with replacing(str(target), "the cache directory") as (fd, temp):
            with os.fdopen(fd, "wb", closefd=False) as file:
                before = _before_indices(header)
                file.write(before)
                header["fingerprint"] = _encode(source, vocab, chunk_bytes,
                                                lambda indices: file.write(indices.data),
                                                key, header["length"])
                # The fingerprint has its placeholder's length: the header keeps its size.
                after = _before_indices(header)
                assert len(after) == len(before)
                file.seek(0)
                file.write(after)
            # What this build wrote, whatever is renamed over its name later. It
            # is on disk before the rename (replacing), so a power cut cannot
            # leave a cache's name on unwritten data; the directory is not
            # synced: a rename lost to a power cut only costs a rebuild.
            reader = os.open(temp, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except BaseException:
        if reader >= 0:
            os.close(reader)
        raise
    _prune(target.parent, time.time())
    offset = len(_before_indices(header))
    if not can_read_by_offset():
        os.close(reader)
        return EncodedText(np.memmap(target, dtype=vocab.dtype, mode="r", offset=offset,
                                     shape=(header["length"],)), vocab, header["fingerprint"])
    return EncodedText(FileArray(reader, offset, header["length"], vocab.dtype, str(target)),
                       vocab, header["fingerprint"])


def _prune(directory: Path, before: float) -> None:
    """Delete the caches of texts that are gone, and the temporary files of
    killed builds (each as large as its text): those last written before
    ``before`` whose lock is free (atomic_file.remove_if_abandoned), or, where
    there are no locks, a day old."""
    for entry in directory.iterdir():
        try:
            if entry.name.startswith(TEMP_PREFIX):
                modified = entry.stat().st_mtime
                if time.time() - modified > STALE_SECONDS:
                    entry.unlink()
                elif modified < before:
                    remove_if_abandoned(str(entry))
            elif entry.name.endswith(SUFFIX):
                made_from = sources(_header(entry)[0]["key"])
                if not all(os.path.exists(path) for path in made_from):
                    entry.unlink()
        except (OSError, ValueError, KeyError, TypeError):
            continue


def _encode(source: Documents, vocab: Vocabulary, chunk_bytes: int,
            write: Callable[[np.ndarray], object], key: dict[str, Any], length: int) -> str:
    """Encode ``source`` a chunk at a time, handing each chunk's indices to
    ``write``; return their fingerprint. The file must still be as ``key``
    says, holding ``length`` symbols, all in ``vocab``."""
    digest = hashlib.sha256()
    written = 0
    for chunk in source.chunks(vocab.mode, chunk_bytes):
        try:
            indices = vocab.encode(chunk, unknown=key.get("unknown", "error"))
        except ValueError:                 # a symbol the count did not see
            raise _changed(source) from None
        written += indices.size
        if written > length:
            raise _changed(source)
        write(indices)
        digest.update(indices.data)
    if written != length or source.key(vocab.mode) != _file_part(key):
        raise _changed(source)
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def _changed(source: Documents) -> RuntimeError:
    return RuntimeError(f"{source} changed while it was being read; fit again once it is "
                        f"written")
