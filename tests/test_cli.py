"""The charrnn command line, end to end on small data: in subprocesses, or
through main(argv) where no signal or exit status of a process is at stake."""

import inspect
import math
import re
import signal
import subprocess
import sys
import time
import warnings

import pytest

from charrnn_c import CharRNN, checks, cli, training
from charrnn_c.checks import InvalidParameterError
import learning
from conftest import SMALL_FLAGS


def charrnn(*args, **kwargs):
    kwargs.setdefault("timeout", 300)
    return subprocess.run([sys.executable, "-m", "charrnn_c", *map(str, args)],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shakespeare):
    path = tmp_path_factory.mktemp("cli") / "corpus.txt"
    path.write_text(shakespeare[:40_000])
    return path


@pytest.fixture(scope="module")
def trained(corpus):
    checkpoint = corpus.parent / "model.safetensors"
    # --sample-seconds 0: samples by iteration count only, however slow the machine.
    result = charrnn("train", corpus, *SMALL_FLAGS, "--hidden-size", 32, "--iterations", 300,
                     "--sample-every", 100, "--sample-length", 40, "--seed", 0,
                     "--sample-seconds", 0, "--checkpoint", checkpoint)
    assert result.returncode == 0, result.stderr
    return checkpoint, result


@pytest.fixture(scope="module")
def resumed(trained, corpus, tmp_path_factory):
    """A copy of the trained model, resumed for 50 more iterations."""
    checkpoint, _ = trained
    copy = tmp_path_factory.mktemp("resumed") / "copy.safetensors"
    copy.write_bytes(checkpoint.read_bytes())
    result = charrnn("train", corpus, "--resume", "--checkpoint", copy, "--iterations", 50,
                     "--sample-every", 1000)
    assert result.returncode == 0, result.stderr
    return copy


def files_of(directory):
    """{name: bytes} of every file in ``directory``, to show none was lost or changed."""
    return {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_prints_samples_and_a_summary_and_saves(trained):
    checkpoint, result = trained
    # A sample at 100, 200 and 300 (the closing line may name a kept iteration too).
    assert re.findall(r"^iteration ([\d,]+):", result.stdout, re.MULTILINE) == [
        "100", "200", "300"]
    assert "done (iterations): 300 iterations" in result.stdout
    assert f"saved to {checkpoint}" in result.stdout
    model = CharRNN.load(checkpoint)
    assert model.n_iter_ == 300 and model.hidden_size == 32


def test_a_prime_from_a_file_keeps_its_line_breaks(trained, tmp_path):
    # char-rnn #117: a prime of several lines cannot be typed on a command line.
    checkpoint, _ = trained
    prime = "KING.\nWhat say you?\n"
    (tmp_path / "prime.txt").write_text(prime)
    result = charrnn("sample", checkpoint, "-n", 40, "--prime-file", tmp_path / "prime.txt",
                     "--seed", 3)
    assert result.returncode == 0, result.stderr
    continuation = CharRNN.load(checkpoint).sample(40, prime=prime, seed=3)
    assert result.stdout == prime + continuation + "\n"
    both = charrnn("sample", checkpoint, "--prime", "KING", "--prime-file",
                   tmp_path / "prime.txt")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_sample_prints_the_prime_then_n_characters_and_is_repeatable(trained):
    checkpoint, _ = trained
    first = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3)
    again = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("KING") and len(first.stdout) == 4 + 120 + 1
    assert first.stdout == again.stdout
    streamed = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3,
                       "--stream")
    assert streamed.stdout == first.stdout
    # --omit-prime leaves out exactly the prime: the text after it is the same.
    omitted = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3,
                      "--omit-prime")
    assert omitted.returncode == 0, omitted.stderr
    assert omitted.stdout == first.stdout[len("KING"):]
    # The Python API is unchanged: sample() returns only what follows the prime.
    python = CharRNN.load(checkpoint).sample(120, prime="KING", seed=3)
    assert omitted.stdout == python + "\n"


