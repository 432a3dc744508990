"""charrnn_c.torch_bridge as a module: what torch.save keeps, and who imports torch.

The conversions' numbers (logits, states, round trips) are in
test_torch_equivalence.py."""

import subprocess
import sys

import numpy as np
import pytest

from charrnn_c import CharRNN

torch = pytest.importorskip("torch")

TEXT = "the quick brown fox jumps over the lazy dog; " * 40


def run(script):
    """``script`` in a fresh interpreter; its stdout, stripped."""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_module_saved_with_torch_save_loads_and_computes_the_same(tmp_path, cell):
    model = CharRNN(hidden_size=12, num_layers=2, cell=cell, dtype="float64", seed=0).fit(
        TEXT, iterations=10, progress=False)
    module = model.to_torch()
    path = tmp_path / "module.pt"
    torch.save(module, path)
    loaded = torch.load(path, weights_only=False)

    from charrnn_c.torch_bridge import CharRNNModule

    assert type(loaded) is CharRNNModule
    inputs = torch.from_numpy(model.vocab_.encode(TEXT[:60]).astype(np.int64).reshape(30, 2))
    with torch.no_grad():
        logits, state = module.eval()(inputs)
        loaded_logits, loaded_state = loaded.eval()(inputs)
    assert logits.dtype == loaded_logits.dtype == torch.float64
    np.testing.assert_array_equal(loaded_logits.numpy(), logits.numpy())
    states = (state, loaded_state) if cell == "rnn" else (torch.stack(state),
                                                          torch.stack(loaded_state))
    np.testing.assert_array_equal(states[1].numpy(), states[0].numpy())
    # It still carries what from_torch needs to rebuild the CharRNN.
    assert loaded.vocab == model.vocab_ and loaded.charrnn_params == model.get_params()
    back = CharRNN.from_torch(loaded)
    np.testing.assert_array_equal(back.params_, model.params_)


def test_importing_or_using_charrnn_c_without_torch_does_not_import_torch():
    out = run("""
import sys
import charrnn_c
from charrnn_c import CharRNN, checkpoint, checks, kernels, optimizers, spec, streams, training
# A small tanh RNN over one stream of 25 characters: the text is 800 long.
model = CharRNN(hidden_size=8, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
                seed=0).fit("abcdefgh" * 100, iterations=3, progress=False)
model.sample(10, seed=0)
model.evaluate("abcdefgh")
print(sorted(name for name in sys.modules if name == "torch" or name.startswith("torch.")))
""")
    assert out == "[]"


def test_torch_bridge_without_torch_says_how_to_install_it():
    out = run("""
import sys
sys.modules["torch"] = None        # import torch raises ImportError
from charrnn_c import CharRNN
for attempt in ("import charrnn_c.torch_bridge",
                "CharRNN(hidden_size=4, num_layers=1, cell='rnn', seq_length=25, batch_size=1,"
                " seed=0).fit('abcdefgh' * 50, iterations=1, progress=False).to_torch()",
                "CharRNN.from_torch(object())"):
    try:
        exec(attempt)
    except ImportError as error:
        print(type(error).__name__, "|", error)
    else:
        print("no error")
""")
    lines = out.splitlines()
    assert len(lines) == 3
    for line in lines:
        kind, message = line.split(" | ")
        assert kind == "ImportError"
        assert "pip install torch" in message


def test_the_module_takes_one_stream_and_batch_first_inputs_as_documented():
    model = CharRNN(hidden_size=8, num_layers=2, batch_size=2, seed=0).fit(
        "hello world, hello there\n" * 40, iterations=3, progress=False)
    module = model.to_torch()
    x = torch.from_numpy(model.vocab_.encode("hello there")).long()
    one, _ = module(x)                          # (T,): one stream
    time_first, _ = module(x[:, None])          # (T, 1)
    assert one.shape == (len(x), len(model.vocab_))
    torch.testing.assert_close(one, time_first[:, 0])
    module.batch_first = True
    batch_first, _ = module(x[None, :])         # (1, T): one stream of T characters
    torch.testing.assert_close(batch_first[0], one)
    with pytest.raises(ValueError, match=r"\(T, B\) character indices.*got shape \(1, 1, 11\)"):
        module(x[None, None])
