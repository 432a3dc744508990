"""How encoded text becomes batches: split off the validation tail, cut into streams.

The text is cut into ``batch_size`` contiguous streams of equal length (the
tail that does not divide evenly is dropped), one stream per column:

    data  = [ stream 0 | stream 1 | ... | stream B-1 | tail ]

Every stream is read left to right ``seq_length`` characters at a time, all
streams in step, with min-char-rnn's pointer p:

    inputs  = stream[p : p + T]        targets = stream[p + 1 : p + T + 1]
    p += T, and back to 0 when p + T + 1 >= len(stream)

so with batch_size=1 the windows are exactly the write-up's. Because each
column continues the text of the previous batch's column, the hidden state is
carried from batch to batch, and zeroed when reading starts over. A cache file
(a FileArray, corpus.py) is read a block at a time.
"""

from __future__ import annotations

import numbers

import numpy as np
import numpy.typing as npt

from . import checks
from ._core import INT32_MAX
from .filearray import FileArray

# Streams over a file (a FileArray) read this many bytes of it at a time.
READ_AHEAD = 1 << 20

STATE_KEYS = ("position", "epoch", "batch_size", "seq_length", "stream_length")


def _check_encoded(data: npt.ArrayLike | FileArray) -> np.ndarray | FileArray:
    """A 1-D integer array, as NumPy sees it (no copy for arrays); a
    FileArray (a verified cache, corpus.py) as it is, unread."""
    if isinstance(data, FileArray):
        return data
    data = np.asarray(data)
    if data.ndim != 1:
        raise ValueError(f"data must be a 1-D array of character indices, got shape {data.shape}")
    if data.size and data.dtype.kind not in "iu":
        raise TypeError(f"data must hold integer character indices, not {data.dtype}")
    return data


def split_validation(data: npt.ArrayLike | FileArray, val_fraction: float
                     ) -> tuple[np.ndarray | FileArray, np.ndarray | FileArray]:
    """(train, val): the last ``val_fraction`` of ``data`` is held out.

    The split is at len(data) - round(val_fraction * len(data)); both parts
    are views of ``data``. val_fraction=0 gives an empty val.
    """
    data = _check_encoded(data)
    checks.fraction("val_fraction", val_fraction)
    split = len(data) - round(val_fraction * len(data))
    return data[:split], data[split:]


