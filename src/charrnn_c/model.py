"""CharRNN: the character-level language model users meet first.

It follows scikit-learn's conventions: ``__init__`` only stores its
arguments, ``fit`` validates them and returns ``self``, and what was learned
ends in an underscore (``vocab_``, ``history_``). Everything per character
runs in C: training steps, evaluation and sampling.
"""

import hashlib
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from . import checkpoint as checkpoint_io
from . import kernels, layout
from .data import Streams, split_validation
from .optimizers import OPTIMIZERS
from .vocab import Vocabulary

CELLS = ("rnn", "gru", "lstm")
DTYPES = ("float32", "float64")
# Validation loss is measured on at most this many held-out characters, so
# that measuring it costs little next to training.
VALIDATION_CHARACTERS = 20_000
# By default fit records history (and measures validation loss) each time
# this many more characters have been trained on.
RECORD_CHARACTERS = 250_000
# Evaluation runs the text through the stack this many characters at a time
# (an LSTM of 2 x 512 keeps about 17 MB of float32 activations per 1,000).
EVALUATION_CHUNK = 2_000
# The dropout masks of step n come from SeedSequence(seed_, spawn_key=(DROPOUT_STREAM, n)):
# a function of the seed and the step alone, so resuming needs no extra state.
DROPOUT_STREAM = 1


