"""The ``charrnn`` command line: train, sample, eval, info, serve, export, plot.

Errors a user can cause print one line on stderr, in the command line's own
terms (its flags, not the Python parameters behind them), and exit with
status 1 (2 for a bad option, 130 for Ctrl-C); no traceback. Defaults are the
Python API's, read from its signatures, and every --help shows them.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import itertools
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import __version__, datasets, training
from .run_lock import check_not_foreign
from .safetensors_file import CheckpointError
from .data import read_text
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


def _defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {name: parameter.default
            for name, parameter in inspect.signature(function).parameters.items()}


# One set of defaults: the command line's are the Python API's.
MODEL = _defaults(CharRNN)
# --preset NAME: CharRNN's parameters for a recipe, as train's defaults.
PRESETS = {"writeup": CharRNN.writeup().get_params()}
FIT = _defaults(CharRNN.fit)
SAMPLE = _defaults(CharRNN.sample)
EVALUATE = _defaults(CharRNN.evaluate)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default; a switch, or an option that
    is off or automatic by default (None), says in its help what not giving
    it means."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.nargs == 0:
            return action.help or ""
        return super()._get_help_string(action) or ""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with option errors on one line (usage stays in --help).

    A parser with ``presets`` (train's) takes --preset NAME: that preset's
    values become the defaults, so that an option given wins wherever it
    stands on the line (a second parse, once the first has read NAME)."""

    presets: dict[str, dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        fresh = None if namespace is None else argparse.Namespace(**vars(namespace))
        parsed, extras = super().parse_known_args(args, namespace)
        preset = getattr(parsed, "preset", None)
        if preset is None or not self.presets:
            return parsed, extras
        defaults = {dest: self.get_default(dest) for dest in self.presets[preset]}
        self.set_defaults(**self.presets[preset])
        try:
            return super().parse_known_args(args, fresh)
        finally:
            self.set_defaults(**defaults)         # the parser as it was, for another parse

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # The command's own parser knows the options a typo was meant for.
            self.error(f"unrecognized arguments: {' '.join(extras)}"
                       + _did_you_mean(extras, getattr(parsed, "parser", self)))
        return parsed

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _did_you_mean(extras: list[str], parser: argparse.ArgumentParser) -> str:
    """" (did you mean --temperature?)" for the first unknown option that is
    close to one of ``parser``'s, else ""."""
    options = [name for action in parser._actions for name in action.option_strings
               if name.startswith("--")]
    for extra in extras:
        if extra.startswith("--"):
            close = difflib.get_close_matches(extra.split("=")[0], options, n=1, cutoff=0.75)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


class UserError(Exception):
    """A mistake in what the user asked for, shown as one line."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def norm_or_off(text: str) -> float | None:
    """--clip-norm: a positive norm, or 0 for no norm clipping (None)."""
    value = non_negative_float(text)
    return None if value == 0 else value


def temperatures(text: str) -> list[float]:
    return [non_negative_float(piece) for piece in text.split(",")]


def build_parser() -> ArgumentParser:
    # An option's dest is the name of the Python parameter it sets, so that
    # the library's messages can be put in the CLI's terms (cli_wording).
    parser = ArgumentParser(
        prog="charrnn",
        description="Character-level recurrent language models with a fast C core.",
        epilog="Run 'charrnn COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"charrnn-c {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=ArgumentParser)

    train = commands.add_parser(
        "train", help="train a model on a text file (default: built-in Shakespeare)",
        description="Train a model on FILE (the built-in Shakespeare corpus by default), "
                    "printing samples as it learns and saving a checkpoint as it goes.")
    train.add_argument("file", nargs="?", type=Path,
                       help="UTF-8 text file (any file with --vocab bytes)")
    train.presets = PRESETS
    train.add_argument("--preset", choices=sorted(PRESETS),
                       help="start from a recipe, any option given still winning: writeup "
                            "is the write-up's (CharRNN.writeup(): a 1 x 100 tanh RNN in "
                            "float64, --seq-length 25, --batch-size 1, adagrad at 0.1, "
                            "--clip 5, --init-std 0.01, a constant rate, --no-keep-best)")
    model = train.add_argument_group("model")
    model.add_argument("--hidden-size", type=positive_int, default=MODEL["hidden_size"],
                       help="units per layer")
    model.add_argument("--num-layers", type=positive_int, default=MODEL["num_layers"],
                       help="recurrent layers")
    model.add_argument("--cell", default=MODEL["cell"], choices=["rnn", "gru", "lstm"],
                       help="vanilla tanh RNN, GRU or LSTM")
    model.add_argument("--dropout", type=float, default=MODEL["dropout"],
                       help="dropout between layers, in training only")
    model.add_argument("--dtype", default=MODEL["dtype"], choices=["float32", "float64"],
                       help="floating-point type of weights and arithmetic")
    model.add_argument("--vocab", default=MODEL["vocab"], choices=["chars", "bytes"],
                       help="model Unicode characters, or the file's bytes")
    model.add_argument("--max-vocab-size", type=positive_int, default=MODEL["max_vocab_size"],
                       help="refuse a text with more distinct symbols")
    model.add_argument("--init-std", type=float, default=MODEL["init_std"],
                       help="weights start as N(0, std^2) (default: 0.01 for one layer, "
                            "else 1 / sqrt(--hidden-size))")
    model.add_argument("--recurrent-init", default=MODEL["recurrent_init"],
                       choices=["normal", "orthogonal"],
                       help="recurrent weights W_hh: N(0, std^2) as the others, or random "
                            "orthogonal matrices, for deep or long tanh recurrences")
    training_options = train.add_argument_group("training")
    training_options.add_argument("--seq-length", type=positive_int,
                                  default=MODEL["seq_length"],
                                  help="characters per stream per step (BPTT length)")
    training_options.add_argument("--batch-size", type=positive_int,
                                  default=MODEL["batch_size"], help="parallel streams")
    training_options.add_argument("--optimizer", default=MODEL["optimizer"],
                                  choices=["adagrad", "adam", "rmsprop"], help="update rule")
    training_options.add_argument("--learning-rate", type=float, default=MODEL["learning_rate"],
                                  help="default: 0.1 for adagrad, 2e-3 for adam and rmsprop")
    training_options.add_argument("--clip", type=float, default=MODEL["clip"],
                                  help="clip each gradient value to [-clip, clip]")
    training_options.add_argument("--clip-norm", type=norm_or_off, default=MODEL["clip_norm"],
                                  help="first scale the gradient down to this global L2 norm "
                                       "(0: no norm clipping)")
    training_options.add_argument("--lr-schedule", default=MODEL["lr_schedule"],
                                  choices=["constant", "cosine", "linear"],
                                  help="decay the learning rate to --min-lr-ratio times it "
                                       "by the end of training (the first limit reached: "
                                       "--minutes anneals to the deadline); --resume follows "
                                       "the run's schedule to its end")
    training_options.add_argument("--warmup", type=int, default=MODEL["warmup"],
                                  help="iterations over which the rate ramps up linearly "
                                       "at the start")
    training_options.add_argument("--min-lr-ratio", type=float, default=MODEL["min_lr_ratio"],
                                  help="the rate at the schedule's end, as a fraction of "
                                       "--learning-rate")
    training_options.add_argument("--keep-best", action=argparse.BooleanOptionalAction,
                                  default=MODEL["keep_best"],
                                  help="end with the weights of the sample of lowest "
                                       "validation loss (--resume still continues from the "
                                       "last step)")
    training_options.add_argument("--threads", dest="n_threads", type=positive_int,
                                  default=MODEL["n_threads"],
                                  help="threads a step runs on, each over a share of the "
                                       "streams (default: the available cores, fewer where "
                                       "a share would be too small)")
    training_options.add_argument("--val-fraction", type=float, default=MODEL["val_fraction"],
                                  help="the tail of the text held out for validation")
    training_options.add_argument("--seed", type=int, default=MODEL["seed"],
                                  help="for repeatable training (default: fresh randomness)")
    stop = train.add_argument_group(
        "when to stop (first reached; if none, one epoch or "
        f"{LEARNING_CHARACTERS:,} characters, whichever is more)")
    stop.add_argument("--iterations", type=positive_int, help="training steps")
    stop.add_argument("--epochs", type=positive_float, help="passes over the text")
    stop.add_argument("--minutes", type=positive_float, help="minutes of training")
    stop.add_argument("--patience", type=positive_int, default=FIT["patience"],
                      help="stop once this many samples in a row have not lowered the "
                           "lowest validation loss (default: never)")
    output = train.add_argument_group("output")
    output.add_argument("--checkpoint", type=Path,
                        help="the file the model is saved to (and read by --resume); "
                             "one there already is replaced only with --resume or "
                             f"--overwrite (default: {DEFAULT_CHECKPOINT}, or where that "
                             "holds an earlier run and --resume is not given, the first "
                             "free charrnn-N.safetensors)")
    output.add_argument("--checkpoint-every", type=positive_int,
                        default=FIT["checkpoint_every"],
                        help="iterations between saves (also saved at the end and on Ctrl-C)")
    output.add_argument("--checkpoint-dir", type=Path,
                        help="instead of overwriting --checkpoint, keep one file per sample "
                             f"here, named by iteration and validation loss "
                             f"({CHECKPOINT_PREFIX}i12000_val1.873.safetensors), and a copy "
                             f"of the best as {BEST_CHECKPOINT}")
    output.add_argument("--keep-checkpoints", metavar="N", type=positive_int,
                        help="with --checkpoint-dir, keep only the last N record files "
                             f"(and {BEST_CHECKPOINT}); default: all")
    output.add_argument("--resume", action="store_true",
                        help="continue training the model in --checkpoint on the same text "
                             "(its hyperparameters come from the checkpoint)")
    output.add_argument("--overwrite", action="store_true", default=FIT["overwrite"],
                        help="replace the file at --checkpoint, whatever it holds, with this "
                             "run's model (without it, train refuses to replace another "
                             "model or a file that is no checkpoint)")
    output.add_argument("--sample-every", dest="eval_every", metavar="N", type=positive_int,
                        default=FIT["eval_every"],
                        help="iterations between printed samples and validation losses "
                             f"(default: every {training.RECORD_CHARACTERS:,} characters "
                             "trained)")
    output.add_argument("--sample-seconds", type=non_negative_float, default=30.0,
                        help="also print a sample when this many seconds have passed "
                             "since the last (0: only by --sample-every)")
    output.add_argument("--sample-temperatures", type=temperatures, default="0.8",
                        help="one sample at each of these comma-separated temperatures")
    output.add_argument("--sample-length", type=positive_int, default=200,
                        help="characters per printed sample")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=run_train, parser=train)

    sample = commands.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate text from a trained model. The prime is printed first, "
                    "then LENGTH characters that follow it. With -k K, K samples drawn "
                    "together, each after a line '-- sample I of K', a blank line between.")
    sample.add_argument("checkpoint", type=Path, help="a model saved by charrnn train")
    sample.add_argument("-n", "--length", dest="n", type=positive_int, default=SAMPLE["n"],
                        help="characters to generate after the prime")
    primes = sample.add_mutually_exclusive_group()
    primes.add_argument("--prime", dest="prime",
                        help="text to start from (default: a line break)")
    primes.add_argument("--prime-file", type=Path, help="read the prime from a file")
    sample.add_argument("--omit-prime", action="store_true",
                        help="print only the generated text, not the prime before it")
    sample.add_argument("--skip-unknown", dest="unknown", action="store_const", const="skip",
                        default="error",
                        help="drop characters of the prime the model has never seen "
                             "(without it, they are an error)")
    sample.add_argument("--temperature", type=non_negative_float,
                        default=SAMPLE["temperature"],
                        help="0 takes the most likely character")
    sample.add_argument("--top-k", type=positive_int, default=SAMPLE["top_k"],
                        help="draw from the K most likely characters only (default: all)")
    sample.add_argument("--top-p", type=float, default=SAMPLE["top_p"],
                        help="draw from the most likely characters whose probabilities "
                             "add up to P (default: all)")
    sample.add_argument("--stop", default=SAMPLE["stop"],
                        help="stop once the text contains this string")
    sample.add_argument("--seed", type=int, default=SAMPLE["seed"],
                        help="the same seed gives the same text (default: fresh randomness)")
    outputs = sample.add_mutually_exclusive_group()
    outputs.add_argument("--stream", action="store_true", help="print characters as they come")
    outputs.add_argument("-k", "--num-samples", dest="num_samples", type=positive_int,
                         default=SAMPLE["num_samples"],
                         help="draw K independent samples at once, far faster than K runs "
                              "(default: one, printed without a header)")
    sample.set_defaults(run=run_sample, parser=sample)

    evaluate = commands.add_parser("eval", help="held-out loss of a model on a text file",
                                   description="Nats, bits per character and perplexity.")
    evaluate.add_argument("checkpoint", type=Path, help="a model saved by charrnn train")
    evaluate.add_argument("file", type=Path, help="the text to measure the loss on")
    evaluate.add_argument("--skip-unknown", dest="unknown", action="store_const",
                          const="skip", default=EVALUATE["unknown"],
                          help="drop characters the model has never seen "
                               "(without it, they are an error)")
    evaluate.set_defaults(run=run_eval, parser=evaluate)

    info = commands.add_parser("info", help="describe a checkpoint",
                               description="Hyperparameters, size, iterations and loss.")
    info.add_argument("checkpoint", type=Path, help="a model saved by charrnn train")
    info.set_defaults(run=run_info, parser=info)

    serve = commands.add_parser(
        "serve", help="sample a model over HTTP",
        description="HTTP JSON on the loopback by default: POST /sample with sample's fields "
                    "(n, prime, temperature, top_k, top_p, stop, seed, num_samples) answers "
                    '{"samples": [...]}; POST /stream sends the text as server-sent events '
                    "as it is drawn; GET /info describes the model.")
    serve.add_argument("checkpoint", type=Path, help="a checkpoint or weights-only file")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (0.0.0.0: every interface)")
    serve.add_argument("--port", type=int, default=8000, help="the port (0: any free one)")
    serve.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    serve.set_defaults(run=run_serve, parser=serve)

    export = commands.add_parser(
        "export", help="the model as a web page",
        description="charrnn export web CKPT DIR writes a static page that samples the "
                    "model in the browser (index.html, charrnn.js, the weights as model.js): "
                    "it works opened from the disk and from any static host.")
    export.add_argument("target", choices=["web"], help="what to export to")
    export.add_argument("checkpoint", type=Path, help="a checkpoint or weights-only file")
    export.add_argument("directory", type=Path, help="the directory to write (made if missing)")
    export.add_argument("--dtype", choices=["float16", "float32", "float64"],
                        default="float16", help="the dtype the page's weights are stored in")
    export.set_defaults(run=run_export, parser=export)

    plot = commands.add_parser("plot", help="plot training and validation loss",
                               description="Plot the loss curves (needs matplotlib).")
    plot.add_argument("checkpoint", type=Path, help="a model saved by charrnn train")
    plot.add_argument("-o", "--output", type=Path, default=Path("loss.png"),
                      help="the image file (its suffix gives the format)")
    plot.add_argument("--title", help="the plot's title (default: the checkpoint's name "
                                      "and the model's size)")
    plot.set_defaults(run=run_plot, parser=plot)
    return parser


def load(path: str | os.PathLike[str]) -> CharRNN:
    return CharRNN.load(path)


# ----------------------------------------------------------------------
# train

def run_train(args: argparse.Namespace) -> int:
    # A file goes to fit as a path: read and encoded a chunk at a time into a
    # cache (corpus.py), never whole in memory.
    text: str | Path = datasets.shakespeare() if args.file is None else args.file
    if isinstance(text, Path):
        open(text, "rb").close()       # a missing file or a directory: one line, now
    size = (f"{len(text):,} characters" if isinstance(text, str)
            else f"{text.stat().st_size:,} bytes")
    source = "the built-in Shakespeare corpus" if args.file is None else str(args.file)
    if args.checkpoint is None:
        args.checkpoint = _default_checkpoint(args.resume or args.overwrite
                                              or args.checkpoint_dir is not None)
    if args.resume:
        model = load(args.checkpoint)
        if args.n_threads is not None:     # the machine's, not the checkpoint's
            model.set_params(n_threads=args.n_threads)
    else:
        names = set(MODEL) & set(vars(args))
        model = CharRNN(**{name: getattr(args, name) for name in names})
        # fit would refuse a bad value too, but only after the line below.
        model._validate_params()
    if args.checkpoint_dir is None and not args.overwrite:
        # fit checks too; here, before a line is printed or the text read.
        check_not_foreign(args.checkpoint, args.resume, model._own_files())
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
                 f"validation {_loss(record['val_loss'])} nats/char"]
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
        text_size = len(text) if isinstance(text, str) else text.stat().st_size
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
              overwrite=args.overwrite, patience=args.patience)
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
    print(f"done ({model.stop_reason_}): {model.n_iter_:,} iterations in "
          f"{time.perf_counter() - started:.0f} s; held-out {_loss(kept['val_loss'])} "
          f"nats/char ({_loss(kept['val_loss'], bits=True)} bits/char){which}; "
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


# ----------------------------------------------------------------------
# sample, eval, info

def run_sample(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    prime = args.prime
    if args.prime_file is not None:
        prime = read_text(args.prime_file, model.vocab_.mode)
    if model.vocab_.mode == "bytes" and isinstance(prime, str):
        prime = prime.encode("utf-8", "surrogateescape")
    known = prime
    if prime:   # refused or cut down before any of it is printed
        known = model.vocab_.decode(model.vocab_.encode(prime, unknown=args.unknown))
    options = dict(prime=known, temperature=args.temperature, top_k=args.top_k,
                   top_p=args.top_p, stop=args.stop, seed=args.seed)
    out = sys.stdout
    if args.num_samples is not None:
        try:
            samples = model.sample(args.n, num_samples=args.num_samples, **options)
        except MemoryError as error:
            raise UserError(f"{error}: give a smaller --num-samples") from None
        for i, text in enumerate(samples):
            _write(out, ("\n" if i else "") + f"-- sample {i + 1} of {len(samples)}\n")
            if prime and not args.omit_prime:
                _write(out, prime)
            _write(out, text)
            _write(out, "\n")
        return 0
    # As char-rnn and textgenrnn print it: the prime as given, then what follows.
    if prime and not args.omit_prime:
        _write(out, prime)
    if args.stream:
        out.flush()
        for piece in model.generate(max_chars=args.n, **options):
            _write(out, piece)
            out.flush()
    else:
        _write(out, model.sample(args.n, **options))
    _write(out, "\n")
    return 0


def _write(out: TextIO, piece: str | bytes) -> None:
    if isinstance(piece, bytes):
        out.flush()
        out.buffer.write(piece)
        out.buffer.flush()
        return
    try:
        out.write(piece)           # encoded whole first: nothing is written if it fails
    except UnicodeEncodeError:
        # A model fitted on a str holding lone surrogates (or a terminal that
        # is not UTF-8) draws what the stream cannot encode: written as
        # \udc80 escapes rather than lost to a traceback.
        encoding = out.encoding or "utf-8"
        out.write(piece.encode(encoding, "backslashreplace").decode(encoding))


def run_eval(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    # A path: evaluate reads it a chunk at a time, never whole.
    result = model.evaluate(Path(args.file), unknown=args.unknown)
    print(f"{result['nats_per_char']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char, "
          f"perplexity {result['perplexity']:.3f} over {result['characters']:,} characters")
    return 0


def run_info(args: argparse.Namespace) -> int:
    model = load(args.checkpoint)
    last = model.history_[-1] if model.history_ else {}
    lines = [
        f"file:        {args.checkpoint} ({args.checkpoint.stat().st_size:,} bytes)",
        f"model:       {_size(model)}, {model.dtype}",
        f"vocabulary:  {len(model.vocab_)} symbols ({model.vocab_.mode})",
        (f"training:    {model.optimizer_.name} lr {model.optimizer_.learning_rate:g}, "
         f"seq_length {model.seq_length}, batch_size {model.batch_size}, clip {model.clip:g}, "
         f"seed {model.seed_}" if not model._weights_only else
         "training:    none kept (a weights-only file: it samples and scores, and cannot "
         "resume)"),
        f"trained:     {model.n_iter_:,} iterations, "
        f"{model.n_iter_ * model.seq_length * model.batch_size:,} characters",
        f"loss:        train {_loss(last.get('train_loss'))}, "
        f"validation {_loss(last.get('val_loss'))} nats/char",
    ]
    print("\n".join(lines))
    return 0


def _size(model: CharRNN) -> str:
    return (f"{model.num_layers} x {model.hidden_size} {model.cell}, "
            f"{model.params_.size:,} parameters")


# ----------------------------------------------------------------------
# serve, export

def run_serve(args: argparse.Namespace) -> int:
    from .serve import make_server

    server = make_server(load(args.checkpoint), args.host, args.port, quiet=args.quiet)
    print(f"serving {args.checkpoint} on http://{args.host}:{server.server_port} (Ctrl-C "
          f"stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .export_web import export_web

    paths = export_web(load(args.checkpoint), args.directory, dtype=args.dtype)
    print(f"wrote {', '.join(str(path) for path in paths)}: open {paths[0]}")
    return 0


# ----------------------------------------------------------------------
# plot

def run_plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("charrnn plot needs matplotlib: pip install 'charrnn-c[plot]'") from None
    model = load(args.checkpoint)
    if not model.history_:
        raise UserError(f"{args.checkpoint} has no training history to plot")
    title = args.title
    if title is None:
        title = f"{args.checkpoint.name}: {_size(model)}"
    loss_figure(model, title).savefig(args.output)
    print(f"saved {args.output}")
    return 0


def loss_figure(model: CharRNN, title: str) -> Any:
    """The training and validation loss of ``model.history_`` against
    iterations, each resume marked by a dotted line, as a matplotlib Figure."""
    from matplotlib.figure import Figure   # not pyplot: no global state, no GUI backend

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    history = model.history_
    train = [(r["iteration"], r["train_loss"]) for r in history]
    if history[0]["iteration"] > 0 and "resumed_at" not in history[0]:
        # fit starts the smoothed loss at log(V), a uniform guess's loss, so
        # iteration 0 needs no record.
        train.insert(0, (0, math.log(len(model.vocab_))))
    axes.plot(*zip(*train), label="train (smoothed)")
    validation = [(r["iteration"], r["val_loss"]) for r in history if r["val_loss"] is not None]
    if validation:
        axes.plot(*zip(*validation), label="validation")
    resumes = [r["resumed_at"] for r in history if "resumed_at" in r]
    for index, iteration in enumerate(resumes):
        axes.axvline(iteration, color="0.5", linestyle=":", linewidth=1,
                     label="resumed" if index == 0 else None)
    axes.set_xlim(left=0)
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss (nats per character)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def _loss(value: float | None, bits: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value / math.log(2) if bits else value:.3f}"


# ----------------------------------------------------------------------
# Messages in the command line's terms

# The library's messages name Python parameters: "top_p must be in (0, 1]",
# "with vocab='bytes'", "unknown='skip' drops them". Where they are printed,
# each parameter that is an option of the command (whose dest is its name)
# becomes the option's flag, read from the parser, so an option added later
# is covered without an entry here. A clause suggesting a parameter the
# command has no option for is dropped, and so is an aside about Python types.
PARAMETER_ALIASES = {"max_size": "max_vocab_size"}      # vocab.py's name for the option
# A name starts here, not inside a path, a quoted key or an attribute.
_STARTS = r"(?<![\w'\"\[./\\-])"
_ASSIGNMENT = re.compile(r"(\bwith )?" + _STARTS
                         + r"([a-z][a-z_]*)=('[^']*'|\"[^\"]*\"|[\w.+-]+(?:,\d{3})*)")
_MUST_BE = re.compile(_STARTS + r"([a-z][a-z_]*)(?= must be )")
# snake_case, which no prose has, wherever it stands (but not as a file's name).
_SNAKE_CASE = re.compile(_STARTS + r"([a-z]+(?:_[a-z]+)+)\b(?![=(\['\"/\\]|\.\w)")
_PYTHON_ASIDE = re.compile(r" \([^()]*\b(?:pathlib|Vocabulary)\b[^()]*\)")


def cli_wording(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with Python parameters named as ``parser``'s flags."""
    options = {action.dest: action for action in parser._actions if action.option_strings}
    for alias, dest in PARAMETER_ALIASES.items():
        if dest in options:
            options.setdefault(alias, options[dest])

    def assignment(match: re.Match[str]) -> str:
        with_, name, value = match.groups()
        action = options.get(name)
        if action is None:
            return match.group(0)
        option, value = action.option_strings[-1], value.strip("'\"")
        if action.nargs != 0:                     # an option with a value
            return f"{with_ or ''}{option} {value}"
        if value == str(action.const):           # a switch, given
            return f"{with_ or ''}{option}"
        if value == str(action.default):         # a switch, not given
            return f"without {option}"
        return match.group(0)

    def flag(match: re.Match[str]) -> str:
        action = options.get(match.group(1))
        return match.group(0) if action is None else action.option_strings[-1]

    clauses = []
    for index, clause in enumerate(_PYTHON_ASIDE.sub("", message).split("; ")):
        clause = _ASSIGNMENT.sub(assignment, clause)
        clause = _SNAKE_CASE.sub(flag, _MUST_BE.sub(flag, clause))
        if index > 0 and _ASSIGNMENT.search(clause):
            continue                              # advice the command cannot follow
        clauses.append(clause)
    message = "; ".join(clauses)
    message = message.replace(" or None", "")     # None is an option left out
    return re.sub(r"\bfit(?= with)", "train", message)


# ----------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # Bare `charrnn`: what it can do, rather than a complaint.
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status: int = args.run(args)
    except CheckpointError as error:
        return _fail(error)                       # about a file's contents, not an option
    except (UserError, ValueError, NotImplementedError, RuntimeError,
            FloatingPointError) as error:
        return _fail(cli_wording(str(error), args.parser))
    except OSError as error:
        # FileNotFoundError, IsADirectoryError, PermissionError, a full disk...
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")
    except KeyboardInterrupt:
        _fail("interrupted")
        return INTERRUPTED
    return status


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None) -> None:
    """A library warning as one line, in the words of the error lines."""
    print(f"charrnn: warning: {message}", file=sys.stderr)


def _fail(error: BaseException | str) -> int:
    print(f"charrnn: error: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