class Streams:
    """``batch_size`` parallel streams over encoded text, read ``seq_length`` at a time.

    Parameters
    ----------
    data : 1-D integer array
        Character indices, such as ``Vocabulary.encode`` returns. Kept as a
        view, not copied.
    batch_size : int
        Number of streams, B.
    seq_length : int
        Characters per stream per batch, T.

    Each stream needs at least T + 1 characters, so len(data) >= B * (T + 1).
    """

    def __init__(self, data: npt.ArrayLike | FileArray, batch_size: int,
                 seq_length: int) -> None:
        data = _check_encoded(data)
        batch_size = checks.positive_int("batch_size", batch_size)
        seq_length = checks.positive_int("seq_length", seq_length)
        needed = batch_size * (seq_length + 1)
        if len(data) < needed:
            raise checks.InvalidParameterError(
                (f"the text is {len(data):,} characters long, but ",
                 checks.Setting("batch_size", batch_size), " streams of ",
                 checks.Setting("seq_length", seq_length),
                 f" need at least {batch_size} * ({seq_length} + 1) = {needed:,}"),
                param="data")
        # Indices are handed out as int32, so check once that they fit (a
        # FileArray's were checked against its vocabulary: corpus.py).
        if not isinstance(data, FileArray) and (not np.can_cast(data.dtype, np.int32)
                                                or data.dtype.kind == "i"):
            low, high = int(data.min()), int(data.max())
            if low < 0 or high > INT32_MAX:
                bad = low if low < 0 else high
                raise ValueError(f"data holds {bad}, which is not a character index")
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.stream_length = len(data) // batch_size
        # Row b is stream b: (B, stream_length), a view of data; from a file
        # (FileArray: no map to die of), READ_AHEAD bytes of the rows at a
        # time, read into a block of (B, width): all streams advance in step.
        length = self.stream_length
        self._rows: list[FileArray] | None = None
        if isinstance(data, FileArray):
            self._rows = [data[b * length:(b + 1) * length] for b in range(batch_size)]
            width = min(length, max(seq_length + 1,
                                    READ_AHEAD // (batch_size * data.dtype.itemsize)))
            self._block = np.empty((batch_size, width), dtype=data.dtype)
            self._block_start = -1                  # where in each row the block starts
        else:
            self._streams = data[:batch_size * length].reshape(batch_size, -1)
        self._position = 0
        self._epoch = 0

    @property
    def batches_per_epoch(self) -> int:
        # Windows start at p = 0, T, 2T, ... while p + T + 1 < stream_length;
        # the one at p = 0 is read even when it is also the last.
        return max(1, (self.stream_length - 2) // self.seq_length)

    @property
    def characters_per_epoch(self) -> int:
        """Input characters read in one pass, over all streams."""
        return self.batches_per_epoch * self.seq_length * self.batch_size

    @property
    def position(self) -> int:
        """Where the next batch starts within each stream."""
        return self._position

    @property
    def epoch(self) -> int:
        """Passes over the streams completed so far."""
        return self._epoch

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inputs, targets, reset): two (T, B) int32 arrays and a bool.

        targets[t, b] is the character after inputs[t, b]. reset is True when
        this batch starts the streams over (the first batch, and the first
        after each wrap): the hidden state carried in should then be zero.
        """
        p, T = self._position, self.seq_length
        reset = p == 0
        # (B, T + 1): each stream's inputs and, one further on, its targets.
        if self._rows is None:
            window = self._streams[:, p:p + T + 1]
        else:
            window = self._from_block(p, T + 1)
        # Time-major (T, B), each its own C-contiguous array.
        inputs = window[:, :T].T.astype(np.int32, order="C")
        targets = window[:, 1:].T.astype(np.int32, order="C")
        p += T
        if p + T + 1 >= self.stream_length:
            p = 0
            self._epoch += 1
        self._position = p
        return inputs, targets, reset

    def _from_block(self, start: int, count: int) -> np.ndarray:
        """Values [start, start + count) of every row, as a (B, count) view of
        the block, read anew where the block does not hold them."""
        assert self._rows is not None
        block, at = self._block, start - self._block_start
        if self._block_start < 0 or at < 0 or at + count > block.shape[1]:
            width = min(block.shape[1], self.stream_length - start)
            for row, out in zip(self._rows, block):
                row.read_into(out[:width], start)
            self._block_start, at = start, 0
        return block[:, at:at + count]

    def state(self) -> dict[str, int]:
        """The reading position, as a dict of ints (JSON-safe)."""
        return {
            "position": self._position,
            "epoch": self._epoch,
            "batch_size": self.batch_size,
            "seq_length": self.seq_length,
            "stream_length": self.stream_length,
        }

    def restore(self, state: dict[str, int]) -> None:
        """Continue from a position ``state()`` returned, on the same streams.

        ValueError on anything malformed, as a checkpoint may be.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict, not {type(state).__name__}")
        if set(state) != set(STATE_KEYS):
            raise ValueError(f"state must have exactly the keys {list(STATE_KEYS)}, "
                             f"got {sorted(state, key=str)}")
        for key in STATE_KEYS:
            value = state[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"state[{key!r}] must be an int, got {value!r}")
        for key in ("batch_size", "seq_length", "stream_length"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"state was saved with {key}={state[key]}, but these streams have "
                    f"{key}={getattr(self, key)}")
        position, epoch = int(state["position"]), int(state["epoch"])
        if epoch < 0:
            raise ValueError(f"state['epoch'] must be at least 0, got {epoch}")
        batch, offset = divmod(position, self.seq_length)
        if position < 0 or offset or batch >= self.batches_per_epoch:
            last = (self.batches_per_epoch - 1) * self.seq_length
            raise ValueError(
                f"state['position'] must be a multiple of seq_length={self.seq_length} "
                f"in [0, {last}], got {position}")
        self._position, self._epoch = position, epoch
