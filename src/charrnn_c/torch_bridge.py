"""CharRNN to and from PyTorch: the same weights as an nn.Module, and back.

Importing this module imports torch (``import charrnn_c`` never does); where
torch is missing, the ImportError says how to install it. ``CharRNNModule``
is defined here, at module level, so ``torch.save(module)`` can pickle it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import torch
except ImportError:
    raise ImportError("converting to and from PyTorch needs torch: pip install torch "
                      "(CPU builds: see https://pytorch.org)") from None

from .spec import DTYPES, ModelSpec
from .vocab import Vocabulary

RNN_CLASSES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class CharRNNModule(torch.nn.Module):
    """one_hot(x) -> recurrent stack -> linear: logits over the vocabulary.

    ``module(inputs, state=None)`` takes (T, B) character indices, time
    first as nn.RNN takes them (or (B, T) with ``batch_first=True``, as
    nn.RNN's own flag), feeds their one-hot vectors to ``rnn`` (nn.RNN with
    tanh, nn.GRU or nn.LSTM: PyTorch's weight_ih_l0 is ours, the one-hot
    product being a column of it), and ``head`` (nn.Linear) gives logits
    (T, B, V). It returns (logits, state), state as nn.RNN/GRU/LSTM return
    it. ``vocab`` and ``charrnn_params`` let from_torch rebuild the CharRNN.
    """

    def __init__(self, rnn: torch.nn.Module, head: torch.nn.Linear, vocab: Vocabulary,
                 params: dict[str, Any], batch_first: bool = False) -> None:
        super().__init__()
        self.rnn, self.head = rnn, head
        self.vocab, self.charrnn_params = vocab, params
        self.batch_first = batch_first

    def forward(self, inputs: torch.Tensor,
                state: Any = None) -> tuple[torch.Tensor, Any]:
        """(logits, state) for ``inputs``: (T, B) character indices, time first
        (``batch_first``: (B, T)), or (T,), one stream, whose logits are then
        (T, V). ``state`` (None: zeros) is the stack's, (L, B, H), or (h, c)
        for the LSTM, as returned by the call before: pass it back to go on."""
        if inputs.dim() not in (1, 2):
            raise ValueError(f"inputs must be (T, B) character indices"
                             f"{' (batch_first: (B, T))' if self.batch_first else ''} or (T,) "
                             f"for one stream, got shape {tuple(inputs.shape)}")
        one_stream = inputs.dim() == 1
        if one_stream:
            inputs = inputs[:, None]
        elif self.batch_first:
            inputs = inputs.T
        x = torch.nn.functional.one_hot(inputs.long(), self.head.out_features)
        out, state = self.rnn(x.to(self.head.weight.dtype), state)
        logits = self.head(out)
        if one_stream:
            return logits[:, 0], state
        return (logits.transpose(0, 1) if self.batch_first else logits), state


def to_torch(spec: ModelSpec, vocab: Vocabulary, weights: dict[str, np.ndarray],
             params: dict[str, Any]) -> CharRNNModule:
    """A CharRNNModule of ``spec`` with ``weights`` ({PyTorch name: array}, as
    CharRNN.state_dict gives) in their dtype, remembering ``vocab`` and the
    hyperparameters ``params`` (CharRNN.get_params)."""
    V, H, L = spec.vocab_size, spec.hidden_size, spec.num_layers
    dtype = TORCH_DTYPES[spec.dtype]
    dropout = params["dropout"] if L > 1 else 0.0
    rnn = RNN_CLASSES[spec.cell](V, H, num_layers=L, dropout=dropout)
    head = torch.nn.Linear(H, V)
    module = CharRNNModule(rnn.to(dtype), head.to(dtype), vocab, params)
    with torch.no_grad():
        for name, value in module.rnn.named_parameters():
            value.copy_(torch.from_numpy(weights[name]))
        module.head.weight.copy_(torch.from_numpy(weights["weight_ho"]))
        module.head.bias.copy_(torch.from_numpy(weights["bias_o"]))
    return module


def from_torch(module: torch.nn.Module, vocab: Vocabulary | None = None
               ) -> tuple[dict[str, Any], Vocabulary, dict[str, np.ndarray]]:
    """(hyperparameters, vocabulary, weights) of ``module``: one made by to_torch, or any
    module with ``rnn`` (nn.RNN with tanh, nn.GRU or nn.LSTM; one direction,
    with biases, no projections, input size len(vocab)) and ``head``
    (nn.Linear from the hidden size to len(vocab)).

    ``vocab`` (a Vocabulary) defaults to ``module.vocab``. The model's
    hyperparameters come from ``module.charrnn_params`` where it has them,
    else from the modules (dtype from the weights); the rest are CharRNN's
    defaults (CharRNN.from_torch builds the model, its optimizer afresh).
    """
    rnn, head = getattr(module, "rnn", None), getattr(module, "head", None)
    cells = {rnn_class: cell for cell, rnn_class in RNN_CLASSES.items()}
    if not (isinstance(rnn, torch.nn.RNNBase) and type(rnn) in cells
            and isinstance(head, torch.nn.Linear)):
        raise TypeError("from_torch needs a module with .rnn (nn.RNN, nn.GRU or nn.LSTM) "
                        "and .head (nn.Linear), as to_torch makes")
    cell = cells[type(rnn)]
    if cell == "rnn" and rnn.nonlinearity != "tanh":
        raise ValueError("nn.RNN must use nonlinearity='tanh'")
    if rnn.bidirectional or not rnn.bias or rnn.proj_size:
        raise ValueError("the recurrent stack must be one-directional, with biases and "
                         "no projections")
    vocab = getattr(module, "vocab", None) if vocab is None else vocab
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a Vocabulary, not {type(vocab).__name__}")
    V, H, L = len(vocab), rnn.hidden_size, rnn.num_layers
    if rnn.input_size != V or (head.in_features, head.out_features) != (H, V):
        raise ValueError(f"the module's sizes (input {rnn.input_size}, head "
                         f"{head.in_features} -> {head.out_features}) do not fit a "
                         f"vocabulary of {V} and {H} hidden units")
    weights: dict[str, np.ndarray] = {name: value.detach().cpu().numpy()
                                      for name, value in rnn.named_parameters()}
    weights["weight_ho"] = head.weight.detach().cpu().numpy()
    weights["bias_o"] = head.bias.detach().cpu().numpy()
    dtypes = {str(value.dtype) for value in weights.values()}
    if len(dtypes) != 1 or not dtypes <= set(DTYPES):
        raise ValueError(f"the weights must all be float32 or all float64, got {sorted(dtypes)}")

    params = dict(getattr(module, "charrnn_params", None) or {})
    params.update(hidden_size=H, num_layers=L, cell=cell, dtype=dtypes.pop(),
                  vocab=vocab.mode)
    if L > 1 or "dropout" not in params:     # one layer: PyTorch keeps no dropout
        params["dropout"] = float(rnn.dropout)
    return params, vocab, weights
