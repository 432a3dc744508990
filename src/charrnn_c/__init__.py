"""charrnn-c: character-level recurrent language models with a fast C core."""

__version__ = "0.1.0.dev0"
