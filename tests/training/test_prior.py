"""`python -m training.prior` on a tiny synthetic data set: it writes a prior that loads
(offline, safe mode) with a card that says how it was made."""

from __future__ import annotations

import numpy as np

from model.why.prior import load_prior, read_prior_card
from training.prior import LATENT_DIM, PROTOTYPES, main


def test_the_prior_command_writes_a_loadable_prior_and_its_card(fake_data_dir, tmp_path):
    out = tmp_path / "p.prior.keras"
    argv = ["--data-dir", str(fake_data_dir), "--epochs", "1", "--output", str(out)]
    assert main(argv) == 0
    card = read_prior_card(out)
    assert card.training["command"] == (
        "python -m training.prior --data-dir DATA_DIR --epochs 1"  # no paths of this machine
    )
    assert (
        card.file == out.name and card.dataset == "mnist" and card.size_bytes == out.stat().st_size
    )
    prior = load_prior(out)
    assert prior.prototypes.shape == (10, PROTOTYPES, LATENT_DIM)
    z = prior.encoder(np.zeros((2, 28, 28, 1), np.float32))
    x = np.asarray(prior.decoder(z))
    assert x.shape == (2, 28, 28, 1) and x.min() >= 0 and x.max() <= 1
