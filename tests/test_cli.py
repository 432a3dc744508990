"""The charrnn command line, end to end in subprocesses on small data."""

import signal
import subprocess
import sys
import time

import pytest

from charrnn_c import CharRNN


def charrnn(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "charrnn_c", *map(str, args)],
                          capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shakespeare):
    path = tmp_path_factory.mktemp("cli") / "corpus.txt"
    path.write_text(shakespeare[:40_000])
    return path


@pytest.fixture(scope="module")
def trained(corpus):
    checkpoint = corpus.parent / "model.safetensors"
    result = charrnn("train", corpus, "--hidden-size", 32, "--iterations", 300,
                     "--sample-every", 100, "--sample-length", 40, "--seed", 0,
                     "--checkpoint", checkpoint)
    assert result.returncode == 0, result.stderr
    return checkpoint, result


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_prints_samples_and_a_summary_and_saves(trained):
    checkpoint, result = trained
    assert result.stdout.count("iteration ") == 3          # at 100, 200, 300
    assert "done (iterations): 300 iterations" in result.stdout
    assert f"saved to {checkpoint}" in result.stdout
    model = CharRNN.load(checkpoint)
    assert model.n_iter_ == 300 and model.hidden_size == 32


def test_sample_prints_n_characters_and_is_repeatable(trained):
    checkpoint, _ = trained
    first = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3)
    again = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout) == 121 and first.stdout == again.stdout
    streamed = charrnn("sample", checkpoint, "-n", 120, "--prime", "KING", "--seed", 3,
                       "--stream")
    assert streamed.stdout == first.stdout


def test_eval_and_info_report_numbers(trained, corpus):
    checkpoint, _ = trained
    result = charrnn("eval", checkpoint, corpus)
    assert result.returncode == 0, result.stderr
    nats = float(result.stdout.split()[0])
    expected = CharRNN.load(checkpoint).evaluate(corpus.read_text())["nats_per_char"]
    assert nats == pytest.approx(expected, abs=1e-4)
    info = charrnn("info", checkpoint)
    assert "1 x 32 rnn" in info.stdout and "300 iterations" in info.stdout


def test_resume_continues_the_count(trained, corpus, tmp_path):
    checkpoint, _ = trained
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(checkpoint.read_bytes())
    result = charrnn("train", corpus, "--resume", "--checkpoint", copy, "--iterations", 50,
                     "--sample-every", 1000)
    assert result.returncode == 0, result.stderr
    assert CharRNN.load(copy).n_iter_ == 350


def test_plot_writes_a_png(trained, tmp_path):
    pytest.importorskip("matplotlib")
    checkpoint, _ = trained
    result = charrnn("plot", checkpoint, "-o", tmp_path / "loss.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctrl_c_saves_a_loadable_checkpoint(corpus, tmp_path):
    checkpoint = tmp_path / "interrupted.safetensors"
    process = subprocess.Popen(
        [sys.executable, "-m", "charrnn_c", "train", str(corpus), "--hidden-size", "32",
         "--iterations", "100000000", "--sample-every", "200", "--sample-length", "10",
         "--checkpoint", str(checkpoint)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the first sample, so training is under way, then interrupt.
    deadline = time.monotonic() + 120
    while "iteration" not in (process.stdout.readline() or "") and time.monotonic() < deadline:
        pass
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "done (interrupted)" in stdout
    assert CharRNN.load(checkpoint).n_iter_ >= 200


@pytest.mark.parametrize("make_args, fragments", [
    (lambda d: ["train", d / "missing.txt"], ["missing.txt", "No such file"]),
    (lambda d: ["train", d], ["Is a directory"]),
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
    assert_one_line_error(charrnn(*make_args(tmp_path)), *fragments)


def test_a_bad_top_p_on_a_real_model_is_one_line(trained):
    checkpoint, _ = trained
    assert_one_line_error(charrnn("sample", checkpoint, "--top-p", "2"), "top_p must be")
