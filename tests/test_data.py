"""Batches from encoded text: the write-up's windows at batch 1, parallel streams, resuming;
files read a chunk at a time."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charrnn_c.reading import read_chunks, read_text
from charrnn_c.streams import Streams, split_validation
from charrnn_c.vocab import Vocabulary


def min_char_rnn_windows(data, seq_length):
    """The write-up's data pointer, verbatim: (inputs, targets, hprev zeroed?)."""
    p, n = 0, 0
    while True:
        reset = p + seq_length + 1 >= len(data) or n == 0
        if reset:
            p = 0
        yield data[p:p + seq_length], data[p + 1:p + seq_length + 1], reset
        p += seq_length
        n += 1


def take(streams, count):
    return [streams.next_batch() for _ in range(count)]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (inputs, targets, reset), (inputs2, targets2, reset2) in zip(a, b):
        np.testing.assert_array_equal(inputs, inputs2)
        np.testing.assert_array_equal(targets, targets2)
        assert reset == reset2


# split_validation

def test_the_last_fraction_is_held_out():
    train, val = split_validation(np.arange(10), 0.2)
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9]


def test_a_zero_fraction_holds_out_nothing():
    train, val = split_validation(np.arange(10, dtype=np.uint8), 0)
    assert train.tolist() == list(range(10)) and val.shape == (0,) and val.dtype == np.uint8


def test_the_split_rounds_to_the_nearest_character():
    # 0.29 * 100 is 28.999999999999996 in floating point: still 29 held out.
    train, val = split_validation(np.arange(100), 0.29)
    assert len(train) == 71 and len(val) == 29 and val[0] == 71


def test_both_parts_are_views_of_the_data():
    data = np.arange(10, dtype=np.uint8)
    train, val = split_validation(data, 0.5)
    assert np.shares_memory(train, data) and np.shares_memory(val, data)


@given(st.integers(0, 500), st.floats(0, 1, exclude_max=True))
def test_the_parts_put_back_together_are_the_data(length, fraction):
    data = np.arange(length)
    train, val = split_validation(data, fraction)
    np.testing.assert_array_equal(np.concatenate([train, val]), data)
    assert abs(len(val) - fraction * length) <= 0.5


@pytest.mark.parametrize("fraction", [1, 1.0, 1.5, -0.1, -1, float("nan"), float("inf")])
def test_a_fraction_outside_0_1_is_a_value_error(fraction):
    with pytest.raises(ValueError,
                       match=rf"^val_fraction must be a number in \[0, 1\), got {fraction!r}$"):
        split_validation(np.arange(10), fraction)


@pytest.mark.parametrize("fraction", ["0.1", None, True])
def test_a_fraction_that_is_not_a_number_is_a_type_error(fraction):
    with pytest.raises(TypeError,
                       match=rf"^val_fraction must be a number in \[0, 1\), got {fraction!r}$"):
        split_validation(np.arange(10), fraction)


def test_split_validation_checks_the_data():
    with pytest.raises(ValueError, match=r"1-D array .* got shape \(2, 5\)"):
        split_validation(np.zeros((2, 5), dtype=int), 0.1)
    with pytest.raises(TypeError, match="integer character indices, not float64"):
        split_validation(np.zeros(10), 0.1)


# Batch 1: the write-up's windows

@pytest.mark.parametrize("length, seq_length", [
    (6, 5), (7, 5), (11, 5), (12, 5), (13, 5), (100, 25), (101, 25), (127, 25), (3, 1),
])
def test_batch_1_reads_exactly_the_min_char_rnn_windows(length, seq_length):
    data = np.random.default_rng(length).integers(0, 50, length)
    streams = Streams(data, batch_size=1, seq_length=seq_length)
    expected = min_char_rnn_windows(data, seq_length)
    for _ in range(3 * length):  # several wraps
        inputs, targets, reset = streams.next_batch()
        want_inputs, want_targets, want_reset = next(expected)
        assert inputs.shape == targets.shape == (seq_length, 1)
        assert inputs[:, 0].tolist() == want_inputs.tolist()
        assert targets[:, 0].tolist() == want_targets.tolist()
        assert reset == want_reset


def test_batch_1_on_the_corpus_matches_the_writeup_loop(shakespeare):
    text = shakespeare[:20_000]
    data = Vocabulary.from_text(text).encode(text)
    streams = Streams(data, 1, 25)
    expected = min_char_rnn_windows(data, 25)
    resets = []
    for _ in range(1_700):  # 799 windows per pass: two wraps
        inputs, targets, reset = streams.next_batch()
        want_inputs, want_targets, want_reset = next(expected)
        np.testing.assert_array_equal(inputs[:, 0], want_inputs)
        np.testing.assert_array_equal(targets[:, 0], want_targets)
        assert reset == want_reset
        resets.append(reset)
    assert np.flatnonzero(resets).tolist() == [0, 799, 1598]
    assert streams.batches_per_epoch == 799 and streams.epoch == 2