def test_a_bytes_model_prints_its_prime_first_too(corpus, tmp_path):
    checkpoint = tmp_path / "bytes.safetensors"
    result = charrnn("train", corpus, *SMALL_FLAGS, "--vocab", "bytes", "--hidden-size", 16,
                     "--iterations", 30, "--checkpoint", checkpoint)
    assert result.returncode == 0, result.stderr
    sample = subprocess.run([sys.executable, "-m", "charrnn_c", "sample", str(checkpoint),
                             "-n", "20", "--prime", "KING", "--seed", "0"],
                            capture_output=True, timeout=300)
    assert sample.returncode == 0, sample.stderr
    python = CharRNN.load(checkpoint).sample(20, prime=b"KING", seed=0)
    assert sample.stdout == b"KING" + python + b"\n"


def test_sample_skip_unknown_drops_unseen_characters_of_the_prime(trained):
    checkpoint, _ = trained
    refused = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING\u20ac ", "--seed", 1)
    assert_one_line_error(refused, "'\u20ac'", "--skip-unknown drops them")
    assert refused.stdout == ""                             # not even the prime
    skipped = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING\u20ac ", "--seed", 1,
                      "--skip-unknown")
    assert skipped.returncode == 0, skipped.stderr
    # The prime is printed as given, and the model continued "KING " (without the euro).
    plain = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING ", "--seed", 1)
    assert skipped.stdout == "KING\u20ac " + plain.stdout[len("KING "):]


def test_sample_k_prints_k_samples_each_under_a_header(trained):
    checkpoint, _ = trained
    result = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING", "--seed", 3, "-k", 3)
    assert result.returncode == 0, result.stderr
    texts = CharRNN.load(checkpoint).sample(50, prime="KING", seed=3, num_samples=3)
    assert result.stdout == "\n".join(f"-- sample {i + 1} of 3\nKING{text}\n"
                                      for i, text in enumerate(texts))
    again = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING", "--seed", 3,
                    "--num-samples", 3, "--omit-prime")
    assert again.stdout == result.stdout.replace("\nKING", "\n")
    # One sample under -k is the text plain `charrnn sample` prints, under a header.
    one = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING", "--seed", 3, "-k", 1)
    plain = charrnn("sample", checkpoint, "-n", 50, "--prime", "KING", "--seed", 3)
    assert one.stdout == "-- sample 1 of 1\n" + plain.stdout


@pytest.mark.parametrize("options, fragment", [
    (["-k", "0"], "must be a positive integer, got 0"),
    (["-k", "2", "--stream"], "not allowed with argument"),
    (["-k", "10000000000000"], "--num-samples 10,000,000,000,000 is more streams"),
])
def test_sample_k_refuses_bad_counts_in_one_line(trained, options, fragment):
    checkpoint, _ = trained
    result = charrnn("sample", checkpoint, "-n", 10, *options)
    assert_one_line_error(result, fragment)
    assert result.stdout == ""


def test_eval_and_info_report_numbers(trained, corpus):
    checkpoint, _ = trained
    result = charrnn("eval", checkpoint, corpus)
    assert result.returncode == 0, result.stderr
    nats = float(result.stdout.split()[0])
    expected = CharRNN.load(checkpoint).evaluate(corpus.read_text())["nats_per_char"]
    assert nats == pytest.approx(expected, abs=1e-4)
    info = charrnn("info", checkpoint)
    assert "1 x 32 rnn" in info.stdout and "300 iterations" in info.stdout


def test_resume_continues_the_count_and_its_first_record_says_so(resumed):
    model = CharRNN.load(resumed)
    assert model.n_iter_ == 350
    assert [r.get("resumed_at") for r in model.history_] == [None, None, None, 300]


# ----------------------------------------------------------------------
# Defaults and --help

def help_segments(text):
    """{flag: its help text, on one line} from argparse's --help output."""
    segments, flag = {}, None
    for line in text.splitlines():
        match = re.match(r"  (-\S+)", line)
        if match:
            flag = match.group(1).rstrip(",")
            segments[flag] = ""
        if flag is not None:
            segments[flag] += " " + line.strip()
        if not line.strip():
            flag = None
    return {flag: " ".join(text.split()) for flag, text in segments.items()}


