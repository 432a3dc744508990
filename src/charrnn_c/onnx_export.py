"""CharRNN.to_onnx: the model as an ONNX graph, for ONNX Runtime in other languages.

The graph is (characters, state) -> (logits, state), in float32:

    inputs     characters  (T, B) int64 symbol indices (the vocabulary's order)
               h0          (L, B, H) float32
               c0          (L, B, H) float32, the LSTM only
    outputs    logits      (T, B, V) float32, before the softmax
               h_n, c_n    the state after the last character, to feed back

T and B are free. The graph's metadata_props hold "charrnn_c": JSON with the
vocabulary (its mode and code points, which index is which character) and
the hyperparameters. It is exported from the model's torch.nn.Module
(torch_bridge), so it needs torch and onnx (imported here only).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .spec import ModelSpec
    from .vocab import Vocabulary


def _graph(module: torch.nn.Module, lstm: bool) -> torch.nn.Module:
    import torch

    class Graph(torch.nn.Module):
        """The module with its state as separate tensors (ONNX has no tuples)."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, characters: torch.Tensor, h0: torch.Tensor,
                    c0: torch.Tensor | None = None) -> Any:
            state: Any = (h0, c0) if lstm else h0
            logits, state = self.inner(characters, state)
            return (logits, *state) if lstm else (logits, state)

    return Graph()


def to_onnx(spec: ModelSpec, vocab: Vocabulary, weights: dict[str, np.ndarray],
            params: dict[str, Any], iterations: int, path: str | os.PathLike[str],
            opset: int = 17) -> None:
    """Write the model (torch_bridge.to_torch's arguments; ``iterations``: its
    training steps) to ``path`` as an ONNX graph (this module's docstring)."""
    try:
        import onnx
        import torch
    except ImportError:
        raise ImportError("to_onnx needs torch and onnx: pip install 'charrnn-c[onnx]' "
                          "(torch, onnx and onnxruntime to run the graph)") from None
    from . import torch_bridge

    lstm = spec.cell == "lstm"
    module = torch_bridge.to_torch(spec, vocab, weights, params).to(torch.float32).eval()
    characters = torch.zeros((3, 2), dtype=torch.int64)
    h0 = torch.zeros((spec.num_layers, 2, spec.hidden_size), dtype=torch.float32)
    inputs = (characters, h0, h0.clone()) if lstm else (characters, h0)
    names = ["characters", "h0"] + (["c0"] if lstm else [])
    outputs = ["logits", "h_n"] + (["c_n"] if lstm else [])
    axes = {"characters": {0: "time", 1: "batch"}, "logits": {0: "time", 1: "batch"}}
    axes.update({name: {1: "batch"} for name in names[1:] + outputs[1:]})
    target = os.fspath(path)
    # The TorchScript exporter, which maps nn.RNN, nn.GRU and nn.LSTM to ONNX's
    # RNN, GRU and LSTM operators; torch.export (dynamo=True) fails on them in
    # torch 2.13. Its warnings (deprecation, tracing, "batch_size other than 1",
    # which the state inputs answer) say nothing about this graph.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_graph(module, lstm), inputs, target, input_names=names,
                          output_names=outputs, dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
    graph = onnx.load(target)
    entry = graph.metadata_props.add()
    entry.key = "charrnn_c"
    entry.value = json.dumps({"vocabulary": vocab.to_dict(), "params": params,
                              "iterations": iterations})
    onnx.save(graph, target)
