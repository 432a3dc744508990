"""The vocabulary: deterministic indices, encode/decode and JSON round trips, bad input."""

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from charrnn_c import vocab as vocab_module
from charrnn_c.vocab import SymbolCounts, UnknownSymbolError, Vocabulary

# All of Unicode that str can hold, astral planes and control characters
# included (hypothesis leaves out surrogates; they have their own test).
unicode_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), min_size=1)


# Building from text

def test_symbols_are_sorted_by_code_point():
    vocab = Vocabulary.from_text("hello, world")
    assert vocab.symbols == (" ", ",", "d", "e", "h", "l", "o", "r", "w")
    assert vocab.mode == "chars" and len(vocab) == 9
    assert vocab.encode("hello").tolist() == [4, 3, 5, 5, 6]


def test_the_order_of_first_appearance_does_not_change_the_mapping():
    # min-char-rnn's list(set(data)) can give these two different orders.
    a, b = Vocabulary.from_text("abcxyz"), Vocabulary.from_text("zyxcba" * 3)
    assert a == b and a.symbols == tuple("abcxyz")
    assert a.encode("cab").tolist() == b.encode("cab").tolist() == [2, 0, 1]


@given(unicode_text, st.randoms(use_true_random=False))
def test_any_shuffle_of_the_text_gives_the_same_vocabulary(text, random):
    shuffled = list(text)
    random.shuffle(shuffled)
    assert Vocabulary.from_text("".join(shuffled)) == Vocabulary.from_text(text)


def test_bytes_mode_takes_byte_values():
    vocab = Vocabulary.from_text(b"\xff\x00ab", mode="bytes")
    assert vocab.symbols == (0, 97, 98, 255) and vocab.mode == "bytes"
    assert vocab.encode(b"ba\xff").tolist() == [2, 1, 3]


def test_bytes_mode_encodes_a_str_as_utf8():
    # "é" is C3 A9 in UTF-8.
    vocab = Vocabulary.from_text("é", mode="bytes")
    assert vocab.symbols == (0xA9, 0xC3)
    assert vocab.encode("éé").tolist() == [1, 0, 1, 0]
    assert vocab.decode([1, 0]) == "é".encode()


def test_bytes_mode_gives_back_the_raw_bytes_of_a_surrogateescaped_str():
    raw = b"ok \xff\xfe"
    text = raw.decode("utf-8", "surrogateescape")
    vocab = Vocabulary.from_text(text, mode="bytes")
    assert vocab.decode(vocab.encode(text)) == raw


def test_bytearray_and_memoryview_are_bytes():
    vocab = Vocabulary.from_text(bytearray(b"ab"), mode="bytes")
    assert vocab.encode(memoryview(b"ba")).tolist() == [1, 0]


def test_chars_are_code_points_not_utf16_units():
    text = "a\U0001F600b"  # one astral character, not a surrogate pair
    vocab = Vocabulary.from_text(text)
    assert vocab.symbols == ("a", "b", "\U0001F600")
    assert vocab.encode(text).tolist() == [0, 2, 1]


def test_lone_surrogates_are_symbols_too():
    text = "x\udcff\ud800x"
    vocab = Vocabulary.from_text(text)
    assert vocab.symbols == ("x", "\ud800", "\udcff")
    assert vocab.decode(vocab.encode(text)) == text
    assert Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab


def test_shakespeare(shakespeare):
    vocab = Vocabulary.from_text(shakespeare)
    # Counted with bzcat, wc -c and grep -o . | sort -u (76, plus the newline) on
    # src/charrnn_c/data/shakespeare.txt.bz2; the full corpus has 84 characters.
    assert len(vocab) == 77
    data = vocab.encode(shakespeare)
    assert data.dtype == np.uint8 and data.shape == (1_497_293,)
    assert vocab.decode(data) == shakespeare
    assert Vocabulary.from_text(shakespeare, mode="bytes").symbols == tuple(
        map(ord, vocab.symbols))  # ASCII: bytes and chars agree


# Encode and decode

@given(unicode_text, unicode_text)
def test_encode_then_decode_is_the_identity(text, more):
    vocab = Vocabulary.from_text(text + more)
    indices = vocab.encode(text)
    assert indices.ndim == 1 and indices.size == len(text)
    assert vocab.decode(indices) == text
    assert vocab.decode(indices.tolist()) == text