@pytest.mark.parametrize("command", [["train"], ["sample", "x"], ["eval", "x", "y"],
                                     ["info", "x"], ["plot", "x"]])
def test_every_help_shows_every_default(command):
    result = charrnn(command[0], "--help")
    assert result.returncode == 0
    segments = help_segments(result.stdout)
    parser = cli.build_parser().parse_args(command).parser
    shown = 0
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        text = segments[action.option_strings[0]]
        assert action.help and " ".join(action.help.split()[:3]) in text, text
        if action.default is None or action.nargs == 0:
            continue     # off or automatic by default; the help says what that means
        assert f"(default: {action.default})" in text, text
        shown += 1
    assert shown >= {"train": 17, "sample": 2, "plot": 1}.get(command[0], 0)


def test_train_defaults_are_the_python_apis():
    model = inspect.signature(CharRNN).parameters
    fit = inspect.signature(CharRNN.fit).parameters
    help_text = " ".join(charrnn("train", "--help").stdout.split())
    assert f"(default: {model['hidden_size'].default})" in help_text
    assert f"(default: {fit['checkpoint_every'].default})" in help_text
    args = cli.build_parser().parse_args(["train"])
    # Every hyperparameter of CharRNN is an option of train, defaulting to CharRNN's.
    for name, parameter in model.items():
        assert getattr(args, name) == parameter.default, name
    for name in ("checkpoint_every", "eval_every", "resume", "overwrite"):
        assert getattr(args, name) == fit[name].default, name


