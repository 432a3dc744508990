"""The NumPy reference: the specification every C kernel is tested against.

This is the min-char-rnn ``lossFun`` and Adagrad loop, grown to a stack of
layers and a batch of parallel streams, written to be read. With
``num_layers=1`` and ``batch_size=1`` it computes exactly what the write-up
computes; its names map to ours like this:

    write-up        here (PyTorch nn.RNN names)
    --------        ---------------------------
    Wxh             weight_ih_l0                (H, V)
    Whh             weight_hh_l0                (H, H)
    bh              bias_ih_l0 + bias_hh_l0     (H,)
    Why             weight_ho                   (V, H)
    by              bias_o                      (V,)
    hprev           h0[0, 0]                    (H,)
    xs[t]           one-hot of inputs[t, b]     (the gather W_ih[:, x] is that matmul)
    mWxh, ...       mem, laid out like params
    loss            the loss summed over time, averaged over the B streams

Everything is computed in the dtype of ``params``; the tests run it in
float64, where it is the specification.

Shapes: ``inputs`` and ``targets`` are (T, B) character indices, time-major
(PyTorch's default); ``h0`` and the returned ``h_last`` are (L, B, H);
``params``, ``grads`` and ``mem`` are flat buffers laid out by ``layout``.
"""

import numpy as np

from . import layout


def model_sizes(params, h0):
    """(V, H, L) of a flat parameter buffer and its (L, B, H) hidden state."""
    num_layers, _, hidden_size = h0.shape
    vocab_size = layout.vocab_size_from(params.size, hidden_size, num_layers)
    if vocab_size is None:
        raise ValueError(
            f"params has {params.size} values, which fits no vocabulary size "
            f"for {num_layers} layer(s) of {hidden_size} hidden units")
    return vocab_size, hidden_size, num_layers


def forward(params, inputs, h0):
    """Run the stack over T steps: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    Returns the logits (T, B, V) of the top layer and, per layer, the hidden
    states hs[layer] of shape (T + 1, B, H) with hs[layer][0] = h0[layer].
    """
    V, H, L = model_sizes(params, h0)
    p = layout.unflatten(params, V, H, L)
    T, B = inputs.shape

    hs = []
    layer_input = None
    for layer in range(L):
        W_ih, W_hh = p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]
        bias = p[f"bias_ih_l{layer}"] + p[f"bias_hh_l{layer}"]
        h = np.empty((T + 1, B, H), dtype=params.dtype)
        h[0] = h0[layer]
        for t in range(T):
            if layer == 0:
                x_projected = W_ih[:, inputs[t]].T      # W_ih @ one_hot(x)
            else:
                x_projected = layer_input[t] @ W_ih.T
            h[t + 1] = np.tanh(x_projected + bias + h[t] @ W_hh.T)
        hs.append(h)
        layer_input = h[1:]

    logits = hs[-1][1:] @ p["weight_ho"].T + p["bias_o"]
    return logits, hs


