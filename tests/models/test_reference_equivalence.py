"""Same weights, same outputs: icdbench's CAML, MultiResCNN, LAAT, PLM-ICD, CNN and Bi-GRU against the
modules of Edin et al. 2023 (``../shared/reference/medical-coding-reproducibility/src/models``, imported
here at test time, never copied into the project).

Each case builds both models on one tiny vocabulary and label set, copies the reference's weights into
icdbench's by an explicit name table (every tensor on both sides is accounted for), and requires equal
logits in eval mode, then equal loss, gradients and updated logits after one training step (dropout on,
same seed). icdbench's deliberate departures are switched off through its own model config fields
(``mask_padding``, ``prior_bias``, MultiResCNN's ``tanh_before_attention``), the same fields a user
sets.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from icdbench.models.base import as_output
from icdbench.models.registry import get_model
from icdbench.training.losses import CodingLoss

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "medical-coding-reproducibility"
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "perf" / "against_reference.py"
pytestmark = pytest.mark.skipif(
    not (REFERENCE / "src" / "models").is_dir(),
    reason=f"Edin et al.'s reference code is not at {REFERENCE} (it lives in the project's shared folder, "
    "outside a user's clone)",
)

EMBED, VOCAB, CODES, WIDTH = 12, 30, 6, 12
LENGTHS = [WIDTH, 7, 4]  # the first row is full length, as the reference's LAAT unpacks to the longest
RELEASE = {"mask_padding": False, "prior_bias": False}  # icdbench's switches back to the releases' behaviour


@pytest.fixture(scope="module")
def reference():
    """The reference package ``src.models``, imported by the speed benchmark's loader (one copy of the recipe)."""
    spec = importlib.util.spec_from_file_location("against_reference", BENCHMARK)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    return benchmark.import_reference(REFERENCE)


def _encoder(ctx) -> SimpleNamespace:
    """The part of the reference's Word2Vec text encoder its models read: the vectors and their size."""
    return SimpleNamespace(embedding_size=EMBED, weights=ctx.embeddings)


def _tiny_roberta(path: Path) -> str:
    from transformers import RobertaConfig, RobertaModel

    config = RobertaConfig(
        vocab_size=60,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=WIDTH + 4,
        pad_token_id=1,
    )
    torch.manual_seed(1)
    RobertaModel(config).save_pretrained(path)  # PLMICD loads weights with from_pretrained
    return str(path)


@dataclasses.dataclass
class Case:
    name: str
    ours: dict  # config changes beside the tiny sizes
    build_reference: object  # (reference package, ctx, tmp_path) -> nn.Module
    names: list[tuple[str, str]]  # (icdbench key regex, reference key template), first match wins
    ours_only: tuple[str, ...] = ()  # icdbench tensors without a counterpart (zeroed: "no bias")
    reference_unused: tuple[str, ...] = ()  # reference tensors its forward never reads
    inputs: str = "words"


WORD_EMBEDDING = [(r"embedding\.embed\.weight", "embed.weight")]
LABEL_ATTENTION = [
    (r"attention\.project\.weight", "attention.first_linear.weight"),
    (r"attention\.queries\.weight", "attention.second_linear.weight"),
    (r"output\.(weight|bias)", r"attention.third_linear.\1"),
]
CAML_ATTENTION = [
    (r"attention\.queries", "attention.first_linear.weight"),
    (r"output\.(weight|bias)", r"attention.second_linear.\1"),
]

