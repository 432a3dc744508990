"""The model the budget allows: hidden_size, num_layers, dropout and learning_rate "auto"
(CharRNN.auto(), --preset auto) chosen by fit from its budget and the text
(budget.py), what was chosen said and kept, and every given parameter winning."""

import pickle
import warnings

import numpy as np
import pytest

from charrnn_c import CharRNN, budget, cli
from charrnn_c.checks import InvalidParameterError
from charrnn_c.safetensors_file import CheckpointError, load_checkpoint, save_checkpoint
from conftest import SMALL_FLAGS

# The recipe's other parts made small, so that a test trains in a moment.
SMALL = dict(batch_size=4, seq_length=20, seed=0, warmup=0)
GRU = {"cell": "gru", "dtype": "float32", "optimizer": "adam"}


def choose(reference_characters, text_characters=4_500_000, **fixed):
    params = {**GRU, **dict.fromkeys(budget.CHOSEN, budget.AUTO), **fixed}
    return budget.choose(params, 84, text_characters, reference_characters)


def fitted_auto(text, **fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a few steps learn little
        return CharRNN.auto(**SMALL).fit(text, progress=False, **fit)


def test_each_rung_of_the_ladder_is_chosen_from_its_budget_on():
    for rung, after in zip(budget.LADDER, budget.LADDER[1:] + (None,)):
        just_below = None if after is None else after.reference_characters * 0.99
        for characters in (rung.reference_characters, just_below):
            if characters is None:
                continue
            choice = choose(characters)
            assert (choice.hidden_size, choice.num_layers) == (rung.hidden_size,
                                                               rung.num_layers), characters


def test_more_budget_never_chooses_fewer_weights_and_the_largest_rung_caps_it():
    sizes = [choose(characters).hidden_size * choose(characters).num_layers
             for characters in np.geomspace(1e4, 1e10, 40)]
    assert sizes == sorted(sizes)
    top = budget.LADDER[-1]
    assert (choose(float("inf")).hidden_size, choose(float("inf")).num_layers) == (
        top.hidden_size, top.num_layers)


def test_a_short_text_gets_no_more_weights_than_its_characters_allow():
    text = 60_000
    choice = choose(1e12, text_characters=text)
    spec = budget.ModelSpec(84, choice.hidden_size, choice.num_layers, "gru", "float32")
    assert spec.num_params <= budget.PARAMS_PER_CHARACTER * text
    # ... and many passes over it call for dropout, where the long text's don't.
    assert choice.dropout == budget.DROPOUT_BY_PASSES[0][1] > 0
    assert choose(budget.LADDER[1].reference_characters).dropout == 0.0


def test_dropout_rises_with_the_passes_the_chosen_model_makes():
    rates = [choose(characters, text_characters=1_000_000).dropout
             for characters in np.geomspace(1e5, 1e9, 30)]
    assert rates[0] == 0.0 and rates[-1] == budget.DROPOUT_BY_PASSES[0][1]
    # Within a rung, more passes never lower it.
    choice = choose(1e8, text_characters=1_000_000)
    assert choice.passes == pytest.approx(choice.characters / 1_000_000)


def test_adams_rate_is_the_rungs_and_other_optimizers_keep_their_own():
    for rung in budget.LADDER:
        assert choose(rung.reference_characters).learning_rate == rung.adam_rate
        assert choose(rung.reference_characters, optimizer="adagrad").learning_rate is None
    assert choose(1e7, learning_rate=5e-4).learning_rate == 5e-4


def test_a_parameter_given_is_kept_and_the_others_chosen_around_it():
    choice = choose(1e12, hidden_size=40, dropout=0.25)
    assert (choice.hidden_size, choice.dropout) == (40, 0.25)
    assert choice.num_layers == budget.LADDER[-1].num_layers
    one_layer = choose(1e12, num_layers=1)
    assert one_layer.num_layers == 1 and one_layer.dropout == 0.0  # nothing between layers


def test_fit_chooses_from_the_characters_its_iterations_train(shakespeare):
    text = shakespeare[:50_000]
    model = fitted_auto(text, iterations=30)
    chosen = model.chosen_
    assert chosen["reference_characters"] == 30 * 4 * 20
    assert chosen["reference_throughput"] is None      # nothing was timed
    assert (model.spec_.hidden_size, model.spec_.num_layers) == (chosen["hidden_size"],
                                                                 chosen["num_layers"])
    expected = choose(30 * 4 * 20, text_characters=chosen["text_characters"])
    assert (chosen["hidden_size"], chosen["dropout"]) == (expected.hidden_size,
                                                          expected.dropout)
    # The estimator's parameters stay as given: a second fit chooses again.
    assert model.get_params()["hidden_size"] == model.hidden_size == "auto"
    assert model.n_iter_ == 30


def test_with_max_time_fit_times_the_reference_and_keeps_to_the_budget(shakespeare):
    model = fitted_auto(shakespeare[:50_000], max_time=1.0)
    chosen = model.chosen_
    assert chosen["reference_throughput"] > 0
    # The probe's second is taken from the budget: the plan ends before max_time.
    assert model._state.schedule.end_seconds < 1.0
    assert chosen["reference_characters"] == pytest.approx(
        chosen["reference_throughput"] * model._state.schedule.end_seconds, rel=1e-3)
    assert model.stop_reason_ == "max_time"


def test_explicit_parameters_win(shakespeare):
    model = CharRNN.auto(hidden_size=24, num_layers=1, dropout=0.0, learning_rate=None,
                         **SMALL).fit(
        shakespeare[:20_000], iterations=2, progress=False)
    assert (model.spec_.hidden_size, model.spec_.num_layers) == (24, 1)
    assert model.chosen_ is None                       # nothing was left to choose
    plain = CharRNN(**SMALL).fit(shakespeare[:20_000], iterations=2, progress=False)
    assert plain.chosen_ is None


def test_progress_says_what_was_chosen(shakespeare, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CharRNN.auto(**SMALL).fit(shakespeare[:20_000], iterations=5, progress=True)
    err = capsys.readouterr().err
    line = budget.from_dict(model.chosen_).describe()
    assert line in err
    assert f"a {model.spec_.num_layers} x {model.spec_.hidden_size} model" in line


def test_checkpoints_hold_what_was_chosen_and_resume_trains_it(shakespeare, tmp_path):
    text = shakespeare[:50_000]
    model = fitted_auto(text, iterations=20)
    path = tmp_path / "auto.safetensors"
    model.save(path)
    loaded = CharRNN.load(path)
    assert loaded.chosen_ == model.chosen_
    # The file holds the values trained with, so it loads and resumes anywhere.
    assert loaded.hidden_size == model.chosen_["hidden_size"]
    assert loaded.dropout == model.chosen_["dropout"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.fit(text, iterations=10, resume=True, progress=False)
        model.fit(text, iterations=10, resume=True, progress=False)
    assert model.spec_ == loaded.spec_ and model.chosen_ == loaded.chosen_
    np.testing.assert_array_equal(model.params_, loaded.params_)   # the same run, exactly
    again = pickle.loads(pickle.dumps(model))
    assert again.chosen_ == model.chosen_
    np.testing.assert_array_equal(again.params_, model.params_)


def test_warm_start_keeps_the_sizes_and_chooses_dropout_for_its_own_budget(shakespeare):
    model = fitted_auto(shakespeare[:50_000], iterations=10)
    sizes = model.spec_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(shakespeare[:4_000], iterations=2_000, warm_start=True, progress=False)
    assert model.spec_ == sizes
    # Two thousand steps of 80 characters over a 4,000-character text: many passes.
    assert model.chosen_["dropout"] == budget.DROPOUT_BY_PASSES[0][1]


def rewrite(path, out, change):
    tensors, metadata = load_checkpoint(path)
    change(metadata)
    save_checkpoint(out, tensors, metadata)


def test_a_checkpoint_whose_choice_and_params_disagree_is_refused(shakespeare, tmp_path):
    path = tmp_path / "auto.safetensors"
    fitted_auto(shakespeare[:50_000], iterations=5).save(path)

    def other_width(metadata):
        metadata["training"]["chosen"]["hidden_size"] += 1

    def auto_in_params(metadata):
        metadata["params"]["hidden_size"] = "auto"

    for change, message in ((other_width, r"training\['chosen'\]\['hidden_size'\]"),
                            (auto_in_params, "hidden_size must be a positive integer")):
        out = tmp_path / f"{change.__name__}.safetensors"
        rewrite(path, out, change)
        with pytest.raises(CheckpointError, match=message):
            CharRNN.load(out)


def test_a_misspelt_auto_names_the_parameter(shakespeare):
    with pytest.raises(InvalidParameterError, match=r"hidden_size must be a positive integer, "
                                                    r"got 'Auto' \(or 'auto': fit chooses it\)"):
        CharRNN(hidden_size="Auto").fit(shakespeare[:5_000], iterations=1, progress=False)


def train_by_cli(shakespeare, tmp_path, capsys, *flags):
    """charrnn train on a small text with ``flags``: (the model it saved, stdout)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(shakespeare[:40_000])
    checkpoint = tmp_path / "m.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["train", str(corpus), *map(str, SMALL_FLAGS), *flags, "--no-progress",
                         "--sample-seconds", "0", "--checkpoint", str(checkpoint)]) == 0
    return CharRNN.load(checkpoint), capsys.readouterr().out


def test_the_command_line_preset_leaves_the_size_to_the_budget(shakespeare, tmp_path, capsys):
    model, out = train_by_cli(shakespeare, tmp_path, capsys, "--preset", "auto",
                              "--num-layers", "1", "--iterations", "5")
    assert model.num_layers == 1 and model.chosen_["num_layers"] == 1   # the flag won
    assert (f"auto: 1 x {model.chosen_['hidden_size']} {model.cell}, dropout "
            f"{model.chosen_['dropout']:g}") in out


def test_the_command_line_takes_auto_for_one_parameter(shakespeare, tmp_path, capsys):
    model, _ = train_by_cli(shakespeare, tmp_path, capsys, "--hidden-size", "auto",
                            "--iterations", "3")
    assert model.chosen_ is not None and model.hidden_size == model.chosen_["hidden_size"]
    assert model.learning_rate is None          # --learning-rate was not auto: Adagrad's own


def test_auto_with_the_torch_backend_asks_for_the_sizes(shakespeare):
    with pytest.raises(InvalidParameterError, match="hidden_size='auto' chooses by the C "
                                                    "core's speed.*backend='torch'"):
        CharRNN.auto(**SMALL).fit(shakespeare[:5_000], iterations=1, backend="torch",
                                  progress=False)
