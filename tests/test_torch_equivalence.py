"""Our cells against PyTorch's own nn.RNN, nn.GRU and nn.LSTM, in float64:
logits, loss, every gradient (autograd's) and the final state, to 1e-10.

Skipped where torch is not installed."""

import numpy as np
import pytest

from charrnn_c import kernels, reference
from conftest import random_problem

# Every test twice: products whole, and cut into small-matrix blocks (conftest).
pytestmark = pytest.mark.usefixtures("product_path")

torch = pytest.importorskip("torch")

V, H, T = 11, 6, 7
MODULES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers, batch_size", [(1, 1), (2, 3)])
def test_logits_loss_and_gradients_equal_pytorch_autograd(cell, num_layers, batch_size):
    spec, params, _, inputs, targets, h0 = random_problem(V, H, num_layers, T, batch_size,
                                                          seed=num_layers, std=0.5, cell=cell)
    named = spec.unflatten(params)

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

    ours_logits, _ = reference.forward(spec, params, inputs, h0)
    assert relative_error(ours_logits, logits.detach().numpy()) < 1e-10
    log_probs, _ = kernels.target_log_probs(spec, params, inputs, targets, h0)
    torch_log_probs = torch.log_softmax(logits, -1).detach().numpy()
    picked = torch_log_probs[np.arange(T)[:, None], np.arange(batch_size), targets]
    assert relative_error(log_probs, picked) < 1e-10

    grads = np.zeros_like(params)
    ours_loss, h_last = kernels.loss_and_grads(spec, params, grads, inputs, targets, h0)
    assert relative_error(ours_loss, loss.item()) < 1e-12
    assert relative_error(h_last, last.detach().numpy()) < 1e-10
    ours = spec.unflatten(grads)
    theirs = dict(rnn.named_parameters())
    theirs.update(weight_ho=head.weight, bias_o=head.bias)
    assert set(theirs) == set(ours)
    for name, value in theirs.items():
        assert relative_error(ours[name], value.grad.numpy()) < 1e-10, name


# ---- CharRNN.to_torch / CharRNN.from_torch ----

TEXT = "the quick brown fox jumps over the lazy dog; " * 40


@pytest.fixture(scope="module", params=["rnn", "gru", "lstm"])
def fitted(request):
    from charrnn_c import CharRNN

    return CharRNN(hidden_size=12, num_layers=2, cell=request.param, dtype="float64",
                   batch_size=2, seq_length=10, dropout=0.1, seed=0).fit(
        TEXT, iterations=30, progress=False)


def test_to_torch_computes_our_logits_and_state(fitted):
    module = fitted.to_torch()
    assert isinstance(module, torch.nn.Module)
    inputs = fitted.vocab_.encode(TEXT[:40]).astype(np.int64).reshape(20, 2)
    state = np.zeros(fitted.spec_.state_shape(2))
    assert state.shape == ((2, 2, 2, 12) if fitted.cell == "lstm" else (2, 2, 12))
    logits, last = module.eval()(torch.from_numpy(inputs))
    ours, _ = reference.forward(fitted.spec_, fitted.params_, inputs, state)
    assert relative_error(logits.detach().numpy(), ours) < 1e-12
    _, ours_last = kernels.sequence_loss(fitted.spec_, fitted.params_, inputs[:-1],
                                         inputs[1:], state)
    _, last = module(torch.from_numpy(inputs[:-1]))
    last = torch.stack(last) if fitted.cell == "lstm" else last
    assert relative_error(last.detach().numpy(), ours_last) < 1e-12


def test_to_torch_and_back_is_unchanged(fitted):
    from charrnn_c import CharRNN

    back = CharRNN.from_torch(fitted.to_torch())
    np.testing.assert_array_equal(back.params_, fitted.params_)
    assert back.vocab_ == fitted.vocab_
    assert back.get_params() == fitted.get_params()
    assert back.params_.dtype == fitted.params_.dtype
    assert back.sample(80, prime="the", seed=4) == fitted.sample(80, prime="the", seed=4)
    assert back.evaluate(TEXT[:300]) == fitted.evaluate(TEXT[:300])


def test_from_torch_takes_any_module_with_rnn_and_head(fitted):
    from charrnn_c import CharRNN

    holder = torch.nn.Module()
    holder.rnn = torch.nn.GRU(len(fitted.vocab_), 5, num_layers=1)
    holder.head = torch.nn.Linear(5, len(fitted.vocab_))
    model = CharRNN.from_torch(holder, fitted.vocab_)
    assert (model.cell, model.hidden_size, model.num_layers, model.dtype) == (
        "gru", 5, 1, "float32")
    np.testing.assert_array_equal(model.state_dict()["weight_hh_l0"],
                                  holder.rnn.weight_hh_l0.detach().numpy())
    np.testing.assert_array_equal(model.state_dict()["weight_ho"],
                                  holder.head.weight.detach().numpy())
    assert len(model.sample(20, seed=0)) == 20

    holder.rnn = torch.nn.GRU(len(fitted.vocab_), 5, bidirectional=True)
    with pytest.raises(ValueError, match="one-directional"):
        CharRNN.from_torch(holder, fitted.vocab_)
    holder.rnn = torch.nn.GRU(len(fitted.vocab_) + 1, 5)
    with pytest.raises(ValueError, match="do not fit a vocabulary"):
        CharRNN.from_torch(holder, fitted.vocab_)
    with pytest.raises(TypeError, match=r"\.rnn \(nn.RNN, nn.GRU or nn.LSTM\)"):
        CharRNN.from_torch(torch.nn.Linear(2, 2), fitted.vocab_)
