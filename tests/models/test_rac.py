from __future__ import annotations

import dataclasses

import pytest
import torch
from pytorch_lightning.callbacks import StochasticWeightAveraging

from icdbench.models.rac import (
    CodeTitleEmbedding,
    LearnedCodeQueries,
    Rac,
    RacConfig,
    guided_attention,
    guided_attention_weights,
)
from icdbench.models.registry import get_model

D, CODES = 16, 7
RAC_VARIANTS = ("rac", "rac-noswa", "rac-noperm", "rac-notitles")


def tiny_config(**changes) -> RacConfig:
    base = dict(embed_dim=D, d_ff=32, kernel_size=4, attention_layers=2, code_chunk=3)
    return dataclasses.replace(RacConfig(), **{**base, **changes})


@pytest.fixture
def ctx(make_context):
    """7 codes with 36-token titles (the datamodule's width); code 5's title is empty."""
    context = make_context(n_codes=CODES, vocab_size=40, embed_dim=D, title_len=36)
    context.title_ids[5] = 0
    return context


def words(make_batch, ctx, lengths: list[int], width: int | None = None) -> dict:
    """A ``words`` batch with the given lengths (padding id 0)."""
    width = width or max(lengths)
    batch = make_batch("words", ctx, batch_size=len(lengths), seq_len=width)
    mask = torch.arange(width) < torch.tensor(lengths)[:, None]
    filled = torch.randint(2, len(ctx.vocab), (len(lengths), width), generator=torch.Generator().manual_seed(0))
    batch.update(input_ids=filled.masked_fill(~mask, 0), mask=mask, lengths=torch.tensor(lengths))
    return batch


def build(ctx, use_titles: bool = True, seed: int = 0) -> Rac:
    torch.manual_seed(seed)
    return Rac(tiny_config(use_titles=use_titles), ctx).eval()


@pytest.mark.parametrize("use_titles", [True, False])
def test_padding_never_changes_logits(use_titles, ctx, make_batch):
    model = build(ctx, use_titles)
    batch = words(make_batch, ctx, [11, 4, 7])
    with torch.no_grad():
        logits = model(batch).logits
        # more padding, and garbage ids in the padded slots
        wider = words(make_batch, ctx, [11, 4, 7], width=20)
        wider["input_ids"][:, :11] = batch["input_ids"]
        wider["input_ids"][~wider["mask"]] = 5
        assert torch.allclose(model(wider).logits, logits, atol=1e-5)
        # a note alone (no padding at all) scores as it does inside a padded batch
        alone = {k: v[1:2, :4] if v.dim() == 2 else v[1:2] for k, v in batch.items()}
        assert torch.allclose(model(alone).logits, logits[1:2], atol=1e-5)
    assert logits.shape == (3, CODES) and torch.isfinite(logits).all()


def test_attributions_are_the_guided_attention_and_zero_on_padding(ctx, make_batch):
    model = build(ctx)
    model.want_attributions = True
    batch = words(make_batch, ctx, [9, 3])
    with torch.no_grad():
        out = model(batch)
        states = model.read(batch["input_ids"], batch["mask"])
        queries = model.code_queries()
    weights = out.attributions
    assert weights.shape == (2, CODES, 9)
    assert (weights[1, :, 3:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, CODES))
    # logits are W_3 applied to weights @ U plus each code's bias, with the weights built by hand
    scores = queries @ states.transpose(1, 2) / D**0.5
    expected = torch.softmax(scores.masked_fill(~batch["mask"][:, None], float("-inf")), -1)
    torch.testing.assert_close(weights, expected)
    by_hand = model.output(expected @ states).squeeze(-1) + model.code_bias
    torch.testing.assert_close(out.logits, by_hand, atol=1e-5, rtol=1e-5)
    model.want_attributions = False
    assert model(batch).attributions is None


