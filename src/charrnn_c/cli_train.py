"""charrnn train: fit a model on a file, printing samples as it learns, and
where its checkpoints go (one file, a fresh default name, or --checkpoint-dir)."""

from __future__ import annotations

import argparse
import inspect
import itertools
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from . import datasets, parameters
from .run_lock import check_not_foreign, file_identity
from .cli_commands import load, loss_text
from .cli_wording import UserError
from .documents import Documents
from .model import CharRNN

DEFAULT_CHECKPOINT = "charrnn.safetensors"
# 128 + SIGINT, the status a shell gives a command stopped by Ctrl-C, so that
# a script can tell an interrupted run (its checkpoint saved) from a finished one.
INTERRUPTED = 130
# --checkpoint-dir: char-rnn's naming, one file per save, and a copy of the best.
CHECKPOINT_PREFIX = "lm_"
BEST_CHECKPOINT = "best.safetensors"
# With no limit given, train trains one pass over the text, or as many
# passes as make this many characters, whichever is more: a small text is
# learned as char-rnn learns it, over many epochs (keep-best holds the
# weights of the best record), where one epoch of a 300 KB file at 32 x 50
# is 190 steps. 2.5 M characters is 1,560 steps of the defaults, about a
# minute on two cores; a run that stops shorter says so.
LEARNING_CHARACTERS = 2_500_000
# CharRNN's hyperparameters, each an option of train under its own name.
HYPERPARAMETERS = [name for name in inspect.signature(CharRNN).parameters]


def run_train(args: argparse.Namespace) -> int:
    # A file goes to fit as a path: read and encoded a chunk at a time into a
    # cache (corpus.py), never whole in memory.
    text: str | Path | list[Path] = (datasets.shakespeare() if not args.file
                                     else args.file[0] if len(args.file) == 1 else args.file)
    documents = None
    if isinstance(text, str):
        text_size = len(text)
    else:
        documents = Documents.of(text)
        for path in documents.paths:
            open(path, "rb").close()       # a missing file: one line, now
        text_size = sum(path.stat().st_size for path in documents.paths)
    size = f"{text_size:,} characters" if documents is None else f"{text_size:,} bytes"
    source = "the built-in Shakespeare corpus" if documents is None else str(documents)
    if args.checkpoint is None:
        args.checkpoint = _default_checkpoint(args.resume or args.overwrite
                                              or args.checkpoint_dir is not None)
    # The file a resumed run came from, as it was read: the one it may replace.
    own = {}
    if args.init_from is not None and args.resume:
        raise UserError("--resume continues the run in --checkpoint, and --init-from starts a "
                        "new run from another model's weights: give one")
    if args.init_from is not None:
        model = load(args.init_from)
        if args.n_threads is not None:
            model.set_params(n_threads=args.n_threads)
    elif args.resume:
        identity = file_identity(os.path.realpath(args.checkpoint))
        model = load(args.checkpoint)
        if identity is not None:
            own[os.path.realpath(args.checkpoint)] = identity
        if args.n_threads is not None:     # the machine's, not the checkpoint's
            model.set_params(n_threads=args.n_threads)
    else:
        model = CharRNN(**{name: getattr(args, name) for name in HYPERPARAMETERS})
        # fit would refuse a bad value too, but only after the lines below.
        parameters.validate(model.get_params(), auto=True)
    if args.checkpoint_dir is None and not args.overwrite:
        # fit checks too; here, before a line is printed or the text read.
        check_not_foreign(args.checkpoint, args.resume, own)
    if args.keep_checkpoints is not None and args.checkpoint_dir is None:
        raise UserError("--keep-checkpoints counts the files of --checkpoint-dir: give both")
    saves = (None if args.checkpoint_dir is None
             else CheckpointDir(args.checkpoint_dir, model, args.resume, args.keep_checkpoints))
    print(f"training on {source} ({size}); Ctrl-C stops and saves",
          file=sys.stderr)
    progress = not args.no_progress and sys.stderr.isatty()

    shown = False

    def show(record: dict[str, Any], save: bool = True) -> None:
        nonlocal shown
        shown = True
        lines = [f"iteration {record['iteration']:,}: train {record['train_loss']:.3f}, "
                 f"validation {loss_text(record['val_loss'])} nats/char"]
        for temperature in args.sample_temperatures:
            if len(args.sample_temperatures) > 1:
                lines.append(f"-- temperature {temperature:g}:")
            sample = model.sample(args.sample_length, temperature=temperature, seed=0)
            if isinstance(sample, bytes):   # a bytes model's sample, shown as text
                sample = sample.decode("utf-8", "replace")
            lines.append(sample)
        if progress:
            from tqdm.auto import tqdm
            tqdm.write("\n".join(lines))
        else:
            print("\n".join(lines), flush=True)
        if saves is not None and save:
            saves.save(record)

    iterations = args.iterations
    if args.iterations is args.epochs is args.minutes is None and not args.resume:
        if text_size * (1 - model.val_fraction) < LEARNING_CHARACTERS:
            iterations = math.ceil(LEARNING_CHARACTERS / (model.seq_length * model.batch_size))
            print(f"no --iterations, --epochs or --minutes: {iterations:,} iterations, "
                  f"{LEARNING_CHARACTERS:,} characters, many passes over this small text",
                  file=sys.stderr)
    started = time.perf_counter()
    model.fit(text, iterations=iterations, epochs=args.epochs,
              max_time=None if args.minutes is None else 60 * args.minutes,
              callbacks=[show], progress=progress,
              checkpoint=args.checkpoint if saves is None else None,
              checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
              eval_seconds=args.sample_seconds or None, resume=args.resume,
              overwrite=args.overwrite, patience=args.patience,
              warm_start=args.init_from is not None, unknown=args.unknown)
    last = model.history_[-1]
    if not shown:                    # every run shows what it learned, once at least
        show(last, save=False)
    if saves is not None:
        saves.save(last)             # the record fit takes at the end is not a callback's
    saved = args.checkpoint if saves is None else saves.last
    best = "" if saves is None else f" (best: {saves.directory / BEST_CHECKPOINT})"
    # --keep-best: the model holds the weights of its kept record, maybe not the last.
    kept = next((record for record in model.history_ if record.get("kept")), last)
    which = "" if kept is last else f" (kept: iteration {kept['iteration']:,})"
    chosen = model.chosen_
    size = ("" if chosen is None else f"; auto: {chosen['num_layers']} x "
            f"{chosen['hidden_size']} {model.cell}, dropout {chosen['dropout']:g}")
    print(f"done ({model.stop_reason_}): {model.n_iter_:,} iterations in "
          f"{time.perf_counter() - started:.0f} s; held-out {loss_text(kept['val_loss'])} "
          f"nats/char ({loss_text(kept['val_loss'], bits=True)} bits/char){which}{size}; "
          f"saved to {saved}{best}")
    trained = model.n_iter_ * model.seq_length * model.batch_size
    if trained < LEARNING_CHARACTERS and model.stop_reason_ in ("iterations", "epochs", "max_time"):
        print(f"note: {trained:,} characters is too few to learn much; for more, pass "
              f"--minutes 5, or --epochs E or --iterations N", file=sys.stderr)
    return INTERRUPTED if model.stop_reason_ == "interrupted" else 0