@given(st.binary(min_size=1))
def test_bytes_encode_then_decode_is_the_identity(data):
    vocab = Vocabulary.from_text(data, mode="bytes")
    assert vocab.decode(vocab.encode(data)) == data


@given(unicode_text)
def test_indices_are_the_positions_in_symbols(text):
    vocab = Vocabulary.from_text(text)
    assert vocab.encode(text).tolist() == [vocab.symbols.index(c) for c in text]


def test_encoding_empty_text_gives_an_empty_array():
    vocab = Vocabulary.from_text("abc")
    empty = vocab.encode("")
    assert empty.shape == (0,) and empty.dtype == np.uint8
    assert vocab.decode(empty) == "" and vocab.decode([]) == ""
    assert Vocabulary.from_text(b"a", mode="bytes").decode([]) == b""


@pytest.mark.parametrize("size, dtype", [
    (1, np.uint8), (255, np.uint8), (256, np.uint8),       # largest index 255
    (257, np.uint16), (65_535, np.uint16), (65_536, np.uint16),  # 65,535
    (65_537, np.uint32), (70_000, np.uint32),
])
def test_the_smallest_dtype_that_holds_every_index(size, dtype):
    vocab = Vocabulary("".join(map(chr, range(size))))
    last = vocab.encode(chr(size - 1))
    assert vocab.dtype == dtype and last.dtype == dtype
    assert last.tolist() == [size - 1]
    assert vocab.decode(last) == chr(size - 1)


def test_a_vocabulary_beyond_the_dense_table_still_finds_every_index():
    # Largest code point 0x10FFFF: the lookup is a binary search, not a table.
    symbols = "\t a\u00e9\u4e2d\U0001F600\U0010FFFF"
    vocab = Vocabulary(symbols)
    text = "\U0010FFFF\t\U0001F600a\u4e2d \u00e9"
    assert vocab.encode(text).tolist() == [6, 0, 5, 2, 4, 1, 3]
    assert vocab.decode(vocab.encode(text)) == text


# Unknown symbols

@pytest.mark.parametrize("symbols", ["ace", "ace\u4e2d", "ace\U0001F600", "ace\U000E0041"],
                         ids=["ascii", "table", "emoji table", "search"])
def test_unknown_symbols_below_between_and_above_the_known_ones(symbols):
    vocab = Vocabulary(symbols)
    text = "\x00a\U00010000bbc\u00ffe\u4e2e"
    with pytest.raises(UnknownSymbolError) as caught:
        vocab.encode(text)
    message = str(caught.value)
    assert "5 distinct chars" in message and "(6 occurrences)" in message
    for char in "\x00b\u00ff\u4e2e\U00010000":
        assert repr(char) in message
    assert vocab.encode(text, unknown="skip").tolist() == [0, 1, 2]


def test_the_error_names_at_most_ten_unknown_symbols_and_counts_them_all():
    vocab = Vocabulary.from_text("a")
    text = "a" + "bcdefghijklmnopqrstuvwxyz" * 2
    with pytest.raises(UnknownSymbolError,
                       match=r"25 distinct chars .*\(50 occurrences\)") as caught:
        vocab.encode(text)
    message = str(caught.value)
    assert all(repr(c) in message for c in "bcdefghijk")  # the first ten, sorted
    assert repr("l") not in message and ", ..." in message


def test_unknown_bytes_are_shown_as_bytes():
    vocab = Vocabulary.from_text(b"ab", mode="bytes")
    with pytest.raises(UnknownSymbolError, match=r"1 distinct bytes .*b'\\xff'"):
        vocab.encode(b"a\xffb")
    assert vocab.encode(b"a\xff\xffb", unknown="skip").tolist() == [0, 1]


def test_an_unknown_symbol_error_is_a_value_error():
    assert issubclass(UnknownSymbolError, ValueError)
    with pytest.raises(ValueError):
        Vocabulary.from_text("a").encode("b")


def test_skipping_every_symbol_leaves_an_empty_array():
    skipped = Vocabulary.from_text("a").encode("xyz", unknown="skip")
    assert skipped.shape == (0,) and skipped.dtype == np.uint8


