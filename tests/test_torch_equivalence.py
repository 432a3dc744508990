"""Our cells against PyTorch's own nn.RNN, nn.GRU and nn.LSTM, in float64:
logits, loss, every gradient (autograd's) and the final state, to 1e-10.

Skipped where torch is not installed."""

import numpy as np
import pytest

from charrnn_c import kernels, layout, reference
from conftest import random_problem

torch = pytest.importorskip("torch")

V, H, T = 11, 6, 7
MODULES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers, batch_size", [(1, 1), (2, 3)])
def test_logits_loss_and_gradients_equal_pytorch_autograd(cell, num_layers, batch_size):
    params, _, inputs, targets, h0 = random_problem(V, H, num_layers, T, batch_size,
                                                    seed=num_layers, std=0.5, cell=cell)
    named = layout.unflatten(params, V, H, num_layers, cell)

    rnn = getattr(torch.nn, MODULES[cell])(V, H, num_layers=num_layers).double()
    head = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        for name, value in rnn.named_parameters():
            value.copy_(torch.from_numpy(named[name]))
        head.weight.copy_(torch.from_numpy(named["weight_ho"]))
        head.bias.copy_(torch.from_numpy(named["bias_o"]))
    x = torch.nn.functional.one_hot(torch.from_numpy(inputs), V).double()
    state = torch.from_numpy(h0)
    out, last = rnn(x, (state[0], state[1]) if cell == "lstm" else state)
    logits = head(out)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, V), torch.from_numpy(targets).reshape(-1), reduction="sum")
    loss = loss / batch_size
    loss.backward()
    last = torch.stack(last) if cell == "lstm" else last

    ours_logits, _ = reference.forward(params, inputs, h0, cell)
    assert relative_error(ours_logits, logits.detach().numpy()) < 1e-10
    log_probs, _ = kernels.target_log_probs(params, inputs, targets, h0, cell)
    torch_log_probs = torch.log_softmax(logits, -1).detach().numpy()
    picked = torch_log_probs[np.arange(T)[:, None], np.arange(batch_size), targets]
    assert relative_error(log_probs, picked) < 1e-10

    grads = np.zeros_like(params)
    ours_loss, h_last = kernels.loss_and_grads(params, grads, inputs, targets, h0, cell)
    assert relative_error(ours_loss, loss.item()) < 1e-12
    assert relative_error(h_last, last.detach().numpy()) < 1e-10
    ours = layout.unflatten(grads, V, H, num_layers, cell)
    theirs = dict(rnn.named_parameters())
    theirs.update(weight_ho=head.weight, bias_o=head.bias)
    assert set(theirs) == set(ours)
    for name, value in theirs.items():
        assert relative_error(ours[name], value.grad.numpy()) < 1e-10, name
