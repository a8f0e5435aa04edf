"""Transformer models (plm-icd, bert-xml, hmhan, bert-cls, bert-attn) and their encoders, on a tiny random
BERT with a WordPiece vocabulary trained on the fly (``tiny_encoder.py``); one slow test loads MiniLM."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
import torch
from tiny_encoder import write_tiny_encoder

from icdbench.errors import UserError
from icdbench.models.base import as_output
from icdbench.models.encoders import (
    SegmentEncoder,
    load_encoder,
    load_tokenizer,
    packaged_minilm,
    resolve_encoder,
    special_tokens_template,
)
from icdbench.models.hmhan import MultiHeadLabelAttention, category_index, category_of
from icdbench.models.registry import get_model

TRANSFORMERS = ["plm-icd", "bert-xml", "hmhan", "hmhan-nosmote", "bert-cls", "bert-attn"]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    return str(write_tiny_encoder(tmp_path_factory.mktemp("tiny-bert")))


def _build(name: str, encoder: str, ctx, **overrides):
    spec = get_model(name)
    config = dataclasses.replace(spec.default_config(), encoder=encoder, **overrides)
    torch.manual_seed(0)
    return spec.build(config, ctx).eval()


def _logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return as_output(model(batch)).logits


# --- encoders ---------------------------------------------------------------------------------------------


def test_default_encoder_is_the_packaged_minilm():
    path = resolve_encoder(None)
    assert path == resolve_encoder("minilm") == packaged_minilm()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_missing_encoders_fail_with_one_line_and_no_network(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("an encoder lookup tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(UserError, match="Bio_ClinicalBERT") as exc:
        resolve_encoder("bio-clinicalbert")
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match="bio-lm"):
        resolve_encoder("roberta-pm-m3-voc")
    with pytest.raises(UserError, match="neither a local model directory nor in the Hugging Face cache"):
        resolve_encoder("nobody/no-such-model")
    with pytest.raises(UserError, match="no config.json"):
        resolve_encoder(str(tmp_path))


def test_local_directory_tokenizer_and_template(tiny_encoder):
    assert resolve_encoder(tiny_encoder).is_dir()
    tokenizer = load_tokenizer(tiny_encoder)
    pieces = tokenizer.tokenize("pneumonia with effusion")
    assert "[UNK]" not in pieces and any(p.startswith("##") for p in pieces)  # a real WordPiece vocabulary
    prefix, suffix = special_tokens_template(tokenizer)
    assert prefix == [tokenizer.cls_token_id] and suffix == [tokenizer.sep_token_id]
    assert load_encoder(tiny_encoder).config.hidden_size == 32


def test_loading_an_encoder_draws_no_progress_bar_into_the_run_s_output(tiny_encoder, capfd):
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # as in a fresh process
    load_encoder(tiny_encoder)
    assert "Loading weights" not in capfd.readouterr().err


def test_tiny_random_is_deterministic_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = load_encoder("tiny-random"), load_encoder("tiny-random")
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert a.config.hidden_size == 64 and a.config.vocab_size == 30522


def test_segment_encoder_skips_padding_segments(tiny_encoder):
    encoder = SegmentEncoder(tiny_encoder).eval()
    ids = torch.randint(5, 150, (2, 3, 6))
    att = torch.ones_like(ids)
    seg = torch.tensor([[True, True, False], [True, False, False]])
    with torch.no_grad():
        states, mask = encoder(ids, att, seg)
    assert states.shape == (2, 18, 32) and mask.tolist() == [
        [True] * 12 + [False] * 6,
        [True] * 6 + [False] * 12,
    ]
    assert (states[~mask] == 0).all()
    single = encoder.model(input_ids=ids[0, 1:2], attention_mask=att[0, 1:2]).last_hidden_state[0]
    torch.testing.assert_close(states[0, 6:12], single)


def test_a_fine_tuned_encoder_starts_in_train_mode_so_its_dropout_is_on(tiny_encoder):
    # from_pretrained (a saved directory, as MiniLM) returns eval mode; Lightning keeps submodule modes
    encoder = SegmentEncoder(tiny_encoder)
    assert encoder.model.training and all(m.training for m in encoder.model.modules())


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval(tiny_encoder):
    encoder = SegmentEncoder(tiny_encoder, freeze=True).train()
    assert not encoder.model.training and not any(p.requires_grad for p in encoder.parameters())


# --- every transformer model ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_padding_segments_and_tokens_do_not_change_logits(name, tiny_encoder, make_context, make_batch):
    ctx = make_context(n_codes=7)
    model = _build(name, tiny_encoder, ctx)
    batch = make_batch("segments", ctx, n_segments=3, segment_len=12, subword_range=(5, 200), seed=1)
    reference = _logits(model, batch)
    assert reference.shape == (3, 7) and torch.isfinite(reference).all()

    noisy = dict(batch)  # garbage ids wherever the masks say padding
    pad = ~batch["attention_mask"].bool()
    noisy["input_ids"] = batch["input_ids"].masked_fill(pad, 77)
    torch.testing.assert_close(_logits(model, noisy), reference, atol=1e-5, rtol=1e-5)

    extra = dict(batch)  # one more padding segment full of random tokens, and longer padded segments
    b, s, length = batch["input_ids"].shape
    extra["input_ids"] = torch.cat([batch["input_ids"], torch.randint(5, 200, (b, 1, length))], dim=1)
    extra["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones(b, 1, length, dtype=torch.long)], 1)
    extra["segment_mask"] = torch.cat([batch["segment_mask"], torch.zeros(b, 1, dtype=torch.bool)], dim=1)
    for key in ("input_ids", "attention_mask"):
        extra[key] = torch.nn.functional.pad(extra[key], (0, 5))
    torch.testing.assert_close(_logits(model, extra), reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_output_bias_starts_at_the_code_prevalence(name, tiny_encoder, make_context):
    ctx = make_context(n_codes=5)
    model = _build(name, tiny_encoder, ctx)
    prevalence = (ctx.train_counts + 0.5) / (ctx.n_train_docs + 1)
    np.testing.assert_allclose(torch.sigmoid(model.output.bias).detach().numpy(), prevalence, rtol=1e-5)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_under_a_class_weighted_loss_every_code_starts_at_one_half(name, tiny_encoder, make_context):
    # the optimum of a constant score under positives weighted (N - n)/n; from the prevalence the few cpu
    # steps never lifted HMHAN's scores to 0.5, so F1 at 0.5 (its early-stopping monitor) stayed at 0
    ctx = dataclasses.replace(make_context(n_codes=5), class_weighted_loss=True)
    model = _build(name, tiny_encoder, ctx)
    np.testing.assert_array_equal(model.output.bias.detach().numpy(), np.zeros(5, dtype=np.float32))
    if name.startswith("hmhan"):  # its category head trains with plain BCE: still the prevalence
        assert (model.category_output.bias < 0).all()


@pytest.mark.parametrize("name", ["plm-icd", "bert-xml", "hmhan", "bert-attn"])
def test_attributions_are_distributions_over_real_tokens(name, tiny_encoder, make_context, make_batch):
    ctx = make_context(n_codes=5)
    model = _build(name, tiny_encoder, ctx)
    batch = make_batch("segments", ctx, n_segments=2, segment_len=10, subword_range=(5, 200))
    assert as_output(model(batch)).attributions is None  # only on request
    model.want_attributions = True
    with torch.no_grad():
        weights = as_output(model(batch)).attributions
    real = (batch["attention_mask"].bool() & batch["segment_mask"][..., None]).reshape(3, 1, -1)
    assert weights.shape == (3, 5, 20)
    assert (weights.masked_select(~real.expand_as(weights)) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))


def test_bert_cls_has_no_attention_but_reads_every_segment(tiny_encoder, make_context, make_batch):
    ctx = make_context(n_codes=4)
    model = _build("bert-cls", tiny_encoder, ctx)
    batch = make_batch("segments", ctx, n_segments=2, segment_len=8, subword_range=(5, 200))
    batch["segment_mask"][:] = True
    batch["attention_mask"][:, 1, :2] = 1
    changed = dict(batch, input_ids=batch["input_ids"].clone())
    changed["input_ids"][:, 1, 1] = 99  # a content token of the second segment
    assert not torch.allclose(_logits(model, batch), _logits(model, changed))


# --- HMHAN ------------------------------------------------------------------------------------------------


def test_categories_are_three_character_or_chapter(make_context):
    assert category_of("J18.9", ["J18", "J09-J18", "J00-J99"], "3char") == "J18"
    assert category_of("45.13", ["45.1", "45"], "3char") == "45"  # ICD-9 procedure: 2-digit category
    assert category_of("0DTJ4ZZ", ["0DT", "0D", "0"], "3char") == "0DT"
    assert category_of("I10", ["I10-I1A"], "3char") == "I10"
    assert category_of("J18.9", ["J18", "J09-J18", "J00-J99"], "chapter") == "J00-J99"
    ctx = make_context(n_codes=7)
    names, index = category_index(ctx, "3char")
    assert [names[i] for i in index] == [category_of(c, [], "3char") for c in ctx.codes]
    assert len(category_index(ctx, "chapter")[0]) < len(names)


def test_label_attention_equals_torch_multihead_attention_with_identity_query_and_output():
    torch.manual_seed(0)
    ours = MultiHeadLabelAttention(hidden=8, n_labels=5, heads=4)
    reference = torch.nn.MultiheadAttention(8, 4, batch_first=True)
    eye = torch.eye(8)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([eye, ours.key.weight, ours.value.weight]))
        reference.in_proj_bias.copy_(torch.cat([torch.zeros(8), ours.key.bias, ours.value.bias]))
        reference.out_proj.weight.copy_(eye)
        reference.out_proj.bias.zero_()
    states = torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    context, weights = ours(states, mask, need_weights=True)
    queries = ours.queries.unsqueeze(0).expand(2, -1, -1)
    expected, expected_weights = reference(queries, states, states, key_padding_mask=~mask)
    torch.testing.assert_close(context, expected)
    torch.testing.assert_close(weights, expected_weights)
    assert ours(states, mask)[1] is None


def test_hmhan_hierarchy_loss_by_hand(tiny_encoder, make_context):
    ctx = make_context(n_codes=4)  # I10 | J11.1 J11.2 | 0DT34ZZ
    model = _build("hmhan", tiny_encoder, ctx)
    index = model.code_category.tolist()
    assert index[1] == index[2] and len(set(index)) == 3
    targets = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(model.category_targets(targets)[0].numpy(), [0.0, 1.0, 0.0])
    logits = torch.tensor([[0.0, 2.0, -1.0, 1.0]])
    category_logits = torch.tensor([[0.0, 1.0, 3.0]])
    sig = torch.sigmoid
    p_cat = sig(category_logits[0])
    cat_bce = -(torch.log(1 - p_cat[0]) + torch.log(p_cat[1]) + torch.log(1 - p_cat[2])) / 3
    excess = [0.0, sig(torch.tensor(2.0)) - sig(torch.tensor(1.0)), 0.0, 0.0]  # only J11.1 exceeds J11
    expected = cat_bce + sum(e**2 for e in excess) / 4
    torch.testing.assert_close(model.hierarchy_loss(logits, category_logits, targets), expected)


def test_hmhan_loss_focal_plus_weighted_bce_by_hand():
    """HMHAN's main loss (``train.loss=focal+wbce``, γ=2, α=0.25) on one document, two codes, by hand:
    positive with logit 2: 0.25·(1−σ(2))²·(−log σ(2)) = 0.00045089; negative with logit −1:
    0.75·σ(−1)²·(−log(1−σ(−1))) = 0.01699354; focal = their mean. Weighted BCE with positive weights
    (N − n)/n for N = 10 documents, n = (2, 5): (4·(−log σ(2)) + (−log(1−σ(−1)))) / 2 = 0.41048687."""
    from icdbench.training.losses import CodingLoss, focal_loss, positive_weights

    logits, targets = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    assert get_model("hmhan").train_defaults["train.loss"] == "focal+wbce"
    assert focal_loss(logits, targets, gamma=2.0, alpha=0.25).item() == pytest.approx(0.0087222169, rel=1e-6)
    weights = positive_weights(np.array([2, 5]), 10)
    np.testing.assert_allclose(weights.numpy(), [4.0, 1.0])
    combined = CodingLoss("focal+wbce", gamma=2.0, alpha=0.25, pos_weight=weights)(logits, targets)
    assert combined.item() == pytest.approx(0.0087222169 + 0.4104868658, rel=1e-6)


def test_hmhan_uses_demographics(tiny_encoder, make_context, make_batch):
    ctx = make_context(n_codes=5)
    model = _build("hmhan", tiny_encoder, ctx)
    batch = make_batch("segments", ctx, subword_range=(5, 200))
    older = dict(batch, age=batch["age"] + 1.0)
    other_sex = dict(batch, sex=(batch["sex"] % 2) + 1)
    reference = _logits(model, batch)
    assert not torch.allclose(_logits(model, older), reference)
    assert not torch.allclose(_logits(model, other_sex), reference)


def test_hmhan_precomputed_token_states_match_the_encoder(tiny_encoder, make_context, make_batch):
    """The SMOTE stage feeds cached, padding-free token states; they must give the encoder path's logits."""
    ctx = make_context(n_codes=6)
    model = _build("hmhan", tiny_encoder, ctx)
    batch = make_batch("segments", ctx, n_segments=2, segment_len=10, subword_range=(5, 200))
    with torch.no_grad():
        states, mask = model.encoder(batch["input_ids"], batch["attention_mask"], batch["segment_mask"])
    rows = [states[i][mask[i]] for i in range(len(states))]
    packed = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    packed_mask = torch.arange(packed.shape[1]) < torch.tensor([len(r) for r in rows])[:, None]
    features = {k: batch[k] for k in ("targets", "age", "sex", "doc_index")}
    features.update(token_states=packed, token_mask=packed_mask)
    torch.testing.assert_close(_logits(model, features), _logits(model, batch), atol=1e-5, rtol=1e-5)