# Parallel streams

def test_batches_are_time_major_int32_and_targets_are_shifted_by_one():
    data = np.arange(4 * 30 + 3, dtype=np.uint8)
    inputs, targets, reset = Streams(data, batch_size=4, seq_length=7).next_batch()
    assert inputs.shape == targets.shape == (7, 4)
    assert inputs.dtype == targets.dtype == np.int32
    assert inputs.flags.c_contiguous and targets.flags.c_contiguous
    assert not np.shares_memory(inputs, targets)
    # Stream b starts at b * 30; the columns are the streams.
    assert inputs[:, 2].tolist() == list(range(60, 67))
    assert inputs[0].tolist() == [0, 30, 60, 90]
    assert targets[:, 2].tolist() == list(range(61, 68))
    assert reset is True


def test_each_stream_read_over_an_epoch_is_its_slice_of_the_data():
    # 123 characters in 4 streams of 30, the last 3 dropped; T = 7 reads
    # p = 0, 7, 14, 21 (21 + 7 + 1 < 30), then wraps.
    data = np.random.default_rng(0).integers(0, 200, 123).astype(np.uint8)
    streams = Streams(data, batch_size=4, seq_length=7)
    assert streams.stream_length == 30 and streams.batches_per_epoch == 4
    batches = take(streams, 4)
    inputs = np.concatenate([b[0] for b in batches])    # (28, 4)
    targets = np.concatenate([b[1] for b in batches])
    for b in range(4):
        np.testing.assert_array_equal(inputs[:, b], data[30 * b:30 * b + 28])
        np.testing.assert_array_equal(targets[:, b], data[30 * b + 1:30 * b + 29])


def test_the_dropped_tail_is_never_read():
    data = np.arange(4 * 30 + 3)
    seen = np.concatenate([np.concatenate(b[:2]).ravel() for b in take(Streams(data, 4, 7), 12)])
    # 118 is stream 3's target at p = 21; like the write-up, p + T + 1 >= 30
    # stops one short of each stream's last character (119 here).
    assert seen.max() == 118 and not np.isin([119, 120, 121, 122], seen).any()


def test_the_epoch_wraps_and_reset_marks_each_start():
    streams = Streams(np.arange(123), batch_size=4, seq_length=7)
    assert (streams.position, streams.epoch) == (0, 0)
    seen = []
    for _ in range(12):
        inputs, _, reset = streams.next_batch()
        seen.append((int(inputs[0, 0]), reset, streams.position, streams.epoch))
    assert seen == [
        (0, True, 7, 0), (7, False, 14, 0), (14, False, 21, 0), (21, False, 0, 1),
        (0, True, 7, 1), (7, False, 14, 1), (14, False, 21, 1), (21, False, 0, 2),
        (0, True, 7, 2), (7, False, 14, 2), (14, False, 21, 2), (21, False, 0, 3),
    ]
    assert streams.characters_per_epoch == 4 * 7 * 4


def test_the_shortest_text_repeats_one_batch_every_epoch():
    data = np.arange(4 * 6)  # exactly batch_size * (seq_length + 1)
    streams = Streams(data, batch_size=4, seq_length=5)
    assert streams.batches_per_epoch == 1 and streams.characters_per_epoch == 20
    for epoch in range(3):
        inputs, targets, reset = streams.next_batch()
        assert reset and streams.epoch == epoch + 1 and streams.position == 0
        assert inputs[:, 1].tolist() == [6, 7, 8, 9, 10]
        assert targets[:, 3].tolist() == [19, 20, 21, 22, 23]


@given(st.integers(1, 6), st.integers(1, 12), st.integers(0, 60), st.data())
def test_every_stream_is_read_as_the_write_up_reads_its_one_stream(batch_size, seq_length,
                                                                   extra, draw):
    length = batch_size * (seq_length + 1) + extra
    data = np.arange(length)
    streams = Streams(data, batch_size, seq_length)
    n = length // batch_size
    readers = [min_char_rnn_windows(data[b * n:(b + 1) * n], seq_length)
               for b in range(batch_size)]
    resets = []
    for _ in range(draw.draw(st.integers(1, 3)) * streams.batches_per_epoch + 1):
        inputs, targets, reset = streams.next_batch()
        for b, reader in enumerate(readers):
            want_inputs, want_targets, want_reset = next(reader)
            assert inputs[:, b].tolist() == want_inputs.tolist()
            assert targets[:, b].tolist() == want_targets.tolist()
            assert reset == want_reset
        resets.append(reset)
    # A pass is exactly batches_per_epoch batches, characters_per_epoch inputs.
    starts = np.flatnonzero(resets)
    assert (np.diff(starts) == streams.batches_per_epoch).all()
    assert streams.characters_per_epoch == streams.batches_per_epoch * seq_length * batch_size


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.int64, np.uint64])
def test_any_integer_dtype_gives_the_same_int32_batches(dtype):
    data = np.arange(50) % 7
    inputs, targets, _ = Streams(data.astype(dtype), 2, 4).next_batch()
    assert inputs.dtype == targets.dtype == np.int32
    assert inputs.T.tolist() == [[0, 1, 2, 3], [4, 5, 6, 0]]


