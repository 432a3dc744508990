"""The progress bar shows the run's end: characters against the iterations
allowed, or, under a time budget alone, seconds against it (also after a resume)."""

import re
import warnings

from charrnn_c import CharRNN


def bar_lines(capsys):
    return [line for line in re.split(r"[\r\n]", capsys.readouterr().err) if "|" in line]


def test_a_time_budget_has_a_known_end(shakespeare, capsys):
    model = CharRNN(hidden_size=8, num_layers=1, batch_size=4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(shakespeare[:50_000], max_time=1, progress=True)
        assert re.search(r"100%\|.*\| 1/1 s \[", bar_lines(capsys)[-1])
        model.fit(shakespeare[:50_000], max_time=2, progress=True, resume=True)
        assert re.search(r"100%\|.*\| 2/2 s \[", bar_lines(capsys)[-1])


def test_an_iteration_bound_counts_characters(shakespeare, capsys):
    model = CharRNN(hidden_size=8, num_layers=1, batch_size=4, seq_length=10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(shakespeare[:50_000], iterations=25, max_time=60, progress=True)
    assert re.search(r"100%\|.*\| 1000/1000 \[", bar_lines(capsys)[-1])