CASES = {
    "caml": Case(
        "caml",
        dict(num_filters=8, kernel_size=10),
        lambda ref, ctx, _: ref.CAML(VOCAB, CODES, _encoder(ctx), embed_dropout=0.2, num_filters=8, kernel_size=10),
        [*WORD_EMBEDDING, (r"conv\.(weight|bias)", r"conv.\1"), *CAML_ATTENTION],
        reference_unused=("attention.first_linear.bias",),
    ),
    "multirescnn": Case(
        "multirescnn",
        dict(kernel_sizes=[3, 5], num_filters=4, tanh_before_attention=True),  # Edin et al.'s extra tanh
        lambda ref, ctx, _: ref.MultiResCNN(VOCAB, CODES, 4, [3, 5], _encoder(ctx), embed_dropout=0.2),
        [
            *WORD_EMBEDDING,
            (r"channels\.(\d+)\.base\.weight", r"convs.\1.0.weight"),
            (r"channels\.(\d+)\.blocks\.0\.conv1\.(.*)", r"convs.\1.2.left.0.\2"),
            (r"channels\.(\d+)\.blocks\.0\.norm1\.(.*)", r"convs.\1.2.left.1.\2"),
            (r"channels\.(\d+)\.blocks\.0\.conv2\.(.*)", r"convs.\1.2.left.3.\2"),
            (r"channels\.(\d+)\.blocks\.0\.norm2\.(.*)", r"convs.\1.2.left.4.\2"),
            (r"channels\.(\d+)\.blocks\.0\.shortcut\.(.*)", r"convs.\1.2.shortcut.\2"),
            *CAML_ATTENTION,
        ],
        # Li & Yu's first convolution has a bias, Edin et al.'s none: zero here
        ours_only=("channels.0.base.bias", "channels.1.base.bias"),
        reference_unused=("attention.first_linear.bias",),
    ),
    "laat": Case(
        "laat",
        dict(hidden_size=8, attention_dim=6),
        lambda ref, ctx, _: ref.LAAT(
            VOCAB, CODES, _encoder(ctx), embed_dropout=0.3, rnn_hidden_size=8, rnn_dropout=0.0, projection_size=6
        ),
        [*WORD_EMBEDDING, (r"lstm\.(.*)", r"rnn.\1"), *LABEL_ATTENTION],
    ),
    "plm-icd": Case(
        "plm-icd",
        {},
        lambda ref, ctx, tmp: ref.PLMICD(CODES, _tiny_roberta(tmp / "roberta")),
        [(r"encoder\.model\.(.*)", r"roberta.\1"), *LABEL_ATTENTION],
        inputs="segments",
    ),
    "cnn": Case(
        "cnn",
        dict(num_filters=8, kernel_size=4),
        lambda ref, ctx, _: ref.VanillaConv(
            VOCAB, CODES, _encoder(ctx), embed_dropout=0.2, num_filters=8, kernel_size=4
        ),
        [*WORD_EMBEDDING, (r"conv\.(weight|bias)", r"conv.\1"), (r"output\.(weight|bias)", r"fc.\1")],
    ),
    "bigru": Case(
        "bigru",
        dict(hidden_size=8),
        lambda ref, ctx, _: ref.VanillaRNN(
            8, "gru", 1, VOCAB, CODES, bidirectional=True, text_encoder=_encoder(ctx), embed_dropout=0.0
        ),
        [*WORD_EMBEDDING, (r"gru\.(.*)", r"rnn.\1"), (r"output\.(weight|bias)", r"final.\1")],
    ),
}


def _reference_key(case: Case, key: str) -> str:
    for pattern, template in case.names:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, template, key)
    raise AssertionError(f"{case.name}: no reference counterpart for {key}")


def build_pair(case: Case, ctx, tmp_path, reference, **changes):
    """``(ours, theirs, pairs)``: both models with the reference's weights copied into icdbench's; ``pairs``
    maps each icdbench state key to its reference key."""
    theirs = case.build_reference(reference, ctx, tmp_path)
    spec = get_model(case.name)
    sizes = {"embed_dim": EMBED} if case.inputs == "words" else {"encoder": str(tmp_path / "roberta")}
    config = dataclasses.replace(spec.default_config(), **sizes, **{**case.ours, **changes})
    ours = spec.build(config, ctx)
    ours_state, their_state = ours.state_dict(), theirs.state_dict()
    pairs = {key: _reference_key(case, key) for key in ours_state if key not in case.ours_only}
    assert set(pairs.values()) | set(case.reference_unused) == set(their_state), case.name
    with torch.no_grad():
        for key, value in ours_state.items():
            value.copy_(their_state[pairs[key]] if key in pairs else torch.zeros_like(value))
    return ours, theirs, pairs