def read_text(source, mode):
    """The text to train on: a str or bytes as given, or the file at a path.

    A plain str is text, never a path: pass pathlib.Path (or any
    os.PathLike) to read a file, as UTF-8 for vocab="chars", raw for "bytes".
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
        if mode == "bytes":
            return path.read_bytes()
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte "
                             f"{error.start}); train on its bytes with vocab='bytes'") from None
    if isinstance(source, (str, bytes)):
        return source
    raise TypeError(f"text must be a str, bytes or a path, not {type(source).__name__}")


class CharRNN:
    """A character-level recurrent language model.

    Per layer h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (cell="rnn"),
    or PyTorch's nn.GRU or nn.LSTM equations; the top layer's h_t gives
    logits W_ho h_t + b_o over the vocabulary. Training minimizes the
    cross-entropy summed over ``seq_length`` steps and averaged over
    ``batch_size`` streams, by backpropagation through time, gradients
    clipped to [-clip, clip].

    Parameters
    ----------
    hidden_size, num_layers : sizes of the recurrent stack.
    cell : "rnn" (vanilla tanh), "gru" or "lstm", as PyTorch's nn.RNN, nn.GRU
        and nn.LSTM (gate order and both bias vectors included). The LSTM's
        forget-gate bias starts at 1 (in bias_ih; bias_hh's is 0), so it
        starts out remembering; it carries h and c from step to step.
    dropout : between layers, in training only: each layer's output is
        zeroed with this probability (and the rest scaled by 1 / (1 - p))
        on its way to the layer above; masks come from the seed.
    seq_length : characters per stream per step (BPTT length).
    batch_size : parallel streams, each carrying its hidden state.
    learning_rate : None for the optimizer's usual one (0.1 for Adagrad,
        2e-3 for Adam and RMSprop).
    optimizer : "adagrad" (the write-up's), "adam" or "rmsprop".
    clip : gradients are clipped elementwise to [-clip, clip].
    dtype : "float32" or "float64".
    val_fraction : the tail of the text held out to measure validation loss.
    vocab : "chars" (Unicode code points) or "bytes".
    max_vocab_size : refuse vocabularies larger than this.
    init_std : weights start as N(0, init_std^2), biases at 0. None: 0.01
        for one layer (the write-up's), else 1 / sqrt(hidden_size), which
        keeps a layer's input and output about as strong: at 0.01 the
        signal through two tanh layers is too faint to learn from (a 2 x 256
        RNN stays at the unigram loss, in PyTorch too), and at PyTorch's
        default spread, 1 / sqrt(3 hidden_size), a 3 x 256 RNN still does.
    seed : int for repeatable training, None for fresh randomness.
    """

    def __init__(self, hidden_size=100, num_layers=1, cell="rnn", seq_length=25,
                 batch_size=1, learning_rate=None, optimizer="adagrad", clip=5.0,
                 dtype="float32", val_fraction=0.05, vocab="chars",
                 max_vocab_size=10_000, init_std=None, seed=None, dropout=0.0):
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = dropout
        self.seq_length = seq_length
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.clip = clip
        self.dtype = dtype
        self.val_fraction = val_fraction
        self.vocab = vocab
        self.max_vocab_size = max_vocab_size
        self.init_std = init_std
        self.seed = seed

    # ------------------------------------------------------------------
    # Parameters, as scikit-learn's get_params / set_params

    PARAM_NAMES = ("hidden_size", "num_layers", "cell", "seq_length", "batch_size",
                   "learning_rate", "optimizer", "clip", "dtype", "val_fraction", "vocab",
                   "max_vocab_size", "init_std", "seed", "dropout")

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self.PARAM_NAMES}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self.PARAM_NAMES:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if v != CharRNN().get_params()[k]]
        return f"CharRNN({', '.join(changed)})"

    def _validate_params(self):
        def positive_int(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        for name in ("hidden_size", "num_layers", "seq_length", "batch_size", "max_vocab_size"):
            positive_int(name)
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        dropout = self.dropout
        if not (isinstance(dropout, (int, float)) and not isinstance(dropout, bool)
                and 0 <= dropout < 1):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.vocab not in ("chars", "bytes"):
            raise ValueError(f"vocab must be 'chars' or 'bytes', got {self.vocab!r}")
        def positive(value):
            return isinstance(value, (int, float)) and math.isfinite(value) and value > 0

        if not positive(self.clip):
            raise ValueError(f"clip must be a positive number, got {self.clip!r}")
        if self.init_std is not None and not positive(self.init_std):
            raise ValueError(f"init_std must be a positive number or None, got {self.init_std!r}")
        rate = self.learning_rate
        if rate is not None and not positive(rate):
            raise ValueError(f"learning_rate must be a positive number or None, got {rate!r}")
        fraction = self.val_fraction
        if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
            raise ValueError(f"val_fraction must be in [0, 1), got {fraction!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")

    # ------------------------------------------------------------------
    # Training

    def _check_fitted(self):
        if not hasattr(self, "vocab_"):
            raise RuntimeError("this CharRNN is not fitted yet: call fit() or CharRNN.load()")
        trainer = self.__dict__.get("_training_thread")
        if trainer is not None and trainer is not threading.current_thread():
            raise RuntimeError(
                "this CharRNN is being trained in another thread, and using it meanwhile "
                "would race with the updates: give each thread its own model "
                "(copy.deepcopy or pickle makes one)")

    def _initialize(self, text):
        """Fresh vocabulary, weights, optimizer and training position."""
        self._validate_params()
        vocab = Vocabulary.from_text(text, mode=self.vocab, max_size=self.max_vocab_size)
        self._start(vocab, weights=None)

    def _start(self, vocab, weights):
        """Fitted state from step 0 for ``vocab``: the seed resolved, ``weights``
        ({name: array}) or fresh ones, a fresh optimizer, zero hidden state."""
        self.vocab_ = vocab
        V, H, L = len(vocab), self.hidden_size, self.num_layers
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy
                                                            % 2**63)
        self.seed_ = seed
        std = self.init_std
        if std is None:
            std = 0.01 if L == 1 else 1 / math.sqrt(H)
        self.params_ = layout.init_params(V, H, L, seed=seed, std=std,
                                          dtype=np.dtype(self.dtype), cell=self.cell)
        if weights is not None:
            self.load_state_dict(weights)
        optimizer = OPTIMIZERS[self.optimizer]
        rate = self.learning_rate or optimizer.default_learning_rate
        self.optimizer_ = optimizer(self.params_.size, self.params_.dtype, rate)
        self.hidden_ = np.zeros(layout.state_shape(self.cell, L, self.batch_size, H),
                                dtype=self.params_.dtype)
        self.n_iter_ = 0
        self.history_ = []
        self._stream_state = None
        self._smooth_loss = math.log(V)        # nats per character at iteration 0
        self._elapsed = 0.0
        self._text_fingerprint = None

    def fit(self, text, iterations=None, epochs=None, max_time=None, callbacks=(),
            progress=None, checkpoint=None, checkpoint_every=1000, eval_every=None,
            resume=False):
        """Train on ``text`` (a str, bytes, or a path as pathlib.Path).

        Stops after ``iterations`` steps, ``epochs`` passes or ``max_time``
        seconds, whichever comes first (one epoch when none is given), or on
        Ctrl-C, after the step under way: the model is always consistent.
        ``resume=True`` continues a fitted or loaded model exactly where it
        stopped, on the same text; otherwise training starts afresh.

        Every ``eval_every`` iterations (by default, every 250,000 characters
        trained, so that measuring costs a few percent) a record goes to
        ``history_`` and to
        each callback: iteration, characters seen, smoothed training loss and
        validation loss in nats per character, and seconds elapsed. (The
        write-up prints a smoothed loss summed over its 25-character
        sequences: 44.4 there is 44.4 / 25 = 1.78 nats per character here.)
        Validation uses the first 20,000 held-out characters. A callback
        that returns False stops training. With ``checkpoint`` (a path) the
        model is saved every ``checkpoint_every`` iterations and at the end.
        Returns self.

        One model trains in one thread at a time: fit, or any use of the
        model from another thread while fit runs, raises RuntimeError.
        Callbacks, in the training thread, may use the model.
        """
        lock = self.__dict__.setdefault("_training_lock", threading.Lock())
        if not lock.acquire(blocking=False):
            raise RuntimeError("this CharRNN is already being trained in another thread")
        self._training_thread = threading.current_thread()
        try:
            return self._fit(text, iterations, epochs, max_time, callbacks, progress,
                             checkpoint, checkpoint_every, eval_every, resume)
        finally:
            self._training_thread = None
            lock.release()

    def _fit(self, text, iterations, epochs, max_time, callbacks, progress, checkpoint,
             checkpoint_every, eval_every, resume):
        if eval_every is None:
            eval_every = max(1, RECORD_CHARACTERS // (self.seq_length * self.batch_size))
        text = read_text(text, self.vocab)
        if resume:
            self._check_fitted()
            self._validate_params()
        else:
            self._initialize(text)
        data = self.vocab_.encode(text)
        fingerprint = _fingerprint(data)
        if resume and self._text_fingerprint not in (None, fingerprint):
            raise ValueError("resume=True needs the text this model was trained on; "
                             "for new text, fit with resume=False")
        self._text_fingerprint = fingerprint
        train, val = split_validation(data, self.val_fraction)
        try:
            streams = Streams(train, self.batch_size, self.seq_length)
        except ValueError as error:
            hint = (" (a str is the text itself: pass pathlib.Path to read a file)"
                    if isinstance(text, str) and len(text) < 260 else "")
            raise ValueError(f"the training text is too short: {error}{hint}") from None
        if self._stream_state is not None:
            streams.restore(self._stream_state)
        val = val[:VALIDATION_CHARACTERS]

        limits = _Limits(iterations, epochs, max_time, streams.batches_per_epoch, self.n_iter_)
        stopper = _InterruptFlag()
        bar = _progress_bar(progress, limits.total_iterations(),
                            characters_per_step=self.seq_length * self.batch_size)
        grads = np.zeros_like(self.params_)
        started = time.perf_counter() - self._elapsed
        record = None
        self.stop_reason_ = None
        with stopper:
            while True:
                reason = limits.reached(self.n_iter_, time.perf_counter())
                reason = reason or ("interrupted" if stopper.raised else None)
                if reason:
                    self.stop_reason_ = reason
                    break
                loss = self._train_step(streams, grads)
                self._smooth_loss = 0.999 * self._smooth_loss + 0.001 * loss
                self._elapsed = time.perf_counter() - started
                if bar is not None:
                    bar.update(1)
                if self.n_iter_ % eval_every == 0:
                    record = self._record(streams, val)
                    if bar is not None:
                        bar.set_postfix(it=f"{self.n_iter_:,}",
                                        train=f"{record['train_loss']:.3f}",
                                        val=_format_loss(record["val_loss"]))
                    if any(callback(record) is False for callback in callbacks):
                        self.stop_reason_ = "callback"
                        break
                if checkpoint is not None and self.n_iter_ % checkpoint_every == 0:
                    self.save(checkpoint)
        if bar is not None:
            bar.close()
        if record is None or record["iteration"] != self.n_iter_:
            self._record(streams, val)
        if checkpoint is not None:
            self.save(checkpoint)
        return self

    def _train_step(self, streams, grads):
        """One step: forward, BPTT, clip, update. Returns nats per character."""
        inputs, targets, reset = streams.next_batch()
        if reset:
            self.hidden_[:] = 0
        rng = None
        if self.dropout > 0:
            rng = np.random.default_rng(np.random.SeedSequence(
                self.seed_, spawn_key=(DROPOUT_STREAM, self.n_iter_)))
        # A loss that is not finite updates nothing (Optimizer.train_step).
        loss, hidden = self.optimizer_.train_step(self.params_, grads, inputs, targets,
                                                  self.hidden_, self.clip, self.cell,
                                                  self.dropout, rng)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss} at iteration {self.n_iter_ + 1}; the model "
                f"is left as it was after iteration {self.n_iter_} (try a lower learning_rate)")
        self.hidden_ = hidden
        self.n_iter_ += 1
        self._stream_state = streams.state()
        return loss / self.seq_length

    def _record(self, streams, val):
        record = {
            "iteration": self.n_iter_,
            "characters": self.n_iter_ * self.seq_length * self.batch_size,
            "epoch": streams.epoch,
            "train_loss": self._smooth_loss,
            "val_loss": float(self._mean_loss(val)) if len(val) > 1 else None,
            "seconds": self._elapsed,
        }
        self.history_.append(record)
        return record

    # ------------------------------------------------------------------
    # Evaluation

    def _mean_loss(self, data):
        return -self._log_probs(data).mean()

    def _log_probs(self, data):
        """log p(data[i + 1] | data[:i + 1]) for every i, from a zero state."""
        h = np.zeros(layout.state_shape(self.cell, self.num_layers, 1, self.hidden_size),
                     dtype=self.params_.dtype)
        pieces = []
        for start in range(0, len(data) - 1, EVALUATION_CHUNK):
            chunk = data[start:start + EVALUATION_CHUNK + 1].astype(np.int32)
            log_probs, h = kernels.target_log_probs(self.params_, chunk[:-1, None],
                                                    chunk[1:, None], h, self.cell)
            pieces.append(log_probs[:, 0])
        return np.concatenate(pieces) if pieces else np.zeros(0)

    def _encode_for_scoring(self, text, unknown):
        self._check_fitted()
        if isinstance(text, os.PathLike):
            text = read_text(text, self.vocab_.mode)
        data = self.vocab_.encode(text, unknown=unknown)
        if len(data) < 2:
            raise ValueError("scoring needs at least two characters (the first is only context)")
        return data

    def score(self, text, unknown="error"):
        """Natural-log probability of each character given those before it.

        Returns a float64 array of len(text) - 1 values (the first character
        is context only). unknown="skip" drops characters outside the
        vocabulary first; "error" raises naming them."""
        return self._log_probs(self._encode_for_scoring(text, unknown))

    def evaluate(self, text, unknown="error"):
        """Mean loss on ``text``: nats and bits per character, and perplexity."""
        log_probs = self._log_probs(self._encode_for_scoring(text, unknown))
        nats = float(-log_probs.mean())
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
                "perplexity": math.exp(nats), "characters": int(log_probs.size)}

    # ------------------------------------------------------------------
    # Sampling

    def _prime_indices(self, prime):
        if prime is None or len(prime) == 0:
            # No prime: start from a line break where there is one.
            newline = "\n" if self.vocab_.mode == "chars" else b"\n"
            if newline in self.vocab_.symbols or 10 in self.vocab_.symbols:
                return self.vocab_.encode(newline)
            return np.zeros(1, dtype=np.int32)
        return self.vocab_.encode(prime)

    def _sampler(self, prime, seed):
        self._check_fitted()
        rng_state = np.random.SeedSequence(seed).generate_state(4, np.uint64)
        # Batch 1: (L, H), or the LSTM's (2, L, H).
        shape = layout.state_shape(self.cell, self.num_layers, 1, self.hidden_size)
        h = np.zeros(shape[:-2] + shape[-1:], dtype=self.params_.dtype)
        return self._prime_indices(prime), h, rng_state

    def sample(self, n=500, prime=None, temperature=1.0, top_k=None, top_p=None,
               stop=None, seed=None):
        """``n`` characters following ``prime`` (which is not repeated).

        temperature 0 takes the most likely character each time; top_k and
        top_p restrict the draw to the most likely characters; ``stop`` ends
        the text once it appears (included). The same seed gives the same text.
        """
        prime, h, rng_state = self._sampler(prime, seed)
        stop_indices = () if not stop else self.vocab_.encode(stop)
        out, _ = kernels.sample(self.params_, h, rng_state, prime, n, temperature,
                                top_k, top_p, stop_indices, self.cell)
        return self.vocab_.decode(out)

    def generate(self, prime=None, temperature=1.0, top_k=None, top_p=None, stop=None,
                 seed=None, max_chars=None):
        """Yield characters one at a time, as they are drawn (for streaming)."""
        last, h, rng_state = self._sampler(prime, seed)
        stop_indices = () if not stop else list(self.vocab_.encode(stop))
        recent, count = [], 0
        while max_chars is None or count < max_chars:
            out, h = kernels.sample(self.params_, h, rng_state, last, 1, temperature,
                                    top_k, top_p, cell=self.cell)
            last = out
            count += 1
            yield self.vocab_.decode(out)
            recent = (recent + [int(out[0])])[-max(len(stop_indices), 1):]
            if stop_indices and recent == stop_indices:
                return

    # ------------------------------------------------------------------
    # Weights, PyTorch-style

    def state_dict(self):
        """The weights as {PyTorch name: array copy}."""
        self._check_fitted()
        views = layout.unflatten(self.params_, len(self.vocab_), self.hidden_size,
                                 self.num_layers, self.cell)
        return {name: view.copy() for name, view in views.items()}

    def load_state_dict(self, state):
        """Copy weights from {PyTorch name: array}; names and shapes must match."""
        self._check_fitted()
        views = layout.unflatten(self.params_, len(self.vocab_), self.hidden_size,
                                 self.num_layers, self.cell)
        missing, unexpected = set(views) - set(state), set(state) - set(views)
        if missing or unexpected:
            raise ValueError(f"state_dict does not fit this model: missing {sorted(missing)}, "
                             f"unexpected {sorted(unexpected)}")
        for name, view in views.items():
            value = np.asarray(state[name])
            if value.shape != view.shape:
                raise ValueError(f"{name} has shape {value.shape}, this model needs {view.shape}")
        for name, view in views.items():
            view[...] = state[name]

    # ------------------------------------------------------------------
    # PyTorch

    def to_torch(self):
        """This model as a torch.nn.Module with the same weights and dtype.

        The module is embedding-free: ``module(inputs, state=None)`` takes
        (T, B) character indices, feeds their one-hot vectors to
        ``module.rnn`` (nn.RNN with tanh, nn.GRU or nn.LSTM: PyTorch's
        weight_ih_l0 is ours, the one-hot product being a column of it),
        and ``module.head`` (nn.Linear) gives logits (T, B, V). It returns
        (logits, state), state as nn.RNN/GRU/LSTM return it. ``module.vocab``
        and ``module.charrnn_params`` let CharRNN.from_torch rebuild this
        model. Needs torch (pip install torch); the optimizer state stays here.
        """
        self._check_fitted()
        try:
            import torch
        except ImportError:
            raise ImportError("to_torch() needs PyTorch: pip install torch "
                              "(CPU builds: see https://pytorch.org)") from None

        V, H, L = len(self.vocab_), self.hidden_size, self.num_layers
        dtype = torch.float64 if self.params_.dtype == np.float64 else torch.float32

        class CharRNNModule(torch.nn.Module):
            """one_hot(x) -> recurrent stack -> linear: logits over the vocabulary."""

            def __init__(self, rnn, head, vocab, params):
                super().__init__()
                self.rnn, self.head = rnn, head
                self.vocab, self.charrnn_params = vocab, params

            def forward(self, inputs, state=None):
                x = torch.nn.functional.one_hot(inputs.long(), self.head.out_features)
                out, state = self.rnn(x.to(self.head.weight.dtype), state)
                return self.head(out), state

        rnn_class = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[self.cell]
        rnn = rnn_class(V, H, num_layers=L, dropout=self.dropout if L > 1 else 0.0)
        head = torch.nn.Linear(H, V)
        module = CharRNNModule(rnn.to(dtype), head.to(dtype), self.vocab_, self.get_params())
        weights = self.state_dict()
        with torch.no_grad():
            for name, value in module.rnn.named_parameters():
                value.copy_(torch.from_numpy(weights[name]))
            module.head.weight.copy_(torch.from_numpy(weights["weight_ho"]))
            module.head.bias.copy_(torch.from_numpy(weights["bias_o"]))
        return module

    @classmethod
    def from_torch(cls, module, vocab=None):
        """A CharRNN with the weights of ``module``: one made by to_torch, or
        any module with ``rnn`` (nn.RNN with tanh, nn.GRU or nn.LSTM; one
        direction, with biases, no projections, input size len(vocab)) and
        ``head`` (nn.Linear from the hidden size to len(vocab)).

        ``vocab`` (a Vocabulary) defaults to ``module.vocab``. The model's
        hyperparameters come from ``module.charrnn_params`` where it has them,
        else from the modules (dtype from the weights) and the defaults; its
        optimizer starts afresh. Needs torch (pip install torch).
        """
        try:
            import torch
        except ImportError:
            raise ImportError("from_torch() needs PyTorch: pip install torch "
                              "(CPU builds: see https://pytorch.org)") from None

        rnn, head = getattr(module, "rnn", None), getattr(module, "head", None)
        cells = {torch.nn.RNN: "rnn", torch.nn.GRU: "gru", torch.nn.LSTM: "lstm"}
        if type(rnn) not in cells or not isinstance(head, torch.nn.Linear):
            raise TypeError("from_torch needs a module with .rnn (nn.RNN, nn.GRU or nn.LSTM) "
                            "and .head (nn.Linear), as to_torch makes")
        cell = cells[type(rnn)]
        if cell == "rnn" and rnn.nonlinearity != "tanh":
            raise ValueError("nn.RNN must use nonlinearity='tanh'")
        if rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
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
        weights = {name: value.detach().cpu().numpy() for name, value in rnn.named_parameters()}
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
        model = cls(**params)
        model._validate_params()
        model._start(vocab, weights)
        return model

    # ------------------------------------------------------------------
    # Checkpoints

    def _checkpoint_contents(self):
        self._check_fitted()
        tensors = dict(self.state_dict())
        buffers, scalars = self.optimizer_.state()
        for name, array in buffers.items():
            tensors[f"optimizer.{name}"] = array
        tensors["hidden"] = self.hidden_
        metadata = {
            "params": self.get_params(),
            "vocabulary": self.vocab_.to_dict(),
            "seed": self.seed_,
            "optimizer": {"name": self.optimizer_.name,
                          "learning_rate": self.optimizer_.learning_rate, **scalars},
            "training": {"iterations": self.n_iter_, "streams": self._stream_state,
                         "smooth_loss": self._smooth_loss, "seconds": self._elapsed,
                         "text_fingerprint": self._text_fingerprint},
            "history": self.history_,
        }
        return tensors, metadata

    def save(self, path):
        """Write the whole model to one safetensors file, atomically.

        Weights, optimizer state, vocabulary, hyperparameters, the training
        position and history: CharRNN.load then continues exactly."""
        tensors, metadata = self._checkpoint_contents()
        checkpoint_io.save_checkpoint(path, tensors, metadata)

    @classmethod
    def load(cls, path):
        """A model saved by ``save``; CheckpointError names what is wrong."""
        tensors, metadata = checkpoint_io.load_checkpoint(path)
        return cls._from_contents(tensors, metadata, str(path))

    @classmethod
    def _from_contents(cls, tensors, metadata, where):
        try:
            model = cls(**metadata["params"])
            model._validate_params()
            model.vocab_ = Vocabulary.from_dict(metadata["vocabulary"])
            V, H, L = len(model.vocab_), model.hidden_size, model.num_layers
            dtype = np.dtype(model.dtype)
            model.seed_ = metadata["seed"]
            model.params_ = np.zeros(layout.num_params(V, H, L, model.cell), dtype=dtype)
            weights = {name: tensors[name] for name in tensors
                       if not name.startswith("optimizer.") and name != "hidden"}
            for name, value in weights.items():
                if value.dtype != dtype:
                    raise ValueError(f"{name} is {value.dtype}, the model is {dtype}")
            model.load_state_dict(weights)
            optimizer = metadata["optimizer"]
            model.optimizer_ = OPTIMIZERS[optimizer["name"]](model.params_.size, dtype,
                                                             float(optimizer["learning_rate"]))
            buffers = {name[len("optimizer."):]: value for name, value in tensors.items()
                       if name.startswith("optimizer.")}
            model.optimizer_.load_state(buffers, optimizer)
            hidden = tensors["hidden"]     # the LSTM's holds h and c
            if (hidden.shape != layout.state_shape(model.cell, L, model.batch_size, H)
                    or hidden.dtype != dtype):
                raise ValueError(f"hidden has shape {hidden.shape} and dtype {hidden.dtype}")
            model.hidden_ = hidden.copy()
            training = metadata["training"]
            model.n_iter_ = int(training["iterations"])
            model._stream_state = training["streams"]
            model._smooth_loss = float(training["smooth_loss"])
            model._elapsed = float(training["seconds"])
            model._text_fingerprint = training["text_fingerprint"]
            model.history_ = list(metadata["history"])
        except checkpoint_io.CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, NotImplementedError) as error:
            raise checkpoint_io.CheckpointError(
                f"{where}: not a valid CharRNN checkpoint: {type(error).__name__}: {error}"
            ) from None
        return model

    def __getstate__(self):
        # Pickling goes through the checkpoint format: no pickled internals.
        if not hasattr(self, "vocab_"):
            return {"params": self.get_params()}
        tensors, metadata = self._checkpoint_contents()
        return {"checkpoint": checkpoint_io.checkpoint_bytes(tensors, metadata)}

    def __setstate__(self, state):
        if "checkpoint" not in state:
            self.__init__(**state["params"])
            return
        tensors, metadata = checkpoint_io.checkpoint_from_bytes(state["checkpoint"])
        self.__dict__.update(self._from_contents(tensors, metadata, "pickle").__dict__)


def _fingerprint(data):
    """A short digest of the encoded text, to refuse resuming on other text."""
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:32]


def _format_loss(value):
    return "-" if value is None else f"{value:.3f}"


class _Limits:
    """When to stop: iterations, epochs or seconds from now, first reached."""

    def __init__(self, iterations, epochs, max_time, batches_per_epoch, start_iteration):
        for name, value in (("iterations", iterations), ("epochs", epochs),
                            ("max_time", max_time)):
            if value is not None and not (isinstance(value, (int, float, np.integer))
                                          and not isinstance(value, bool) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number or None, got {value!r}")
        if iterations is None and epochs is None and max_time is None:
            epochs = 1
        self.iterations, self.epochs, self.max_time = iterations, epochs, max_time
        self.batches_per_epoch = batches_per_epoch
        self.start_iteration = start_iteration
        self.start_time = time.perf_counter()

    def total_iterations(self):
        bounds = []
        if self.iterations is not None:
            bounds.append(int(self.iterations))
        if self.epochs is not None:
            bounds.append(int(math.ceil(self.epochs * self.batches_per_epoch)))
        return min(bounds) if bounds else None

    def reached(self, n_iter, now):
        done = n_iter - self.start_iteration
        if self.iterations is not None and done >= self.iterations:
            return "iterations"
        if self.epochs is not None and done >= self.epochs * self.batches_per_epoch:
            return "epochs"
        if self.max_time is not None and now - self.start_time >= self.max_time:
            return "max_time"
        return None


class _InterruptFlag:
    """While active, Ctrl-C sets a flag instead of raising mid-step.

    Only the main thread can own signal handlers; elsewhere this does nothing
    and Ctrl-C behaves as usual."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.raised:                       # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _progress_bar(progress, total, characters_per_step):
    """A tqdm bar counting characters (so its rate is chars/s) when progress
    is True, or on a terminal when it is None; else None."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="char", unit_scale=characters_per_step, dynamic_ncols=True)
