"""CharRNN: the character-level language model users meet first.

It follows scikit-learn's conventions: ``__init__`` only stores its
arguments, ``fit`` validates them and returns ``self``, and what was learned
ends in an underscore (``vocab_``, ``history_``). Everything per character
runs in C: training steps, evaluation and sampling. The training loop is in
training.py, the checkpoint file in checkpoint.py, PyTorch conversion in
torch_bridge.py.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np

from . import checkpoint, checks, corpus, kernels, training
from . import checkpoint as checkpoint_module      # fit's argument is named checkpoint
from .checkpoint import check_not_foreign, check_writable
from .data import read_chunks, read_text
from .optimizers import OPTIMIZERS, Optimizer
from .schedules import SCHEDULES, Plan
from .spec import CELLS, DTYPES, RECURRENT_INITS, ModelSpec
from .vocab import UnknownSymbolError, Vocabulary

if TYPE_CHECKING:
    import torch

Text = str | bytes | os.PathLike[str]
# Evaluation runs the text through the stack this many characters at a time
# (an LSTM of 2 x 512 keeps about 17 MB of float32 activations per 1,000).
EVALUATION_CHUNK = 2_000
# fit's backends: the C core, or PyTorch (torch_step.py) on any of its devices.
BACKENDS = ("c", "torch")
# CharRNN.writeup(): the write-up's (min-char-rnn's) recipe, as CharRNN's parameters.
WRITEUP: dict[str, Any] = dict(
    hidden_size=100, num_layers=1, cell="rnn", seq_length=25, batch_size=1,
    optimizer="adagrad", learning_rate=0.1, clip=5.0, clip_norm=None, dtype="float64",
    init_std=0.01, recurrent_init="normal", dropout=0.0, lr_schedule="constant", warmup=0,
    min_lr_ratio=0.0, keep_best=False)


def _writes_checkpoints(backend: str) -> bool:
    """Whether this process saves fit's checkpoints: under torch.distributed,
    rank 0 alone (training.train)."""
    if backend != "torch":
        return True
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class _Users:
    """Who is using one model: a trainer, or readers, never both at once.

    fit trains the model alone; sampling, generating, scoring, evaluating,
    saving, pickling and reading the weights are reads, and any number may
    run at once. A read from another thread while fit runs would see the
    weights change under it, and so would a read under way while fit starts:
    both are refused, with RuntimeError. The training thread may read (its
    callbacks do). A count under a lock: two lock round trips per read,
    about 0.2 us.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trainer: threading.Thread | None = None
        self._readers = 0

    def refuse_if_trained_elsewhere(self) -> None:
        trainer = self._trainer
        if trainer is not None and trainer is not threading.current_thread():
            raise RuntimeError(
                "this CharRNN is being trained in another thread, and using or changing it "
                "meanwhile would race with the updates: give each thread its own model "
                "(copy.deepcopy or pickle makes one)")

    def start_training(self, reentrant: bool = False) -> bool:
        """Hold the model alone; False if this thread already held it (``reentrant``)."""
        with self._lock:
            if self._trainer is threading.current_thread() and reentrant:
                return False
            if self._trainer is threading.current_thread():
                raise RuntimeError("fit cannot run inside its own training (from a callback)")
            if self._trainer is not None:
                raise RuntimeError("this CharRNN is already being trained in another thread")
            if self._readers:
                raise RuntimeError(
                    f"this CharRNN is in use ({self._readers} sample, generate, score, "
                    f"evaluate or save call(s) under way), and changing it now would change "
                    f"what they read: wait for them, and exhaust or close() any generate() "
                    f"iterator (it holds the model while it is open)")
            self._trainer = threading.current_thread()
            return True

    def stop_training(self) -> None:
        with self._lock:
            self._trainer = None

    def __enter__(self) -> None:
        """A read: refused while another thread trains; fit waits for it to end."""
        with self._lock:
            self.refuse_if_trained_elsewhere()
            self._readers += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._readers -= 1


