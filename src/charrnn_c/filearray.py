"""Indices in a file, read with os.pread rather than mapped.

A memory map (np.memmap) of a file that another process truncates kills the
process reading it with SIGBUS at the first page past the new end: no
exception, no message, a long fit gone (issue 22; a cleanup job or a second
fit can do it). A read past the end is only short, which FileArray turns
into an exception naming the file. The cost is one system call per read:
training reads each of its batch_size streams once per step (Streams), a few
microseconds next to a step.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import numpy as np


class FileArray:
    """A read-only 1-D array of ``length`` values of ``dtype``, stored in the
    open file ``fd`` from byte ``offset`` on, named ``filename`` in messages.

    Slicing (step 1) gives a FileArray over part of it and reads nothing;
    ``read``, ``read_into`` and np.asarray read the values. The file
    descriptor is this object's (and its slices'), closed once none is left.
    """

    def __init__(self, fd: int, offset: int, length: int, dtype: np.dtype,
                 filename: str, _owner: Any = None) -> None:
        self._fd, self._offset, self._length = fd, offset, length
        self.dtype, self.filename = np.dtype(dtype), filename
        if _owner is None:                  # the first: it closes the file
            _owner = _Closer()
            _owner.close = weakref.finalize(_owner, os.close, fd)
        self._owner = _owner

    def close(self) -> None:
        """Close the file now (for this FileArray and all its slices)."""
        self._owner.close()

    @property
    def shape(self) -> tuple[int]:
        return (self._length,)

    @property
    def size(self) -> int:
        return self._length

    ndim = 1

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, key: slice) -> FileArray:
        if not isinstance(key, slice):
            raise TypeError(f"a FileArray is read by slices, not by {type(key).__name__}")
        start, stop, step = key.indices(self._length)
        if step != 1:
            raise ValueError("a FileArray is read by slices of step 1")
        return FileArray(self._fd, self._offset + start * self.dtype.itemsize,
                         max(0, stop - start), self.dtype, self.filename, self._owner)

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Values [start, stop) as a new array."""
        stop = self._length if stop is None else min(stop, self._length)
        out = np.empty(max(0, stop - start), dtype=self.dtype)
        self.read_into(out, start)
        return out

    def read_into(self, out: np.ndarray, start: int = 0) -> None:
        """Fill ``out`` (C-contiguous, of this dtype) with values from ``start`` on."""
        if start < 0 or start + out.size > self._length:
            raise IndexError(f"values [{start}, {start + out.size}) are outside the "
                             f"{self._length} of {self.filename}")
        buffer = memoryview(out.data).cast("B")     # .data: typed as a buffer
        position = self._offset + start * self.dtype.itemsize
        done = 0
        while done < len(buffer):
            got = os.preadv(self._fd, [buffer[done:]], position + done)
            if got == 0:
                raise RuntimeError(
                    f"{self.filename} ends {position + done:,} bytes in, before the "
                    f"{self._offset + self._length * self.dtype.itemsize:,} it held when "
                    f"opened: another process truncated it while it was being read; fit "
                    f"again to rebuild it")
            done += got

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self.read()
        return values if dtype is None else values.astype(dtype)


class _Closer:
    """What a FileArray and its slices share: its finalizer closes their file,
    once, when the last of them goes or at close()."""

    close: weakref.finalize


def can_read_by_offset() -> bool:
    """Whether this system reads files at an offset (os.preadv): not Windows,
    which cannot truncate a mapped file either, and maps instead."""
    return hasattr(os, "preadv")
