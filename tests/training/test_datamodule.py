"""The datamodule on synth-tiny: batch contracts per input kind, word2vec cache, sentence permutations."""

from __future__ import annotations

import numpy as np
import torch

from icdbench.config import resolve_config
from icdbench.datasets.batching import ItemKey
from icdbench.datasets.datamodule import CodingDataModule, PartDataset
from icdbench.datasets.inputs import TITLE_TOKENS, tokenize_document
from icdbench.datasets.storage import load_split
from icdbench.datasets.text import tokenize
from icdbench.models.registry import get_model


def _datamodule(data_dir, model: str, *overrides: str) -> CodingDataModule:
    cfg = resolve_config(get_model(model), split="synth-tiny", profile="ci", overrides=list(overrides)).cfg
    return CodingDataModule(load_split(data_dir / "synth-tiny"), cfg, get_model(model).inputs)


def test_word_batches_follow_the_contract(run_env):
    dm = _datamodule(run_env[0], "caml", "data.max_tokens=300")
    batch = next(iter(dm.train_dataloader()))
    n_codes = dm.ctx.n_codes
    b, t = batch["input_ids"].shape
    assert batch["targets"].shape == (b, n_codes) and batch["targets"].dtype == torch.float32
    assert batch["mask"].dtype == torch.bool and batch["mask"].shape == (b, t) and t <= 300
    assert torch.equal(batch["mask"].sum(1), batch["lengths"])
    assert batch["doc_index"].dtype == torch.long and batch["age"].shape == (b,) and batch["sex"].shape == (b,)
    assert set(batch["sex"].tolist()) <= {0, 1, 2}
    assert dm.ctx.title_ids.shape == (n_codes, TITLE_TOKENS)
    assert dm.ctx.embeddings.shape == (len(dm.ctx.vocab), dm.cfg.model.embed_dim)
    assert dm.ctx.vocab[:2] == ["<pad>", "<unk>"] and not dm.ctx.embeddings[0].any()


def test_the_context_says_whether_the_loss_is_class_weighted(run_env):
    # models start their outputs at 0.5 instead of the prevalence under wbce (icdbench.models._priors)
    assert not _datamodule(run_env[0], "caml").ctx.class_weighted_loss
    assert _datamodule(run_env[0], "caml", "train.loss=focal+wbce").ctx.class_weighted_loss


def test_targets_match_the_split_codes(run_env):
    dm = _datamodule(run_env[0], "caml")
    val = dm.split.val
    targets = dm.targets("val")
    for row in (0, 5, len(val) - 1):
        gold = {dm.ctx.codes[i] for i in np.flatnonzero(targets[row])}
        assert gold == set(val["codes"][row]) & set(dm.ctx.codes)


def test_word2vec_is_cached_and_reused(run_env):
    first = _datamodule(run_env[0], "cnn", "model.w2v_epochs=2")
    cache = sorted((run_env[0] / "synth-tiny" / "cache").glob("w2v-*.npy"))
    assert cache
    second = _datamodule(run_env[0], "cnn", "model.w2v_epochs=2")
    assert sorted((run_env[0] / "synth-tiny" / "cache").glob("w2v-*.npy")) == cache
    np.testing.assert_array_equal(first.ctx.embeddings, second.ctx.embeddings)


def test_tokens_and_sentence_starts_agree_with_plain_tokenisation(run_env):
    split = load_split(run_env[0] / "synth-tiny")
    row = split.train.row(0, named=True)
    tokens, starts = tokenize_document(row["text"], row["sentences"])
    assert tokens == tokenize(row["text"])
    assert len(starts) > 3 and starts[0] == 0 and np.all(np.diff(starts) > 0)


def test_permutations_add_shuffled_copies(run_env):
    dm = _datamodule(run_env[0], "rac", "data.permutations=2", "data.max_tokens=100000")
    part = dm.part("train")
    dataset = PartDataset(part, dm.inputs, copies=3, seed=0)
    n = len(part)
    assert len(dataset) == 3 * n
    doc, original = dataset[ItemKey(0, 0)]
    _, copy = dataset[ItemKey(n, 0)]
    _, again = dataset[ItemKey(n, 0)]
    _, next_epoch = dataset[ItemKey(n, 1)]
    assert doc == 0 and dataset[ItemKey(2 * n, 0)][0] == 0
    assert not np.array_equal(copy.ids, original.ids)
    assert sorted(copy.ids.tolist()) == sorted(original.ids.tolist())  # same tokens, other sentence order
    np.testing.assert_array_equal(copy.ids, again.ids)  # seeded by (seed, epoch, item)
    assert not np.array_equal(copy.ids, next_epoch.ids)
    assert len(dm.train_dataloader().batch_sampler.lengths) == 3 * n


def test_text_inputs_give_cleaned_texts(run_env):
    dm = _datamodule(run_env[0], "lr")
    texts = dm.part("val").features
    assert len(texts) == len(dm.split.val) and texts[0] == " ".join(tokenize(dm.split.val["text"][0]))
    assert dm.ctx.vocab is None


def test_segment_batches_follow_the_contract(run_env):
    dm = _datamodule(run_env[0], "plm-icd", "data.segment_length=32", "data.max_segments=3")
    batch = next(iter(dm.val_dataloader()))
    b, s, length = batch["input_ids"].shape
    assert length == 32 and s <= 3 and batch["attention_mask"].shape == (b, s, length)
    assert batch["segment_mask"].dtype == torch.bool and batch["segment_mask"][:, 0].all()
    first = batch["input_ids"][0, 0]
    assert first[0].item() == dm.inputs.prefix[0]  # each segment wrapped in the tokenizer's special tokens
    # a segment's attention covers exactly its tokens, and padding segments attend to nothing
    assert not batch["attention_mask"][~batch["segment_mask"]].any()