def _default_checkpoint(replacing: bool) -> Path:
    """charrnn.safetensors, or, where that holds an earlier run that this
    one neither resumes nor overwrites, the first free charrnn-N.safetensors:
    the README's first command runs again without a word of advice, and the
    earlier model stays."""
    path = Path(DEFAULT_CHECKPOINT)
    if replacing or not path.exists() or path.stat().st_size == 0:
        return path
    for n in itertools.count(2):
        fresh = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not fresh.exists():
            print(f"{path} holds an earlier run: this one saves to {fresh}", file=sys.stderr)
            return fresh
    raise AssertionError("unreachable")


class CheckpointDir:
    """--checkpoint-dir: the model saved at each record to a file of its own,
    named by iteration and loss as char-rnn names its files, and the best so
    far (lowest validation loss) saved again as best.safetensors: a file, not
    a link, since links need privileges on Windows and die with their target."""

    def __init__(self, directory: Path, model: CharRNN, resume: bool,
                 keep: int | None = None) -> None:
        if directory.exists() and not directory.is_dir():
            raise UserError(f"{directory}: --checkpoint-dir must be a directory")
        theirs = list(directory.glob(f"{CHECKPOINT_PREFIX}i*.safetensors"))
        if not resume and (theirs or (directory / BEST_CHECKPOINT).exists()):
            # A fresh run would overwrite another run's best.
            latest = max(theirs, key=_iteration, default=directory / BEST_CHECKPOINT)
            raise UserError(f"{directory} already holds the checkpoints of a run: give "
                            f"another --checkpoint-dir, or continue that run with --resume "
                            f"--checkpoint {latest}")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.model, self.keep = directory, model, keep
        self.last: Path | None = None
        losses = [_record_loss(r)[1] for r in getattr(model, "history_", [])]
        self.best = (min(losses) if losses and (directory / BEST_CHECKPOINT).exists()
                     else math.inf)

    def save(self, record: dict[str, Any]) -> None:
        kind, loss = _record_loss(record)
        path = self.directory / (f"{CHECKPOINT_PREFIX}i{record['iteration']}_"
                                 f"{kind}{loss:.3f}.safetensors")
        if path == self.last:
            return
        self.model.save(path)
        self.last = path
        if loss < self.best:
            self.best = loss
            self.model.save(self.directory / BEST_CHECKPOINT)
        if self.keep is not None:
            # Oldest first by iteration; the best is its own file, never removed.
            records = sorted(self.directory.glob(f"{CHECKPOINT_PREFIX}i*.safetensors"),
                             key=_iteration)
            for old in records[:-self.keep]:
                old.unlink()


def _iteration(path: Path) -> int:
    """The iteration in a --checkpoint-dir file's name (0 if there is none)."""
    found = re.match(rf"{CHECKPOINT_PREFIX}i(\d+)_", path.name)
    return int(found.group(1)) if found else 0


def _record_loss(record: dict[str, Any]) -> tuple[str, float]:
    """The loss a checkpoint is named and ranked by: validation where there is
    held-out text (--val-fraction 0 has none), else the training loss."""
    if record["val_loss"] is not None:
        return "val", record["val_loss"]
    return "train", record["train_loss"]

