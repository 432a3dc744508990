"""Learning-rate schedules: the factor's values, the rates training takes, time-based
plans on a fake clock, resuming exactly, the plan in checkpoints, and the CLI flags."""

import math

import numpy as np
import pytest

from charrnn_c import CharRNN, CheckpointError, checkpoint, cli, kernels, training
from charrnn_c.checks import InvalidParameterError
from charrnn_c.streams import Streams, split_validation
from charrnn_c.schedules import Plan, decay, factor
from conftest import SMALL

# conftest.SMALL has no norm clipping, as manual_run's steps clip elementwise
# only, and a constant rate without warmup unless a test says otherwise.


@pytest.fixture(scope="module")
def text(shakespeare):
    return shakespeare[:30_000]


# ----------------------------------------------------------------------
# The factor

@pytest.mark.parametrize("min_ratio", [0.0, 0.1, 0.5])
def test_cosine_and_linear_start_at_1_pass_the_midpoint_and_end_at_the_minimum(min_ratio):
    for schedule in ("cosine", "linear"):
        assert decay(schedule, 0.0, min_ratio) == 1.0
        assert decay(schedule, 0.5, min_ratio) == pytest.approx((1 + min_ratio) / 2, abs=1e-15)
        assert decay(schedule, 1.0, min_ratio) == pytest.approx(min_ratio, abs=1e-15)
    # A quarter of the way: cosine is still high, linear a straight line.
    assert decay("cosine", 0.25, min_ratio) == pytest.approx(
        min_ratio + (1 - min_ratio) * (1 + math.sqrt(0.5)) / 2)
    assert decay("linear", 0.25, min_ratio) == pytest.approx(1 - 0.25 * (1 - min_ratio))
    assert decay("constant", 0.7, min_ratio) == 1.0


def test_warmup_ramps_linearly_then_holds():
    assert [factor("constant", i, 0.0, 4, 0.0) for i in range(6)] == [0.25, 0.5, 0.75, 1, 1, 1]
    assert factor("cosine", 0, 0.0, 0, 0.0) == 1.0            # no warmup
    # The ramp multiplies the decay.
    assert factor("cosine", 1, 0.5, 4, 0.2) == pytest.approx(0.5 * 0.6)


def test_a_plans_progress_is_the_larger_share_done():
    plan = Plan(start_iteration=100, start_seconds=10.0, end_iteration=300, end_seconds=50.0)
    assert plan.progress(200, 10.0) == 0.5                    # iterations lead
    assert plan.progress(150, 40.0) == 0.75                   # seconds lead
    assert plan.progress(400, 0.0) == 1.0 and plan.over(300, 11.0)
    assert not plan.over(299, 49.9)
    assert Plan(0, 0.0).progress(10**6, 1e6) == 0.0 and not Plan(0, 0.0).over(5, 5.0)
    assert Plan(7, 0.0, end_iteration=7).over(7, 0.0)          # an empty plan is over at once


# ----------------------------------------------------------------------
# The rates training takes

def manual_run(text, options, iterations, rates):
    """The model fit would train, stepped by hand with kernels.train_step at ``rates``."""
    model = CharRNN(**options).fit(text, iterations=0, progress=False)
    train_data, _ = split_validation(model.vocab_.encode(text), model.val_fraction)
    streams = Streams(train_data, model.batch_size, model.seq_length)
    grads = np.zeros_like(model.params_)
    h = model.hidden_
    for rate in rates[:iterations]:
        inputs, targets, reset = streams.next_batch()
        if reset:
            h[:] = 0
        model.optimizer_.learning_rate = rate
        _, h = kernels.train_step(model.spec_, model.optimizer_, model.params_, grads, inputs,
                                  targets, h, model.clip)
    return model.params_


@pytest.mark.parametrize("schedule, optimizer", [("cosine", "adam"), ("linear", "adagrad")])
def test_each_step_takes_the_scheduled_rate(text, schedule, optimizer):
    options = dict(SMALL, hidden_size=16, batch_size=2, dtype="float64", seed=1,
                   optimizer=optimizer, keep_best=False, n_threads=1)
    scheduled = CharRNN(**dict(options, lr_schedule=schedule, warmup=5, min_lr_ratio=0.1)).fit(
        text, iterations=40, eval_every=1, progress=False)
    base = scheduled.optimizer_.learning_rate
    rates = [base * factor(schedule, i, i / 40, 5, 0.1) for i in range(40)]
    # Each record holds the rate of the step before it.
    assert [r["learning_rate"] for r in scheduled.history_] == pytest.approx(rates, rel=1e-15)
    assert rates[0] == pytest.approx(base / 5)
    assert rates[4] == pytest.approx(base * decay(schedule, 0.1, 0.1))
    np.testing.assert_array_equal(scheduled.params_, manual_run(text, options, 40, rates))