@pytest.mark.parametrize("policy", ["ignore", "replace", None, "ERROR"])
def test_an_unknown_policy_is_a_value_error(policy):
    with pytest.raises(ValueError, match="unknown must be 'error' or 'skip'"):
        Vocabulary.from_text("a").encode("a", unknown=policy)


# The size cap

def test_more_symbols_than_max_size_is_a_value_error_suggesting_bytes():
    with pytest.raises(ValueError,
                       match=r"4 distinct chars, more than max_size=3.*vocab=\"bytes\""):
        Vocabulary.from_text("abcd", max_size=3)
    assert len(Vocabulary.from_text("abcd", max_size=4)) == 4


def test_the_default_cap_is_ten_thousand():
    text = "".join(map(chr, range(0x4E00, 0x4E00 + 10_001)))
    with pytest.raises(ValueError, match="10,001 distinct chars, more than max_size=10,000"):
        Vocabulary.from_text(text)
    assert len(Vocabulary.from_text(text[:10_000])) == 10_000


def test_the_cap_in_bytes_mode_does_not_suggest_bytes():
    with pytest.raises(ValueError, match="3 distinct bytes, more than max_size=2") as caught:
        Vocabulary.from_text(b"abc", mode="bytes", max_size=2)
    assert "vocab=" not in str(caught.value)


@pytest.mark.parametrize("max_size, error", [(0, ValueError), (-1, ValueError),
                                             (2.5, TypeError), ("10", TypeError),
                                             (True, TypeError)])
def test_a_bad_max_size(max_size, error):
    with pytest.raises(error, match="max_size"):
        Vocabulary.from_text("abc", max_size=max_size)


# Bad text

@pytest.mark.parametrize("text, mode", [("", "chars"), (b"", "bytes"), ("", "bytes")])
def test_empty_text_is_a_value_error(text, mode):
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.from_text(text, mode=mode)


@pytest.mark.parametrize("text, mode, name", [
    (["a", "b"], "chars", "list"), (b"ab", "chars", "bytes"),
    (bytearray(b"a"), "chars", "bytearray"),
    (None, "chars", "NoneType"), (123, "bytes", "int"), (["a"], "bytes", "list"),
    (np.array([97, 98], dtype=np.uint8), "chars", "ndarray"),
])
def test_text_of_the_wrong_type_is_a_type_error_naming_it(text, mode, name):
    with pytest.raises(TypeError, match=rf"{mode} vocabulary takes .*not {name}"):
        Vocabulary.from_text(text, mode=mode)


def test_bytes_for_a_chars_vocabulary_suggests_decoding():
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(TypeError, match="not bytes; decode it first, or use mode='bytes'"):
        vocab.encode(b"ab")


@pytest.mark.parametrize("mode", ["words", "char", None, "BYTES"])
def test_an_unknown_mode_is_a_value_error(mode):
    with pytest.raises(ValueError, match="mode must be 'chars' or 'bytes'"):
        Vocabulary.from_text("abc", mode=mode)


@pytest.mark.parametrize("indices, error, message", [
    ([0, 3], ValueError, r"index 3 is outside the vocabulary \[0, 3\)"),
    ([-1, 0], ValueError, r"index -1 is outside the vocabulary \[0, 3\)"),
    ([0.0, 1.0], TypeError, "indices must be integers, not float64"),
    ([True], TypeError, "indices must be integers, not bool"),
    ([[0, 1]], ValueError, r"indices must be 1-D, got shape \(1, 2\)"),
    (np.uint8(1), ValueError, r"indices must be 1-D, got shape \(\)"),
])
def test_bad_indices_to_decode(indices, error, message):
    with pytest.raises(error, match=message):
        Vocabulary.from_text("abc").decode(indices)


# The constructor

def test_the_constructor_takes_the_symbols_themselves():
    assert Vocabulary("abc") == Vocabulary.from_text("cab")
    assert Vocabulary(b"ab", mode="bytes").symbols == (97, 98)
    assert Vocabulary([np.uint8(1), 2], mode="bytes").symbols == (1, 2)


