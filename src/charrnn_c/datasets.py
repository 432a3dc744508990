"""Built-in text to train on, shipped inside the package.

``shakespeare()`` is the first 1.5 MB (about a third) of the complete works
of Shakespeare, from the Project Gutenberg texts (public domain), plays in
alphabetical order of their short titles: the corpus of the min-char-rnn
write-up. It ships bz2-compressed (445 KB).
"""

import bz2
from importlib import resources

SHAKESPEARE = "shakespeare.txt.bz2"


def shakespeare():
    """The built-in Shakespeare corpus as a str (ASCII)."""
    data = resources.files(__package__).joinpath("data", SHAKESPEARE).read_bytes()
    return bz2.decompress(data).decode("ascii")
