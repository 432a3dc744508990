"""print_samples: fit's records printed with a sample, as charrnn train prints them."""

import io
import warnings

from charrnn_c import CharRNN, print_samples


def test_print_samples_shows_each_records_losses_and_a_sample(shakespeare):
    model = CharRNN(hidden_size=8, num_layers=1, batch_size=4, seq_length=10, seed=0,
                    keep_best=False)      # the weights the last record sampled from
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(shakespeare[:20_000], iterations=6, eval_every=3, progress=False,
                  callbacks=[print_samples(model, length=30, file=out)])
    lines = out.getvalue().splitlines()
    headers = [line for line in lines if line.startswith("iteration ")]
    assert [header.split(":")[0] for header in headers] == ["iteration 3", "iteration 6"]
    assert "nats/char" in headers[0] and "validation -" not in headers[0]
    # Each header is followed by the sample, 30 characters (which may hold line breaks).
    body = out.getvalue().split(headers[1] + "\n")[1].rstrip("\n")
    assert len(body) == 30
    assert body == model.sample(30, temperature=0.8, seed=0)
