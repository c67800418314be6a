"""OmniJet-alpha: the NormFormer ignores padding and is permutation-equivariant, k-means finds
planted clusters, the quantizer picks the nearest code with a straight-through gradient and
replaces dead codes, sequences round-trip through START/STOP, the GPT is causal and its loss
ignores padding, generation keeps the sequence grammar, the taggers ignore padding, the jet
features and observables on known values, a brief run (the tokenizer and backbone learn; transfer
accuracies are produced for every mode) and the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.omnijet_alpha.__main__ import main
from l1forge.reference.omnijet_alpha.backbone import (START, Backbone, Tagger, sequences, stop_token,
                                                      tokens_from_sequences)
from l1forge.reference.omnijet_alpha.data import LOG_PT_SHIFT, kl_divergences, observables, read_token_jets
from l1forge.reference.omnijet_alpha.run import run_experiment
from l1forge.reference.omnijet_alpha.tokenizer import NormFormerBlock, Tokenizer, VectorQuantizer, kmeans
from l1forge.reference.omnijet_alpha.train import SMALL, BackboneSpec, TaggerSpec, TokenizerSpec


def _perturbed(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    for p in module.parameters():  # leave the zero-initialised identity start
        p.data += 0.1 * torch.randn_like(p)
    return module.eval()


def test_normformer_ignores_padding_and_is_permutation_equivariant():
    block = _perturbed(NormFormerBlock(16, 4, 0.0))
    x = torch.randn(2, 6, 16)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    out = block(x, mask)
    noisy = x.clone()
    noisy[0, 4:] = 100.0  # padding content must not matter
    torch.testing.assert_close(block(noisy, mask)[0, :4], out[0, :4])
    assert torch.all(out[0, 4:] == 0)
    perm = torch.tensor([3, 1, 0, 2, 4, 5])
    torch.testing.assert_close(block(x[:, perm], mask[:, perm])[0], out[0, perm], atol=1e-5, rtol=1e-5)


def test_kmeans_finds_planted_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.cat([c + 0.1 * torch.randn(200, 2, generator=gen) for c in centres])
    found = kmeans(points, 3, generator=torch.Generator().manual_seed(1))
    distance = torch.cdist(centres, found).min(1).values
    assert torch.all(distance < 0.1)


def test_quantizer_nearest_code_straight_through_and_dead_code_replacement():
    vq = VectorQuantizer(codes=4, latent=2, beta=0.9, replace_every=2)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [50.0, 50.0]]))
        vq.initialised.fill_(True)
    z = torch.tensor([[0.1, 0.1], [0.9, 0.2], [0.2, 0.8]], requires_grad=True)
    q, tokens, loss = vq(z)
    assert tokens.tolist() == [0, 1, 2]
    torch.testing.assert_close(q.detach(), vq.codes()[tokens].detach())
    q.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))  # straight through
    assert float(loss) > 0
    vq(z.detach())  # step 2: code 3 has never been used -> moved onto a latent of this batch
    vq(z.detach())
    moved = vq.codes()[3].detach()
    assert torch.cdist(moved[None], z.detach()).min() < 1e-5


def test_tokenizer_round_trip_shapes_and_padding():
    tok = _perturbed(Tokenizer(width=16, blocks=1, heads=2, latent=2, codes=8))
    x = torch.randn(3, 5, 3)
    mask = torch.tensor([[True] * 5, [True] * 2 + [False] * 3, [True] + [False] * 4])
    tokens = tok.tokenize(x, mask)
    assert torch.all((tokens >= 0) == mask) and int(tokens.max()) < 8
    decoded = tok.detokenize(tokens)
    assert decoded.shape == (3, 5, 3) and torch.all(decoded[~mask] == 0)


def test_sequences_round_trip_through_start_and_stop():
    tokens = torch.tensor([[4, 0, 7, -1], [2, -1, -1, -1], [1, 2, 3, 5]])
    seq = sequences(tokens, codes=8)
    assert seq[1].tolist() == [START, 3, stop_token(8), -1, -1, -1]
    assert seq[2].tolist() == [START, 2, 3, 4, 6, 9]
    torch.testing.assert_close(tokens_from_sequences(seq, 8, 4), tokens)


def test_backbone_is_causal_and_its_loss_ignores_padding():
    bb = _perturbed(Backbone(codes=8, width=16, blocks=2, heads=2))
    seq = sequences(torch.tensor([[4, 0, 7, 1], [2, 5, -1, -1]]), 8)
    hidden = bb.hidden(seq)
    later = seq.clone()
    later[0, 4] = 3  # change a later token: earlier states stay
    torch.testing.assert_close(bb.hidden(later)[0, :4], hidden[0, :4])
    assert (bb.hidden(later)[0, 4] - hidden[0, 4]).abs().max() > 1e-4
    padded = torch.cat([seq, torch.full((2, 3), -1)], 1)
    torch.testing.assert_close(bb.loss(padded), bb.loss(seq))


def test_generation_keeps_the_sequence_grammar():
    bb = _perturbed(Backbone(codes=8, width=16, blocks=1, heads=2))
    seq = bb.generate(50, max_length=6, generator=torch.Generator().manual_seed(0))
    assert seq.shape == (50, 8) and torch.all(seq[:, 0] == START)
    stop = stop_token(8)
    for row in seq.tolist():
        end = row.index(stop)
        assert 2 <= end <= 7 and all(1 <= t <= 8 for t in row[1:end]) and all(t == -1 for t in row[end + 1:])
    tokens = tokens_from_sequences(seq, 8, 6)
    assert torch.all((tokens >= -1) & (tokens < 8))


@pytest.mark.parametrize("head", ["class_attention", "sum"])
def test_taggers_ignore_padding(head):
    tagger = _perturbed(Tagger(Backbone(codes=8, width=16, blocks=1, heads=2), head))
    seq = sequences(torch.tensor([[4, 0, 7, -1]]), 8)
    longer = torch.cat([seq, torch.full((1, 4), -1)], 1)
    torch.testing.assert_close(tagger(longer), tagger(seq))
    assert tagger(seq).shape == (1, 2)


def test_jet_features_and_observables(jets_10k):
    jets = read_token_jets(jets_10k, 16, limit=3000)
    assert jets.label.mean() == 0.5 and jets.x.shape[1:] == (16, 3)
    assert np.all(jets.x[~jets.mask] == 0) and np.all(np.abs(jets.x[..., 1:][jets.mask]) < 3 * 1.0)
    # Two massless particles of 100 GeV back to back in phi about the axis: m = 2 p sin(dphi / 2) ~ 2 p dphi/2.
    x = np.zeros((1, 2, 3))
    x[0, :, 0] = np.log(100.0) - LOG_PT_SHIFT
    x[0, :, 2] = [0.3, -0.3]  # 3 phi_rel: phi = +-0.1
    obs = observables(x, np.ones((1, 2), dtype=bool))
    assert obs["mass"][0] == pytest.approx(2 * 100.0 * np.sin(0.1), rel=1e-9)
    assert obs["pt"][0] == pytest.approx(2 * 100.0 * np.cos(0.1), rel=1e-9)
    real = observables(jets.x, jets.mask)
    assert all(v == 0 for v in kl_divergences(real, real).values())
    shifted = dict(real, mass=real["mass"] * 1.3)
    assert kl_divergences(real, shifted)["mass"] > 0.1


@pytest.mark.slow  # about a minute
def test_brief_run_learns(jets_10k, tmp_path):
    config = replace(SMALL, constituents=24, tokenizer=TokenizerSpec(32, 1, 2, 4, 64, 150, 2e-3, 64),
                     backbone=BackboneSpec(32, 1, 2, 150, 2e-3, 32),
                     tagger=TaggerSpec("class_attention", 40, 1e-3, 32, (200, 600)), generated_jets=100)
    results = run_experiment(jets_10k, tmp_path / "out", config, seed=0, limit=2500, quiet=True)
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "omnijet.png").exists()
    tok, bb = results["tokenizer"], results["backbone"]
    assert tok["loss_last"] < 0.5 * tok["loss_first"] and 0 < tok["codes_used"] <= 64
    assert bb["test_loss"] < bb["uniform_loss"] - 0.5  # the backbone predicts better than chance
    for mode, acc in results["transfer"].items():
        assert set(acc) == {"200", "600"} and all(0 <= a <= 1 for a in acc.values()), mode
    assert all(np.isfinite(v) for v in results["generation"]["kl_vs_tokenized_test"].values())


def test_entry_point_errors(ds2_showers, tmp_path, capsys):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "no such jet file" in capsys.readouterr().err
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "o")]) == 2
    assert "expected the jet layout" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