@pytest.mark.parametrize("symbols, mode, error, message", [
    ("", "chars", ValueError, "at least one symbol"),
    ("ba", "chars", ValueError, r"sorted and unique, but 'b' is followed by 'a'"),
    ("aa", "chars", ValueError, r"sorted and unique, but 'a' appears twice"),
    (["ab"], "chars", TypeError, "1-character strs, not 'ab'"),
    ([97], "chars", TypeError, "1-character strs, not 97"),
    ([256], "bytes", ValueError, r"bytes symbols must lie in 0..255, got 256"),
    ([-1, 0], "bytes", ValueError, r"must lie in 0..255, got -1"),
    ([300, 1], "bytes", ValueError, r"must lie in 0..255, got 300"),
    (["a"], "bytes", TypeError, "ints 0..255, not 'a'"),
    ([True], "bytes", TypeError, "ints 0..255, not True"),
    ("a", "text", ValueError, "mode must be"),
])
def test_bad_symbols_for_the_constructor(symbols, mode, error, message):
    with pytest.raises(error, match=message):
        Vocabulary(symbols, mode=mode)


# Comparison and display

def test_equality_and_hash():
    a, b = Vocabulary.from_text("abc"), Vocabulary.from_text("cba")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Vocabulary.from_text("abd")
    assert a != Vocabulary.from_text("ab")
    assert a != Vocabulary.from_text(b"abc", mode="bytes")  # same numbers, other mode
    assert a != ("a", "b", "c") and a != "abc"


def test_symbols_is_a_tuple_that_cannot_change_the_vocabulary():
    vocab = Vocabulary.from_text("ab")
    assert isinstance(vocab.symbols, tuple)
    with pytest.raises(AttributeError):
        vocab.symbols = ("x",)
    with pytest.raises(AttributeError):
        vocab.mode = "bytes"


def test_repr():
    assert repr(Vocabulary.from_text("ba\n")) == r"Vocabulary(3 chars: '\nab')"
    assert repr(Vocabulary.from_text(b"\xffa", mode="bytes")) == r"Vocabulary(2 bytes: b'a\xff')"
    long = repr(Vocabulary("".join(map(chr, range(65, 165)))))
    assert long.startswith("Vocabulary(100 chars: 'ABC") and long.endswith("'...)")


# Serialization

def test_to_dict_stores_code_points():
    d = Vocabulary.from_text("b\na\U0001F600").to_dict()
    assert d == {"mode": "chars", "symbols": [10, 97, 98, 0x1F600]}
    assert Vocabulary.from_text(b"\x00\xff", mode="bytes").to_dict() == {
        "mode": "bytes", "symbols": [0, 255]}


@given(unicode_text)
@settings(max_examples=200)
def test_to_dict_from_dict_round_trips_through_json(text):
    vocab = Vocabulary.from_text(text)
    d = json.loads(json.dumps(vocab.to_dict()))
    again = Vocabulary.from_dict(d)
    assert again == vocab and again.symbols == vocab.symbols
    assert again.decode(vocab.encode(text)) == text


@given(st.binary(min_size=1))
def test_bytes_to_dict_from_dict_round_trips_through_json(data):
    vocab = Vocabulary.from_text(data, mode="bytes")
    assert Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab


