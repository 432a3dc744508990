import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from charrnn_c import layout

if os.environ.get("CHARRNN_SANITIZE") == "1":
    # Under .ci/sanitizers.sh only our extension is instrumented; C++ libraries
    # such as torch and matplotlib throw exceptions through ASan's interceptor
    # and abort. Hiding them makes the tests that need them skip.
    sys.modules.update(torch=None, matplotlib=None)

# HYPOTHESIS_PROFILE=long runs every property with 50 times more examples.
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "shakespeare.txt"


@pytest.fixture(scope="session")
def shakespeare():
    """The corpus, from ../shared beside the repository (skipped where absent)."""
    if not SHAKESPEARE.exists():
        pytest.skip(f"corpus not found at {SHAKESPEARE}")
    return SHAKESPEARE.read_text(encoding="ascii")


def random_problem(vocab_size, hidden_size, num_layers, seq_length, batch_size,
                   seed=0, std=0.1, cell="rnn"):
    """Random weights, indices and carried state (h, and c for the LSTM) for
    one training step."""
    rng = np.random.default_rng(seed)
    params = layout.init_params(vocab_size, hidden_size, num_layers, seed=seed, std=std,
                                cell=cell)
    n = params.size
    # Non-zero biases, so their gradients and updates are exercised too.
    params += rng.uniform(-0.05, 0.05, n) * (params == 0)
    inputs = rng.integers(0, vocab_size, (seq_length, batch_size))
    targets = rng.integers(0, vocab_size, (seq_length, batch_size))
    h0 = np.tanh(rng.standard_normal(layout.state_shape(cell, num_layers, batch_size,
                                                        hidden_size)))
    mem = rng.uniform(0.0, 0.01, n)
    return params, mem, inputs, targets, h0
