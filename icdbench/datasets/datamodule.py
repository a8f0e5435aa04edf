"""The LightningDataModule over a prepared split: batches for the model's input kind.

Every batch holds ``targets`` ``[B, C]``, ``doc_index`` ``[B]`` (row in the part), ``age`` ``[B]``
(z-scored on train, 0 when unknown) and ``sex`` ``[B]`` (0 unknown, 1 F, 2 M), plus the input kind's entries
(``icdbench.models.base``). Train batches are length-bucketed and reshuffled every epoch from
``(seed, epoch)``; with ``data.permutations = p`` the train set holds every document ``1 + p`` times, copy 0
as written and
copies ``1..p`` sentence-shuffled with a generator seeded by ``(seed, epoch, item)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytorch_lightning as pl_lightning
import torch
from torch.utils.data import DataLoader, Dataset

from icdbench.datasets.batching import BucketBatchSampler, ItemKey
from icdbench.datasets.encodings import build_inputs
from icdbench.datasets.inputs import InputEncoding
from icdbench.datasets.sentences import FocusSentences
from icdbench.datasets.storage import Split
from icdbench.errors import UserError
from icdbench.models.base import ModelContext

_SEX = {"f": 1, "female": 1, "m": 2, "male": 2}


@dataclass
class PartData:
    """One part of a split, encoded: per-document features, label indices and demographics."""

    doc_ids: list[str]
    labels: list[np.ndarray]  # code indices per document (codes outside the label set dropped)
    age: np.ndarray  # [N] float32, z-scored, 0 = unknown
    sex: np.ndarray  # [N] int64
    features: list[Any]

    def __len__(self) -> int:
        return len(self.doc_ids)

    def targets(self, n_codes: int) -> np.ndarray:
        """``[N, C]`` bool."""
        out = np.zeros((len(self), n_codes), dtype=bool)
        for row, labels in enumerate(self.labels):
            out[row, labels] = True
        return out


def encode_part(
    frame: pl.DataFrame,
    inputs: InputEncoding,
    code_index: dict[str, int],
    age_stats: tuple[float, float],
    *,
    train: bool,
) -> PartData:
    labels = [
        np.asarray(sorted({code_index[c] for c in codes if c in code_index}), dtype=np.int64)
        for codes in frame["codes"].to_list()
    ]
    mean, std = age_stats
    if "age" in frame.columns:
        raw = frame["age"].cast(pl.Float64).to_numpy().astype(np.float64)
        age = np.where(np.isnan(raw), 0.0, (raw - mean) / std).astype(np.float32)
    else:
        age = np.zeros(frame.height, dtype=np.float32)
    if "sex" in frame.columns:
        sex = np.asarray(
            [_SEX.get((s or "").strip().lower(), 0) for s in frame["sex"].to_list()], dtype=np.int64
        )
    else:
        sex = np.zeros(frame.height, dtype=np.int64)
    return PartData(frame["doc_id"].to_list(), labels, age, sex, inputs.features(frame, train=train))


class PartDataset(Dataset):
    """Items of a part; with ``copies > 1`` item ``i`` is copy ``i // N`` of document ``i % N``."""

    def __init__(self, part: PartData, inputs: InputEncoding, *, copies: int = 1, seed: int = 0):
        self.part, self.inputs, self.copies, self.seed = part, inputs, copies, seed

    def __len__(self) -> int:
        return len(self.part) * self.copies

    def lengths(self) -> np.ndarray:
        one = np.asarray([self.inputs.length(f) for f in self.part.features], dtype=np.int64)
        return np.tile(one, self.copies)

    def __getitem__(self, key: ItemKey | int) -> tuple[int, Any]:
        item, epoch = (key.index, key.epoch) if isinstance(key, ItemKey) else (int(key), 0)
        doc = item % len(self.part)
        feature = self.part.features[doc]
        if item >= len(self.part):
            feature = self.inputs.augment(feature, np.random.default_rng([self.seed, epoch, item]))
        return doc, feature


class Collator:
    """Turns ``[(doc, feature), ...]`` into a batch dict."""

    def __init__(self, part: PartData, inputs: InputEncoding, n_codes: int):
        self.part, self.inputs, self.n_codes = part, inputs, n_codes

    def __call__(self, items: list[tuple[int, Any]]) -> dict[str, Any]:
        docs = [doc for doc, _ in items]
        targets = torch.zeros(len(docs), self.n_codes)
        for row, doc in enumerate(docs):
            targets[row, torch.from_numpy(self.part.labels[doc])] = 1.0
        batch = {
            "targets": targets,
            "doc_index": torch.tensor(docs, dtype=torch.long),
            "age": torch.from_numpy(self.part.age[docs]),
            "sex": torch.from_numpy(self.part.sex[docs]),
        }
        batch.update(self.inputs.collate([feature for _, feature in items]))
        return batch