def make_batch(case: Case, ctx, lengths: list[int], seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    targets = (torch.rand(len(lengths), CODES, generator=gen) < 0.4).float()
    mask = torch.arange(WIDTH) < torch.tensor(lengths)[:, None]
    if case.inputs == "words":
        ids = torch.randint(1, VOCAB, (len(lengths), WIDTH), generator=gen).masked_fill(~mask, 0)
        return {"input_ids": ids, "mask": mask, "lengths": torch.tensor(lengths), "targets": targets}
    # two real segments per note (padding segments are never encoded by icdbench), padded tokens inside
    attention = torch.stack([mask, mask.roll(1, 0)], dim=1).long()  # [B, 2, L]
    ids = torch.randint(3, 60, attention.shape, generator=gen).masked_fill(attention == 0, 1)
    segment_mask = torch.ones(len(lengths), 2, dtype=torch.bool)
    return {"input_ids": ids, "attention_mask": attention, "segment_mask": segment_mask, "targets": targets}


def reference_logits(case: Case, model, batch: dict) -> torch.Tensor:
    if case.name == "laat":
        return model(batch["input_ids"], batch["lengths"])
    if case.inputs == "segments":
        return model(batch["input_ids"], batch["attention_mask"])
    return model(batch["input_ids"])


def our_logits(model, batch: dict) -> torch.Tensor:
    return as_output(model(batch)).logits


@pytest.fixture
def context(make_context):
    return make_context(n_codes=CODES, vocab_size=VOCAB, embed_dim=EMBED)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_weights_same_logits(name, context, tmp_path, reference):
    case = CASES[name]
    ours, theirs, _ = build_pair(case, context, tmp_path, reference, **RELEASE)
    batch = make_batch(case, context, LENGTHS)  # padded rows: the release behaviour includes the padding
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(our_logits(ours, batch), reference_logits(case, theirs, batch), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_defaults_differ_only_on_padding(name, context, tmp_path, reference):
    case = CASES[name]
    ours, theirs, _ = build_pair(case, context, tmp_path, reference)
    full = make_batch(case, context, [WIDTH] * 3)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(our_logits(ours, full), reference_logits(case, theirs, full), atol=1e-5, rtol=0)
        padded = make_batch(case, context, LENGTHS)
        assert not torch.allclose(our_logits(ours, padded), reference_logits(case, theirs, padded), atol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_training_step_is_the_same(name, context, tmp_path, reference):
    case = CASES[name]
    ours, theirs, pairs = build_pair(case, context, tmp_path, reference, **RELEASE)
    batch = make_batch(case, context, LENGTHS, seed=1)
    ours.train(), theirs.train()
    ours_params, their_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    shared = [key for key in pairs if key in ours_params]
    torch.manual_seed(7)  # the same dropout masks on both sides
    our_loss = CodingLoss("bce")(our_logits(ours, batch), batch["targets"])  # the loss CodingModule trains with
    torch.manual_seed(7)
    their_loss = theirs.get_loss(reference_logits(case, theirs, batch), batch["targets"])
    our_loss.backward()
    their_loss.backward()
    torch.testing.assert_close(our_loss, their_loss, atol=1e-6, rtol=0)
    for key in shared:
        grad, their_grad = ours_params[key].grad, their_params[pairs[key]].grad
        assert (grad is None) == (their_grad is None), key
        if grad is not None:
            torch.testing.assert_close(grad, their_grad, atol=1e-5, rtol=1e-4, msg=lambda m, key=key: f"{key}: {m}")
    for model, keys in ((ours, shared), (theirs, [pairs[key] for key in shared])):
        params = dict(model.named_parameters())
        torch.optim.Adam([params[key] for key in keys], lr=1e-2).step()
    for key, value in ours.state_dict().items():  # weights and batch-norm statistics after the step
        if key in pairs:
            torch.testing.assert_close(value, theirs.state_dict()[pairs[key]], atol=1e-5, rtol=1e-4)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(our_logits(ours, batch), reference_logits(case, theirs, batch), atol=1e-5, rtol=0)
