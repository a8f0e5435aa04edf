"""Behaviour of the classic word-level models beyond shapes: padding never changes a document's logits,
same seed gives the same model, each can fit a tiny training set, and the variant-specific parts
(DR-CAML's description loss, JointLAAT's parent level) compute what the papers define."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from icdbench.errors import UserError
from icdbench.models.base import as_output
from icdbench.models.laat import parent_index, parent_key
from icdbench.models.registry import get_model

EMBED = 12
TINY = {
    "cnn": dict(num_filters=8, kernel_size=4),
    "bigru": dict(hidden_size=8),
    "caml": dict(num_filters=8),  # keeps the published even kernel 10
    "dr-caml": dict(num_filters=8),
    "multirescnn": dict(kernel_sizes=[3, 4, 9], num_filters=4, residual_blocks=2, freeze_embeddings=False),
    "laat": dict(hidden_size=8, attention_dim=6),
    "jointlaat": dict(hidden_size=8, attention_dim=6, parent_projection=4),
}


def build(name: str, ctx, seed: int = 0, **changes):
    spec = get_model(name)
    config = dataclasses.replace(spec.default_config(), embed_dim=EMBED, **{**TINY[name], **changes})
    torch.manual_seed(seed)
    return spec.build(config, ctx)


def words_batch(ctx, lengths: list[int], seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    width = max(lengths)
    mask = torch.arange(width) < torch.tensor(lengths)[:, None]
    ids = torch.randint(1, len(ctx.vocab), (len(lengths), width), generator=gen).masked_fill(~mask, 0)
    targets = torch.zeros(len(lengths), ctx.n_codes)
    targets[torch.arange(len(lengths)), torch.arange(len(lengths)) % ctx.n_codes] = 1.0
    return {"input_ids": ids, "mask": mask, "lengths": torch.tensor(lengths), "targets": targets}


def logits(model, batch) -> torch.Tensor:
    return as_output(model(batch)).logits


@pytest.mark.parametrize("name", sorted(TINY))
def test_padding_and_batch_mates_do_not_change_logits(name, make_context):
    ctx = make_context(n_codes=5, vocab_size=30, embed_dim=EMBED)
    model = build(name, ctx).eval()
    batch = words_batch(ctx, [20, 3, 11])
    with torch.no_grad():
        together = logits(model, batch)
        padded = dict(batch, input_ids=F.pad(batch["input_ids"], (0, 7)), mask=F.pad(batch["mask"], (0, 7)))
        wider = logits(model, padded)
        for row, length in enumerate([20, 3, 11]):
            alone = {key: value[row : row + 1] for key, value in batch.items()}
            alone.update(input_ids=alone["input_ids"][:, :length], mask=alone["mask"][:, :length])
            torch.testing.assert_close(logits(model, alone)[0], together[row], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(wider, together, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TINY))
def test_same_seed_same_model_and_attention_on_tokens_only(name, make_context):
    ctx = make_context(n_codes=4, vocab_size=30, embed_dim=EMBED)
    batch = words_batch(ctx, [9, 4])
    first, second = build(name, ctx).eval(), build(name, ctx).eval()
    with torch.no_grad():
        torch.testing.assert_close(logits(first, batch), logits(second, batch), atol=0, rtol=0)
        if hasattr(first, "want_attributions"):
            first.want_attributions = True
            weights = as_output(first(batch)).attributions
            assert torch.all(weights[1, :, 4:] == 0)
            torch.testing.assert_close(weights.sum(-1), torch.ones(2, ctx.n_codes))


@pytest.mark.parametrize("name", sorted(TINY))
def test_fits_a_tiny_training_set(name, make_context):
    ctx = make_context(n_codes=4, vocab_size=30, embed_dim=EMBED)
    batch = words_batch(ctx, [12, 8, 10, 5], seed=1)
    model = build(name, ctx, dropout=0.0)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.02)
    losses = []
    for _ in range(40):
        out = as_output(model(batch))
        loss = F.binary_cross_entropy_with_logits(out.logits, batch["targets"])
        losses.append(loss.item())
        optimiser.zero_grad()
        (loss if out.aux_loss is None else loss + out.aux_loss).backward()
        optimiser.step()
    assert losses[-1] < 0.5 * losses[0], losses[::10]


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_code_starts_at_its_train_prevalence(name, make_context):
    # from probability 0.5 the first updates pushed every score down through the features, saturating them
    ctx = make_context(n_codes=5, vocab_size=30, embed_dim=EMBED)
    model = build(name, ctx)
    prevalence = (torch.as_tensor(ctx.train_counts, dtype=torch.float32) + 0.5) / (ctx.n_train_docs + 1)
    torch.testing.assert_close(torch.sigmoid(model.output.bias.detach()), prevalence.clamp(1e-6, 1 - 1e-6))
    weighted = build(name, dataclasses.replace(ctx, class_weighted_loss=True))  # train.loss=wbce: 0.5
    torch.testing.assert_close(weighted.output.bias.detach(), torch.zeros(5))


def test_dr_caml_loss_is_the_papers_description_regulariser(make_context):
    ctx = make_context(n_codes=5, vocab_size=30, embed_dim=EMBED)
    model = build("dr-caml", ctx, description_weight=0.5).eval()
    batch = words_batch(ctx, [7, 5, 6])
    batch["targets"][2] = 0.0  # a document without codes does not count
    batch["targets"][0, 3] = 1.0
    aux = as_output(model(batch)).aux_loss
    z = model.description.encode(torch.arange(ctx.n_codes))
    beta = model.output.weight
    expected = []
    for row in range(2):
        codes = batch["targets"][row].nonzero().squeeze(1)
        expected.append(((z[codes] - beta[codes]) ** 2).sum() / len(codes))
    torch.testing.assert_close(aux, 0.5 * torch.stack(expected).mean())
    aux.backward()
    assert model.description.conv.weight.grad.abs().sum() > 0 and model.output.weight.grad.abs().sum() > 0
    del batch["targets"]
    assert as_output(model(batch)).aux_loss is None  # prediction without targets
    assert build("caml", ctx).description is None


def test_dr_caml_needs_titles(make_context):
    ctx = dataclasses.replace(make_context(embed_dim=EMBED), title_ids=None)
    with pytest.raises(UserError, match="title"):
        build("dr-caml", ctx)


def test_parent_key_rules():
    assert parent_key("J10.1", "dx", ["J10", "J09-J18"]) == ("dx", "J10")
    assert parent_key("I10", "dx", ["I10-I1A", "I00-I99"]) == ("dx", "I10")
    assert parent_key("401.9", "dx", ["401", "401-405"]) == ("dx", "401")
    assert parent_key("36.15", "proc", ["36.1", "36"]) == ("proc", "36")  # the release: 2-digit category
    assert parent_key("E880.1", "dx", ["E880", "E880-E888"]) == ("dx", "E880")
    assert parent_key("0DTJ4ZZ", "proc", []) == ("proc", "0DT")


def test_jointlaat_parent_level(make_context):
    ctx = make_context(n_codes=8, vocab_size=30, embed_dim=EMBED)
    index, parents = parent_index(ctx)
    # make_context: I10, J10.1, J10.2, J11.0, J11.1, J11.2, J12.0, and a procedure 0DT74ZZ.
    assert parents == [("dx", "I10"), ("dx", "J10"), ("dx", "J11"), ("dx", "J12"), ("proc", "0DT")]
    assert index.tolist() == [0, 1, 1, 2, 2, 2, 3, 4]
    model = build("jointlaat", ctx)
    targets = torch.zeros(2, 8)
    targets[0, [1, 2, 7]] = 1.0
    targets[1, 5] = 1.0
    expected = torch.tensor([[0, 1, 0, 0, 1], [0, 0, 1, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(model.parent_targets(targets, len(parents)), expected)
    batch = words_batch(ctx, [6, 4])
    aux = as_output(model(batch)).aux_loss
    assert aux is not None and aux.ndim == 0 and torch.isfinite(aux)
    aux.backward()
    assert model.parents.attention.queries.weight.grad.abs().sum() > 0
    assert build("laat", ctx).parents is None


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("cnn", dict(num_filters=0)),
        ("bigru", dict(hidden_size=7)),
        ("caml", dict(dropout=1.5)),
        ("caml", dict(description_weight=-1.0)),
        ("multirescnn", dict(kernel_sizes=[])),
        ("laat", dict(attention_dim=0)),
    ],
)
def test_bad_architecture_values_are_one_clear_error(name, change, make_context):
    with pytest.raises(UserError, match=next(iter(change)).split("_")[0]):
        build(name, make_context(embed_dim=EMBED), **change)
