"""HMHAN's runner (``trainer="custom"``): the Lightning fit path of every model, on frozen encoder features
over-sampled with multi-label SMOTE when ``smote`` is on (the model: :mod:`icdbench.models.hmhan`).

The paper computes BioClinicalBERT embeddings, applies SMOTE, then trains HMHAN (Algorithm 1, steps 9–11), so
with ``smote=true`` the encoder is frozen for the whole run and:

1. every document of train and validation is encoded once; its token states (padding dropped, float16) are
   cached under ``DATA_DIR/<split>/cache/features/<key>`` (inside DATA_DIR, like the notes they derive from),
   keyed by the split fingerprint, the part, the train-document limit, the encoder (name, path, file sizes
   and times), the segment settings and the compute dtype — runs with other seeds reuse them;
2. MLSMOTE (:mod:`icdbench.training.families.hmhan_smote`) plans synthetic documents from the train
   features: neighbours are searched on each document's mean token state, and a synthetic document is the
   position-wise interpolation of the two documents' token-state matrices (over the sample's own tokens; where
   the reference is shorter, the sample's states are kept), with the same gap for every position; its age is
   interpolated the same way and its sex is the sample's. HMHAN's attention heads then read a synthetic token
   sequence exactly as a real one — the attention has no positional terms, so the interpolated sequence is a
   valid input;
3. the attention layers, FC layers and output train on real + synthetic train features (class weights of the
   weighted BCE from the resampled counts), validated every epoch on the cached validation features, through
   :func:`icdbench.training.fit.fit_lightning` like every model (the same Trainer, callbacks, SWA and weight
   selection): only what it trains on differs (:func:`smote_fit_data`);
4. the selected weights are scored on validation and test through the normal ``segments`` path (the frozen
   encoder runs online, as ``icdbench predict`` and ``explain`` will run it), so the scores match inference.

The run record's ``extra.smote`` says the encoder was frozen and how many synthetic documents were made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from filelock import FileLock
from torch.utils.data import DataLoader, Dataset

from icdbench.datasets.batching import BucketBatchSampler, ItemKey
from icdbench.io import atomic_directory
from icdbench.models.encoders import SegmentEncoder, resolve_encoder
from icdbench.training.families.hmhan_smote import SmotePlan, mlsmote
from icdbench.training.fit import FitData, fit_lightning
from icdbench.training.job import RunJob, ScoredRun

FEATURE_VERSION = "1"
STATES_FILE, INDEX_FILE = "states.f16", "index.json"


@dataclasses.dataclass
class TokenFeatures:
    """Token states of N documents; document ``i`` is ``states[starts[i] : starts[i] + lengths[i]]``."""

    states: np.ndarray  # [total tokens, H] float16 (a read-only memory map when loaded from the cache)
    starts: np.ndarray  # [N] int64
    lengths: np.ndarray  # [N] int64

    def __len__(self) -> int:
        return len(self.starts)

    def doc(self, i: int) -> np.ndarray:
        return self.states[self.starts[i] : self.starts[i] + self.lengths[i]]

    def pooled(self) -> np.ndarray:
        """``[N, H]`` float32 mean token state per document (MLSMOTE's neighbour-search features)."""
        return np.stack([self.doc(i).astype(np.float32).mean(axis=0) for i in range(len(self))])

    def save(self, folder: Path) -> None:
        self.states.astype(np.float16).tofile(folder / STATES_FILE)
        index = {
            "shape": list(self.states.shape),
            "starts": self.starts.tolist(),
            "lengths": self.lengths.tolist(),
        }
        (folder / INDEX_FILE).write_text(json.dumps(index))

    @classmethod
    def load(cls, folder: Path) -> TokenFeatures:
        index = json.loads((folder / INDEX_FILE).read_text())
        states = np.memmap(folder / STATES_FILE, dtype=np.float16, mode="r", shape=tuple(index["shape"]))
        return cls(states, np.asarray(index["starts"], np.int64), np.asarray(index["lengths"], np.int64))


def encoding_device(cfg) -> tuple[torch.device, torch.dtype | None]:
    """Where the frozen encoder runs and the autocast dtype (bf16 on a GPU when the run asks for it)."""
    wants_gpu = cfg.train.accelerator in ("auto", "gpu", "cuda")
    if wants_gpu and torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if str(cfg.train.precision).startswith("bf16") else None
    return torch.device("cpu"), None


@torch.no_grad()
def encode_features(encoder: SegmentEncoder, loader: DataLoader, n_docs: int, cfg) -> TokenFeatures:
    """Run the frozen encoder over a ``segments`` loader; keep each document's unpadded token states."""
    device, autocast = encoding_device(cfg)
    was_training = encoder.training
    encoder.eval().to(device)
    pieces: list[np.ndarray] = []
    starts, lengths = np.zeros(n_docs, np.int64), np.zeros(n_docs, np.int64)
    offset = 0
    for batch in loader:
        ids, att, seg = (batch[k].to(device) for k in ("input_ids", "attention_mask", "segment_mask"))
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            states, mask = encoder(ids, att, seg)
        states, mask = states.float().cpu(), mask.cpu()
        for row, doc in enumerate(batch["doc_index"].tolist()):
            kept = states[row][mask[row]].numpy().astype(np.float16)
            pieces.append(kept)
            starts[doc], lengths[doc] = offset, len(kept)
            offset += len(kept)
    encoder.train(was_training).to("cpu")
    states = np.concatenate(pieces) if pieces else np.zeros((0, encoder.hidden_size), np.float16)
    return TokenFeatures(states, starts, lengths)


def feature_key(job: RunJob, part: str, n_docs: int) -> str:
    """Cache key of one part's features (see the module docstring)."""
    cfg = job.cfg
    encoder = str(cfg.model.encoder)
    path = resolve_encoder(encoder)
    files = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in path.iterdir() if p.is_file())
    _, autocast = encoding_device(cfg)
    facts = {
        "version": FEATURE_VERSION,
        "split": job.split.fingerprint,
        "part": part,
        "n_docs": n_docs,
        "encoder": encoder,
        "encoder_path": str(path),
        "encoder_files": files,
        "segment_length": cfg.data.segment_length,
        "max_segments": cfg.data.max_segments,
        "dtype": str(autocast or "float32"),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]


