"""charrnn-c: character-level recurrent language models with a fast C core."""

from .checkpoint import CheckpointError
from .model import CharRNN
from .vocab import UnknownSymbolError, Vocabulary

__version__ = "0.1.0.dev0"
__all__ = ["CharRNN", "CheckpointError", "UnknownSymbolError", "Vocabulary"]
