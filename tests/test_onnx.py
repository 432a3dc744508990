"""CharRNN.to_onnx: ONNX Runtime's logits equal ours within 1e-5 in float32, for
the three cells, with the state carried between two runs of the graph."""

import json

import numpy as np
import pytest

from charrnn_c import reference

from conftest import small

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_onnx_runtime_logits_equal_ours(cell, shakespeare, tmp_path):
    text = shakespeare[:20000]
    model = small(hidden_size=24, num_layers=2, cell=cell, seed=4, optimizer="adam",
                  dtype="float32").fit(text, iterations=40, progress=False)
    path = tmp_path / "model.onnx"
    model.to_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    spec = model.spec_
    indices = model.vocab_.encode(text[-401:]).astype(np.int64)
    chars = np.stack([indices[:-1], indices[::-1][:-1]], axis=1)        # (400, 2)
    state = np.zeros(spec.state_shape(2), dtype=np.float32)
    feeds = {"characters": chars[:150], "h0": state[0] if cell == "lstm" else state}
    if cell == "lstm":
        feeds["c0"] = state[1]
    first = session.run(None, feeds)
    feeds = {"characters": chars[150:], "h0": first[1]}                # the state carried
    if cell == "lstm":
        feeds["c0"] = first[2]
    second = session.run(None, feeds)
    logits = np.concatenate([first[0], second[0]])
    # Ours: the NumPy reference the C kernels are held to, in float32.
    ours, _ = reference.forward(spec, model.params_, chars, state)
    assert logits.shape == (400, 2, spec.vocab_size) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, ours, atol=1e-5, rtol=0)
    # And the C core's log-probabilities, from the same logits.
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = log_probs[np.arange(399), 0, indices[1:400]]
    np.testing.assert_allclose(picked, model.score_samples(text[-401:])[:399], atol=1e-5)
    # Another batch size than the export's: one stream alone.
    alone = {"characters": chars[:50, :1], "h0": np.zeros((2, 1, 24), np.float32)}
    if cell == "lstm":
        alone["c0"] = alone["h0"]
    np.testing.assert_allclose(session.run(None, alone)[0][:, 0], ours[:50, 0], atol=1e-5,
                               rtol=0)
    meta = {entry.key: entry.value for entry in onnx.load(path).metadata_props}
    assert json.loads(meta["charrnn_c"])["vocabulary"] == model.vocab_.to_dict()