@pytest.mark.parametrize("d, message", [
    (["chars", [97]], "must be a dict, not list"),
    ({"symbols": [97]}, "exactly the keys 'mode' and 'symbols'"),
    ({"mode": "chars"}, "exactly the keys 'mode' and 'symbols'"),
    ({"mode": "chars", "symbols": [97], "size": 1}, "exactly the keys"),
    ({"mode": "words", "symbols": [97]}, "mode must be 'chars' or 'bytes', not 'words'"),
    ({"mode": None, "symbols": [97]}, "mode must be 'chars' or 'bytes', not None"),
    ({"mode": "chars", "symbols": "abc"}, "must be a list of ints, not str"),
    ({"mode": "chars", "symbols": {97: 0}}, "must be a list of ints, not dict"),
    ({"mode": "chars", "symbols": []}, "at least one symbol"),
    ({"mode": "chars", "symbols": ["a"]}, "must be ints, got 'a'"),
    ({"mode": "chars", "symbols": [97.0]}, "must be ints, got 97.0"),
    ({"mode": "chars", "symbols": [True]}, "must be ints, got True"),
    ({"mode": "chars", "symbols": [None]}, "must be ints, got None"),
    ({"mode": "chars", "symbols": [98, 97]}, "sorted and unique, but 'b' is followed by 'a'"),
    ({"mode": "chars", "symbols": [97, 97]}, "sorted and unique, but 'a' appears twice"),
    ({"mode": "chars", "symbols": [-1, 97]}, r"chars symbols must lie in 0..1114111, got -1"),
    ({"mode": "chars", "symbols": [0x110000]}, "must lie in 0..1114111, got 1114112"),
    ({"mode": "bytes", "symbols": [0, 256]}, r"bytes symbols must lie in 0..255, got 256"),
])
def test_a_malformed_dict_is_a_value_error(d, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_dict(d)


def test_the_largest_code_points_are_allowed():
    d = {"mode": "chars", "symbols": [0, 0x10FFFF]}
    vocab = Vocabulary.from_dict(d)
    assert vocab.symbols == ("\x00", "\U0010FFFF") and vocab.to_dict() == d


# A piece at a time: counting and encoding hold a few MB, whatever the length

@settings(max_examples=200)
@given(unicode_text, st.integers(1, 5), st.sampled_from(["chars", "bytes"]))
def test_pieces_of_any_size_give_the_whole_texts_vocabulary_and_indices(text, piece, mode):
    # Bytes mode takes a str as UTF-8 (lone surrogates only as surrogateescape's).
    assume(mode == "chars" or not any(0xD800 <= ord(c) < 0xDC80 or 0xDD00 <= ord(c) < 0xE000
                                      for c in text))
    whole = Vocabulary.from_text(text, mode=mode)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vocab_module, "PIECE", piece)
        vocab = Vocabulary.from_text(text, mode=mode)
        indices = vocab.encode(text)
    assert vocab == whole
    np.testing.assert_array_equal(indices, whole.encode(text))
    assert indices.dtype == whole.dtype
    raw = text.encode("utf-8", "surrogateescape") if mode == "bytes" else text
    assert vocab.decode(indices) == raw


def test_unknown_symbols_are_counted_over_every_piece(monkeypatch):
    monkeypatch.setattr(vocab_module, "PIECE", 4)
    vocab = Vocabulary.from_text("abcd")
    # x in three pieces, y in one: 4 occurrences of 2 symbols, found in any piece.
    with pytest.raises(UnknownSymbolError,
                       match=r"2 distinct chars .*\(4 occurrences\): 'x', 'y'"):
        vocab.encode("abcx" + "abcd" * 3 + "xyab" + "dddx")
    assert vocab.encode("abcx" + "xyab", unknown="skip").tolist() == [0, 1, 2, 0, 1]


def test_counts_given_a_piece_at_a_time_are_the_whole_texts(shakespeare):
    counts = SymbolCounts("chars")
    for start in range(0, len(shakespeare), 100_000):
        counts.add(shakespeare[start:start + 100_000])
    assert counts.total == len(shakespeare)
    assert counts.vocabulary() == Vocabulary.from_text(shakespeare)
    assert counts.counts[ord("e")] == shakespeare.count("e")
    assert counts.unknown_to(Vocabulary.from_text(shakespeare)) is None
    error = counts.unknown_to(Vocabulary.from_text(shakespeare.replace("z", "")))
    assert isinstance(error, UnknownSymbolError)
    assert f"1 distinct chars not in the vocabulary ({shakespeare.count('z')} occurrences)" \
        in str(error)
    with pytest.raises(ValueError, match="empty text"):
        SymbolCounts("bytes").vocabulary()


def traced_peak(work):
    """The most memory Python and NumPy held at once while ``work()`` ran, in bytes."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_counting_20_mb_of_text_holds_a_few_pieces_not_the_text(shakespeare):
    # np.bincount widens to int64: the whole at once held 8 bytes a
    # character (160 MB here), a piece at a time 8 * PIECE (2 MB; 2.3 MB measured).
    text = (shakespeare * 14)[:20_000_000]
    peak = traced_peak(lambda: Vocabulary.from_text(text))
    assert peak < 2 * 8 * vocab_module.PIECE, peak


def test_encoding_20_mb_of_text_holds_the_result_and_a_few_pieces(shakespeare):
    # The whole at once held 4 bytes a character more than the 1-byte result,
    # for the int32 lookup (80 MB here); a piece at a time 2.6 MB measured.
    text = (shakespeare * 14)[:20_000_000] + "é"
    vocab = Vocabulary.from_text(text)
    peak = traced_peak(lambda: vocab.encode(text))
    assert len(text) < peak < len(text) + 2 * 8 * vocab_module.PIECE, peak
