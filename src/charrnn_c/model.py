"""CharRNN: the character-level language model users meet first.

It follows scikit-learn's conventions: ``__init__`` only stores its
arguments, ``fit`` validates them (parameters.py) and returns ``self``, and
what was learned ends in an underscore (``vocab_``, ``history_``). The
estimator holds a vocabulary, a ModelSpec and a TrainingState
(training_state.py), and hands them, as plain data, to the layers below:
training.py trains the state, checkpoint.py writes and reads it,
torch_bridge.py converts the weights; sampling.py and scoring.py hold its
sample and score methods. Everything per character runs in C.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np

from . import budget, checks, corpus, kernels, parameters, training
from .conversions import WeightsMethods
from .parameters import AUTO, CHOSEN, WRITEUP
from .run_limits import shows
from .run_lock import OwnFiles, check_not_foreign, owning
from .safetensors_file import check_writable
from .sampling import SamplingMethods
from .saving import CheckpointMethods
from .scoring import ScoringMethods
from .spec import ModelSpec
from .training_state import StateField, TrainingState, fresh_state
from .usage import Users
from .vocab import MAX_VOCAB_SIZE, UNKNOWN_POLICIES, Vocabulary

__all__ = ["CharRNN", "WRITEUP"]

# A text itself, a file, a directory's files, or a list of files (documents.py).
Text = str | bytes | os.PathLike[str] | Sequence[os.PathLike[str]]


class CharRNN(SamplingMethods, ScoringMethods, WeightsMethods, CheckpointMethods):
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
    hidden_size, num_layers : sizes of the recurrent stack; "auto" (as
        dropout and learning_rate): fit chooses from its budget and the text
        (budget.py, CharRNN.auto()), and ``chosen_`` says what.
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
    records : each line of the text is an independent record (a name, a
        title), trained from a zero state between line breaks, its end of
        record (records.py); sample_records draws whole ones.

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
    chosen_ : what fit chose for the parameters left "auto" (budget.Choice:
        hidden_size, num_layers, dropout, learning_rate and the budget it
        chose for); None
        where none was.
    weights_only_ : loaded from a weights-only file (save(weights_only=True)): no
        optimizer state or training position, so it samples and scores but
        cannot resume.
    """

    def __init__(self, hidden_size: int = 256, num_layers: int = 2, cell: str = "gru",
                 seq_length: int = 50, batch_size: int = 32, learning_rate: float | None = None,
                 optimizer: str = "adam", clip: float = 5.0, dtype: str = "float32",
                 val_fraction: float = 0.05, vocab: str = "chars",
                 max_vocab_size: int = MAX_VOCAB_SIZE,
                 init_std: float | None = None, seed: int | None = None, dropout: float = 0.0,
                 clip_norm: float | None = 1.0, n_threads: int | None = None,
                 recurrent_init: str = "orthogonal", lr_schedule: str = "cosine",
                 warmup: int = 200, min_lr_ratio: float = 0.1, keep_best: bool = True,
                 records: bool = False) -> None:
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
        self.records = records
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

    @classmethod
    def auto(cls, **overrides: Any) -> CharRNN:
        """The defaults with hidden_size, num_layers, dropout and learning_rate "auto": fit
        chooses them from the time it is given (timing this machine for a
        second) or the characters it trains, and the text's length, by the
        rule budget.py states; any given in ``overrides`` stays as given."""
        return cls(**{**dict.fromkeys(CHOSEN, AUTO), **overrides})


    # Fitted attributes, set by fit or load: the vocabulary, the spec, and
    # the training state, whose fields the others are.
    spec_: ModelSpec
    vocab_: Vocabulary
    _state: TrainingState
    params_ = StateField("params")
    optimizer_ = StateField("optimizer")
    hidden_ = StateField("hidden")
    n_iter_ = StateField("iteration")
    history_ = StateField("history")
    seed_ = StateField("seed")
    stop_reason_ = StateField("stop_reason")
    threads_ = StateField("threads")
    best_iteration_ = StateField("best_iteration")
    weights_only_ = StateField("weights_only")
    chosen_ = StateField("chosen")
    # What fit's records measure validation loss with (training.Evaluate).
    _evaluate = staticmethod(kernels.log_probs)

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

    def _check_choices(self) -> None:
        """Choices from a fixed list, checked as given (parameters.check_choices:
        why); they are stored unchanged, so get_params and clone are unaffected."""
        parameters.check_choices(self.get_params())

    # ------------------------------------------------------------------
    # Training

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocab_"):
            raise RuntimeError("this CharRNN is not fitted yet: call fit() or CharRNN.load()")

    def _users(self) -> Users:
        """This model's Users, made on first use (__init__ only stores arguments)."""
        return Users.of(self)

    def _reading(self) -> Users:
        """``with self._reading():`` around a use of the fitted model (Users)."""
        self._check_fitted()
        return self._users()

    def _own_files(self) -> OwnFiles:
        """The checkpoints this run came from or wrote (run_lock.check_not_foreign)."""
        return cast(OwnFiles, self.__dict__.setdefault("_checkpoint_files", {}))

    def _config(self, params: dict[str, Any], run: dict[str, Any],
                warm_start: bool) -> training.Config:
        """fit's Config of ``params`` (no "auto" left) and ``run``, once they can train."""
        if warm_start and parameters.model_spec(params, len(self.vocab_)) != self.spec_:
            raise ValueError("warm_start=True trains the model's own weights, whose "
                             "hidden_size, num_layers, cell and dtype set_params has "
                             "changed since: set them back, or fit without warm_start")
        config = training.Config.of(params, **run)
        training.check_schedule_end(config, self._state if run["resume"] else None)
        return config

    def _fitted_params(self) -> dict[str, Any]:
        """The hyperparameters as the model trained: each "auto" as chosen."""
        return budget.fitted_params(self.get_params(), self.spec_, self._state.chosen)

    def _start(self, vocab: Vocabulary, weights: dict[str, np.ndarray] | None = None,
               params: dict[str, Any] | None = None) -> None:
        """Fitted state from step 0 for ``vocab`` (fresh_state), ``weights`` where
        given, of ``params`` (default: get_params(), with no "auto")."""
        params = self.get_params() if params is None else params
        self.vocab_ = vocab
        self.spec_ = parameters.model_spec(params, len(vocab))
        self._state = fresh_state(self.spec_, params)
        self.__dict__["_checkpoint_files"] = {}      # a fresh run came from no checkpoint
        if weights is not None:
            self.load_state_dict(weights)

    def fit(self, text: Text, iterations: int | float | None = None,
            epochs: float | None = None,
            max_time: float | None = None,
            callbacks: Iterable[Callable[[dict[str, Any]], Any]] = (),
            progress: bool | None = None, checkpoint: str | os.PathLike[str] | None = None,
            checkpoint_every: int = 1000, eval_every: int | None = None,
            resume: bool = False, eval_seconds: float | None = None,
            overwrite: bool = False, patience: int | None = None, backend: str = "c",
            device: str | None = None, warm_start: bool = False,
            unknown: str = "error") -> CharRNN:
        """Train on ``text``: a str or bytes is the text itself, a path
        (pathlib.Path, any os.PathLike) names a file, read a chunk at a time;
        a directory, or a list of paths, names several files, trained on as
        one text with a file separator (U+001C) between two (documents.py).

        A str on one line that names an existing file or directory, or is one
        word ending in a text file's suffix ("data/input.txt"), is refused
        (ValueError) as a path passed by mistake: pass pathlib.Path(...). An
        open file is refused too (TypeError): pass its path, or its read().

        Stops after ``iterations`` steps, ``epochs`` passes or ``max_time``
        seconds, whichever comes first (one epoch when none is given), or on
        Ctrl-C, after the step under way: the model is always consistent.
        ``resume=True`` continues a fitted or loaded model exactly where it
        stopped, on the same text; otherwise training starts afresh.
        ``warm_start=True`` fine-tunes: a new run, on any text, that starts
        from the model's weights (keep_best's, where it kept some) with its
        vocabulary and a fresh optimizer, position and history (char-rnn's
        -init_from). A text holding symbols the vocabulary lacks is refused
        naming them (UnknownSymbolError), or with ``unknown="skip"`` trained
        on without them; the hyperparameters that shape the weights
        (hidden_size, num_layers, cell, dtype) cannot change.

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
        run_lock.CheckpointExistsError, a FileExistsError and a ValueError.

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
        run = training.check_run(
            iterations=iterations, epochs=epochs, max_time=max_time,
            checkpoint_every=checkpoint_every, eval_every=eval_every, eval_seconds=eval_seconds,
            patience=patience, backend=backend, device=device, resume=resume, progress=progress)
        callbacks = training.check_callbacks(callbacks)
        users = self._users()
        users.start_training()
        try:
            checks.one_of("unknown", unknown, UNKNOWN_POLICIES)
            if resume or warm_start:
                self._check_fitted()
            if resume and warm_start:
                raise ValueError("resume=True continues a run on its own text, and "
                                 "warm_start=True starts a new one from its weights: give one")
            if resume:
                if self.weights_only_:
                    raise checks.InvalidParameterError(
                        (checks.Setting("resume", True), " needs a full checkpoint, and this "
                         "model was loaded from a weights-only file",
                         checks.PythonOnly(" (save(..., weights_only=True))"), ", which "
                         "holds no optimizer state, training position or schedule to "
                         "continue from"),
                        (checks.Call("fit"), " without ", checks.Setting("resume", True),
                         " trains a new model"), param="resume")
            params = self.get_params()
            parameters.validate(params, auto=True)
            if not budget.leaves_choice(params):     # else once chosen, below
                self._config(params, run, warm_start)
            if checkpoint is not None:
                # Now, before the model changes, rather than after hours of training.
                check_writable(checkpoint)
                if not overwrite:
                    check_not_foreign(checkpoint, resume, self._own_files())
            # The run holds its checkpoint path to its end: another run onto
            # it is refused now, and this one is refused while another holds it.
            with (owning(checkpoint) if checkpoint is not None
                  and training.writes_checkpoints(backend) else contextlib.nullcontext()):
                # A file is read, counted and encoded a chunk at a time, into a
                # cache on disk that training reads (corpus.py); text in memory as is.
                encoded = corpus.encode(text, self.vocab, self.max_vocab_size,
                                        self.vocab_ if resume or warm_start else None, unknown)
                params, run, choice = budget.resolve(
                    params, run, round(len(encoded.data) * (1 - self.val_fraction)),
                    len(encoded.vocab), self._state.chosen if resume else None,
                    self.spec_ if resume or warm_start else None)
                config = self._config(params, run, warm_start)
                if not resume:
                    weights = (self.spec_.unflatten(self._state.saved_weights()[0].copy())
                               if warm_start else None)
                    self._start(encoded.vocab, weights, params)
                    self._state.chosen = None if choice is None else choice.to_dict()
                if choice is not None and shows(run["progress"]):
                    print(choice.describe(), file=sys.stderr, flush=True)
                save = None if checkpoint is None else self._saver(checkpoint)
                try:
                    training.train(self.spec_, self._state, config, encoded,
                                   callbacks=callbacks, save=save, evaluate=self._evaluate)
                except training.TextTooShortError as error:
                    if not (isinstance(text, str) and len(text) < 260):
                        raise
                    *first, last = error.clauses
                    hint = checks.PythonOnly(" (a str is the text itself: pass pathlib.Path "
                                             "to read a file)")
                    raise training.TextTooShortError(*first, (*last, hint),
                                                     param=error.param) from None
            return self
        finally:
            users.stop_training()