def test_constant_without_warmup_is_the_unscheduled_run(text):
    options = dict(SMALL, hidden_size=16, dtype="float64", seed=2, keep_best=False,
                   lr_schedule="constant", warmup=0)
    model = CharRNN(**options).fit(text, iterations=30, progress=False)
    base = model.optimizer_.learning_rate
    np.testing.assert_array_equal(model.params_, manual_run(text, options, 30, [base] * 30))
    assert model.history_[-1]["learning_rate"] == base


class FakeClock:
    """time.perf_counter advancing ``tick`` seconds at each call."""

    def __init__(self, tick):
        self.now, self.tick = 1000.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


def test_a_time_based_schedule_anneals_to_the_deadline(text, monkeypatch):
    monkeypatch.setattr(training.time, "perf_counter", FakeClock(0.01))
    model = CharRNN(**dict(SMALL, hidden_size=8, seed=0, lr_schedule="cosine", keep_best=False))
    model.fit(text, max_time=2.0, eval_every=1, progress=False)
    assert model.stop_reason_ == "max_time"
    assert model._state.schedule == Plan(0, 0.0, None, 2.0)
    base = model.optimizer_.learning_rate
    rates = [r["learning_rate"] for r in model.history_]
    assert rates[0] > 0.999 * base and rates[-1] < 0.001 * base
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))
    # Each step's rate is the cosine of the seconds at its start, a tick or
    # two before the record's.
    for record in model.history_:
        expected = base * decay("cosine", record["seconds"] / 2.0, 0.0)
        assert record["learning_rate"] == pytest.approx(expected, abs=base * 0.02)