@pytest.mark.parametrize("d", [16, 12])  # 12: the head size is zero-padded to 16 for the fused kernel
def test_chunked_weights_equal_unchunked_and_fused_attention_matches_them(d):
    gen = torch.Generator().manual_seed(1)
    queries = torch.randn(10, d, generator=gen, dtype=torch.float64, requires_grad=True)
    states = torch.randn(2, 13, d, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(13) < torch.tensor([[13], [6]])
    whole = guided_attention_weights(queries, states, mask, chunk=10)
    for chunk in (1, 3, 4, 64):
        torch.testing.assert_close(guided_attention_weights(queries, states, mask, chunk), whole)
    fused = guided_attention(queries, states, mask)
    explicit = whole @ states
    torch.testing.assert_close(fused, explicit)
    # gradients through the fused (masked) kernel agree with the explicit computation
    probe = torch.randn(fused.shape, generator=gen, dtype=torch.float64)
    grads_fused = torch.autograd.grad((fused * probe).sum(), (queries, states))
    grads_explicit = torch.autograd.grad((explicit * probe).sum(), (queries, states))
    for a, b in zip(grads_fused, grads_explicit):
        torch.testing.assert_close(a, b)


def _title_alone(module: CodeTitleEmbedding, ids: torch.Tensor) -> torch.Tensor:
    """One title with no padding at all: embed, conv, tanh, max over its tokens."""
    tokens = ids[ids != 0]
    if len(tokens) == 0:
        return torch.zeros(module.conv.out_channels)
    states = torch.tanh(module.conv(module.embed(tokens[None]).transpose(1, 2))[..., : len(tokens)])
    return states.amax(dim=-1)[0]


@pytest.mark.parametrize("bucket", [1, 3, 100])
def test_title_module_matches_each_title_alone(ctx, bucket):
    torch.manual_seed(0)
    titles = CodeTitleEmbedding(ctx, D, kernel_size=10, bucket=bucket)
    with torch.no_grad():
        e_t = titles()
        expected = torch.stack([_title_alone(titles, ids) for ids in ctx.title_ids])
    assert e_t.shape == (CODES, D)
    torch.testing.assert_close(e_t, expected)
    assert (e_t[5] == 0).all() and (e_t[[0, 1, 2, 3, 4, 6]].abs() > 0).any(dim=1).all()
    assert (e_t.abs() <= 1).all()  # max of tanh outputs


def test_title_embedding_is_a_copy_of_the_reader_word2vec(ctx):
    model = build(ctx)
    reader_table = model.embedding.embed.embed.weight
    title_table = model.code_queries.embed.embed.weight
    assert reader_table is not title_table
    torch.testing.assert_close(reader_table[1:], torch.as_tensor(ctx.embeddings)[1:])
    torch.testing.assert_close(title_table, reader_table)


def test_codes_are_permutation_equivariant(ctx, make_batch, make_context):
    """W_3 is shared, so reordering the code titles (and their biases) reorders the logits and nothing else."""
    model = build(ctx)
    batch = words(make_batch, ctx, [8, 5])
    order = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    shuffled = make_context(n_codes=CODES, vocab_size=40, embed_dim=D, title_len=36)
    shuffled.title_ids = ctx.title_ids[order]
    other = build(shuffled)
    state = model.state_dict()
    state["code_bias"] = state["code_bias"][order]
    other.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(other(batch).logits, model(batch).logits[:, order])


def test_empty_note_gives_finite_zero_attention_output(ctx, make_batch):
    model = build(ctx)
    model.want_attributions = True
    batch = words(make_batch, ctx, [6, 0], width=6)
    with torch.no_grad():
        out = model(batch)
    assert torch.isfinite(out.logits).all()
    assert (out.attributions[1] == 0).all()
    torch.testing.assert_close(out.logits[1], model.code_bias)


def test_every_code_starts_at_its_train_prevalence(ctx, make_batch):
    # without it every score starts at 0.5 and the first updates push them down through the shared W_3
    model = build(ctx)
    prevalence = (torch.as_tensor(ctx.train_counts, dtype=torch.float32) + 0.5) / (ctx.n_train_docs + 1)
    torch.testing.assert_close(torch.sigmoid(model.code_bias), prevalence.clamp(1e-6, 1 - 1e-6))


def test_backward_reaches_every_parameter(ctx, make_batch):
    torch.manual_seed(0)
    model = Rac(tiny_config(), ctx).train()
    batch = words(make_batch, ctx, [12, 5])
    model(batch).logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_paper_defaults():
    config = get_model("rac").default_config()
    assert (config.embed_dim, config.w2v_sg, config.w2v_window, config.w2v_min_count, config.w2v_epochs) == (
        300, True, 5, 10, 5,
    )  # fmt: skip
    assert (config.conv_layers, config.kernel_size, config.dropout) == (2, 10, 0.1)
    assert (config.attention_layers, config.d_ff, config.use_titles) == (4, 1024, True)
    published = {
        "optim.optimizer": "adam", "optim.lr": 8e-5, "optim.batch_size": 16,
        "train.patience": 3, "train.swa": True, "data.permutations": 2, "data.max_tokens": 4096,
    }  # fmt: skip
    assert published.items() <= get_model("rac").train_defaults.items()


def test_variants_remove_one_component_each_like_table_2(ctx):
    specs = {name: get_model(name) for name in RAC_VARIANTS}
    assert {s.family for s in specs.values()} == {"rac"} and {s.build for s in specs.values()} == {specs["rac"].build}

    def diff(a: dict, b: dict) -> dict:
        return {k: b[k] for k in a.keys() | b.keys() if a.get(k) != b.get(k)}

    train = {name: s.train_defaults for name, s in specs.items()}
    assert diff(train["rac"], train["rac-noswa"]) == {"train.swa": False}
    assert diff(train["rac-noswa"], train["rac-noperm"]) == {"data.permutations": 0}
    assert diff(train["rac-noperm"], train["rac-notitles"]) == {}
    configs = {name: dataclasses.asdict(s.default_config()) for name, s in specs.items()}
    assert configs["rac"] == configs["rac-noswa"] == configs["rac-noperm"]
    assert diff(configs["rac"], configs["rac-notitles"]) == {"use_titles": False}

    titled = specs["rac"].build(tiny_config(), ctx)
    untitled = specs["rac-notitles"].build(tiny_config(use_titles=False), ctx)
    assert isinstance(titled.code_queries, CodeTitleEmbedding)
    assert isinstance(untitled.code_queries, LearnedCodeQueries)
    assert not any(isinstance(m, CodeTitleEmbedding) for m in untitled.modules())
    assert untitled.code_queries.weight.shape == (CODES, D) and untitled.code_queries.weight.requires_grad


@pytest.mark.parametrize("use_titles", [True, False])
def test_no_batch_norm_so_swa_needs_no_statistics_pass(use_titles, ctx):
    assert not StochasticWeightAveraging.pl_module_contains_batch_norm(build(ctx, use_titles))
