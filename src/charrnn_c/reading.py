"""Reading the text to train on: from where the user gave it, whole or a chunk at a time.

A str or bytes is the text itself (a str that is surely a path instead is
refused); a path names a file, read whole (read_text) or a chunk at a time
(read_chunks, which corpus.py encodes into a cache file on disk), as UTF-8
for the vocabulary's "chars" mode, raw for "bytes". One broken character at
the very start or end of a UTF-8 file is a cut, dropped with a warning.
"""

from __future__ import annotations

import codecs
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from . import checks

# A file is read this many bytes at a time (read_chunks): with its decoded
# str and what counting and encoding it take, a chunk in hand costs 7 MB for
# ASCII, 10 MB for accented text, 15 MB with characters beyond U+FFFF (4
# bytes each in a str), as measured by tracemalloc.
CHUNK_BYTES = 1 << 20
# A str is the text itself, never a path. One on one line, shorter than
# PATH_CHARS (Linux's PATH_MAX), that names an existing file or directory, or
# is one word ending in a text file's suffix, is a path passed by mistake:
# fit("data/input.txt") trained on those 14 characters (issue 15).
PATH_CHARS = 4096
FILE_NAME = re.compile(r"\S*\.(?:txt|text|md|rst|tex|csv|tsv|jsonl?|xml|html?|log|py)",
                       re.IGNORECASE)


def read_text(source: str | bytes | os.PathLike[str], mode: str) -> str | bytes:
    """The text to train on: a str or bytes as given, or the file at a path.

    A plain str is text, never a path: pass pathlib.Path (or any
    os.PathLike) to read a file, as UTF-8 for mode "chars", raw for "bytes".
    A str that is surely a path instead is refused (_refuse_a_path).
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
        if mode == "bytes":
            return path.read_bytes()
        data = path.read_bytes()
        start = _cut_character_at_start(data, path)
        try:
            return data[start:].decode("utf-8")    # as the file holds it: CRLF stays
        except UnicodeDecodeError as error:
            if error.reason != "unexpected end of data":
                raise checks.InvalidParameterError(
                    f"{path} is not UTF-8 text ({error.reason} at byte {start + error.start})",
                    ("train on its bytes ", checks.With("vocab", "bytes")),
                    param="text") from None
            _warn_cut(path, len(data) - start - error.start, "end")
            return data[start:start + error.start].decode("utf-8")
    if isinstance(source, str):
        _refuse_a_path(source)
    if isinstance(source, (str, bytes)):
        return source
    hint = (" (for an open file, pass its path as pathlib.Path, or its read())"
            if hasattr(source, "read") else "")
    raise TypeError(f"text must be a str, bytes, a path or a list of paths, not "
                    f"{type(source).__name__}{hint}")


def _cut_character_at_start(data: bytes, path: str | os.PathLike[str]) -> int:
    """How many bytes at the start of ``data`` are the tail of a character
    cut off (UTF-8 continuation bytes, at most 3): a file cut from a longer
    one, not a wrong encoding. Warns when there are any."""
    cut = 0
    while cut < min(3, len(data)) and 0x80 <= data[cut] < 0xC0:
        cut += 1
    if cut:
        _warn_cut(path, cut, "start")
    return cut


def _warn_cut(path: str | os.PathLike[str], count: int, where: str) -> None:
    warnings.warn(f"{os.fspath(path)}: dropped {count} byte{'s' * (count > 1)} of a UTF-8 "
                  f"character cut at the file's {where}", stacklevel=4)


def _refuse_a_path(text: str) -> None:
    """ValueError if ``text``, a str to train on, is surely a file's path instead."""
    if len(text) >= PATH_CHARS or "\n" in text or "\r" in text:
        return
    if os.path.isdir(text):
        what = "the name of a directory"
    elif os.path.exists(text):
        what = "the name of a file"
    elif FILE_NAME.fullmatch(text):
        what = "a file's name (though no such file exists)"
    else:
        return
    raise ValueError(f"text is {text!r:.200}, {what}, but a str is the text itself: to "
                     f"read a file, pass its path as pathlib.Path({text!r:.200})")


def read_chunks(path: str | os.PathLike[str], mode: str,
                chunk_bytes: int = CHUNK_BYTES) -> Iterator[str | bytes]:
    """The file at ``path`` a chunk of ``chunk_bytes`` at a time, none empty.

    Joined, the chunks are what the file holds: its bytes for mode "bytes";
    for "chars", its UTF-8 decoded as it is (no newline translated, so a
    CRLF file keeps its \\r, as read_text keeps it), a character split by a
    chunk's end going whole into the next chunk. ValueError, naming the byte,
    where the file is not UTF-8, except for a character cut at the file's
    very start or end, which is dropped with a warning (as read_text does).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    start = 0                                   # the file offset of the next chunk
    with open(path, "rb") as file:
        while True:
            chunk = file.read(chunk_bytes)
            if mode == "bytes":
                if not chunk:
                    return
                yield chunk
                continue
            if start == 0:
                cut = _cut_character_at_start(chunk, path)
                chunk, start = chunk[cut:], cut
            pending = len(decoder.getstate()[0])   # bytes of a character begun before
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                if not chunk and error.reason == "unexpected end of data":
                    _warn_cut(path, pending, "end")
                    return
                raise checks.InvalidParameterError(
                    f"{path} is not UTF-8 text ({error.reason} at byte "
                    f"{start - pending + error.start})",
                    ("train on its bytes ", checks.With("vocab", "bytes")),
                    param="text") from None
            start += len(chunk)
            if text:
                yield text
            if not chunk:
                return
