"""Several files, or a directory's, as one text: the documents in order, a boundary between.

``fit(Path("plays/"))`` or ``fit([Path("a.txt"), Path("b.txt")])`` trains on
the files one after the other, with DOCUMENT_BOUNDARY (the ASCII file
separator, U+001C, byte 0x1C) between two documents: a symbol no text holds,
so the model learns where a document ends and a new one begins, and a
sample that draws it has started another (sample(..., stop="\\x1c") ends
there). A directory gives its regular files, those in its subdirectories
too, in the order of their paths, leaving out hidden ones (a name starting
with "."). Each is read a chunk at a time (reading.read_chunks), so the
corpus cache (corpus.py) encodes the whole without holding it.

One file is a Documents of one, with no boundary: its text and its cache
are the file's own.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .reading import CHUNK_BYTES, read_chunks

DOCUMENT_BOUNDARY = "\x1c"


class Documents:
    """The files of one text, in order (``paths``: at least one)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.paths = [Path(path) for path in paths]
        if not self.paths:
            raise ValueError("the text names no files")

    @classmethod
    def of(cls, source: str | os.PathLike[str] | Sequence[os.PathLike[str]]) -> Documents:
        """A file, a directory's files, or a list of files (each a path)."""
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_dir():
                return cls([path])
            files = sorted(child for child in path.rglob("*") if child.is_file()
                           and not any(part.startswith(".")
                                       for part in child.relative_to(path).parts))
            if not files:
                raise ValueError(f"{path} is a directory with no files to train on")
            return cls(files)
        paths = list(source)
        for entry in paths:
            # A str is text, never a path (reading.read_text): here too.
            if not isinstance(entry, os.PathLike):
                raise TypeError(f"a list of texts must hold paths (pathlib.Path), not "
                                f"{type(entry).__name__} {entry!r:.80}")
        return cls(paths)

    def __str__(self) -> str:
        if len(self.paths) == 1:
            return str(self.paths[0])
        return f"{self.paths[0]} and {len(self.paths) - 1} more file(s)"

    @property
    def name(self) -> str:
        """The first file's name, which a cache's name begins with."""
        return self.paths[0].name

    def all_regular(self) -> bool:
        """Whether every file is a regular file (a pipe can be read only once)."""
        return all(stat.S_ISREG(path.stat().st_mode) for path in self.paths)

    def key(self, mode: str) -> dict[str, Any]:
        """What tells these files, as they are now, from any others or their
        own later versions (corpus.py: a cache's key): for each, its real
        path, size, times and inode; one file's is that file's alone."""
        keys = [_file_key(path, mode) for path in self.paths]
        if len(keys) == 1:
            return keys[0]
        return {"paths": keys, "mode": mode}

    def chunks(self, mode: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str | bytes]:
        """The text a chunk at a time: each file's (read_chunks), the boundary between."""
        boundary = DOCUMENT_BOUNDARY if mode == "chars" else DOCUMENT_BOUNDARY.encode("ascii")
        for index, path in enumerate(self.paths):
            if index:
                yield boundary
            yield from read_chunks(path, mode, chunk_bytes)


def _file_key(path: Path, mode: str) -> dict[str, Any]:
    status = path.stat()
    return {"path": os.path.realpath(path), "size": status.st_size,
            "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns,
            "inode": status.st_ino, "mode": mode}


def sources(key: dict[str, Any]) -> list[str]:
    """The real paths of the files a cache's ``key`` was made from."""
    return [entry["path"] for entry in key.get("paths", [key])]
