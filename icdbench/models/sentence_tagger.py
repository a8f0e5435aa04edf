"""The hierarchical sentence tagger and ICD classifier with supervised phrase-level attention (seed 002).

Level 1, :class:`FocusTagger`: each sentence is the mean of its word embeddings concatenated with the mean
reason-for-visit embedding; an LSTM runs over the sentence sequence and tags each sentence focus / non-focus
(log-softmax, class-weighted NLL; the paper's eq. 1-3).

Level 2, :class:`FocusSentenceClassifier`: an LSTM over a focus sentence's word embeddings; additive attention
``u_t = tanh(W h_t + b)``, ``α_t = softmax_t(u_tᵀ q)`` with ``q = V h_T`` (the paper writes ``u_tᵀ h_T``; with an
attention size (128) smaller than the hidden size (256) the last state is projected to the attention size, ``V``
without bias); ``e_fs = Σ α_t h_t``; the reason for visit through its own LSTM (last state); ``[e_fs ⊕ e_r4v]``
→ softmax over codes. Loss: cross-entropy + λ · Σ_t (α_t − ᾱ_t)² with ᾱ the binary evidence words (eq. 7-11).
Only single-code focus sentences train level 2.

Inference (:class:`SentenceTaggerModel`): a report's codes are the union of the codes of its tagged sentences,
the most probable sentence standing in when none is tagged (:func:`union_codes`). For the metrics package a
code's document score is ``max_n P(focus_n) · P(code | sentence n)``, returned as logits so that threshold-free
metrics are defined. The two levels are trained separately, by this family's runner on the training floor
(``icdbench.training.families.sentence_tagger``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from icdbench.models.base import ModelContext, ModelOutput, WordEmbeddingConfig
from icdbench.models.layers import WordEmbedding, masked_softmax
from icdbench.models.layers.recurrent import run_within_lengths
from icdbench.models.registry import Departure, Fidelity, register_model

LOG_SCORE_RANGE = (-80.0, -1e-6)  # document log-scores are kept finite so the logits are too


@dataclass
class SentenceTaggerConfig(WordEmbeddingConfig):
    hidden_size: int = 256  # both levels' LSTMs
    attention_dim: int = 128
    attention_weight: float = 100.0  # λ, the best of 0.1 ... 1000 in the paper
    focus_weight: float | None = None  # NLL weight of the focus class (non-focus: 1); None = balanced on train
    tagger_epochs: int = 100  # per stage; ``optim.epochs`` caps both (profiles shrink it)
    classifier_epochs: int = 30


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``[..., T, E]`` over positions where ``mask`` ``[..., T]`` is True → ``[..., E]``
    (zeros where no position is valid)."""
    weights = mask.unsqueeze(-1).to(values.dtype)
    return (values * weights).sum(-2) / weights.sum(-2).clamp(min=1.0)