def softmax(logits):
    """Probabilities along the last axis, max-subtracted so exp cannot overflow."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def loss_and_grads(params, grads, inputs, targets, h0):
    """Cross-entropy summed over time and averaged over streams; BPTT.

    Gradients are added (+=) into ``grads``, as in the C core; zero it first
    for a fresh gradient. Returns (loss, h_last).
    """
    V, H, L = model_sizes(params, h0)
    p = layout.unflatten(params, V, H, L)
    g = layout.unflatten(grads, V, H, L)
    T, B = inputs.shape

    logits, hs = forward(params, inputs, h0)
    probs = softmax(logits)
    time_index, stream_index = np.indices((T, B))
    loss = -np.log(probs[time_index, stream_index, targets]).sum() / B

    # d loss / d logits = (probs - one_hot(target)) / B
    dlogits = probs.copy()
    dlogits[time_index, stream_index, targets] -= 1
    dlogits /= B

    top = hs[-1][1:]                                   # (T, B, H)
    g["weight_ho"] += np.einsum("tbv,tbh->vh", dlogits, top)
    g["bias_o"] += dlogits.sum(axis=(0, 1))
    dh_from_above = dlogits @ p["weight_ho"]           # (T, B, H)

    for layer in reversed(range(L)):
        W_ih, W_hh = p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]
        h = hs[layer]
        dh_next = np.zeros((B, H), dtype=params.dtype)  # nothing flows back from beyond T
        dpre = np.empty((T, B, H), dtype=params.dtype)  # d loss / d (pre-activation)
        for t in reversed(range(T)):
            dh = dh_from_above[t] + dh_next
            dpre[t] = (1 - h[t + 1] ** 2) * dh         # backprop through tanh
            dh_next = dpre[t] @ W_hh
            g[f"weight_hh_l{layer}"] += dpre[t].T @ h[t]
        g[f"bias_ih_l{layer}"] += dpre.sum(axis=(0, 1))
        g[f"bias_hh_l{layer}"] += dpre.sum(axis=(0, 1))
        if layer == 0:
            for t in range(T):
                np.add.at(g["weight_ih_l0"].T, inputs[t], dpre[t])
        else:
            below = hs[layer - 1][1:]
            g[f"weight_ih_l{layer}"] += np.einsum("tbh,tbi->hi", dpre, below)
            dh_from_above = dpre @ W_ih

    h_last = np.stack([h[-1] for h in hs])
    return loss, h_last


def clip_gradients(grads, clip):
    """Elementwise clip to [-clip, clip], in place (the write-up's np.clip)."""
    np.clip(grads, -clip, clip, out=grads)


def adagrad_update(params, grads, mem, learning_rate):
    """mem += g*g; p -= lr * g / sqrt(mem + 1e-8), in place."""
    mem += grads * grads
    params -= learning_rate * grads / np.sqrt(mem + 1e-8)


def train_step(params, grads, mem, inputs, targets, h0, learning_rate, clip=5.0):
    """One step of the write-up's loop: fresh gradients, clip, Adagrad.

    ``params``, ``grads`` and ``mem`` are updated in place; ``grads`` ends
    holding the clipped gradient. Returns (loss, h_last).
    """
    grads[:] = 0
    loss, h_last = loss_and_grads(params, grads, inputs, targets, h0)
    clip_gradients(grads, clip)
    adagrad_update(params, grads, mem, learning_rate)
    return loss, h_last


def sequence_loss(params, inputs, targets, h0):
    """Forward only: (loss, h_last), for evaluation."""
    logits, hs = forward(params, inputs, h0)
    T, B = inputs.shape
    time_index, stream_index = np.indices((T, B))
    loss = -np.log(softmax(logits)[time_index, stream_index, targets]).sum() / B
    return loss, np.stack([h[-1] for h in hs])


def adam_update(params, grads, m, v, learning_rate, beta1, beta2, eps, step):
    """torch.optim.Adam's step t (from 1), without weight decay, in place."""
    m += (1 - beta1) * (grads - m)
    v *= beta2
    v += (1 - beta2) * grads * grads
    step_size = learning_rate / (1 - beta1 ** step)
    params -= step_size * (m / (np.sqrt(v) / np.sqrt(1 - beta2 ** step) + eps))


def rmsprop_update(params, grads, v, learning_rate, alpha, eps):
    """torch.optim.RMSprop's step (not centered, no momentum), in place."""
    v *= alpha
    v += (1 - alpha) * grads * grads
    params -= learning_rate * (grads / (np.sqrt(v) + eps))


def step(params, x, h):
    """One character through the stack, batch 1: returns (logits (V,), h (L, H))."""
    logits, hs = forward(params, np.array([[x]]), h[:, None, :])
    return logits[0, 0], np.stack([layer[-1, 0] for layer in hs])


def sample(params, h, prime, n, temperature, rng):
    """The write-up's sampling loop: feed prime, then draw n characters.

    Each draw is from softmax(logits / temperature) with ``rng`` (a NumPy
    Generator); temperature 0 takes the argmax. Returns (indices, h).
    """
    for x in prime:
        logits, h = step(params, x, h)
    out = []
    while len(out) < n:
        if temperature == 0:
            x = int(np.argmax(logits))
        else:
            x = int(rng.choice(logits.size, p=softmax(logits / temperature)))
        out.append(x)
        if len(out) < n:
            logits, h = step(params, x, h)
    return np.array(out, dtype=np.int32), h
