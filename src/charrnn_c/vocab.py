"""The vocabulary: which symbols the model knows, and their indices.

Two kinds of symbol:

    mode="chars"   Unicode code points; text is a str, symbols are 1-character strs
    mode="bytes"   byte values 0..255; text is bytes (a str is encoded as UTF-8)

Symbols are sorted by code point (or byte value), so the same set of symbols
always gives the same indices, whatever order the text first shows them in.
Encoded text is a 1-D array of the smallest unsigned dtype that holds every
index: uint8 up to 256 symbols, uint16 up to 65,536, uint32 beyond.

Counting and encoding go through the text ``PIECE`` characters at a time, so
what they hold besides the text and the result stays a few MB however long
the text is; ``SymbolCounts`` counts text given a piece at a time (a file read
in chunks, corpus.py).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import checks

# What encode and from_text read: a str (either mode), or bytes (mode "bytes").
RawText = str | bytes | bytearray | memoryview

MODES = ("chars", "bytes")
# The most symbols a vocabulary may have unless told otherwise (max_vocab_size).
MAX_VOCAB_SIZE = 10_000
UNKNOWN_POLICIES = ("error", "skip")
MAX_CODE_POINT = 0x10FFFF
# Up to here a dense code-point -> index table (int32, 1 MiB at most) is
# cheaper than a binary search per character; beyond it, searchsorted. It
# covers emoji (U+1F300 and up): by binary search, encoding text holding them
# took 4.5x as long (23 ms against 5 ms a million characters).
DENSE_TABLE_LIMIT = 1 << 18
SHOWN_UNKNOWN = 10
# Text is counted and encoded this many characters at a time: np.bincount
# widens its input to int64, and a lookup gives int32, so a piece costs at
# most 8 + 4 + 4 bytes a character (4 MB), where the whole of a 200 MB text
# at once cost 1.6 GB.
PIECE = 1 << 18


class UnknownSymbolError(checks.ParameterMessage, ValueError):
    """Text to encode holds symbols that are not in the vocabulary."""


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise checks.InvalidParameterError(
            (checks.Name("mode"), f" must be 'chars' or 'bytes', not {mode!r}"), param="mode")
    return mode


def _checked(text: RawText, mode: str) -> str | memoryview:
    """The text, checked for its mode: a str, or a bytes-like as a memoryview of
    bytes (whose slices are views: no piece of it is copied)."""
    if mode == "bytes":
        if isinstance(text, (bytes, bytearray, memoryview)):
            return memoryview(text).cast("B")
        if not isinstance(text, str):
            raise TypeError(f"a bytes vocabulary takes bytes or str, not {type(text).__name__}")
    elif not isinstance(text, str):
        hint = "; decode it first, or use mode='bytes'" if isinstance(
            text, (bytes, bytearray, memoryview)) else ""
        raise TypeError(f"a chars vocabulary takes str, not {type(text).__name__}{hint}")
    return text


def _pieces(text: str | memoryview, mode: str) -> Iterator[np.ndarray]:
    """The code points or byte values of ``_checked`` text, ``PIECE``
    characters at a time, each a 1-D unsigned integer array."""
    for start in range(0, len(text), PIECE):
        yield _code_points(text[start:start + PIECE], mode)


def _code_points(text: str | memoryview, mode: str) -> np.ndarray:
    """One piece (``_pieces`` checked its type) as code points or byte values."""
    if mode == "bytes":
        if isinstance(text, str):
            # surrogateescape gives back the raw bytes of a file read with
            # errors="surrogateescape", instead of failing on them. A piece
            # ends between code points, so pieces encode as the whole would.
            return np.frombuffer(text.encode("utf-8", "surrogateescape"), dtype=np.uint8)
        return np.frombuffer(text, dtype=np.uint8)
    assert isinstance(text, str)
    if text.isascii():
        # One byte per character: a quarter of the memory of UTF-32.
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    # surrogatepass: a str may hold lone surrogates (from surrogateescape),
    # and each is still one code point.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _show(code: int, mode: str) -> str:
    return repr(bytes([code]) if mode == "bytes" else chr(code))


def _check_max_size(max_size: int) -> int:
    if isinstance(max_size, bool) or not isinstance(max_size, numbers.Integral):
        raise checks.InvalidParameterError(
            (checks.Name("max_size"), f" must be an int, not {type(max_size).__name__}"),
            param="max_size")
    max_size = int(max_size)
    if max_size < 1:
        raise checks.InvalidParameterError(
            (checks.Name("max_size"), f" must be at least 1, got {max_size}"), param="max_size")
    return max_size


def check_size(size: int, mode: str, max_size: int) -> None:
    """ValueError when a text's ``size`` distinct symbols are more than ``max_size``.

    A binary or non-UTF-8 file read as text can give a huge vocabulary, and
    the output layer grows with it.
    """
    if size > _check_max_size(max_size):
        advice = [("if the file is binary or not UTF-8, model its bytes instead ",
                   checks.With("vocab", "bytes", '"bytes"'),
                   checks.PythonOnly(' (Vocabulary mode="bytes")'))] if mode == "chars" else []
        raise checks.InvalidParameterError(
            (f"text has {size:,} distinct {mode}, more than ",
             checks.Setting("max_size", max_size, f"{max_size:,}")), *advice, param="max_size")


def _unknown_error(occurrences: dict[int, int], mode: str) -> UnknownSymbolError:
    """The error for text holding the codes ``occurrences`` counts, none of them symbols."""
    bad = sorted(occurrences)
    shown = ", ".join(_show(code, mode) for code in bad[:SHOWN_UNKNOWN])
    more = ", ..." if len(bad) > SHOWN_UNKNOWN else ""
    return UnknownSymbolError(
        f"text holds {len(bad)} distinct {mode} not in the vocabulary "
        f"({sum(occurrences.values())} occurrences): {shown}{more}",
        (checks.Setting("unknown", "skip"), " drops them"), param="text")


def _index_dtype(size: int) -> np.dtype:
    """The smallest unsigned dtype that holds the indices 0 .. size - 1."""
    for dtype in (np.uint8, np.uint16):
        if size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint32)


class Vocabulary:
    """An ordered set of symbols, each with its index.

    Parameters
    ----------
    symbols : iterable
        1-character strs (mode "chars") or ints 0..255 (mode "bytes"), sorted
        and unique; a str or a bytes object is such an iterable. Most callers
        use ``Vocabulary.from_text`` instead.
    mode : {"chars", "bytes"}
    """

    __slots__ = ("_mode", "_codes", "_table")
    _mode: str
    _codes: np.ndarray
    _table: np.ndarray | None

    def __init__(self, symbols: Iterable[str] | Iterable[int | np.integer],
                 mode: str = "chars") -> None:
        _check_mode(mode)
        codes: list[int] = []
        for symbol in symbols:
            if mode == "chars":
                if not isinstance(symbol, str) or len(symbol) != 1:
                    raise TypeError(f"chars symbols must be 1-character strs, not {symbol!r}")
                codes.append(ord(symbol))
            else:
                if isinstance(symbol, bool) or not isinstance(symbol, (int, np.integer)):
                    raise TypeError(f"bytes symbols must be ints 0..255, not {symbol!r}")
                codes.append(int(symbol))
        self._set(mode, codes)

    def _set(self, mode: str, codes: list[int]) -> None:
        """Check sorted, unique, in-range codes, then store them."""
        if not codes:
            raise ValueError("a vocabulary needs at least one symbol")
        top = 255 if mode == "bytes" else MAX_CODE_POINT
        for code in (min(codes), max(codes)):
            if not 0 <= code <= top:
                raise ValueError(f"{mode} symbols must lie in 0..{top}, got {code}")
        for before, after in zip(codes, codes[1:]):
            if after <= before:
                problem = ("appears twice" if after == before
                           else f"is followed by {_show(after, mode)}")
                raise ValueError(
                    f"symbols must be sorted and unique, but {_show(before, mode)} {problem}")
        self._mode = mode
        self._codes = np.array(codes, dtype=np.uint32)
        self._codes.flags.writeable = False
        self._table = None

    @classmethod
    def _from_codes(cls, mode: str, codes: list[int]) -> Vocabulary:
        vocab = cls.__new__(cls)
        vocab._set(mode, codes)
        return vocab

    @classmethod
    def from_text(cls, text: RawText, mode: str = "chars",
                  max_size: int = MAX_VOCAB_SIZE) -> Vocabulary:
        """Every distinct symbol of ``text``, sorted.

        More than ``max_size`` distinct symbols is an error (see check_size).
        """
        counts = SymbolCounts(mode)
        _check_max_size(max_size)
        counts.add(text)
        return counts.vocabulary(max_size)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """The vocabulary ``to_dict`` wrote; ValueError on anything malformed."""
        if not isinstance(d, dict):
            raise ValueError(f"a vocabulary dict must be a dict, not {type(d).__name__}")
        if set(d) != {"mode", "symbols"}:
            raise ValueError("a vocabulary dict has exactly the keys 'mode' and 'symbols', "
                             f"got {sorted(d, key=str)}")
        mode, symbols = d["mode"], d["symbols"]
        if mode not in MODES:
            raise ValueError(f"vocabulary mode must be 'chars' or 'bytes', not {mode!r}")
        if not isinstance(symbols, (list, tuple)):
            raise ValueError(
                f"vocabulary symbols must be a list of ints, not {type(symbols).__name__}")
        for symbol in symbols:
            if isinstance(symbol, bool) or not isinstance(symbol, int):
                raise ValueError(f"vocabulary symbols must be ints, got {symbol!r}")
        return cls._from_codes(mode, list(symbols))

    def to_dict(self) -> dict[str, Any]:
        """{"mode": ..., "symbols": [ints]}, for JSON.

        Chars are stored as code points, not strs, so control characters,
        astral-plane characters and lone surrogates survive any JSON encoder.
        """
        return {"mode": self._mode, "symbols": self._codes.tolist()}

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def symbols(self) -> tuple[str, ...] | tuple[int, ...]:
        """The symbols in index order: 1-character strs, or ints for bytes."""
        codes = self._codes.tolist()
        return tuple(codes) if self._mode == "bytes" else tuple(map(chr, codes))

    def line_break(self) -> int | None:
        """The index of the line break ("\\n", byte 10), None if there is none."""
        i = int(np.searchsorted(self._codes, 10))          # the codes are sorted
        return i if i < self._codes.size and self._codes[i] == 10 else None

    @property
    def dtype(self) -> np.dtype:
        """The dtype ``encode`` returns: the smallest that holds len(self) - 1."""
        return _index_dtype(len(self))

    def __len__(self) -> int:
        return self._codes.size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._mode == other._mode and np.array_equal(self._codes, other._codes)

    def __hash__(self) -> int:
        return hash((self._mode, self._codes.tobytes()))

    def __repr__(self) -> str:
        shown = 40
        head = self._codes[:shown].tolist()
        if self._mode == "bytes":
            text = repr(bytes(head))
        else:
            text = repr("".join(map(chr, head)))
        more = "..." if len(self) > shown else ""
        return f"Vocabulary({len(self)} {self._mode}: {text}{more})"

    def _lookup(self, codes: np.ndarray) -> np.ndarray:
        """Indices of ``codes`` as int32, -1 where a code is not a symbol."""
        top = int(self._codes[-1])
        if top < DENSE_TABLE_LIMIT:
            if self._table is None:
                # One more slot than any symbol needs: every larger code is
                # clipped onto it and reads -1.
                size = max(top, 255) + 2
                table = np.full(size, -1, dtype=np.int32)
                table[self._codes] = np.arange(len(self), dtype=np.int32)
                self._table = table
            table = self._table
            if codes.dtype != np.uint8:  # uint8 codes always fit the table
                codes = np.minimum(codes, table.size - 1)
            indices: np.ndarray = table[codes]
            return indices
        where = np.searchsorted(self._codes, codes)
        np.minimum(where, len(self) - 1, out=where)
        return np.where(self._codes[where] == codes, where, -1).astype(np.int32)

    def encode(self, text: RawText, unknown: str = "error") -> np.ndarray:
        """Indices of the symbols of ``text``, as a 1-D array of ``self.dtype``.

        unknown="error" raises UnknownSymbolError on symbols that are not in
        the vocabulary; unknown="skip" drops them.
        """
        if unknown not in UNKNOWN_POLICIES:
            raise checks.InvalidParameterError(
                (checks.Name("unknown"), f" must be 'error' or 'skip', not {unknown!r}"),
                param="unknown")
        text = _checked(text, self._mode)
        # With one index per character of the text, the result is filled in
        # place: no second copy to concatenate.
        exact = unknown == "error" and (self._mode == "chars" or isinstance(text, memoryview))
        out = np.empty(len(text), dtype=self.dtype) if exact else None
        parts: list[np.ndarray] = []
        occurrences: dict[int, int] = {}
        end = 0
        for codes in _pieces(text, self._mode):
            indices = self._lookup(codes)
            missing = indices < 0
            if missing.any():
                if unknown == "skip":
                    indices = indices[~missing]
                else:
                    bad, counts = np.unique(codes[missing], return_counts=True)
                    for code, count in zip(bad.tolist(), counts.tolist()):
                        occurrences[code] = occurrences.get(code, 0) + count
            if out is not None:
                out[end:end + indices.size] = indices
                end += indices.size
            else:
                parts.append(indices.astype(self.dtype))
        if occurrences:
            raise _unknown_error(occurrences, self._mode)
        if out is not None:
            return out
        return np.concatenate(parts) if parts else np.zeros(0, dtype=self.dtype)

    def decode(self, indices: npt.ArrayLike) -> str | bytes:
        """The str (chars) or bytes (bytes mode) that ``indices`` encode."""
        indices = np.asarray(indices)
        empty = b"" if self._mode == "bytes" else ""
        if indices.size == 0 and indices.ndim == 1:
            return empty
        if indices.dtype.kind not in "iu":
            raise TypeError(f"indices must be integers, not {indices.dtype}")
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {indices.shape}")
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= len(self):
            bad = low if low < 0 else high
            raise ValueError(f"index {bad} is outside the vocabulary [0, {len(self)})")
        codes: np.ndarray = self._codes[indices]
        if self._mode == "bytes":
            return codes.astype(np.uint8).tobytes()
        if self._codes[-1] < 128:
            return codes.astype(np.uint8).tobytes().decode("ascii")
        return codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


class SymbolCounts:
    """How often each symbol occurs in a text given a piece at a time.

    ``add`` every piece (as ``from_text`` takes text), then ``vocabulary``
    gives the text's own, the one ``from_text`` would give for the whole.
    """

    def __init__(self, mode: str = "chars") -> None:
        self.mode = _check_mode(mode)
        # One count per code seen so far, grown to the largest: 256 for bytes
        # and ASCII, 1.1 M (9 MB) at most.
        self.counts = np.zeros(256, dtype=np.int64)

    def add(self, text: RawText) -> None:
        for codes in _pieces(_checked(text, self.mode), self.mode):
            counted = np.bincount(codes)
            if counted.size > self.counts.size:
                self.counts = np.concatenate(
                    [self.counts, np.zeros(counted.size - self.counts.size, np.int64)])
            self.counts[:counted.size] += counted

    @property
    def total(self) -> int:
        """Characters (or bytes) counted so far."""
        return int(self.counts.sum())

    def vocabulary(self, max_size: int | None = MAX_VOCAB_SIZE) -> Vocabulary:
        """Every symbol counted, sorted; ValueError beyond ``max_size`` (see
        check_size), unless it is None."""
        distinct = np.flatnonzero(self.counts)
        if distinct.size == 0:
            raise ValueError("cannot build a vocabulary from empty text")
        if max_size is not None:
            check_size(distinct.size, self.mode, max_size)
        return Vocabulary._from_codes(self.mode, distinct.tolist())

    def count_of(self, vocab: Vocabulary) -> int:
        """How many of the symbols counted ``vocab`` holds (all, for the text's own)."""
        codes = np.flatnonzero(self.counts)
        return int(self.counts[codes[np.isin(codes, vocab._codes)]].sum())

    def unknown_to(self, vocab: Vocabulary) -> UnknownSymbolError | None:
        """The error ``vocab.encode`` would raise on the text counted, or None."""
        if vocab.mode != self.mode:
            raise ValueError(f"these are counts of {self.mode}, not of {vocab.mode}")
        codes = np.flatnonzero(self.counts)
        known = np.isin(codes, vocab._codes)
        if known.all():
            return None
        return _unknown_error({int(code): int(self.counts[code]) for code in codes[~known]},
                              self.mode)