def test_a_model_trained_with_no_options_is_charrnns_default(corpus, tmp_path):
    result = charrnn("train", corpus, "--iterations", 5, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = CharRNN.load(tmp_path / "charrnn.safetensors")
    assert model.get_params() == CharRNN().get_params()


def test_bare_charrnn_lists_the_commands():
    result = charrnn()
    assert result.returncode == 2
    assert result.stdout == ""
    assert "required" not in result.stderr
    for command in ("train", "sample", "eval", "info", "plot"):
        assert re.search(rf"^\s+{command}\s+\w", result.stderr, re.MULTILINE), result.stderr


# ----------------------------------------------------------------------
# Samples by time, at several temperatures

def test_samples_come_every_few_seconds_however_rare_by_iterations(corpus, tmp_path):
    result = charrnn("train", corpus, *SMALL_FLAGS, "--hidden-size", 16, "--minutes", 0.04,
                     "--sample-every", 10**9, "--sample-seconds", 0.4,
                     "--sample-temperatures", "0.2,1", "--sample-length", 20,
                     "--checkpoint", tmp_path / "m.safetensors")
    assert result.returncode == 0, result.stderr
    # Lines that start a sample; the closing line may name a kept iteration too.
    samples = len(re.findall(r"^iteration ", result.stdout, re.MULTILINE))
    # 2.4 s of training, a sample each 0.4 s: about 5, and the iteration
    # count alone would have given none.
    assert samples >= 2, result.stdout
    assert result.stdout.count("-- temperature 0.2:\n") == samples
    assert result.stdout.count("-- temperature 1:\n") == samples
    seconds = [r["seconds"] for r in CharRNN.load(tmp_path / "m.safetensors").history_]
    assert all(later - earlier >= 0.4 for earlier, later in zip(seconds, seconds[1:-1]))


# ----------------------------------------------------------------------
# Stopping: Ctrl-C, and limits that would train nothing

def test_ctrl_c_saves_a_loadable_checkpoint_and_exits_130(corpus, tmp_path):
    checkpoint = tmp_path / "interrupted.safetensors"
    process = subprocess.Popen(
        [sys.executable, "-m", "charrnn_c", "train", str(corpus), *map(str, SMALL_FLAGS),
         "--hidden-size", "32", "--iterations", "100000000", "--sample-every", "200",
         "--sample-length", "10", "--checkpoint", str(checkpoint)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the first sample, so training is under way, then interrupt.
    deadline = time.monotonic() + 120
    while "iteration" not in (process.stdout.readline() or "") and time.monotonic() < deadline:
        pass
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "done (interrupted)" in stdout
    assert CharRNN.load(checkpoint).n_iter_ >= 200


@pytest.mark.parametrize("limit", ["--iterations", "--epochs", "--minutes"])
def test_a_limit_of_zero_is_refused_and_writes_nothing(trained, corpus, tmp_path, limit):
    checkpoint, _ = trained
    (tmp_path / "model.safetensors").write_bytes(checkpoint.read_bytes())
    before = files_of(tmp_path)
    result = charrnn("train", corpus, limit, 0, "--checkpoint", "model.safetensors",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_error(result, limit, "got 0")
    assert files_of(tmp_path) == before


# ----------------------------------------------------------------------
# --checkpoint-dir

def test_checkpoint_dir_keeps_a_file_per_sample_and_the_best(corpus, tmp_path):
    directory = tmp_path / "runs"
    result = charrnn("train", corpus, *SMALL_FLAGS, "--hidden-size", 32, "--iterations", 250,
                     "--sample-every", 100, "--sample-length", 10, "--seed", 0,
                     "--sample-seconds", 0, "--checkpoint-dir", directory, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "charrnn.safetensors").exists()    # instead of, not besides
    names = sorted(files_of(directory))
    assert names[0] == "best.safetensors" and len(names) == 4
    for name, iteration in zip(names[1:], [100, 200, 250]):
        model = CharRNN.load(directory / name)
        assert model.n_iter_ == iteration
        assert name == f"lm_i{iteration}_val{model.history_[-1]['val_loss']:.3f}.safetensors"
    losses = [r["val_loss"] for r in model.history_]
    best = CharRNN.load(directory / "best.safetensors")
    assert best.n_iter_ == [100, 200, 250][losses.index(min(losses))]
    assert str(directory / names[-1]) in result.stdout

    # A fresh run would overwrite this run's best: refused, nothing touched.
    before = files_of(directory)
    again = charrnn("train", corpus, *SMALL_FLAGS, "--hidden-size", 32, "--iterations", 10,
                    "--checkpoint-dir", directory, cwd=tmp_path)
    assert_one_line_error(again, str(directory), f"--resume --checkpoint {directory / names[-1]}")
    assert files_of(directory) == before

    # Resumed into the same directory, it adds files and keeps the others.
    resumed = charrnn("train", corpus, "--resume", "--checkpoint", directory / names[-1],
                      "--iterations", 100, "--sample-every", 100, "--sample-seconds", 0,
                      "--sample-length", 10, "--checkpoint-dir", directory, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    after = files_of(directory)
    assert {name: after[name] for name in names[1:]} == {name: before[name]
                                                         for name in names[1:]}
    new = sorted(set(after) - set(before))
    assert [CharRNN.load(directory / name).n_iter_ for name in new] == [300, 350]


def test_keep_checkpoints_keeps_the_last_n_and_the_best(corpus, tmp_path):
    # Issue 23 (torch-rnn #125: 125 GB of checkpoints): a bounded directory.
    directory = tmp_path / "runs"
    result = charrnn("train", corpus, *SMALL_FLAGS, "--hidden-size", 16, "--iterations", 500,
                     "--sample-every", 100, "--sample-length", 10, "--seed", 0,
                     "--sample-seconds", 0, "--checkpoint-dir", directory,
                     "--keep-checkpoints", 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(files_of(directory))
    assert names[0] == "best.safetensors"
    assert [CharRNN.load(directory / name).n_iter_ for name in names[1:]] == [400, 500]
    # Without --checkpoint-dir there is nothing to count.
    refused = charrnn("train", corpus, "--keep-checkpoints", 2, cwd=tmp_path)
    assert_one_line_error(refused, "--keep-checkpoints", "--checkpoint-dir")


# ----------------------------------------------------------------------
# Plot

def test_plot_writes_a_png(trained, tmp_path):
    pytest.importorskip("matplotlib")
    checkpoint, _ = trained
    result = charrnn("plot", checkpoint, "-o", tmp_path / "loss.png", "--title", "Sonnets")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_names_the_model_marks_resumes_and_starts_at_iteration_0(resumed, tmp_path,
                                                                      monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *a, **k: figures.append(figure))
    assert cli.main(["plot", str(resumed), "-o", str(tmp_path / "loss.png")]) == 0
    axes = figures[0].axes[0]
    model = CharRNN.load(resumed)
    assert axes.get_title() == (f"copy.safetensors: 1 x 32 rnn, "
                                f"{model.params_.size:,} parameters")
    lines = {line.get_label(): line for line in axes.get_lines()}
    train = lines["train (smoothed)"]
    # The smoothed loss starts at log(V), before the first record at 100.
    assert train.get_xdata()[0] == 0
    assert train.get_ydata()[0] == pytest.approx(math.log(len(model.vocab_)))
    assert list(lines["validation"].get_xdata()) == [100, 200, 300, 350]
    assert list(lines["resumed"].get_xdata()) == [300, 300]       # a vertical line at 300


# ----------------------------------------------------------------------
# Errors: one line, in the command line's terms

@pytest.mark.parametrize("make_args, fragments", [
    (lambda d: ["train", d / "missing.txt"], ["missing.txt", "No such file"]),
    (lambda d: ["train", d / "empty"], ["is a directory with no files to train on"]),
    (lambda d: ["sample", d / "missing.safetensors"], ["missing.safetensors"]),
    (lambda d: ["sample", d], ["directory"]),
    (lambda d: ["info", d / "garbage.safetensors"], ["garbage.safetensors"]),
    (lambda d: ["train", "--hidden-size", "zero"], ["--hidden-size", "invalid"]),
    (lambda d: ["train", "--hidden-size", "0"], ["must be a positive integer"]),
    (lambda d: ["sample", d / "garbage.safetensors", "--temperature", "-1"],
     ["--temperature", "must be a number >= 0"]),
    (lambda d: ["nonsense"], ["invalid choice"]),
])
def test_user_errors_are_one_line_without_a_traceback(tmp_path, make_args, fragments):
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 100)
    (tmp_path / "empty").mkdir()
    assert_one_line_error(charrnn(*make_args(tmp_path), cwd=tmp_path), *fragments)


# Python's spellings that a command-line user could not type.
PYTHON_WORDING = re.compile(r"\b[a-z_]+=|\bNone\b|pathlib|Vocabulary|\bstr\b")


@pytest.mark.parametrize("make_args, expected", [
    (lambda d, m: ["train", d / "latin1.txt"],
     "latin1.txt is not UTF-8 text (invalid continuation byte at byte 3); "
     "train on its bytes with --vocab bytes"),
    (lambda d, m: ["train", d / "corpus.txt", "--learning-rate", "-1"],
     "--learning-rate must be a positive number, got -1.0"),
    (lambda d, m: ["train", d / "tiny.txt", "--batch-size", "1", "--seq-length", "25"],
     "the training text is too short: the text is 5 characters long, but --batch-size 1 "
     "streams of --seq-length 25 need at least 1 * (25 + 1) = 26"),
    (lambda d, m: ["train", d / "corpus.txt", "--max-vocab-size", "5"],
     "text has 65 distinct chars, more than --max-vocab-size 5; if the file is binary or "
     "not UTF-8, model its bytes instead with --vocab bytes"),
    (lambda d, m: ["train", d / "corpus.txt", "--dropout", "1"],
     "--dropout must be a number in [0, 1), got 1.0"),
    (lambda d, m: ["train", d / "corpus.txt", "--seed", "-1"],
     "--seed must be a non-negative int, got -1"),
    (lambda d, m: ["train", d / "tiny.txt", "--resume", "--checkpoint", m],
     "--resume needs the text this model was trained on; for new text, train without "
     "--resume"),
    (lambda d, m: ["sample", m, "--top-p", "2"], "--top-p must be in (0, 1], got 2.0"),
    (lambda d, m: ["eval", m, d / "euro.txt"],
     "text holds 1 distinct chars not in the vocabulary (1 occurrences): '\u20ac'; "
     "--skip-unknown drops them"),
    # eval has no --vocab: the advice to train on bytes is for train alone.
    (lambda d, m: ["eval", m, d / "latin1.txt"],
     "latin1.txt is not UTF-8 text (invalid continuation byte at byte 3)"),
])
def test_library_messages_name_the_flags(trained, corpus, tmp_path, monkeypatch, capsys,
                                         make_args, expected):
    checkpoint, _ = trained
    (tmp_path / "corpus.txt").write_text(corpus.read_text())
    (tmp_path / "tiny.txt").write_text("hello")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ol\xe9".encode("latin-1"))
    (tmp_path / "euro.txt").write_text("KING \u20ac")
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(checkpoint.read_bytes())
    monkeypatch.chdir(tmp_path)
    before = files_of(tmp_path)
    assert cli.main([str(a) for a in make_args(tmp_path, copy)]) == 1
    err = capsys.readouterr().err.splitlines()
    # train announces itself (and a small text's default length) first; the
    # error is the last line, and one line.
    assert all(line.startswith(("training on ", "no --iterations")) for line in err[:-1]), err
    assert err[-1].replace(f"{tmp_path}/", "") == f"charrnn: error: {expected}"
    assert not PYTHON_WORDING.search(err[-1]), err[-1]
    assert files_of(tmp_path) == before


def test_cli_wording_names_each_parameter_by_the_parsers_flag():
    """A parameter is named by whatever flag has it as its dest, by table
    lookup of the parts the error carries: a new option needs no entry of its
    own, and advice naming one the command lacks is left out."""
    parser = cli.ArgumentParser(prog="x")
    parser.add_argument("--window-size", dest="window_size", type=int)
    parser.add_argument("--fast", dest="fast", action="store_true")
    parser.add_argument("--skip-unknown", dest="unknown", action="store_const", const="skip",
                        default="error")
    parser.add_argument("--max-vocab-size", dest="max_vocab_size", type=int)
    error = InvalidParameterError(
        (checks.Name("window_size"), " must be a positive integer", checks.PythonOnly(" or None"),
         ", got 0"),
        ("try ", checks.With("fast", True)),
        ("or ", checks.Call("fit"), " ", checks.With("fast", False), " and ",
         checks.Setting("window_size", 10**4, f"{10**4:,}")),
        ("use ", checks.Setting("turbo", "on")),            # no --turbo: left out
        (checks.Setting("unknown", "skip"), " drops them, as ",
         checks.Setting("max_size", 5), " caps them"),
        param="window_size")
    assert str(error) == ("window_size must be a positive integer or None, got 0; try with "
                          "fast=True; or fit with fast=False and window_size=10,000; use "
                          "turbo='on'; unknown='skip' drops them, as max_size=5 caps them")
    assert cli.cli_wording(error, parser) == (
        "--window-size must be a positive integer, got 0; try with --fast; or train without "
        "--fast and --window-size 10,000; --skip-unknown drops them, as --max-vocab-size 5 "
        "caps them")
    # In the first clause, a parameter the command lacks keeps its Python name.
    first = InvalidParameterError((checks.Setting("turbo", "on"), " is slow"), "use turbo=1")
    assert cli.cli_wording(first, parser) == "turbo='on' is slow; use turbo=1"
    # An error without parts is its text, whatever it says.
    assert cli.cli_wording(ValueError("window_size=3 failed"), parser) == "window_size=3 failed"


def test_a_library_warning_is_one_line_in_the_clis_words(corpus, tmp_path, monkeypatch, capsys):
    real_train = training.train

    def train_then_warn(*args, **kwargs):
        real_train(*args, **kwargs)
        warnings.warn("training ended no better than untrained",
                      training.WorseThanUntrainedWarning, stacklevel=2)

    monkeypatch.setattr(training, "train", train_then_warn)
    assert cli.main(["train", str(corpus), *map(str, SMALL_FLAGS), "--hidden-size", "8",
                     "--iterations", "2", "--no-progress", "--sample-seconds", "0",
                     "--checkpoint", str(tmp_path / "m.safetensors")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "charrnn: warning: training ended no better than untrained" in err, err
    assert not [line for line in err if "WorseThanUntrainedWarning" in line], err


def test_version_is_the_installed_packages(capsys):
    from importlib.metadata import version

    import charrnn_c
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"charrnn-c {version('charrnn-c')}\n"
    assert charrnn_c.__version__ == version("charrnn-c")


@pytest.mark.parametrize("argv, suggestion", [
    (["sample", "m.safetensors", "--temprature", "0.5"], " (did you mean --temperature?)"),
    (["train", "--hiden-size=3"], " (did you mean --hidden-size?)"),
    (["train", "--zzzz"], ""),
])
def test_a_mistyped_option_gets_the_closest_one(capsys, argv, suggestion):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f"charrnn: error: unrecognized arguments: "
                                       f"{' '.join(argv[-2 if argv[0] == 'sample' else -1:])}"
                                       f"{suggestion}\n")


@pytest.mark.slow
@pytest.mark.parametrize("characters, start", [(5_000, 100_000), (300_000, 200_000)])
def test_train_learns_a_small_text_with_no_limit_given_and_shows_a_sample(
        tmp_path, shakespeare, characters, start):
    # Issue 23: one epoch of 5 KB at 32 x 50 is 2 steps, of 300 KB 180; with
    # no limit, train now takes LEARNING_CHARACTERS (many epochs) and keeps
    # the best record's weights.
    text = shakespeare[start:start + characters]
    (tmp_path / "small.txt").write_text(text)
    result = charrnn("train", "small.txt", "--no-progress", "--seed", 0, cwd=tmp_path,
                     timeout=900)
    assert result.returncode == 0, result.stderr
    steps = math.ceil(cli.LEARNING_CHARACTERS / 1600)
    assert (f"no --iterations, --epochs or --minutes: {steps:,} iterations, "
            f"{cli.LEARNING_CHARACTERS:,} characters") in result.stderr
    assert "too few to learn" not in result.stderr
    lines = result.stdout.splitlines()
    samples = [i for i, line in enumerate(lines) if re.match(r"iteration [\d,]+: train ", line)]
    assert samples and len(lines[samples[0] + 1]) > 0          # a sample follows its line
    model = CharRNN.load(tmp_path / "charrnn.safetensors")
    assert model.n_iter_ == steps
    val = learning.held_out(text)
    assert model.evaluate(val)["nats_per_char"] < learning.unigram_entropy(val) - 0.3


def test_a_run_too_short_to_learn_says_so_and_still_shows_a_sample(tmp_path, shakespeare):
    (tmp_path / "t.txt").write_text(shakespeare[:20_000])
    result = charrnn("train", "t.txt", "--iterations", 3, "--no-progress", "--hidden-size", 8,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # No record fell within 3 steps, and yet a sample ends the run.
    assert re.search(r"^iteration 3: train [\d.]+, validation [\d.]+ nats/char\n.+\n",
                     result.stdout, re.MULTILINE), result.stdout
    assert result.stderr.splitlines()[-1] == (
        "note: 4,800 characters is too few to learn much; for more, pass --minutes 5, or "
        "--epochs E or --iterations N")


def test_a_file_that_is_no_checkpoint_is_named_as_such(tmp_path):
    (tmp_path / "notes.txt").write_text("a week of notes, " * 20)
    result = charrnn("sample", "notes.txt", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("charrnn: error: notes.txt is not a charrnn checkpoint: not a "
                             "safetensors file (its first 8 bytes are no header length)\n")
