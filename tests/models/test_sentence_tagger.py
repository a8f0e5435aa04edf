"""The sentence tagger: supervised-attention loss, union rule and its fallback, document scores, stage losses,
class weights; one slow end-to-end run on synth-tiny with its evidence report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from icdbench.models.sentence_tagger import (
    SentenceTaggerConfig,
    SentenceTaggerModel,
    attention_supervision_loss,
    union_codes,
)
from icdbench.training.families.sentence_tagger import focus_class_weights, supervision_summary

SMALL = SentenceTaggerConfig(embed_dim=16, hidden_size=12, attention_dim=8)


def test_attention_supervision_loss_by_hand():
    attention = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    target = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    # (0.5-1)² + 0.3² + 0.2² = 0.38 (the masked 4th word does not count); 4 × 0.0625 + 2 × 0.5625 − … = 1.25
    expected = torch.tensor([0.38, 0.25**2 * 2 + 0.75**2 * 2])
    assert torch.allclose(attention_supervision_loss(attention, target, mask), expected)


def test_union_of_tagged_sentences_codes():
    focus = torch.tensor([[0.9, 0.2, 0.7, 0.8], [0.1, 0.3, 0.2, 0.0]])
    code = torch.tensor([[3, 1, 3, 0], [2, 4, 1, -1]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, False]])
    out = union_codes(focus, code, mask, n_codes=5)
    assert out[0].nonzero().ravel().tolist() == [3]  # sentences 0 and 2 tagged; the padded 4th ignored
    assert out[1].nonzero().ravel().tolist() == [4]  # none tagged: the most probable sentence (0.3) stands in


def test_union_fallback_never_picks_padding_and_half_is_not_tagged():
    focus = torch.tensor([[0.5, 0.4, 0.95], [0.0, 0.0, 0.0]])
    code = torch.tensor([[1, 2, 0], [0, 0, 0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out = union_codes(focus, code, mask, n_codes=3)
    assert out[0].tolist() == [False, True, False]  # 0.5 is not above 0.5; fallback to it, not to padding
    assert not out[1].any()  # a document without sentences gets nothing


def _model(make_context, n_codes: int = 5, **kwargs) -> tuple[SentenceTaggerModel, object]:
    config = SentenceTaggerConfig(**{**vars(SMALL), **kwargs})
    ctx = make_context(n_codes=n_codes, vocab_size=40, embed_dim=config.embed_dim)
    torch.manual_seed(0)
    return SentenceTaggerModel(config, ctx), ctx


def test_document_score_is_max_over_sentences_of_focus_times_code(make_context, make_batch):
    model, ctx = _model(make_context)
    batch = make_batch("sentences", ctx, batch_size=3)
    model.eval()
    model.want_attributions = True
    with torch.no_grad():
        output = model(batch)
        scores = model.sentence_scores(batch)
    focus = scores.focus_log_probs[..., 1].exp()
    expected = torch.zeros(3, ctx.n_codes)
    for (doc, sentence), code_log_probs in zip(zip(*scores.rows), scores.code_log_probs):
        expected[doc] = torch.maximum(expected[doc], focus[doc, sentence] * code_log_probs.exp())
    assert torch.allclose(torch.sigmoid(output.logits), expected, atol=1e-5)
    assert output.attributions.shape == (3, ctx.n_codes, batch["sentence_ids"].shape[1])
    assert torch.allclose(output.attributions.amax(dim=-1), expected, atol=1e-6)
    assert (output.attributions.transpose(1, 2)[~batch["sentence_mask"]] == 0).all()
    words = output.extras["word_attention"]
    assert torch.allclose(words.sum(-1)[batch["sentence_mask"]], torch.ones(int(batch["sentence_mask"].sum())))
    assert (output.extras["sentence_code"][~batch["sentence_mask"]] == -1).all()


def test_empty_document_gets_finite_logits(make_context, make_batch):
    model, ctx = _model(make_context)
    batch = make_batch("sentences", ctx, batch_size=2)
    batch["sentence_mask"][1] = False
    batch["word_mask"][1] = False
    batch["sentence_ids"][1] = 0
    model.eval()
    with torch.no_grad():
        output = model(batch)
    assert torch.isfinite(output.logits).all() and (torch.sigmoid(output.logits[1]) < 1e-20).all()


def test_batch_of_empty_documents_gets_finite_logits(make_context, make_batch):
    """Every note of the batch empty (e.g. LIME's perturbations, an empty --text file): no sentence for level 2."""
    model, ctx = _model(make_context)
    batch = make_batch("sentences", ctx, batch_size=2)
    for key in ("sentence_mask", "word_mask"):
        batch[key][:] = False
    batch["sentence_ids"][:] = 0
    model.eval()
    model.want_attributions = True
    with torch.no_grad():
        output = model(batch)
    assert output.logits.shape == (2, ctx.n_codes) and torch.isfinite(output.logits).all()
    assert (output.attributions == 0).all() and (output.extras["sentence_code"] == -1).all()


def test_classifier_loss_uses_single_code_sentences_and_weights_the_attention_term(make_context, make_batch):
    model, ctx = _model(make_context, attention_weight=0.0)
    batch = make_batch("sentences", ctx, batch_size=3)
    single = (batch["sentence_codes"] >= 0) & batch["sentence_mask"]
    with torch.no_grad():
        scores = model.sentence_scores(batch, single)
        cross_entropy = torch.nn.functional.nll_loss(scores.code_log_probs, batch["sentence_codes"][single])
        assert torch.allclose(model.classifier_loss(batch), cross_entropy)
        rows = scores.rows
        target, words = batch["evidence_words"][rows], batch["word_mask"][rows]
        supervised = (target * words).sum(-1) > 0
        attention = attention_supervision_loss(scores.attention, target, words)[supervised].mean()
        model.attention_weight = 100.0
        assert torch.allclose(model.classifier_loss(batch), cross_entropy + 100.0 * attention)
    batch["sentence_codes"][:] = -1
    assert model.classifier_loss(batch).item() == 0.0


def test_stage_losses_train_only_their_level(make_context, make_batch):
    model, ctx = _model(make_context)
    batch = make_batch("sentences", ctx, batch_size=3)
    model.tagger.class_weights.copy_(torch.tensor([1.0, 3.0]))
    mask = batch["sentence_mask"]
    log_probs = model.tagger(batch)
    weights = torch.tensor([1.0, 3.0])[batch["focus"][mask]]
    nll = -(log_probs[mask].gather(1, batch["focus"][mask, None]).squeeze(1) * weights).sum() / weights.sum()
    assert torch.allclose(model.stage_loss(batch, "tagger"), nll)
    model.stage_loss(batch, "classifier").backward()
    assert all(p.grad is None for p in model.tagger.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.classifier.parameters())


def test_focus_class_weights_and_supervision_summary():
    class F:  # features only need their focus labels here
        def __init__(self, focus):
            self.focus = np.asarray(focus)

    features = [F([1, 0, 0, 0]), F([0, 1, 0, 0])]  # 2 focus of 8
    assert focus_class_weights(features, None) == (8 / 12, 8 / 4)
    assert focus_class_weights(features, 5.0) == (1.0, 5.0)
    assert focus_class_weights([F([0, 0])], None) == (1.0, 1.0)
    assert supervision_summary({"gold": 3, "none": 1})["supervision"] == "gold"
    assert supervision_summary({"gold": 3, "silver": 2})["supervision"] == "gold+silver"
    assert supervision_summary({})["supervision"] == "none"


@pytest.mark.slow
def test_two_stage_run_on_synth_tiny_records_paper_and_evidence_metrics(run_env):
    from icdbench.training.evidence import evidence_keys, finished_run_job
    from icdbench.training.run import RunRequest, train

    overrides = ["model.embed_dim=16", "model.hidden_size=16", "model.attention_dim=8", "model.w2v_epochs=1",
                 "data.max_train_docs=60", "optim.epochs=5", "model.tagger_epochs=1", "model.classifier_epochs=1",
                 "train.max_minutes=60", "train.logger=none"]  # fmt: skip
    result = train(RunRequest("sentence-tagger", "synth-tiny", profile="ci", overrides=overrides))
    record = result.record.to_dict()
    extra = record["extra"]
    assert extra["supervision"] == "gold" and extra["supervision_docs"]["gold"] == 60
    assert set(extra["stages"]) == {"tagger", "classifier"}
    assert extra["stages"]["tagger"]["monitor"] == "val/tagger_macro_f1"
    # only the classifier stage scores whole reports, so only its patience waits for the label prior
    assert extra["stages"]["tagger"]["left_prior"] is None
    assert isinstance(extra["stages"]["classifier"]["left_prior"], bool)
    full = record["metrics"]["full"]
    assert "metrics" not in extra  # the paper's metrics are recorded with the others (full setting)
    for key in ("tagger_macro_f1", "classifier_accuracy", "union_subset_accuracy", "union_instance_f1"):
        assert 0.0 <= full[key] <= 1.0
    assert record["epochs_run"] == 2 and (result.run_dir / "model.pt").is_file()
    # the recorded curve is the classifier stage's, and its own epoch cap ended it (not the time budget)
    assert record["convergence"]["max_epochs"] == 1 and len(record["convergence"]["curve"]) == 1
    if record["stop_reason"] in {"budget", "prior"}:
        assert record["convergence"]["budget_hit"] == "max_epochs"
    assert not (result.run_dir / "checkpoints").exists()

    # the recorded evidence report is the saved model's, as recomputed from the run folder
    report = evidence_keys(*finished_run_job(result.run_dir))
    assert report["evidence_n_cases"] > 0
    for key in ("evidence_p@5", "evidence_r@10", "evidence_sentence_hit", "evidence_span_f1_pi"):
        assert 0.0 <= report[key] <= 1.0
    assert {k: full[k] for k in report} == pytest.approx(report, nan_ok=True)