# Saving and restoring the position

@given(st.integers(0, 40), st.integers(1, 20))
def test_restoring_a_state_gives_identical_batches(before, after):
    data = np.random.default_rng(1).integers(0, 90, 157)
    streams = Streams(data, batch_size=3, seq_length=6)  # 8 batches per epoch
    take(streams, before)
    state = json.loads(json.dumps(streams.state()))
    expected = take(streams, after)

    resumed = Streams(data, batch_size=3, seq_length=6)
    resumed.restore(state)
    assert (resumed.position, resumed.epoch) == (state["position"], state["epoch"])
    assert_same_batches(take(resumed, after), expected)
    assert (resumed.position, resumed.epoch) == (streams.position, streams.epoch)


def test_the_state_is_a_small_dict_of_ints():
    streams = Streams(np.arange(157), batch_size=3, seq_length=6)
    take(streams, 11)  # 8 per epoch: 3 into the second
    assert streams.state() == {"position": 18, "epoch": 1, "batch_size": 3,
                               "seq_length": 6, "stream_length": 52}


@pytest.fixture
def state():
    streams = Streams(np.arange(157), batch_size=3, seq_length=6)
    take(streams, 3)
    return streams.state()


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=4), "saved with batch_size=4, but these streams have batch_size=3"),
    (dict(seq_length=5), "saved with seq_length=5, but these streams have seq_length=6"),
    (dict(stream_length=53),
     "saved with stream_length=53, but these streams have stream_length=52"),
    (dict(epoch=-1), r"state\['epoch'\] must be at least 0, got -1"),
    (dict(position=-6), r"multiple of seq_length=6 in \[0, 42\], got -6"),
    (dict(position=7), r"multiple of seq_length=6 in \[0, 42\], got 7"),
    (dict(position=48), r"multiple of seq_length=6 in \[0, 42\], got 48"),
    (dict(position=6.0), r"state\['position'\] must be an int, got 6.0"),
    (dict(epoch=True), r"state\['epoch'\] must be an int, got True"),
    (dict(position="6"), r"state\['position'\] must be an int, got '6'"),
    (dict(extra=1), "exactly the keys"),
])
def test_a_bad_state_is_a_value_error_and_changes_nothing(state, change, message):
    streams = Streams(np.arange(157), batch_size=3, seq_length=6)
    with pytest.raises(ValueError, match=message):
        streams.restore({**state, **change})
    assert (streams.position, streams.epoch) == (0, 0)


def test_a_state_missing_a_key_or_not_a_dict_is_a_value_error(state):
    streams = Streams(np.arange(157), batch_size=3, seq_length=6)
    del state["epoch"]
    with pytest.raises(ValueError, match="exactly the keys"):
        streams.restore(state)
    with pytest.raises(ValueError, match="state must be a dict, not list"):
        streams.restore([18, 1])


def test_the_last_position_of_an_epoch_restores():
    streams = Streams(np.arange(157), batch_size=3, seq_length=6)
    streams.restore({"position": 42, "epoch": 5, "batch_size": 3, "seq_length": 6,
                     "stream_length": 52})
    inputs, _, reset = streams.next_batch()
    assert inputs[:, 0].tolist() == list(range(42, 48)) and not reset
    assert (streams.position, streams.epoch) == (0, 6)


# Bad arguments

def test_text_too_short_for_one_batch_says_how_long_it_must_be():
    message = (r"the text is 23 characters long, but batch_size=4 streams of seq_length=5 "
               r"need at least 4 \* \(5 \+ 1\) = 24")
    with pytest.raises(ValueError, match=message):
        Streams(np.arange(23), batch_size=4, seq_length=5)
    with pytest.raises(ValueError, match="the text is 0 characters long"):
        Streams(np.array([], dtype=np.uint8), 1, 25)