def cached_features(job: RunJob, encoder: SegmentEncoder, datamodule, part: str) -> tuple[TokenFeatures, bool]:
    """The part's token features from the cache, computing them first if needed; ``(features, reused)``."""
    n_docs = len(datamodule.part(part))
    folder = job.split.path / "cache" / "features" / feature_key(job, part, n_docs)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if (folder / INDEX_FILE).is_file():
            return TokenFeatures.load(folder), True
        features = encode_features(encoder, datamodule.loader(part, shuffle=False), n_docs, job.cfg)
        with atomic_directory(folder) as tmp:
            features.save(tmp)
    return TokenFeatures.load(folder), False


class FeatureDataset(Dataset):
    """Real documents ``0..N-1``, then the plan's synthetic ones; items are ``(index, states [T, H] f32)``."""

    def __init__(self, features: TokenFeatures, plan: SmotePlan | None = None):
        self.features, self.plan = features, plan

    def __len__(self) -> int:
        return len(self.features) + (len(self.plan) if self.plan is not None else 0)

    def lengths(self) -> np.ndarray:
        synthetic = self.features.lengths[self.plan.seeds] if self.plan is not None else np.zeros(0, np.int64)
        return np.concatenate([self.features.lengths, synthetic])

    def __getitem__(self, key: ItemKey | int) -> tuple[int, np.ndarray]:
        item = key.index if isinstance(key, ItemKey) else int(key)
        n = len(self.features)
        if item < n:
            return item, self.features.doc(item).astype(np.float32)
        m = item - n
        start = self.features.doc(int(self.plan.seeds[m])).astype(np.float32)
        end = self.features.doc(int(self.plan.references[m])).astype(np.float32)
        shared = min(len(start), len(end))
        start[:shared] += np.float32(self.plan.gaps[m]) * (end[:shared] - start[:shared])
        return item, start