class CharRNN:
    """A character-level recurrent language model.

    The defaults are the recipe that gave the lowest held-out loss for five
    minutes of training on a 2-core CPU (README, "Which settings"): a 2 x 256
    GRU over 32 streams of 50 characters, Adam at 2e-3 with 200 warmup steps
    and a cosine decay to a tenth of it at the end of training, gradients
    clipped to global norm 1, orthogonal recurrent weights, the best
    validation record's weights kept. ``CharRNN.writeup()`` is the
    write-up's own recipe.

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
    dropout : between layers, in training only: each layer's output is
        zeroed with this probability (and the rest scaled by 1 / (1 - p))
        on its way to the layer above; masks come from the seed.
    clip_norm : None, or the largest global L2 norm of the gradient: a
        larger one is scaled down to it (as torch.nn.utils.clip_grad_norm_)
        before the elementwise clip.
    n_threads : threads a training step runs on, each over its share of the
        ``batch_size`` streams (threads.py); None: the cores this process
        may use, fewer where a share would be too small to pay (the
        write-up's model at batch 1 runs on one). The same count gives the
        same bits; another count the same model to rounding. OpenBLAS's own
        pool stays at one thread inside every call.
    recurrent_init : "normal": W_hh starts as N(0, init_std^2), as the other
        weights; "orthogonal": each gate block of every W_hh starts as a
        random orthogonal matrix (W W^T = I), for deep or long tanh
        recurrences, whose signal then neither fades nor explodes at the
        start. Every other weight is the same either way, for a seed.
    lr_schedule : "constant" (the write-up's), "cosine" or "linear": the
        rate decays from learning_rate to min_lr_ratio * learning_rate over
        the training fit is asked for, in iterations (``iterations`` or
        ``epochs``) or in seconds of training (``max_time``: fit(text,
        max_time=300) anneals to its deadline); see fit for resuming.
    warmup : the first ``warmup`` iterations ramp the rate up linearly, step
        i (from 0) at (i + 1) / warmup of the schedule's; 0: no warmup.
    min_lr_ratio : the rate at the schedule's end, as a fraction of
        learning_rate (cosine and linear only).
    keep_best : where there is validation text, fit ends with the weights of
        the record with the lowest validation loss (``best_iteration_``;
        history_ marks that record "kept"), not the last step's; resuming
        still continues from the last step. The write-up's loop keeps the
        last (keep_best=False).

    Attributes (after fit or load; their presence means "fitted")
    ----------
    vocab_ : the Vocabulary: symbols, and encode / decode.
    spec_ : the ModelSpec every shape and offset comes from.
    params_ : the weights, one flat array (state_dict() names its views).
    hidden_ : the state training carried, (L, B, H), or (L, 2, B, H) for the LSTM.
    optimizer_ : the optimizer, with its state.
    n_iter_ : training steps taken, over every fit of this run.
    history_ : one dict per record: "iteration", "characters", "epoch",
        "train_loss" (the mean over the steps since the record before),
        "smooth_loss" (the write-up's moving average), "val_loss" (None
        without validation text), "seconds", "learning_rate"; "kept" on the
        record whose weights keep_best kept, "resumed_at" on a resume's first.
    best_iteration_ : the record keep_best kept, None if none.
    stop_reason_ : why the last fit stopped: "iterations", "epochs",
        "max_time", "interrupted", "callback", "patience" or "diverged".
    threads_ : the threads the last fit's steps ran on.
    """

    def __init__(self, hidden_size: int = 256, num_layers: int = 2, cell: str = "gru",
                 seq_length: int = 50, batch_size: int = 32, learning_rate: float | None = None,
                 optimizer: str = "adam", clip: float = 5.0, dtype: str = "float32",
                 val_fraction: float = 0.05, vocab: str = "chars", max_vocab_size: int = 10_000,
                 init_std: float | None = None, seed: int | None = None, dropout: float = 0.0,
                 clip_norm: float | None = 1.0, n_threads: int | None = None,
                 recurrent_init: str = "orthogonal", lr_schedule: str = "cosine",
                 warmup: int = 200, min_lr_ratio: float = 0.1, keep_best: bool = True) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
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
        self.dropout = dropout
        self.clip_norm = clip_norm
        self.n_threads = n_threads
        self.recurrent_init = recurrent_init
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.min_lr_ratio = min_lr_ratio
        self.keep_best = keep_best
        self._check_choices()

    @classmethod
    def writeup(cls, **overrides: Any) -> CharRNN:
        """The write-up's recipe (min-char-rnn), ``overrides`` changing any of it.

        A 1 x 100 tanh RNN in float64 (the write-up's NumPy), seq_length 25,
        batch 1, Adagrad at lr 0.1, gradients clipped to [-5, 5], weights
        N(0, 0.01^2) and zero biases, a constant rate, and the last weights
        kept (keep_best=False). The rest is CharRNN's defaults: 5% of the
        text is held out to measure validation loss, where the write-up
        trains on all of it (writeup(val_fraction=0) does too).
        """
        return cls(**{**WRITEUP, **overrides})

    # Fitted attributes, set by fit or load:
    spec_: ModelSpec
    vocab_: Vocabulary
    params_: np.ndarray
    optimizer_: Optimizer
    hidden_: np.ndarray
    n_iter_: int
    history_: list[dict[str, Any]]
    seed_: int
    stop_reason_: str | None
    threads_: int          # what the last fit's steps ran on (threads.resolve_threads)
    best_iteration_: int | None   # the record whose weights the model holds (keep_best)
    _keeper: training._Keeper | None = None     # keep_best's bookkeeping, while fit runs
    # Loaded from a weights-only file (weights_file.py): no optimizer, no position.
    _weights_only: bool = False
    _training_thread: threading.Thread | None

    # ------------------------------------------------------------------
    # Parameters, as scikit-learn's get_params / set_params

    @classmethod
    def _param_names(cls) -> list[str]:
        """The hyperparameters: __init__'s arguments, read from its signature."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> CharRNN:
        self._users().refuse_if_trained_elsewhere()   # fit reads them at every step
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        self._check_choices()
        return self

    def __repr__(self) -> str:
        defaults = {name: parameter.default for name, parameter
                    in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k]]
        return f"CharRNN({', '.join(changed)})"

    def _validate_params(self) -> None:
        """Every hyperparameter checked, here and only here; the layers below trust them."""
        for name in ("hidden_size", "num_layers", "seq_length", "batch_size", "max_vocab_size"):
            checks.positive_int(name, getattr(self, name))
        self._check_choices()
        checks.fraction("dropout", self.dropout)
        checks.fraction("val_fraction", self.val_fraction)
        checks.positive_number("clip", self.clip)
        checks.positive_number("clip_norm", self.clip_norm, or_none=True)
        checks.positive_number("init_std", self.init_std, or_none=True)
        checks.positive_number("learning_rate", self.learning_rate, or_none=True)
        # Values the C core's flush-to-zero mode would read as 0 (checks.normal).
        for name in ("clip", "clip_norm", "learning_rate"):
            checks.normal(name, getattr(self, name), self.dtype)
        checks.seed("seed", self.seed)
        if self.n_threads is not None:
            checks.positive_int("n_threads", self.n_threads)
        checks.count("warmup", self.warmup)
        checks.unit_interval("min_lr_ratio", self.min_lr_ratio)
        checks.one_of("keep_best", self.keep_best, (True, False))

    def _check_choices(self) -> None:
        """The parameters that name one of a fixed list, checked as soon as
        they are given (__init__, set_params), since a typo there ("GRU",
        "sgd") is never a value to tune; scikit-learn's estimators check at
        fit only, and these are still stored unchanged, so get_params and
        clone are unaffected. Every other check waits for fit."""
        checks.one_of("cell", self.cell, CELLS)
        checks.one_of("dtype", self.dtype, DTYPES)
        checks.one_of("optimizer", self.optimizer, tuple(OPTIMIZERS))
        checks.one_of("vocab", self.vocab, ("chars", "bytes"))
        checks.one_of("recurrent_init", self.recurrent_init, RECURRENT_INITS)
        checks.one_of("lr_schedule", self.lr_schedule, SCHEDULES)

    def _spec(self, vocab_size: int) -> ModelSpec:
        return ModelSpec(vocab_size, self.hidden_size, self.num_layers, self.cell, self.dtype)

    # ------------------------------------------------------------------
    # Training

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocab_"):
            raise RuntimeError("this CharRNN is not fitted yet: call fit() or CharRNN.load()")

    def _users(self) -> _Users:
        """This model's _Users, made on first use (__init__ only stores arguments)."""
        users = self.__dict__.get("_usage")
        if users is None:
            users = self.__dict__.setdefault("_usage", _Users())   # atomic: one per model
        return cast(_Users, users)

    def _reading(self) -> _Users:
        """``with self._reading():`` around a use of the fitted model (_Users)."""
        self._check_fitted()
        return self._users()

    def _start(self, vocab: Vocabulary, weights: dict[str, np.ndarray] | None = None) -> None:
        """Fitted state from step 0 for ``vocab``: the seed resolved, ``weights``
        ({name: array}) or fresh ones, a fresh optimizer, zero hidden state."""
        self.vocab_ = vocab
        self._weights_only = False
        self.spec_ = spec = self._spec(len(vocab))
        entropy = cast(int, np.random.SeedSequence().entropy)
        seed = self.seed if self.seed is not None else entropy % 2**63
        self.seed_ = seed
        std = self.init_std
        if std is None:
            std = 0.01 if spec.num_layers == 1 else 1 / math.sqrt(spec.hidden_size)
        self.params_ = spec.init_params(seed=seed, std=std, recurrent_init=self.recurrent_init)
        if weights is not None:
            self.load_state_dict(weights)
        self.optimizer_ = OPTIMIZERS[self.optimizer](spec, self.learning_rate)
        self.hidden_ = np.zeros(spec.state_shape(self.batch_size), dtype=spec.np_dtype)
        self.n_iter_ = 0
        self.history_ = []
        self._stream_state: dict[str, int] | None = None
        self._smooth_loss = math.log(len(vocab))      # nats per character at iteration 0
        self._window_loss = (0.0, 0)        # (sum, count) of step losses since the last record
        self._warm_state: np.ndarray | None = None      # training.warm_state, for sampling
        self._elapsed = 0.0
        self._text_fingerprint: str | None = None
        # keep_best (training.py): the record whose weights params_ holds, and
        # then the weights training continues from, when they differ.
        self.best_iteration_ = None
        self._train_params: np.ndarray | None = None
        # The learning-rate schedule's plan (schedules.Plan), made by fit.
        self._schedule: Plan | None = None
        # The checkpoints this run came from or wrote: {real path: identity}
        # (checkpoint.check_not_foreign). A fresh run has none.
        self._checkpoint_files: dict[str, tuple[int, ...]] = {}

    def fit(self, text: Text, iterations: int | float | None = None,
            epochs: float | None = None,
            max_time: float | None = None,
            callbacks: Iterable[Callable[[dict[str, Any]], Any]] = (),
            progress: bool | None = None, checkpoint: str | os.PathLike[str] | None = None,
            checkpoint_every: int = 1000, eval_every: int | None = None,
            resume: bool = False, eval_seconds: float | None = None,
            overwrite: bool = False, patience: int | None = None, backend: str = "c",
            device: str | None = None) -> CharRNN:
        """Train on ``text``: a str or bytes is the text itself, a path
        (pathlib.Path, any os.PathLike) names a file, read a chunk at a time.

        A str on one line that names an existing file or directory, or is one
        word ending in a text file's suffix ("data/input.txt"), is refused
        (ValueError) as a path passed by mistake: pass pathlib.Path(...). An
        open file is refused too (TypeError): pass its path, or its read().

        Stops after ``iterations`` steps, ``epochs`` passes or ``max_time``
        seconds, whichever comes first (one epoch when none is given), or on
        Ctrl-C, after the step under way: the model is always consistent.
        ``resume=True`` continues a fitted or loaded model exactly where it
        stopped, on the same text; otherwise training starts afresh.

        Every ``eval_every`` iterations (by default, every 250,000 characters
        trained, so that measuring costs a few percent) a record goes to
        ``history_`` and to each callback: iteration, characters seen,
        smoothed training loss and validation loss in nats per character, and
        seconds elapsed; with ``eval_seconds``, also whenever that many
        seconds have passed since the last record. The first record after a
        resume also has "resumed_at", the iteration it resumed at. (The
        write-up prints a smoothed loss summed over its 25-character
        sequences: 44.4 there is 44.4 / 25 = 1.78 nats per character here.)
        Validation uses the first 20,000 held-out characters. A callback
        that returns False stops training. With ``checkpoint`` (a path) the
        model is saved every ``checkpoint_every`` iterations and at the end.
        Returns self.

        A file already at ``checkpoint`` is replaced only by a resumed run
        that was loaded from it or last saved it (and the file is unchanged
        since), or with ``overwrite=True``. Any other (another model, or a
        file that is not a checkpoint; an empty file holds nothing to lose)
        is refused before training, with the model left as it was:
        checkpoint.CheckpointExistsError, a FileExistsError and a ValueError.

        ``iterations``, ``epochs`` and ``max_time`` may be inf, no bound:
        iterations=inf trains until Ctrl-C or a callback stops it.

        With keep_best (the default) and validation text, the model ends with
        the weights of the record of lowest validation loss, also on Ctrl-C,
        a callback's stop or divergence: ``best_iteration_`` says which, and
        history_ marks that record "kept": True. Checkpoints hold those
        weights, and the last step's as well where they differ, so that
        fit(resume=True) continues from the last step, exactly; the best so
        far stays a candidate. ``patience`` (a number of records) stops
        training, with stop_reason_ "patience", once that many records in a
        row have not lowered the lowest validation loss in history_.

        A learning-rate schedule (lr_schedule, warmup) follows a plan made
        when training starts: from there to where this fit's limits stop it,
        in iterations (``iterations``, ``epochs``), in seconds of training
        (``max_time``), or both, whichever comes first; records hold each
        step's "learning_rate". The plan is kept in the model and its
        checkpoints: fit(resume=True) follows it to the same end, whatever
        its own limits (past the end the rate stays at its last value), so
        a run stopped part way (Ctrl-C, a callback, a crash after a
        checkpoint) and resumed trains exactly as it would have. A resumed
        fit whose plan is over (or that has none: an older checkpoint) makes
        a new one, from where it starts to its own limits, warmup included.
        A cosine or linear schedule needs an end: refused when every limit
        given is inf.

        If training diverges (a loss that is not finite or explodes far above
        the untrained model's log V, or weights that are not finite), the
        model goes back to its last good record (or to where this fit began)
        and FloatingPointError says what to change.

        ``backend="torch"`` trains with PyTorch on ``device`` ("cpu", the
        default, "cuda", "cuda:1", "mps", ...) instead of the C core: the
        same recipe (streams, loss, clipping, the optimizers' formulas,
        schedule, keep-best, records, checkpoints), so a model trained or
        resumed on either backend continues on the other (torch_step.py).
        Run under ``torchrun`` (torch.distributed initialized), each process
        trains its share of the ``batch_size`` streams (a multiple of the
        process count) with DistributedDataParallel, every process ends with
        the same model, and rank 0 writes the checkpoints.

        One model trains in one thread at a time, and not while it is being
        used: fit while another thread samples, scores or saves it (or while a
        generate() iterator on it is open), and any use of it or set_params
        from another thread while fit runs, raise RuntimeError. Callbacks, in
        the training thread, may use the model.
        """
        iterations = checks.count("iterations", iterations, or_none=True, or_inf=True)
        epochs = checks.non_negative_number("epochs", epochs, or_none=True)
        max_time = checks.non_negative_number("max_time", max_time, or_none=True)
        checkpoint_every = checks.positive_int("checkpoint_every", checkpoint_every)
        if eval_every is not None:
            eval_every = checks.positive_int("eval_every", eval_every)
        if patience is not None:
            patience = checks.positive_int("patience", patience)
        checks.one_of("backend", backend, BACKENDS)
        if device is not None and backend != "torch":
            raise ValueError(f"device={device!r} is a torch device: it needs backend='torch' "
                             f"(the C core runs on the CPU)")
        if callable(callbacks):
            raise TypeError("callbacks must be an iterable of callables: pass [callback]")
        callbacks = tuple(callbacks)      # read at every record: a generator would run dry
        for callback in callbacks:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables, got {callback!r}")
        users = self._users()
        users.start_training()
        try:
            if not isinstance(text, os.PathLike):
                text = read_text(text, self.vocab)
            if resume:
                self._check_fitted()
                if self._weights_only:
                    raise ValueError(
                        "resume=True needs a full checkpoint, and this model was loaded "
                        "from a weights-only file (save(..., weights_only=True)), which "
                        "holds no optimizer state, training position or schedule to "
                        "continue from; fit without resume=True trains a new model")
            self._validate_params()
            training.check_schedule_end(self, iterations, epochs, max_time, resume)
            if checkpoint is not None:
                # Now, before the model changes, rather than after hours of training.
                check_writable(checkpoint)
                if not overwrite:
                    check_not_foreign(self, checkpoint, resume)
            # The run holds its checkpoint path to its end: another run onto
            # it is refused now, and this one is refused while another holds it.
            with (checkpoint_module.owning(checkpoint)
                  if checkpoint is not None and _writes_checkpoints(backend)
                  else contextlib.nullcontext()):
                # A file is read, counted and encoded a chunk at a time, into a
                # cache on disk that training reads (corpus.py); text in memory as is.
                source = (corpus.encode_file(text, self.vocab, self.max_vocab_size,
                                             self.vocab_ if resume else None)
                          if isinstance(text, os.PathLike) else text)
                if not resume:
                    self._start(source.vocab if isinstance(source, corpus.EncodedText)
                                else Vocabulary.from_text(source, mode=self.vocab,
                                                          max_size=self.max_vocab_size))
                training.train(self, source, iterations=iterations, epochs=epochs,
                               max_time=max_time, callbacks=callbacks, progress=progress,
                               checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                               eval_every=eval_every, resume=resume,
                               eval_seconds=eval_seconds, patience=patience,
                               backend=backend, device=device)
            return self
        finally:
            users.stop_training()

    # ------------------------------------------------------------------
    # Evaluation

    def _log_probs(self, data: np.ndarray) -> np.ndarray:
        """log p(data[i + 1] | data[:i + 1]) for every i, from a zero state."""
        h = np.zeros(self.spec_.state_shape(1), dtype=self.spec_.np_dtype)
        pieces = []
        for start in range(0, len(data) - 1, EVALUATION_CHUNK):
            chunk = data[start:start + EVALUATION_CHUNK + 1].astype(np.int32)
            log_probs, h = kernels.target_log_probs(self.spec_, self.params_, chunk[:-1, None],
                                                    chunk[1:, None], h)
            pieces.append(log_probs[:, 0])
        return np.concatenate(pieces) if pieces else np.zeros(0)

    def _scored_pieces(self, text: Text, unknown: str) -> Iterator[np.ndarray]:
        """``text`` encoded, a piece at a time: a file (a path) read a chunk at
        a time (data.read_chunks), never whole; a str or bytes in one piece.
        A str that names a file is refused, as fit refuses it (read_text)."""
        self._check_fitted()
        checks.one_of("unknown", unknown, ("error", "skip"))
        if isinstance(text, os.PathLike):
            for chunk in read_chunks(text, self.vocab_.mode):
                yield self.vocab_.encode(chunk, unknown=unknown)
            return
        yield self.vocab_.encode(read_text(text, self.vocab_.mode), unknown=unknown)

    def _scored(self, text: Text, unknown: str,
                keep: Callable[[np.ndarray], object] | None = None) -> tuple[float, int]:
        """(the sum of log p(x[i + 1] | x[:i + 1]) over ``text``, how many terms),
        each window's log-probabilities also handed to ``keep``.

        Windows of EVALUATION_CHUNK characters at the same places in the text
        however it is read, each summed on its own and added up: a file scores
        exactly as the same text in memory, in memory that does not grow with it.
        """
        h = np.zeros(self.spec_.state_shape(1), dtype=self.spec_.np_dtype)
        total, count = 0.0, 0

        def score(window: np.ndarray) -> None:
            nonlocal h, total, count
            log_probs, h = kernels.target_log_probs(self.spec_, self.params_, window[:-1, None],
                                                    window[1:, None], h)
            total += float(log_probs.sum())
            count += len(window) - 1
            if keep is not None:
                keep(log_probs[:, 0])

        pending = np.zeros(0, dtype=np.int32)     # pending[0]: the last one scored, context
        with self._reading():
            for piece in self._scored_pieces(text, unknown):
                pending = np.concatenate([pending, piece.astype(np.int32)])
                start = 0
                while len(pending) - start > EVALUATION_CHUNK:
                    score(pending[start:start + EVALUATION_CHUNK + 1])
                    start += EVALUATION_CHUNK
                pending = pending[start:].copy()     # the piece's array can go
            if len(pending) > 1:
                score(pending)
        if count == 0:
            raise ValueError("scoring needs at least two characters (the first is only context)")
        return total, count

    def score_samples(self, text: Text, unknown: str = "error") -> np.ndarray:
        """Natural-log probability of each character given those before it.

        Returns a float64 array of len(text) - 1 values (the first character
        is context only): 8 bytes per character, for a file too (which is
        read a chunk at a time; score and evaluate keep only sums).
        unknown="skip" drops characters outside the vocabulary first;
        "error" raises naming them."""
        pieces: list[np.ndarray] = []
        self._scored(text, unknown, pieces.append)
        return np.concatenate(pieces)

    def score(self, text: Text, unknown: str = "error") -> float:
        """The mean log-probability per character of ``text``: one number,
        higher is better (scikit-learn's meaning of score); it is minus the
        loss in nats per character. score_samples gives each character's.
        A file (a path) is read a chunk at a time, in memory that does not
        grow with it."""
        total, count = self._scored(text, unknown)
        return total / count

    def evaluate(self, text: Text, unknown: str = "error") -> dict[str, float | int]:
        """Mean loss on ``text``: nats and bits per character, and perplexity.
        A file (a path) is read a chunk at a time, as score reads it."""
        total, count = self._scored(text, unknown)
        nats = -total / count
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
                "perplexity": math.exp(nats) if nats < 709 else math.inf,  # e^709: a float's top
                "characters": count}

    # ------------------------------------------------------------------
    # Sampling

    def _prime_indices(self, prime: str | bytes | None) -> np.ndarray:
        if prime is None or (isinstance(prime, (str, bytes)) and len(prime) == 0):
            # No prime: start from a line break where there is one.
            newline = self.vocab_.line_break()
            return np.array([0 if newline is None else newline], dtype=np.int32)
        return self._symbols("prime", prime)

    def _symbols(self, name: str, text: str | bytes | None) -> np.ndarray:
        """The indices of ``text`` (sample's prime or stop; None: none), or
        InvalidParameterError naming ``name`` where it holds symbols the
        model does not know (sampling has no unknown='skip' to offer)."""
        if not isinstance(text, (str, bytes, type(None))):
            raise checks.InvalidParameterError(
                f"{name} must be a str, bytes or None, got {type(text).__name__} {text!r:.80}")
        if not text:
            return np.zeros(0, dtype=np.int32)
        try:
            return self.vocab_.encode(text)
        except UnknownSymbolError as error:
            # Not encode's "unknown='skip' drops them": sampling takes no unknown.
            reason = str(error).split("; unknown='skip'")[0]
            raise UnknownSymbolError(f"{name}={text!r:.80} cannot be sampled from: "
                                     f"{reason}") from None

    def _check_draws(self, temperature: Any, top_k: Any, top_p: Any, seed: Any
                     ) -> tuple[float, int | None, float | None, int | None]:
        """sample's and generate's draw arguments, checked where they enter."""
        checked = checks.non_negative_number("temperature", temperature, finite=True)
        assert checked is not None
        # Under flush-to-zero a smaller temperature reads as 0 (checks.normal).
        checks.normal("temperature", checked, self.spec_.dtype)
        return (checked, checks.positive_count("top_k", top_k, or_none=True),
                checks.probability("top_p", top_p, or_none=True), checks.seed("seed", seed))

    def _sampler(self, prime: str | bytes | None, seed: int | None,
                 streams: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prime indices, the state to start from (without a prime, the one
        after the training text's first lines, where fit left one: the prime
        is then a line break that follows text), and the generator state: (4,) uint64,
        or (streams, 4) for that many streams (SeedSequence's words are a
        prefix of its longer draws, so stream 0's is the single stream's)."""
        self._check_fitted()
        sequence = np.random.SeedSequence(seed)
        if streams is None:
            rng_state = sequence.generate_state(4, np.uint64)
        else:
            rng_state = sequence.generate_state(4 * streams, np.uint64).reshape(streams, 4)
        warm = getattr(self, "_warm_state", None)
        if (prime is None or len(prime) == 0) and warm is not None:
            h = warm.copy()          # the line break comes after text the model has read
        else:
            h = np.zeros(self.spec_.sample_state_shape(), dtype=self.spec_.np_dtype)
        return self._prime_indices(prime), h, rng_state

    @overload
    def sample(self, n: int = ..., prime: str | bytes | None = ..., temperature: float = ...,
               top_k: int | None = ..., top_p: float | None = ..., stop: str | bytes | None = ...,
               seed: int | None = ..., *, num_samples: None = ...) -> str | bytes: ...

    @overload
    def sample(self, n: int = ..., prime: str | bytes | None = ..., temperature: float = ...,
               top_k: int | None = ..., top_p: float | None = ..., stop: str | bytes | None = ...,
               seed: int | None = ..., *, num_samples: int) -> list[str | bytes]: ...

    def sample(self, n: int = 500, prime: str | bytes | None = None, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None,
               stop: str | bytes | None = None, seed: int | None = None, *,
               num_samples: int | None = None) -> str | bytes | list[str | bytes]:
        """``n`` characters following ``prime`` (which is not repeated).

        temperature 0 takes the most likely character each time; top_k and
        top_p restrict the draw to the most likely characters; ``stop`` ends
        the text once it appears (included). The same seed gives the same text.
        At most 2**31 - 1 characters per call (generate streams any number).

        num_samples=k returns a list of k independent samples instead of one
        str (or bytes), drawn together: the prime is fed once, then each
        character is one step of the stack for all k streams (a matrix
        product, where k calls would make k matrix-vector products), so k
        samples take less time than k calls (1.6x to 2.4x less at k = 32 in
        the README's benchmark). Each has its own random stream (from
        ``seed``) and its own ``stop``. num_samples=1 gives [sample(...)]
        with the same seed, character for character.
        """
        with self._reading():
            self._check_fitted()
            n = int(cast(int, checks.count("n", n)))        # neither None nor inf here
            temperature, top_k, top_p, seed = self._check_draws(temperature, top_k, top_p, seed)
            streams = (None if num_samples is None
                       else kernels.check_num_samples(self.spec_, num_samples, n))
            prime_indices, h, rng_state = self._sampler(prime, seed, streams)
            stop_indices = self._symbols("stop", stop)
            if streams is None:
                out, _ = kernels.sample(self.spec_, self.params_, h, rng_state, prime_indices, n,
                                        temperature, top_k, top_p, stop_indices)
                return self.vocab_.decode(out)
            samples, _ = kernels.sample_batch(self.spec_, self.params_, h, rng_state,
                                              prime_indices, n, temperature, top_k, top_p,
                                              stop_indices)
            return [self.vocab_.decode(indices) for indices in samples]

    def generate(self, prime: str | bytes | None = None, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 stop: str | bytes | None = None, seed: int | None = None,
                 max_chars: int | None = None) -> Iterator[str | bytes]:
        """Yield characters one at a time, as they are drawn (for streaming).

        The iterator holds the model, as a read, from its first character
        until it is exhausted, closed or dropped: fit refuses to start
        meanwhile, so one stream never mixes two sets of weights."""
        # Checked now, at the call, not at the first next(): the mistake is
        # then reported where it is made.
        self._check_fitted()
        max_chars = cast("int | None", checks.count("max_chars", max_chars, or_none=True))
        temperature, top_k, top_p, seed = self._check_draws(temperature, top_k, top_p, seed)
        self._prime_indices(prime)
        stop_indices = list(self._symbols("stop", stop))
        return self._generate(prime, temperature, top_k, top_p, stop_indices, seed, max_chars)

    def _generate(self, prime: str | bytes | None, temperature: float, top_k: int | None,
                  top_p: float | None, stop_indices: list[int], seed: int | None,
                  max_chars: int | float | None) -> Iterator[str | bytes]:
        """generate's iterator, over checked arguments."""
        # The whole iteration is one read, not each step: with a read per
        # step, fit could run between two characters and the rest of the
        # text would come from other weights (the bug of issue 14).
        with self._reading():
            last, h, rng_state = self._sampler(prime, seed)
            recent: list[int] = []
            count = 0
            while max_chars is None or count < max_chars:
                out, h = kernels.sample(self.spec_, self.params_, h, rng_state, last, 1,
                                        temperature, top_k, top_p)
                last = out
                count += 1
                yield self.vocab_.decode(out)
                recent = (recent + [int(out[0])])[-max(len(stop_indices), 1):]
                if stop_indices and recent == stop_indices:
                    return

    # ------------------------------------------------------------------
    # Weights, PyTorch-style

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as {PyTorch name: array copy}."""
        with self._reading():
            return {name: view.copy()
                    for name, view in self.spec_.unflatten(self.params_).items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy weights from {PyTorch name: array}; names and shapes must match.

        A write: refused, as fit is, while the model is in use elsewhere."""
        self._check_fitted()
        users = self._users()
        alone = users.start_training(reentrant=True)     # fit's own call is under way
        try:
            views = self.spec_.unflatten(self.params_)
            missing, unexpected = set(views) - set(state), set(state) - set(views)
            if missing or unexpected:
                raise ValueError(f"state_dict does not fit this model: missing "
                                 f"{sorted(missing)}, unexpected {sorted(unexpected)}")
            for name, view in views.items():
                value = np.asarray(state[name])
                if value.shape != view.shape:
                    raise ValueError(f"{name} has shape {value.shape}, this model needs "
                                     f"{view.shape}")
            for name, view in views.items():
                view[...] = state[name]
            # Read with the old weights: unprimed samples start from a zero state again.
            self._warm_state = None
        finally:
            if alone:
                users.stop_training()

    def to_torch(self) -> torch.nn.Module:
        """This model as a torch.nn.Module (torch_bridge.CharRNNModule) with the
        same weights and dtype; see torch_bridge. Needs torch."""
        from . import torch_bridge

        with self._reading():
            return torch_bridge.to_torch(self)

    def to_onnx(self, path: str | os.PathLike[str]) -> None:
        """Write this model as an ONNX graph, (characters, state) -> (logits,
        state) in float32, for ONNX Runtime (onnx_export.py). Needs torch and onnx."""
        from . import onnx_export

        with self._reading():
            onnx_export.to_onnx(self, path)

    @classmethod
    def from_torch(cls, module: torch.nn.Module, vocab: Vocabulary | None = None) -> CharRNN:
        """A CharRNN with the weights of ``module`` (see torch_bridge.from_torch).
        Needs torch."""
        from . import torch_bridge

        return torch_bridge.from_torch(cls, module, vocab)

    # ------------------------------------------------------------------
    # Checkpoints: what they hold is checkpoint.py's to say

    def save(self, path: str | os.PathLike[str], weights_only: bool = False,
             dtype: str | None = None) -> None:
        """Write the whole model to one safetensors file, atomically.

        Weights, optimizer state, vocabulary, hyperparameters, the training
        position and history: CharRNN.load then continues exactly.

        weights_only=True writes the weights, vocabulary and hyperparameters
        only (weights_file.py), in ``dtype`` ("float16", "float32" or
        "float64"; None: the model's): what sampling, scoring, export and
        the JavaScript sampler need, an eighth of the default model's full
        checkpoint in float16. A model loaded from it computes in float64
        for a float64 file, else float32, and cannot resume training."""
        checks.one_of("weights_only", weights_only, (True, False))
        with self._reading():
            if weights_only:
                checkpoint.save_weights(self, path, dtype)
                return
            if dtype is not None:
                raise ValueError(f"dtype={dtype!r} is the dtype of a weights-only file: "
                                 f"pass weights_only=True too (a full checkpoint keeps the "
                                 f"model's dtype)")
            if self._weights_only:
                raise ValueError("this model was loaded from a weights-only file, which has "
                                 "no optimizer state or training position to save in a full "
                                 "checkpoint: save(path, weights_only=True)")
            checkpoint.save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharRNN:
        """A model saved by ``save`` (a full checkpoint or a weights-only
        file); CheckpointError names what is wrong."""
        return checkpoint.load_model(cls, path)

    def __getstate__(self) -> dict[str, Any]:
        # Pickling goes through the checkpoint format: no pickled internals.
        if not hasattr(self, "vocab_"):
            return {"params": self.get_params()}
        with self._reading():
            return {"checkpoint": checkpoint.model_bytes(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "checkpoint" not in state:
            self.__init__(**state["params"])  # type: ignore[misc]
            return
        self.__dict__.update(checkpoint.model_from_bytes(type(self), state["checkpoint"])
                             .__dict__)