@pytest.mark.parametrize("name", ["batch_size", "seq_length"])
@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-2, ValueError), (2.0, TypeError), ("4", TypeError), (True, TypeError),
    (None, TypeError),
])
def test_bad_sizes(name, value, error):
    sizes = dict(batch_size=2, seq_length=3)
    with pytest.raises(error, match=rf"^{name} must be a positive integer, got {value!r}$"):
        Streams(np.arange(100), **{**sizes, name: value})


def test_numpy_integer_sizes_are_accepted():
    streams = Streams(np.arange(100), batch_size=np.int64(2), seq_length=np.int32(3))
    assert streams.next_batch()[0].shape == (3, 2)


@pytest.mark.parametrize("data, error, message", [
    (np.zeros(100), TypeError, "integer character indices, not float64"),
    (np.zeros((10, 10), dtype=int), ValueError, r"1-D array .* got shape \(10, 10\)"),
    (np.array([0, 1, -1] * 20), ValueError, "data holds -1, which is not a character index"),
    (np.array([0, 2 ** 31] * 20), ValueError, "data holds 2147483648"),
    (np.array([0, 2 ** 32 - 1] * 20, dtype=np.uint32), ValueError, "data holds 4294967295"),
    (np.array(["a"] * 60), TypeError, "integer character indices"),
])
def test_bad_data(data, error, message):
    with pytest.raises(error, match=message):
        Streams(data, batch_size=2, seq_length=5)


# A file a chunk at a time

# 1-, 2-, 3- and 4-byte UTF-8 characters, a lone \r and a CRLF line end.
MIXED = "a\r\nbé—😀\rc\n" * 5


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 4, 5, 7, 1 << 20])
def test_chunks_put_together_are_the_file_even_split_inside_a_character(tmp_path, chunk_bytes):
    path = tmp_path / "mixed.txt"
    path.write_bytes(MIXED.encode())
    chunks = list(read_chunks(path, "chars", chunk_bytes))
    assert "".join(chunks) == MIXED
    assert all(chunks)
    raw = list(read_chunks(path, "bytes", chunk_bytes))
    assert b"".join(raw) == MIXED.encode() and {len(c) for c in raw[:-1]} <= {chunk_bytes}


def test_chunks_keep_crlf_as_read_text_does(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\r\n")
    assert "".join(read_chunks(path, "chars", 3)) == "one\r\ntwo\r\n"


@pytest.mark.parametrize("chunk_bytes", [1, 3, 4, 1 << 20])
@pytest.mark.parametrize("raw, reason, byte", [
    (b"abc\xe2\x80\x94def\xff", "invalid start byte", 9),
    (b"abcdefgh\xf0\x9fxyz", "invalid continuation byte", 8),
])
def test_a_file_that_is_not_utf8_is_named_with_the_byte(tmp_path, chunk_bytes, raw, reason,
                                                         byte):
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=rf"bad.txt is not UTF-8 text \({reason} at byte "
                                         rf"{byte}\); train on its bytes with vocab='bytes'"):
        list(read_chunks(path, "chars", chunk_bytes))
    assert b"".join(read_chunks(path, "bytes", chunk_bytes)) == raw


def test_read_text_keeps_crlf_as_the_file_holds_it(tmp_path):
    # Issue 14: a CRLF str kept its \r and the same text read from a path lost
    # it (Path.read_text translates newlines). Both must train alike.
    from charrnn_c.reading import read_text

    text = "one\r\ntwo\rthree\n"
    path = tmp_path / "crlf.txt"
    path.write_bytes(text.encode("utf-8"))
    assert read_text(path, "chars") == read_text(text, "chars") == text
    assert read_text(path, "bytes") == text.encode("utf-8")


@pytest.mark.parametrize("chunk_bytes", [4, 1 << 20])
def test_a_character_cut_at_either_end_of_a_file_is_dropped_with_a_warning(tmp_path,
                                                                           chunk_bytes):
    # `head -c` and `tail -c` of UTF-8 text cut a character in two: that is a
    # cut file, not another encoding.
    whole = "é, the text… ends in ö".encode()
    path = tmp_path / "cut.txt"
    path.write_bytes(whole[1:-1])                    # half an é, half an ö
    for read in (lambda: read_text(path, "chars"),
                 lambda: "".join(read_chunks(path, "chars", chunk_bytes))):
        with pytest.warns(UserWarning) as caught:
            assert read() == ", the text… ends in "
        assert sorted(str(w.message) for w in caught) == [
            f"{path}: dropped 1 byte of a UTF-8 character cut at the file's end",
            f"{path}: dropped 1 byte of a UTF-8 character cut at the file's start"]
    # Anywhere else, a broken character is still a wrong encoding.
    ellipsis = whole.index("…".encode())
    path.write_bytes(whole[:ellipsis + 1] + whole[ellipsis + 2:])
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        read_text(path, "chars")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        "".join(read_chunks(path, "chars", chunk_bytes))
