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
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, checks, optimizers, schedules, spec, training, vocab
from .safetensors_file import CheckpointError
from .cli_commands import loss_figure, run_eval, run_export, run_info, run_plot, run_sample, \
    run_serve
from .cli_train import (BEST_CHECKPOINT, CHECKPOINT_PREFIX, DEFAULT_CHECKPOINT, INTERRUPTED,
                        LEARNING_CHARACTERS, run_train)
from .cli_wording import UserError, cli_wording, flag_table, in_cli_terms
from .model import WRITEUP, CharRNN
from .parameters import AUTO, CHOSEN

# What tests and scripts reach through charrnn_c.cli.
__all__ = ["ArgumentParser", "LEARNING_CHARACTERS", "UserError", "build_parser", "cli_wording",
           "loss_figure", "main"]
# The word an option takes for the Python API's None, where it takes one
# (norm_or_off: --clip-norm 0 is clip_norm=None).
NONE_AS = {"clip_norm": 0}


def _defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {name: parameter.default
            for name, parameter in inspect.signature(function).parameters.items()}


# One set of defaults: the command line's are the Python API's.
MODEL = _defaults(CharRNN)
# --preset NAME: CharRNN's parameters for a recipe, as train's defaults.
PRESETS = {"writeup": CharRNN.writeup().get_params(),
           "auto": dict.fromkeys(CHOSEN, AUTO)}
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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def or_auto(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An option's type that also takes "auto" (fit then chooses: budget.py)."""
    def parse(text: str) -> Any:
        return AUTO if text == AUTO else kind(text)
    parse.__name__ = kind.__name__         # argparse's "invalid positive_int value"
    return parse


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
    train.add_argument("file", nargs="*", type=Path,
                       help="UTF-8 text file (any file with --vocab bytes); several files, "
                            "or a directory's, train as one text, a file separator "
                            "(U+001C) between two")
    train.presets = PRESETS
    preset = train.add_argument("--preset", choices=sorted(PRESETS))
    model = train.add_argument_group("model")
    model.add_argument("--hidden-size", type=or_auto(positive_int), default=MODEL["hidden_size"],
                       help="units per layer; auto: chosen from the budget (--preset auto)")
    model.add_argument("--num-layers", type=or_auto(positive_int), default=MODEL["num_layers"],
                       help="recurrent layers; auto as --hidden-size")
    model.add_argument("--cell", default=MODEL["cell"], choices=spec.CELLS,
                       help="vanilla tanh RNN, GRU or LSTM")
    model.add_argument("--dropout", type=or_auto(float), default=MODEL["dropout"],
                       help="dropout between layers, in training only; auto as --hidden-size")
    model.add_argument("--dtype", default=MODEL["dtype"], choices=spec.DTYPES,
                       help="floating-point type of weights and arithmetic")
    model.add_argument("--vocab", default=MODEL["vocab"], choices=vocab.MODES,
                       help="model Unicode characters, or the file's bytes")
    model.add_argument("--max-vocab-size", type=positive_int, default=MODEL["max_vocab_size"],
                       help="refuse a text with more distinct symbols")
    model.add_argument("--init-std", type=float, default=MODEL["init_std"],
                       help="weights start as N(0, std^2) (default: 0.01 for one layer, "
                            "else 1 / sqrt(--hidden-size))")
    model.add_argument("--recurrent-init", default=MODEL["recurrent_init"],
                       choices=spec.RECURRENT_INITS,
                       help="recurrent weights W_hh: N(0, std^2) as the others, or random "
                            "orthogonal matrices, for deep or long tanh recurrences")
    model.add_argument("--records", action="store_true", default=MODEL["records"],
                       help="each line is an independent record (a name, a title), trained "
                            "from a fresh state and ended by the line break; sample them "
                            "with charrnn sample --records K")
    training_options = train.add_argument_group("training")
    training_options.add_argument("--seq-length", type=positive_int,
                                  default=MODEL["seq_length"],
                                  help="characters per stream per step (BPTT length)")
    training_options.add_argument("--batch-size", type=positive_int,
                                  default=MODEL["batch_size"], help="parallel streams")
    training_options.add_argument("--optimizer", default=MODEL["optimizer"],
                                  choices=list(optimizers.OPTIMIZERS), help="update rule")
    training_options.add_argument("--learning-rate", type=or_auto(float),
                                  default=MODEL["learning_rate"],
                                  help="default: 0.1 for adagrad, 2e-3 for adam and rmsprop; "
                                       "auto as --hidden-size")
    training_options.add_argument("--clip", type=float, default=MODEL["clip"],
                                  help="clip each gradient value to [-clip, clip]")
    training_options.add_argument("--clip-norm", type=norm_or_off, default=MODEL["clip_norm"],
                                  help="first scale the gradient down to this global L2 norm "
                                       "(0: no norm clipping)")
    training_options.add_argument("--lr-schedule", default=MODEL["lr_schedule"],
                                  choices=schedules.SCHEDULES,
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
    output.add_argument("--init-from", metavar="CHECKPOINT", type=Path,
                        help="fine-tune: start from this model's weights and vocabulary (and "
                             "hyperparameters) on FILE, as a new run with a fresh optimizer "
                             "(char-rnn's -init_from); FILE's symbols must be the model's, "
                             "or --skip-unknown leaves the others out")
    output.add_argument("--skip-unknown", dest="unknown", action="store_const", const="skip",
                        default=FIT["unknown"],
                        help="with --init-from or --resume, train without the symbols the "
                             "model's vocabulary lacks (without it, they are an error)")
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
    # Worded once every option exists: the recipe is model.WRITEUP, in train's flags.
    preset.help = ("start from a recipe, any option given still winning: writeup is the "
                   f"write-up's, CharRNN.writeup() ({_recipe_in_flags(WRITEUP, train)}); "
                   "auto, CharRNN.auto(), leaves --hidden-size, --num-layers, --dropout and "
                   "--learning-rate "
                   "to the budget (--minutes, --iterations or --epochs) and the text: the "
                   "model the time allows on this machine")
    train.set_defaults(run=run_train, parser=train)

    sample = commands.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate text from a trained model. The prime is printed first, "
                    "then LENGTH characters that follow it. With -k K, K samples drawn "
                    "together, each after a line '-- sample I of K', a blank line between. "
                    "With --beam K, no draw: the most likely text a beam search of K "
                    "continuations finds (the same every run).")
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
    outputs.add_argument("--beam", dest="beam_width", metavar="K", type=positive_int,
                         help="beam search: the most likely continuation that K beams find "
                              "(K = 1: the most likely character each time); it draws "
                              "nothing, so it takes no --temperature, --top-k, --top-p or "
                              "--seed (default: a draw, not a search)")
    outputs.add_argument("--records", metavar="K", type=positive_int,
                         help="K whole records (lines), each from a fresh state, one per "
                              "line: what a model trained with --records draws")
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


def _recipe_in_flags(recipe: dict[str, Any], parser: argparse.ArgumentParser) -> str:
    """``recipe`` (parameter: value) as the options that give it, in order:
    "--hidden-size 100, ..., --no-keep-best"."""
    options = flag_table(parser)
    words = [in_cli_terms(checks.Setting(name, NONE_AS.get(name) if value is None else value),
                          options) for name, value in recipe.items()]
    return ", ".join(word for word in words if word is not None)


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
        return _fail(cli_wording(error, args.parser))
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
