import os
import sys

import numpy as np
import pytest
from hypothesis import settings

from typing import NamedTuple

from threadpoolctl import threadpool_limits

from charrnn_c import CharRNN, _core, datasets
from charrnn_c.spec import ModelSpec

# The small recipe most tests were written for (CharRNN's defaults before they
# became the 2 x 256 GRU): one tanh layer over one stream of 25 characters,
# Adagrad at a constant rate without warmup, no norm clipping, N(0, std^2)
# recurrent weights. Tests give the sizes they need on top.
SMALL = dict(num_layers=1, cell="rnn", seq_length=25, batch_size=1, optimizer="adagrad",
             clip_norm=None, recurrent_init="normal", lr_schedule="constant", warmup=0,
             min_lr_ratio=0.0)
# SMALL as `charrnn train`'s flags (--clip-norm 0: no norm clipping).
SMALL_FLAGS = [item for name, value in SMALL.items()
               for item in (f"--{name.replace('_', '-')}", 0 if value is None else value)]


def small(**params):
    """A CharRNN of the SMALL recipe, ``params`` given winning."""
    return CharRNN(**{**SMALL, **params})

if os.environ.get("CHARRNN_SANITIZE") == "1":
    # Under .ci/sanitizers.sh only our extension is instrumented; C++ libraries
    # such as torch and matplotlib throw exceptions through ASan's interceptor
    # and abort. Hiding them makes the tests that need them skip.
    sys.modules.update(torch=None, matplotlib=None)

# HYPOTHESIS_PROFILE=long runs every property with 50 times more examples.
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="session")
def encoded_text_cache(tmp_path_factory):
    """Files encoded for training (corpus.py) go to a scratch cache, not the
    user's ~/.cache; child processes inherit it through the environment."""
    previous = os.environ.get("CHARRNN_C_CACHE_DIR")
    os.environ["CHARRNN_C_CACHE_DIR"] = str(tmp_path_factory.mktemp("encoded-text-cache"))
    yield
    if previous is None:
        del os.environ["CHARRNN_C_CACHE_DIR"]
    else:
        os.environ["CHARRNN_C_CACHE_DIR"] = previous


# Small-matrix limits (csrc/blas.h) under which the kernel tests' tiny
# products are cut too: the forward's (4, 16) x (16, 3 * 16) goes in column
# blocks 4 wide, each summed over 4 slices of K, and so do the backward's.
TINY_SMALL_GEMM_LIMITS = dict(volume=64, area=16, grain=2)


@pytest.fixture(params=["whole", "blocks"])
def product_path(request):
    """Run the test with few-row products sent to BLAS whole, then cut into
    blocks for OpenBLAS's small-matrix kernels (csrc/blas.h), whatever this
    machine's BLAS would choose: production takes the blocks only with
    OpenBLAS's SkylakeX-family kernels, so without this each machine would
    test one path. The blocks run on any BLAS (slower without the small
    kernels, never wrong), with BLAS on one thread, as they do in production."""
    was_on = _core.small_gemm_blocks()
    try:
        with threadpool_limits(limits=1):
            _core.set_small_gemm_blocks(request.param == "blocks", **TINY_SMALL_GEMM_LIMITS)
            if request.param == "blocks" and _core.small_gemm_plan(True, 4, 48, 16) is None:
                pytest.skip("the small-matrix blocks cannot be switched on here: "
                            f"BLAS runs {_core.blas_threads()} threads inside our calls")
            yield request.param
    finally:
        _core.set_small_gemm_blocks(was_on)


@pytest.fixture(scope="session")
def shakespeare():
    """The corpus the package ships, so the installed wheel runs every test anywhere."""
    return datasets.shakespeare()


class Problem(NamedTuple):
    """One training step's inputs: the spec, float64 weights, an Adagrad memory,
    (T, B) indices and the carried state."""

    spec: ModelSpec
    params: np.ndarray
    mem: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray
    h0: np.ndarray


def random_problem(vocab_size, hidden_size, num_layers, seq_length, batch_size,
                   seed=0, std=0.1, cell="rnn"):
    """Random weights, indices and carried state (h, and c for the LSTM) for
    one training step, in float64."""
    rng = np.random.default_rng(seed)
    spec = ModelSpec(vocab_size, hidden_size, num_layers, cell, "float64")
    params = spec.init_params(seed=seed, std=std)
    n = params.size
    # Non-zero biases, so their gradients and updates are exercised too.
    params += rng.uniform(-0.05, 0.05, n) * (params == 0)
    inputs = rng.integers(0, vocab_size, (seq_length, batch_size))
    targets = rng.integers(0, vocab_size, (seq_length, batch_size))
    h0 = np.tanh(rng.standard_normal(spec.state_shape(batch_size)))
    mem = rng.uniform(0.0, 0.01, n)
    return Problem(spec, params, mem, inputs, targets, h0)
