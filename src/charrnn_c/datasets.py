"""Built-in text to train on, shipped inside the package.

``shakespeare()`` is the first 1.5 MB (about a third) of the complete works
of Shakespeare, from the Project Gutenberg texts (public domain), plays in
alphabetical order of their short titles: the corpus of the min-char-rnn
write-up. It ships bz2-compressed (445 KB).
"""

from __future__ import annotations

import bz2
from importlib import resources

SHAKESPEARE = "shakespeare.txt.bz2"


def shakespeare() -> str:
    """The built-in Shakespeare corpus as a str (ASCII)."""
    # One name per joinpath: Python 3.10's Traversable takes exactly one.
    data = resources.files(__package__).joinpath("data").joinpath(SHAKESPEARE).read_bytes()
    return bz2.decompress(data).decode("ascii")