def attention_supervision_loss(attention: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The paper's eq. 7 per sentence: ``Σ_t (α_t − ᾱ_t)²`` over valid words. All inputs ``[S, L]`` → ``[S]``."""
    return ((attention - target) ** 2 * mask.to(attention.dtype)).sum(-1)


def union_codes(
    focus_prob: torch.Tensor, sentence_code: torch.Tensor, sentence_mask: torch.Tensor, n_codes: int
) -> torch.Tensor:
    """The pipeline's code sets ``[B, C]`` bool: codes of the sentences tagged focus (``P(focus) > 0.5``, the
    argmax of the two classes); a document with no tagged sentence takes its most probable sentence.
    ``focus_prob`` float, ``sentence_code`` long (predicted code per sentence), ``sentence_mask`` bool: ``[B, N]``."""
    tagged = (focus_prob > 0.5) & sentence_mask
    fallback = ~tagged.any(dim=1) & sentence_mask.any(dim=1)
    best = focus_prob.masked_fill(~sentence_mask, -1.0).argmax(dim=1)
    tagged[fallback, best[fallback]] = True
    out = torch.zeros(focus_prob.shape[0], n_codes, dtype=torch.bool, device=focus_prob.device)
    rows, cols = tagged.nonzero(as_tuple=True)
    out[rows, sentence_code[rows, cols]] = True
    return out


class FocusTagger(nn.Module):
    """Level 1. ``forward(batch)`` → focus log-probabilities ``[B, N, 2]`` (index 1 = focus)."""

    def __init__(self, config: SentenceTaggerConfig, ctx: ModelContext):
        super().__init__()
        self.embed = WordEmbedding(ctx, config.embed_dim)
        self.lstm = nn.LSTM(2 * config.embed_dim, config.hidden_size, batch_first=True)
        self.output = nn.Linear(config.hidden_size, 2)
        self.register_buffer("class_weights", torch.ones(2))  # set from train by the runner

    def forward(self, batch: dict) -> torch.Tensor:
        sentences = masked_mean(self.embed(batch["sentence_ids"]), batch["word_mask"])  # [B, N, E]
        r4v = masked_mean(self.embed(batch["r4v_ids"]), batch["r4v_mask"])  # [B, E]
        inputs = torch.cat([sentences, r4v.unsqueeze(1).expand_as(sentences)], dim=-1)
        states, _ = run_within_lengths(self.lstm, inputs, batch["sentence_mask"].sum(dim=1))
        return F.log_softmax(self.output(states), dim=-1)

    def loss(self, batch: dict, log_probs: torch.Tensor | None = None) -> torch.Tensor:
        log_probs = self(batch) if log_probs is None else log_probs
        mask = batch["sentence_mask"]
        return F.nll_loss(log_probs[mask], batch["focus"][mask], weight=self.class_weights)


class FocusSentenceClassifier(nn.Module):
    """Level 2 over single sentences: ``forward(ids [S, L], mask [S, L], r4v_states [S, H])`` →
    ``(code log-probabilities [S, C], attention [S, L])``; ``encode_r4v(ids [B, R], mask [B, R])`` → ``[B, H]``."""

    def __init__(self, config: SentenceTaggerConfig, ctx: ModelContext):
        super().__init__()
        hidden = config.hidden_size
        self.embed = WordEmbedding(ctx, config.embed_dim)
        self.sentence_lstm = nn.LSTM(config.embed_dim, hidden, batch_first=True)
        self.r4v_lstm = nn.LSTM(config.embed_dim, hidden, batch_first=True)
        self.keys = nn.Linear(hidden, config.attention_dim)  # W, b
        self.query = nn.Linear(hidden, config.attention_dim, bias=False)  # V
        self.output = nn.Linear(2 * hidden, ctx.n_codes)

    def encode_r4v(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _, last = run_within_lengths(self.r4v_lstm, self.embed(ids), mask.sum(dim=1))
        return last[-1]

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, r4v_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        states, last = run_within_lengths(self.sentence_lstm, self.embed(ids), mask.sum(dim=1))  # [S, L, H]
        keys = torch.tanh(self.keys(states))  # [S, L, d_a]
        scores = torch.bmm(keys, self.query(last[-1]).unsqueeze(-1)).squeeze(-1)  # [S, L]
        attention = masked_softmax(scores, mask)
        context = torch.bmm(attention.unsqueeze(1), states).squeeze(1)  # [S, H]
        return F.log_softmax(self.output(torch.cat([context, r4v_states], dim=-1)), dim=-1), attention


@dataclass
class SentenceScores:
    focus_log_probs: torch.Tensor  # [B, N, 2]
    rows: tuple[torch.Tensor, torch.Tensor]  # (document, sentence) of each valid sentence, [S] each
    code_log_probs: torch.Tensor  # [S, C]
    attention: torch.Tensor  # [S, L]


class SentenceTaggerModel(nn.Module):
    """Both levels. ``forward(batch)`` → :class:`ModelOutput` with document logits ``[B, C]``; ``extras``
    ``focus_prob`` ``[B, N]`` and ``sentence_code`` ``[B, N]`` (-1 for padding); with ``want_attributions``,
    ``attributions`` ``[B, C, N]`` = ``P(focus_n) · P(c | n)`` and ``extras["word_attention"]`` ``[B, N, L]``.
    In training mode ``aux_loss`` is both levels' losses (the runner trains them one at a time instead)."""

    def __init__(self, config: SentenceTaggerConfig, ctx: ModelContext):
        super().__init__()
        self.n_codes = ctx.n_codes
        self.attention_weight = config.attention_weight
        self.tagger = FocusTagger(config, ctx)
        self.classifier = FocusSentenceClassifier(config, ctx)
        self.want_attributions = False

    def sentence_scores(self, batch: dict, rows_mask: torch.Tensor | None = None) -> SentenceScores:
        """Both levels on the sentences where ``rows_mask`` ``[B, N]`` (default: every sentence) is True."""
        rows = (batch["sentence_mask"] if rows_mask is None else rows_mask).nonzero(as_tuple=True)
        ids = batch["sentence_ids"][rows]
        if ids.shape[0] == 0:  # no sentence in the whole batch (empty notes): level 2 has nothing to read
            weights = self.classifier.output.weight
            code_log_probs = weights.new_zeros(0, self.n_codes)
            return SentenceScores(self.tagger(batch), rows, code_log_probs, weights.new_zeros(ids.shape))
        r4v = self.classifier.encode_r4v(batch["r4v_ids"], batch["r4v_mask"])[rows[0]]
        code_log_probs, attention = self.classifier(ids, batch["word_mask"][rows], r4v)
        return SentenceScores(self.tagger(batch), rows, code_log_probs, attention)

    def forward(self, batch: dict) -> ModelOutput:
        scores = self.sentence_scores(batch)
        mask = batch["sentence_mask"]
        b, n = mask.shape
        joint = torch.full((b, n, self.n_codes), float("-inf"), device=mask.device)
        joint[scores.rows] = scores.focus_log_probs[scores.rows][:, 1:] + scores.code_log_probs
        log_score = joint.amax(dim=1).clamp(*LOG_SCORE_RANGE)  # [B, C]
        logits = log_score - torch.log(-torch.expm1(log_score))  # sigmoid(logits) = score
        focus_prob = scores.focus_log_probs[..., 1].exp() * mask
        sentence_code = torch.full((b, n), -1, dtype=torch.long, device=mask.device)
        sentence_code[scores.rows] = scores.code_log_probs.argmax(dim=-1)
        output = ModelOutput(logits=logits, extras={"focus_prob": focus_prob, "sentence_code": sentence_code})
        if self.want_attributions:
            output.attributions = joint.exp().transpose(1, 2)  # [B, C, N], 0 at padding
            words = torch.zeros_like(batch["sentence_ids"], dtype=scores.attention.dtype)
            words[scores.rows] = scores.attention
            output.extras["word_attention"] = words
        if self.training:
            output.aux_loss = self.tagger.loss(batch, scores.focus_log_probs) + self.classifier_loss(batch)
        return output

    def classifier_loss(self, batch: dict) -> torch.Tensor:
        """Cross-entropy + λ · attention loss over the batch's single-code focus sentences (mean over
        sentences; the attention term over those with at least one evidence word)."""
        single = (batch["sentence_codes"] >= 0) & batch["sentence_mask"]
        if not single.any():
            return self.classifier.output.weight.sum() * 0.0  # no example in this batch
        scores = self.sentence_scores(batch, single)
        loss = F.nll_loss(scores.code_log_probs, batch["sentence_codes"][scores.rows])
        target, words = batch["evidence_words"][scores.rows], batch["word_mask"][scores.rows]
        supervised = (target * words).sum(dim=-1) > 0
        if supervised.any():
            attention_loss = attention_supervision_loss(scores.attention, target, words)[supervised].mean()
            loss = loss + self.attention_weight * attention_loss
        return loss

    def stage_loss(self, batch: dict, stage: str) -> torch.Tensor:
        """The loss of one level: ``tagger`` or ``classifier``."""
        return self.tagger.loss(batch) if stage == "tagger" else self.classifier_loss(batch)


TAGGER_FIDELITY = Fidelity(
    reference="none public: built from the paper (seed 002, eq. 1-11); its pathology data are private",
    departures=(
        Departure("deliberate", "the attention query is the last state projected to the attention size (q = V h_T; "
                  "the paper writes u_t^T h_T, whose sizes differ at 128 and 256)"),
        Departure("deliberate", "a code's document score max_n P(focus_n) P(code | sentence n), so the "
                  "threshold-free metrics are defined; the paper reports set metrics only"),
    ),
)


@register_model(
    "sentence-tagger",
    family="sentence-tagger",
    paper="seed 002: hierarchical sentence tagger + ICD classifier with supervised phrase-level attention",
    inputs="sentences",
    config=SentenceTaggerConfig,
    train_defaults={
        "optim.optimizer": "adam",
        "optim.lr": 1e-3,
        "optim.batch_size": 32,
        "optim.epochs": 100,
        "data.max_sentences": 256,
        "data.sentence_length": 64,
    },
    trainer="custom",
    fidelity=TAGGER_FIDELITY,
)
def build_sentence_tagger(config: SentenceTaggerConfig, ctx: ModelContext) -> SentenceTaggerModel:
    return SentenceTaggerModel(config, ctx)