def test_hmhan_smote_freezes_the_encoder_and_nosmote_trains_it(tiny_encoder, make_context):
    ctx = make_context(n_codes=4)
    frozen, tuned = _build("hmhan", tiny_encoder, ctx), _build("hmhan-nosmote", tiny_encoder, ctx)
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert all(p.requires_grad for p in tuned.encoder.parameters())
    from icdbench.training.families.hmhan import fit_hmhan
    from icdbench.training.runners import runner_of

    assert get_model("hmhan").trainer == "custom" and runner_of(get_model("hmhan")) is fit_hmhan


def test_bad_heads_is_a_user_error(tiny_encoder, make_context):
    with pytest.raises(UserError, match="not divisible by heads=3"):
        _build("hmhan", tiny_encoder, make_context(n_codes=3), heads=3)


# --- the real packaged encoder ----------------------------------------------------------------------------


@pytest.mark.slow
def test_plm_icd_on_the_packaged_minilm(make_context):
    ctx = make_context(n_codes=5)
    model = _build("plm-icd", "minilm", ctx)
    assert model.encoder.hidden_size == 384 and model.encoder.model.config.num_hidden_layers == 6
    tokenizer = load_tokenizer("minilm")
    prefix, suffix = special_tokens_template(tokenizer)
    content = tokenizer("chest x-ray shows right lower lobe pneumonia", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([[prefix + content + suffix]])
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "segment_mask": torch.ones(1, 1).bool(),
    }
    logits = _logits(model, batch)
    assert logits.shape == (1, 5) and torch.isfinite(logits).all()