def test_a_resumed_time_based_run_follows_its_plan_and_a_new_one_after_it(text, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(training.time, "perf_counter", FakeClock(0.01))
    model = CharRNN(**dict(SMALL, hidden_size=8, seed=0, lr_schedule="linear", min_lr_ratio=0.2))
    model.fit(text, max_time=2.0, eval_every=1, progress=False,
              callbacks=[lambda record: record["seconds"] < 0.8])
    assert model.stop_reason_ == "callback"
    model.save(tmp_path / "part.safetensors")
    resumed = CharRNN.load(tmp_path / "part.safetensors")
    assert resumed._state.schedule == Plan(0, 0.0, None, 2.0)
    # Its own max_time only says when this call stops: the plan still ends at 2 s.
    resumed.fit(text, max_time=3.0, eval_every=1, resume=True, progress=False)
    assert resumed._state.schedule == Plan(0, 0.0, None, 2.0)
    base = resumed.optimizer_.learning_rate
    late = [r["learning_rate"] for r in resumed.history_ if r["seconds"] > 2.05]
    assert late and all(rate == pytest.approx(0.2 * base) for rate in late)
    # Once over, the next resume plans afresh from where it starts.
    elapsed = resumed._state.elapsed
    resumed.fit(text, max_time=1.0, eval_every=1, resume=True, progress=False)
    assert resumed._state.schedule.start_seconds == elapsed
    assert resumed._state.schedule.end_seconds == elapsed + 1.0
    after = [r for r in resumed.history_ if r["seconds"] > elapsed]
    assert after[0]["learning_rate"] > 0.95 * base


@pytest.mark.parametrize("keep_best", [False, True])
def test_a_scheduled_run_stopped_saved_and_resumed_is_bit_identical(text, tmp_path, keep_best):
    options = dict(hidden_size=16, batch_size=2, dtype="float64", seed=5, optimizer="adam",
                   lr_schedule="cosine", warmup=7, min_lr_ratio=0.05, keep_best=keep_best)
    whole = CharRNN(**options).fit(text, iterations=60, eval_every=20, progress=False)

    half = CharRNN(**options).fit(text, iterations=60, eval_every=20, progress=False,
                                  callbacks=[lambda record: record["iteration"] < 40])
    assert half.n_iter_ == 40 and half.stop_reason_ == "callback"
    half.save(tmp_path / "half.safetensors")
    resumed = CharRNN.load(tmp_path / "half.safetensors")
    resumed.fit(text, iterations=20, eval_every=20, resume=True, progress=False)

    assert resumed._state.schedule == whole._state.schedule == Plan(0, 0.0, 60, None)
    np.testing.assert_array_equal(resumed.params_, whole.params_)
    if keep_best:
        assert (resumed._state.train_params is None) == (whole._state.train_params is None)
        if whole._state.train_params is not None:
            np.testing.assert_array_equal(resumed._state.train_params, whole._state.train_params)
    np.testing.assert_array_equal(resumed.hidden_, whole.hidden_)
    for a, b in zip(resumed.optimizer_.buffers.values(), whole.optimizer_.buffers.values()):
        np.testing.assert_array_equal(a, b)
    strip = ("seconds", "resumed_at")
    assert ([{k: v for k, v in r.items() if k not in strip} for r in resumed.history_]
            == [{k: v for k, v in r.items() if k not in strip} for r in whole.history_])
    assert resumed.best_iteration_ == whole.best_iteration_


def test_a_decaying_schedule_without_an_end_is_refused_before_the_model_changes(text):
    model = CharRNN(**dict(SMALL, hidden_size=8, seed=0, lr_schedule="cosine")).fit(
        text, iterations=3, progress=False)
    before = model.params_.copy()
    for limits in (dict(iterations=math.inf), dict(max_time=math.inf, epochs=math.inf)):
        with pytest.raises(ValueError, match="lr_schedule='cosine' decays until the end"):
            model.fit(text, progress=False, **limits)
        np.testing.assert_array_equal(model.params_, before)
    # A constant rate needs no end; warmup alone neither.
    CharRNN(**dict(SMALL, hidden_size=8, seed=0, lr_schedule="constant", warmup=3)).fit(
        text, iterations=math.inf, progress=False, callbacks=[lambda record: False],
        eval_every=2)


@pytest.mark.parametrize("params, message", [
    (dict(lr_schedule="step"), "lr_schedule must be one of"),
    (dict(warmup=-1), "warmup must be a whole number >= 0"),
    (dict(warmup=2.5), "warmup must be a whole number >= 0"),
    (dict(min_lr_ratio=1.5), r"min_lr_ratio must be a number in \[0, 1\]"),
    (dict(min_lr_ratio=float("nan")), r"min_lr_ratio must be a number in \[0, 1\]"),
])
def test_bad_schedule_parameters_are_named_at_fit(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        CharRNN(**params).fit("abcd" * 100, iterations=1, progress=False)


# ----------------------------------------------------------------------
# Checkpoints

def test_the_plan_round_trips_through_checkpoints_and_pickle(text, tmp_path):
    import pickle

    model = CharRNN(hidden_size=8, seed=0, lr_schedule="linear", warmup=2).fit(
        text, iterations=5, epochs=3, max_time=1e6, progress=False)
    assert model._state.schedule.end_iteration == 5 and model._state.schedule.end_seconds is not None
    model.save(tmp_path / "m.safetensors")
    for copy in (CharRNN.load(tmp_path / "m.safetensors"), pickle.loads(pickle.dumps(model))):
        assert copy._state.schedule == model._state.schedule
        assert copy.get_params() == model.get_params()


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(end_iteration=-3), r"\['end_iteration'\] must be a count"),
    (lambda s: s.update(start_seconds=float("inf")), r"\['start_seconds'\] must be a finite"),
    (lambda s: s.update(start_iteration=10**6), "starts at iteration 1000000"),
    (lambda s: s.pop("end_seconds"), "must be a dict of start_iteration"),
])
def test_a_plan_training_could_not_have_written_is_refused(text, change, message):
    model = CharRNN(hidden_size=8, seed=0, lr_schedule="cosine").fit(text, iterations=4,
                                                                     progress=False)
    tensors, metadata = checkpoint.contents(model.get_params(), model.vocab_, model.spec_, model._state)
    change(metadata["training"]["schedule"])
    with pytest.raises(CheckpointError, match=message):
        CharRNN._from_contents(checkpoint.from_contents(tensors, metadata, "test"))


# ----------------------------------------------------------------------
# The command line

def test_the_schedule_options_reach_the_model(tmp_path, text):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    path = tmp_path / "m.safetensors"
    # Adagrad: its rate is 0.1.
    status = cli.main(["train", str(corpus), "--hidden-size", "8", "--iterations", "30",
                       "--optimizer", "adagrad", "--lr-schedule", "cosine", "--warmup", "4",
                       "--min-lr-ratio", "0.25",
                       "--sample-every", "10", "--sample-seconds", "0", "--sample-length", "5",
                       "--seed", "0", "--checkpoint", str(path), "--no-progress"])
    assert status == 0
    model = CharRNN.load(path)
    assert (model.lr_schedule, model.warmup, model.min_lr_ratio) == ("cosine", 4, 0.25)
    assert model._state.schedule.end_iteration == 30
    assert model.history_[0]["learning_rate"] == pytest.approx(
        0.1 * factor("cosine", 9, 9 / 30, 4, 0.25))


def test_a_bad_schedule_option_is_one_line_naming_the_flag(tmp_path, capsys):
    status = cli.main(["train", "--min-lr-ratio", "2", "--iterations", "1",
                       "--checkpoint", str(tmp_path / "m.safetensors")])
    assert status == 1
    assert "--min-lr-ratio must be a number in [0, 1], got 2.0" in capsys.readouterr().err