def make_context(split: Split, train: pl.DataFrame, *, loss: str = "bce") -> ModelContext:
    """The model context from ``codes.parquet``, the (possibly shrunk) train part and the run's loss."""
    codes = split.codes
    code_index = {c: i for i, c in enumerate(codes["code"].to_list())}
    counts = np.zeros(len(code_index), dtype=np.int64)
    for doc_codes in train["codes"].to_list():
        for c in set(doc_codes):
            if c in code_index:
                counts[code_index[c]] += 1
    return ModelContext(
        codes=codes["code"].to_list(),
        kinds=codes["kind"].to_list(),
        titles=codes["title"].to_list(),
        short_titles=codes["short_title"].to_list(),
        ancestors=codes["ancestors"].to_list(),
        train_counts=counts,
        n_train_docs=train.height,
        n_demographics=sum(c in train.columns for c in ("age", "sex")),
        class_weighted_loss="wbce" in loss,
    )


class CodingDataModule(pl_lightning.LightningDataModule):
    """Encodes a split once for ``cfg`` (a resolved RunConfig) and the model's input kind ``kind``."""

    def __init__(self, split: Split, cfg, kind: str, *, cache_dir: Path | None = None):
        super().__init__()
        self.split, self.cfg, self.kind = split, cfg, kind
        limit = cfg.data.max_train_docs
        self.train_frame = split.train.head(limit) if limit else split.train
        self.inputs = build_inputs(kind, split, self.train_frame, cfg, cache_dir or split.path / "cache")
        self.ctx = make_context(split, self.train_frame, loss=cfg.train.loss)
        self.inputs.fill_context(self.ctx)
        self.code_index = {c: i for i, c in enumerate(self.ctx.codes)}
        self.age_stats = self._age_stats()
        self._parts: dict[str, PartData] = {}

    def _age_stats(self) -> tuple[float, float]:
        if "age" not in self.train_frame.columns:
            return 0.0, 1.0
        ages = self.train_frame["age"].drop_nulls().drop_nans()
        std = float(ages.std() or 0.0) if ages.len() > 1 else 0.0
        return float(ages.mean() or 0.0) if ages.len() else 0.0, std if std > 0 else 1.0

    def part(self, name: str) -> PartData:
        if name not in self._parts:
            frame = self.train_frame if name == "train" else self.split.part(name)
            self._parts[name] = encode_part(
                frame, self.inputs, self.code_index, self.age_stats, train=name == "train"
            )
        return self._parts[name]

    def loader(self, name: str, *, shuffle: bool | None = None) -> DataLoader:
        """Batches of a part; train batches are shuffled (and augmented) unless ``shuffle=False``."""
        train = name == "train" and shuffle is not False
        copies = 1 + self.cfg.data.permutations if train else 1
        dataset = PartDataset(self.part(name), self.inputs, copies=copies, seed=self.cfg.seed)
        sampler = BucketBatchSampler(
            dataset.lengths(),
            self.cfg.optim.batch_size,
            shuffle=train,
            seed=self.cfg.seed,
            bucket=self.cfg.data.bucket,
        )
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=Collator(self.part(name), self.inputs, self.ctx.n_codes),
            num_workers=workers,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train")

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")

    def targets(self, name: str) -> np.ndarray:
        return self.part(name).targets(self.ctx.n_codes)


def focus_sentence_loader(datamodule, name: str = "train") -> DataLoader:
    """Shuffled batches of ``optim.batch_size`` single-code focus sentences of a part, each as a one-sentence
    document (the ``sentences`` batch keys with ``N = 1``)."""
    part, cfg = datamodule.part(name), datamodule.cfg
    dataset = FocusSentences(part.features)
    if len(dataset) == 0:
        raise UserError(
            f"{datamodule.split.name} has no single-code focus sentence in its {name} part (no gold evidence "
            "and no silver span found), so the ICD classifier has nothing to learn from"
        )
    sampler = BucketBatchSampler(
        dataset.lengths(), cfg.optim.batch_size, shuffle=True, seed=cfg.seed, bucket=cfg.data.bucket
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=cfg.data.num_workers,
        collate_fn=Collator(part, datamodule.inputs, datamodule.ctx.n_codes),
        persistent_workers=cfg.data.num_workers > 0,
    )