class FeatureCollator:
    """Batches with ``token_states`` ``[B, T, H]`` and ``token_mask`` ``[B, T]`` plus the common keys."""

    def __init__(self, targets: np.ndarray, age: np.ndarray, sex: np.ndarray):
        self.targets, self.age, self.sex = targets, age, sex

    def __call__(self, items: list[tuple[int, np.ndarray]]) -> dict[str, torch.Tensor]:
        index = np.asarray([i for i, _ in items])
        longest = max(1, max(len(s) for _, s in items))
        states = torch.zeros(len(items), longest, items[0][1].shape[-1])
        mask = torch.zeros(len(items), longest, dtype=torch.bool)
        for row, (_, doc_states) in enumerate(items):
            states[row, : len(doc_states)] = torch.from_numpy(doc_states)
            mask[row, : len(doc_states)] = True
        return {
            "token_states": states,
            "token_mask": mask,
            "targets": torch.from_numpy(self.targets[index].astype(np.float32)),
            "doc_index": torch.from_numpy(index.astype(np.int64)),
            "age": torch.from_numpy(self.age[index].astype(np.float32)),
            "sex": torch.from_numpy(self.sex[index].astype(np.int64)),
        }


class FeatureDataModule(pl.LightningDataModule):
    """Train batches over real + synthetic train features, validation batches over cached val features."""

    def __init__(self, train: FeatureDataset, train_collate, val: FeatureDataset, val_collate, cfg):
        super().__init__()
        self.train, self.val, self.cfg = train, val, cfg
        self.train_collate, self.val_collate = train_collate, val_collate

    def _loader(self, dataset: FeatureDataset, collate, shuffle: bool) -> DataLoader:
        cfg = self.cfg
        sampler = BucketBatchSampler(
            dataset.lengths(), cfg.optim.batch_size, shuffle=shuffle, seed=cfg.seed, bucket=cfg.data.bucket
        )
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, self.train_collate, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val, self.val_collate, False)


def smote_training_set(features: TokenFeatures, part, n_codes: int, k: int, seed: int):
    """MLSMOTE over the train features: ``(dataset, collator, plan, targets [N+M, C])``."""
    targets = part.targets(n_codes)
    plan = mlsmote(features.pooled(), targets, k=k, seed=seed)
    all_targets = np.concatenate([targets, plan.labels])
    start, end = part.age[plan.seeds], part.age[plan.references]
    age = np.concatenate([part.age, start + plan.gaps.astype(np.float32) * (end - start)])
    sex = np.concatenate([part.sex, part.sex[plan.seeds]])
    return FeatureDataset(features, plan), FeatureCollator(all_targets, age, sex), plan, all_targets


def smote_fit_data(job: RunJob, model, datamodule) -> FitData:
    """What the SMOTE stage trains on: real + synthetic train features, cached validation features."""
    config = job.model_config()
    train_features, reused_train = cached_features(job, model.encoder, datamodule, "train")
    val_features, reused_val = cached_features(job, model.encoder, datamodule, "val")
    train_part, val_part, n_codes = datamodule.part("train"), datamodule.part("val"), datamodule.ctx.n_codes
    train_set, train_collate, plan, all_targets = smote_training_set(
        train_features, train_part, n_codes, config.smote_k, job.cfg.seed
    )
    val_collate = FeatureCollator(val_part.targets(n_codes), val_part.age, val_part.sex)
    features = FeatureDataModule(train_set, train_collate, FeatureDataset(val_features), val_collate, job.cfg)
    # the weighted BCE sees the resampled train set, so its class weights come from the resampled counts
    ctx = dataclasses.replace(
        datamodule.ctx, train_counts=all_targets.sum(0).astype(np.int64), n_train_docs=len(all_targets)
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    smote = {
        **plan.summary(),
        "method": "MLSMOTE (Charte et al. 2015), ranking labels, on frozen encoder token states",
        "k": config.smote_k,
        "encoder_frozen": True,
        "trainable_parameters": int(trainable),
        "real_train_docs": len(train_features),
        "features_reused_from_cache": bool(reused_train and reused_val),
    }
    return FitData(features, ctx, {"smote": smote})


def fit_hmhan(job: RunJob) -> ScoredRun:
    """HMHAN's runner (``trainer="custom"``): the Lightning fit path, on the SMOTE stage's features when ``smote``
    is on (then scored through the online frozen encoder, as at inference), else with the encoder fine-tuned."""
    return fit_lightning(job, smote_fit_data if job.model_config().smote else None)
