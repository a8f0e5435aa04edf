"""Settings the authors' releases fix and icdbench once departed from (issue 16, item 4): CAML's
document-frequency vocabulary, MultiResCNN's fine-tuned word embeddings, JointLAAT's weighting of the parent
level and its 2-digit ICD-9 procedure parents."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from icdbench.datasets.inputs import WordInputs
from icdbench.datasets.vocab import Vocab
from icdbench.models.base import as_output
from icdbench.models.laat import parent_index, parent_key
from icdbench.models.registry import get_model

# "rare" fills one document (5 occurrences); "spread" is once in each of three documents.
DOCUMENTS = [
    ["rare"] * 5 + ["spread", "common"],
    ["spread", "common", "pair"],
    ["spread", "common", "pair"],
    ["common"],
]


def test_vocabulary_counts_documents_not_occurrences():
    by_documents = Vocab.build(DOCUMENTS, min_count=1, min_docs=3)
    assert by_documents.tokens[2:] == ["common", "spread"]
    assert Vocab.build(DOCUMENTS, min_count=3).tokens[2:] == ["rare", "common", "spread"]  # occurrences


@pytest.mark.parametrize(
    ("name", "min_count", "min_docs"),
    [
        # CAML's build_vocab.py (vocab_min = 3) and word2vec min_count 0, shared by its baselines and MultiResCNN
        ("caml", 1, 3),
        ("dr-caml", 1, 3),
        ("cnn", 1, 3),
        ("bigru", 1, 3),
        ("multirescnn", 1, 3),
        # LAAT's release keeps every train word (min_word_frequency -1)
        ("laat", 1, 1),
        ("jointlaat", 1, 1),
    ],
)
def test_published_vocabulary_rule(name, min_count, min_docs):
    config = get_model(name).default_config()
    assert (config.w2v_min_count, config.vocab_min_docs) == (min_count, min_docs)


def test_word_inputs_build_the_vocabulary_by_document_frequency(tmp_path):
    config = dataclasses.replace(get_model("caml").default_config(), embed_dim=4, w2v_epochs=1)
    cfg = OmegaConf.create({"model": dataclasses.asdict(config), "data": {"max_tokens": 50}})
    train = pl.DataFrame({"text": [" ".join(tokens) for tokens in DOCUMENTS]})
    split = SimpleNamespace(fingerprint="vocabulary-test")
    inputs = WordInputs.fit(split, train, cfg, cache_dir=tmp_path)
    assert inputs.vocab.tokens[2:] == ["common", "spread"]
    assert inputs.embeddings.shape == (4, 4)


def test_multirescnn_fine_tunes_its_word_embeddings(make_context):
    # every published command of the release passes -tune_wordemb; Edin et al. train them too
    spec = get_model("multirescnn")
    config = dataclasses.replace(spec.default_config(), embed_dim=16, kernel_sizes=[3], num_filters=4)
    model = spec.build(config, make_context(embed_dim=16))
    assert model.embedding.embed.weight.requires_grad
    frozen = spec.build(dataclasses.replace(config, freeze_embeddings=True), make_context(embed_dim=16))
    assert not frozen.embedding.embed.weight.requires_grad


def test_icd9_procedure_parents_are_the_two_digit_category():
    assert parent_key("36.15", "proc", ["36.1", "36"]) == ("proc", "36")
    assert parent_key("00.66", "proc", []) == ("proc", "00")
    assert parent_key("V45.81", "dx", ["V45.8", "V45"]) == ("dx", "V45")
    assert parent_key("0DTJ4ZZ", "proc", ["0DT"]) == ("proc", "0DT")  # ICD-10-PCS: unchanged


def test_jointlaat_weights_the_levels_like_the_release(make_context):
    ctx = make_context(n_codes=8, vocab_size=30, embed_dim=12)
    counts = np.array([3, 0, 4, 2, 0, 1, 5, 2])  # J10.1 without positives; J11.1 too
    ctx = dataclasses.replace(ctx, train_counts=counts)
    index, parents = parent_index(ctx)  # I10 | J10.1 J10.2 | J11.0 J11.1 J11.2 | J12.0 | 0DT
    n_codes, n_parents = 6, 5  # seen in train
    spec = get_model("jointlaat")
    config = dataclasses.replace(
        spec.default_config(), embed_dim=12, hidden_size=8, attention_dim=6, parent_projection=4, dropout=0.0
    )
    torch.manual_seed(0)
    model = spec.build(config, ctx).eval()
    targets = torch.zeros(2, 8)
    targets[0, [0, 2, 7]] = 1.0
    targets[1, 5] = 1.0
    lengths = torch.tensor([6, 4])
    mask = torch.arange(6) < lengths[:, None]
    ids = torch.randint(2, 30, (2, 6), generator=torch.Generator().manual_seed(1)).masked_fill(~mask, 0)
    batch = {"input_ids": ids, "mask": mask, "lengths": lengths, "targets": targets}
    output = as_output(model(batch))
    code_loss = F.binary_cross_entropy_with_logits(output.logits, targets)
    parent_logits, _ = model.parents(*_states_and_mask(model, batch))
    parent_loss = F.binary_cross_entropy_with_logits(parent_logits, model.parent_targets(targets, len(parents)))
    released = (n_parents * parent_loss + n_codes * code_loss) / (n_parents + n_codes)
    torch.testing.assert_close(output.aux_loss, n_parents / n_codes * parent_loss)
    torch.testing.assert_close((code_loss + output.aux_loss) * n_codes / (n_parents + n_codes), released)


def _states_and_mask(model, batch):
    from icdbench.models.layers.recurrent import run_within_lengths

    states, _ = run_within_lengths(model.lstm, model.embedding(batch["input_ids"]), batch["lengths"])
    return states, batch["mask"]


@pytest.mark.parametrize("kernel", [9, 10])
def test_release_padding_adds_one_window_before_the_text_for_even_kernels(kernel):
    from icdbench.models.layers import SameConv1d

    torch.manual_seed(0)
    release = SameConv1d(3, 4, kernel, pad_both_sides=True)  # CAML's padding=floor(k/2)
    same = SameConv1d(3, 4, kernel)
    same.load_state_dict(release.state_dict())
    x = torch.randn(2, 3, 15)
    extra = 1 - kernel % 2
    assert release.extra_outputs == extra and same.extra_outputs == 0
    torch.testing.assert_close(release(x)[..., extra:], same(x))
    assert release(x).shape[-1] == 15 + extra


def test_plm_icd_heads_start_as_the_release_initialises_them(make_context):
    # Huang et al.'s heads: the encoder's init_weights, N(0, initializer_range^2) and zero bias (not Xavier)
    spec = get_model("plm-icd")
    config = dataclasses.replace(spec.default_config(), encoder="tiny-random", prior_bias=False)
    torch.manual_seed(0)
    model = spec.build(config, make_context(n_codes=6))
    std = model.encoder.model.config.initializer_range
    for weight in (model.attention.project.weight, model.attention.queries.weight, model.output.weight):
        assert abs(weight.std().item() - std) < 0.25 * std
    assert not model.output.bias.any()


@pytest.mark.parametrize("name", ["cnn", "caml", "dr-caml", "bigru"])
def test_mullenbach_models_start_from_unit_length_word_vectors(name, make_context):
    # caml-mimic's extract_wvs.load_embeddings scales every word2vec vector to length 1 for all its models
    spec = get_model(name)
    config = spec.default_config()
    assert config.unit_word_vectors
    ctx = make_context(embed_dim=config.embed_dim)
    lengths = spec.build(config, ctx).embedding.embed.weight.detach().norm(dim=1)
    assert lengths[0] == 0  # padding stays zero
    torch.testing.assert_close(lengths[1:], torch.ones(len(lengths) - 1), atol=1e-5, rtol=0)
    raw = spec.build(dataclasses.replace(config, unit_word_vectors=False), ctx).embedding.embed.weight.detach()
    torch.testing.assert_close(raw[1:], torch.as_tensor(ctx.embeddings[1:]))  # Edin et al.'s scale


def test_a_cnn_on_gensim_scale_vectors_starts_with_the_same_features_for_every_note(make_context):
    """Why the release scales them: on word2vec rows ~10 long (gensim's scale on a note's frequent words), the
    CNN's tanh, max-pooled over 500 windows, is 1 for every feature of every note before any training, so
    nothing reaches the convolution (the committed synth-icd10-50 CNN stayed at the label prior)."""
    spec = get_model("cnn")
    config = dataclasses.replace(spec.default_config(), embed_dim=64, num_filters=128, dropout=0.0)
    ctx = make_context(vocab_size=400, embed_dim=64)
    ctx = dataclasses.replace(ctx, embeddings=ctx.embeddings * 10 / np.sqrt(64))  # rows ~10 long
    notes = torch.randint(2, 400, (8, 500), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": notes, "lengths": torch.full((8,), 500)}

    def pooled_features(unit: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = spec.build(dataclasses.replace(config, unit_word_vectors=unit), ctx).eval()
        with torch.no_grad():
            windows = torch.tanh(model.conv(model.embedding(notes).transpose(1, 2)))
        return windows.amax(dim=2)  # [notes, filters]

    saturated, unit = pooled_features(False), pooled_features(True)
    assert saturated.mean() > 0.99 and unit.mean() < 0.5  # near 1, tanh's gradient is ~0: nothing trains
    assert unit.std(dim=0).mean() > 5 * saturated.std(dim=0).mean()  # and the notes differ
    assert as_output(spec.build(config, ctx)(batch)).logits.shape == (8, ctx.n_codes)
