"""Every registered model, at its default (published) config on a small context: it builds, runs forward and
backward on a tiny batch of its input kind with a finite loss, returns logits [B, C] and, when asked,
attributions over the input positions. Scikit-learn models fit and score tiny texts. A new model file is
tested here without touching this file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from icdbench.models.base import as_output
from icdbench.models.registry import ModelSpec, all_models, register_variant

MODELS = all_models()
NEURAL = [name for name, spec in MODELS.items() if spec.trainer != "sklearn"]
SKLEARN = [name for name, spec in MODELS.items() if spec.trainer == "sklearn"]
# Models of this area that must expose their label attention as attributions.
LABEL_ATTENTION = {"caml", "dr-caml", "multirescnn", "laat", "jointlaat"}


def _small_default_config(spec: ModelSpec):
    config = spec.default_config()
    if dataclasses.is_dataclass(config) and any(f.name == "encoder" for f in dataclasses.fields(config)):
        config = dataclasses.replace(config, encoder="tiny-random")  # same head, a tiny random encoder
    return config


def _positions(kind: str, batch: dict) -> int:
    if kind == "words":
        return batch["input_ids"].shape[1]
    if kind == "segments":
        return batch["input_ids"].shape[1] * batch["input_ids"].shape[2]
    return batch["sentence_ids"].shape[1]


def test_registry_lists_this_areas_models():
    expected = {"lr", "svm", "cnn", "bigru", "caml", "dr-caml", "multirescnn", "laat", "jointlaat"}
    assert expected <= set(MODELS)
    assert {MODELS[name].family for name in ("caml", "dr-caml")} == {"caml"}
    assert MODELS["dr-caml"].default_config().description_weight > 0
    assert MODELS["jointlaat"].default_config().joint and not MODELS["laat"].default_config().joint
    assert MODELS["svm"].default_config().classifier == "svm"


def test_a_variant_is_its_base_model_but_for_the_fields_it_names():
    base, variant = MODELS["caml"], MODELS["dr-caml"]
    changed = {"name", "paper", "config_defaults", "fidelity"}
    for field in dataclasses.fields(ModelSpec):
        same = getattr(base, field.name) == getattr(variant, field.name)
        assert same != (field.name in changed), field.name
    with pytest.raises(ValueError, match="registered twice"):
        register_variant("caml", "dr-caml")


@pytest.mark.parametrize("name", NEURAL)
def test_default_config_forward_backward(name, make_context, make_batch):
    spec = MODELS[name]
    config = _small_default_config(spec)
    ctx = make_context(n_codes=6, vocab_size=40, embed_dim=getattr(config, "embed_dim", 16))
    torch.manual_seed(0)
    model = spec.build(config, ctx)
    assert isinstance(model, nn.Module)
    batch = make_batch(spec.inputs, ctx, batch_size=3)
    model.train()
    out = as_output(model(batch))
    assert out.logits.shape == (3, ctx.n_codes)
    loss = F.binary_cross_entropy_with_logits(out.logits.float(), batch["targets"])
    if out.aux_loss is not None:
        assert out.aux_loss.ndim == 0
        loss = loss + out.aux_loss
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads, f"{name}: no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", NEURAL)
def test_attributions_when_requested(name, make_context, make_batch):
    spec = MODELS[name]
    config = _small_default_config(spec)
    ctx = make_context(n_codes=5, vocab_size=40, embed_dim=getattr(config, "embed_dim", 16))
    torch.manual_seed(0)
    model = spec.build(config, ctx)
    if not isinstance(model, nn.Module) or not hasattr(model, "want_attributions"):
        assert name not in LABEL_ATTENTION
        pytest.skip(f"{name} does not expose attributions")
    batch = make_batch(spec.inputs, ctx, batch_size=2)
    model.eval()
    with torch.no_grad():
        assert as_output(model(batch)).attributions is None  # off unless asked: no [B, C, T] tensor kept
        model.want_attributions = True
        attributions = as_output(model(batch)).attributions
    if name in LABEL_ATTENTION:
        assert attributions is not None
    if attributions is not None:
        assert attributions.shape == (2, ctx.n_codes, _positions(spec.inputs, batch))
        assert torch.isfinite(attributions).all()


@pytest.mark.parametrize("name", SKLEARN)
def test_sklearn_models_fit_and_score(name, make_context, make_batch):
    spec = MODELS[name]
    ctx = make_context(n_codes=6, vocab_size=40)
    batch = make_batch("text", ctx, batch_size=16, seq_len=30)
    targets = batch["targets"].numpy().astype(bool)
    model = spec.build(spec.default_config(), ctx).fit(batch["texts"], targets)
    scores = model.predict_scores(batch["texts"][:5])
    assert scores.shape == (5, ctx.n_codes)
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


def test_every_custom_trainer_family_has_its_runner():
    """A ``trainer="custom"`` family names no runner itself (models sit below training); training maps it."""
    from icdbench.training.runners import CUSTOM_RUNNERS, runner_of

    custom = {spec.family for spec in MODELS.values() if spec.trainer == "custom"}
    assert custom == set(CUSTOM_RUNNERS)
    assert all(runner_of(spec) is CUSTOM_RUNNERS[spec.family] for spec in MODELS.values() if spec.trainer == "custom")
