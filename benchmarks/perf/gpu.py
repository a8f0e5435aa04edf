"""PLM-ICD on a GPU: one bf16 epoch on a synthetic split, training documents/s and inference ms/document (issue 6).

Two steps, because the GPU machine has no polars, omegaconf or packaged MiniLM, and no network:

* ``export`` (here, with the project venv): prepares the split if needed, resolves plm-icd's ``paper`` profile
  (128-token segments, at most 24 = 3,072 tokens), tokenises train and test with the project's own datamodule
  (``SegmentInputs``) and writes a bundle: ``train.npz`` / ``test.npz`` (token ids, masks, targets; plain .npy
  arrays, loaded without pickle), ``meta.json`` and the encoder (``--encoder``: the packaged MiniLM by default,
  ``roberta-pm-m3-voc`` for the paper's, from ``$ICDBENCH_ENCODERS``) as bf16 safetensors with its config and
  tokenizer files. Synthetic splits only: the token ids of a real note are its text, and MIMIC text never
  leaves DATA_DIR.
* ``run`` (the GPU machine, plain ``python3``): builds the real ``PlmIcd`` (``icdbench.models.plm_icd``) on the
  bundled encoder and trains one epoch (AdamW, the project's ``CodingLoss``, linear warm-up/decay) under bf16
  autocast in a plain torch loop, then times test inference at batch 1 and 32 (micro-F1 at 0.5 and P@8 as a
  sanity check); unless ``--trainers torch``, a fresh model then trains one epoch in the project's
  ``CodingModule`` under Lightning's ``precision="bf16-mixed"``. Each phase that fails is recorded and the others
  still run. Writes ``DIR/gpu_plm_icd.json`` and prints a table.

    python benchmarks/perf/gpu.py export --split synth-icd10 --out .gpu_bundle
    python3 benchmarks/perf/gpu.py run --bundle .gpu_bundle --out DIR              # on the GPU machine
    python benchmarks/perf/gpu.py run --bundle .gpu_bundle --out /tmp/x --device cpu \
        --max-train-docs 16 --max-test-docs 8                                      # CPU smoke run
"""

from __future__ import annotations

import os

# Never let transformers or huggingface_hub try the network (the GPU machine has none: a try would hang).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# transformers >= 5.2x kernelizes loaded models with hub kernels by default and fails when the `kernels` package is
# missing; BERT has no hub-kernel layers, so turning it off changes nothing but that failure and any hub lookup
os.environ.setdefault("USE_HUB_KERNELS", "0")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the GPU machine has the working tree, not an installed icdbench

from icdbench.errors import UserError  # noqa: E402

MODEL = "plm-icd"
PROFILE = "paper"  # the published segmenting: 24 segments of 128 tokens
MAX_BUNDLE_MIB = 55
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
RESULT_FILE = "gpu_plm_icd.json"


# --- export (project venv) ------------------------------------------------------------------------------------
def _check_synthetic(name: str, manifest: dict | None = None) -> None:
    """Refuse real data: by the split's registration before anything is read, by its manifest after."""
    from icdbench.datasets.registry import get_split

    spec = get_split(name)
    synthetic = spec.needs_source is None and spec.prepare.__module__.startswith("icdbench.datasets.synthetic")
    if manifest is not None:
        synthetic = synthetic and str(manifest.get("source", "")).startswith("synthetic")
    if not synthetic:
        raise UserError(
            f"split {name} is not synthetic: its token ids are note text, which must never leave DATA_DIR; "
            "export a synth-* split (e.g. --split synth-icd10)"
        )


def _export_encoder(source: Path, out: Path) -> None:
    """The encoder's weights as bf16 safetensors (half the size), with its config and tokenizer files."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = source / "model.safetensors"
    if not weights.is_file():
        raise UserError(f"encoder {source} has no model.safetensors; export needs a safetensors encoder")
    tensors = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in load_file(weights).items()}
    out.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, out / "model.safetensors", metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)
    for name in ENCODER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)


def _export_part(dm, name: str, out: Path) -> dict:
    """Collate a whole part with the project's ``SegmentInputs`` and save it; batches are slices of it."""
    part = dm.part(name)
    batch = dm.inputs.collate(part.features)  # [N, S_max, L]: padded to the part's longest document
    ids = batch["input_ids"].numpy()
    dtype = np.uint16 if int(ids.max(initial=0)) < 2**16 else np.int32
    arrays = {
        "input_ids": ids.astype(dtype),
        "attention_mask": batch["attention_mask"].numpy().astype(bool),
        "segment_mask": batch["segment_mask"].numpy().astype(bool),
        "targets": part.targets(dm.ctx.n_codes),
        "lengths": np.asarray([dm.inputs.length(f) for f in part.features], dtype=np.int32),
    }
    np.savez_compressed(out / f"{name}.npz", **arrays)
    return {"documents": len(part), "max_segments_present": int(ids.shape[1]),
            "segments_per_doc": float(arrays["segment_mask"].sum(1).mean())}  # fmt: skip


def export(args) -> None:
    from omegaconf import OmegaConf

    from icdbench.config import resolve_config
    from icdbench.datasets.datamodule import CodingDataModule
    from icdbench.datasets.prepared import ensure_split
    from icdbench.datasets.storage import load_split
    from icdbench.models.encoders import resolve_encoder
    from icdbench.models.registry import get_model

    out = Path(args.out)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to replace it")
    _check_synthetic(args.split)
    split_dir = ensure_split(args.split, command=f"gpu.py export --split {args.split}")
    split = load_split(split_dir)
    _check_synthetic(args.split, split.manifest)
    spec = get_model(MODEL)
    cfg = resolve_config(spec, split=args.split, profile=PROFILE, seed=args.seed,
                         overrides=[f"model.encoder={args.encoder}"]).cfg
    dm = CodingDataModule(split, cfg, spec.inputs)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        parts = {name: _export_part(dm, name, tmp) for name in ("train", "test")}
        _export_encoder(resolve_encoder(cfg.model.encoder), tmp / "encoder")
        meta = {
            "split": split.name, "split_version": split.version, "content_sha256": split.manifest["content_sha256"],
            "model": MODEL, "profile": PROFILE, "n_codes": dm.ctx.n_codes, "parts": parts,
            "encoder": str(cfg.model.encoder), "encoder_weights": "bfloat16 (rounded from float32 at export)",
            "data": OmegaConf.to_container(cfg.data), "optim": OmegaConf.to_container(cfg.optim),
            "train": OmegaConf.to_container(cfg.train), "seed": int(cfg.seed),
            "segment_body_tokens": dm.inputs.body, "pad_token_id": dm.inputs.tokenizer.pad_token_id or 0,
        }  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 2**20
        if size > MAX_BUNDLE_MIB:
            raise UserError(f"bundle is {size:.1f} MiB, over the {MAX_BUNDLE_MIB} MiB carry budget; use a smaller "
                            "split")  # fmt: skip
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {out}: {size:.1f} MiB; " + "; ".join(
        f"{k} {v['documents']} docs, {v['segments_per_doc']:.1f} segments/doc (max {v['max_segments_present']})"
        for k, v in parts.items()) + f"; {dm.ctx.n_codes} codes")  # fmt: skip


# --- run (GPU machine: no polars, no omegaconf) ---------------------------------------------------------------
def _bucket_sampler_class():
    """The project's ``BucketBatchSampler``, loaded from its file: importing ``icdbench.datasets`` registers
    every split and needs polars, which the GPU machine lacks; the sampler itself needs only numpy/torch."""
    path = REPO / "icdbench" / "datasets" / "batching.py"
    spec = importlib.util.spec_from_file_location("_icdbench_batching", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BucketBatchSampler


class Part:
    """A bundled part as CPU tensors; ``batch(rows)`` equals the project's collate of those documents."""

    def __init__(self, path: Path, limit: int | None):
        import torch

        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k][:limit] if limit else data[k] for k in data.files}
        self.ids = torch.from_numpy(arrays["input_ids"].astype(np.int64))
        self.att = torch.from_numpy(arrays["attention_mask"].astype(np.int64))
        self.seg = torch.from_numpy(arrays["segment_mask"])
        self.targets = torch.from_numpy(arrays["targets"])
        self.lengths = arrays["lengths"]

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, rows) -> dict:
        import torch

        rows = torch.as_tensor([int(getattr(r, "index", r)) for r in rows], dtype=torch.long)
        n_seg = int(self.seg[rows].sum(1).max())  # the collate pads to the batch's longest document
        return {"input_ids": self.ids[rows, :n_seg], "attention_mask": self.att[rows, :n_seg],
                "segment_mask": self.seg[rows, :n_seg], "targets": self.targets[rows].float(),
                "doc_index": rows}  # fmt: skip


class _Keys:
    """A dataset whose items are the sampler's keys themselves (``Part.batch`` does the collating)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        return key


def _to(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(bundle: Path, meta: dict, train: Part, seed: int):
    """The real PlmIcd on the bundled encoder (fp32 master weights) and its ModelContext."""
    import torch

    from icdbench.models.base import ModelContext
    from icdbench.models.plm_icd import PlmIcd, PlmIcdConfig

    n = meta["n_codes"]
    ctx = ModelContext(
        codes=[f"code{i}" for i in range(n)], kinds=["dx"] * n, titles=[""] * n, short_titles=[None] * n,
        ancestors=[[] for _ in range(n)], train_counts=train.targets.sum(0).numpy(), n_train_docs=len(train),
    )  # fmt: skip
    torch.manual_seed(seed)
    model = PlmIcd(PlmIcdConfig(encoder=str(bundle / "encoder")), ctx)
    return model.float(), ctx  # bf16 weights on disk; mixed precision trains fp32 master weights


def coding_loss(cfg, ctx):
    """The project's configured loss (``CodingModule`` builds the same one)."""
    from icdbench.training.losses import CodingLoss, positive_weights

    pos_weight = positive_weights(ctx.train_counts, ctx.n_train_docs) if "wbce" in cfg.train.loss else None
    train = cfg.train
    return CodingLoss(train.loss, gamma=train.focal_gamma, alpha=train.focal_alpha, pos_weight=pos_weight)


def as_output_of(model, batch):
    from icdbench.models.base import as_output

    return as_output(model(batch))


def train_torch(model, ctx, train: Part, sampler_cls, args, cfg, device) -> dict:
    """One epoch in a plain loop under bf16 autocast; docs/s after ``args.warmup_steps`` optimiser steps.
    Needs only the model and loss modules (not ``icdbench.training.module``, whose imports may grow)."""
    import torch
    from transformers import get_constant_schedule, get_linear_schedule_with_warmup

    sampler = sampler_cls(train.lengths, args.batch_size, shuffle=True, seed=args.seed, bucket=True)
    batches = list(sampler)
    total = math.ceil(len(batches) / args.accumulate)
    model.to(device).train()
    loss_fn = coding_loss(cfg, ctx).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    if cfg.optim.schedule == "linear":  # as CodingModule: warm-up fraction of the steps, then linear decay
        scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.optim.warmup * total), total)
    else:
        scheduler = get_constant_schedule(optimizer)
    loss_sum = torch.zeros((), device=device)
    docs = steps = timed_docs = 0
    start = t0 = time.perf_counter()
    partial = False
    for i, keys in enumerate(batches):
        batch = _to(train.batch(keys), device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            output = as_output_of(model, batch)
            loss = loss_fn(output.logits, batch["targets"])
            if output.aux_loss is not None:
                loss = loss + output.aux_loss.float()
        (loss / args.accumulate).backward()
        loss_sum += loss.detach().float()
        docs += len(keys)
        if (i + 1) % args.accumulate == 0 or i + 1 == len(batches):
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
            if steps == args.warmup_steps:
                _sync(device)
                t0, timed_docs = time.perf_counter(), docs
            if time.perf_counter() - start > args.max_train_seconds:
                partial = True
                break
    _sync(device)
    end = time.perf_counter()
    if steps <= args.warmup_steps:  # too few steps to leave a warm-up out (CPU smoke runs)
        t0, timed_docs = start, 0
    mean_loss = float(loss_sum) / max(1, i + 1)
    if not math.isfinite(mean_loss):
        raise RuntimeError(f"training loss is {mean_loss}")
    return {"docs": docs, "steps": steps, "epoch_seconds": end - start, "timed_docs": docs - timed_docs,
            "docs_per_s": (docs - timed_docs) / (end - t0), "mean_train_loss": mean_loss,
            "partial": partial}  # fmt: skip


def train_lightning(model, ctx, train: Part, sampler_cls, args, cfg, device) -> dict:
    """One epoch with the project's CodingModule under Lightning ``precision="bf16-mixed"``."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from icdbench.training.module import CodingModule

    module = CodingModule(model, cfg, ctx)

    class Timer(pl.Callback):  # CUDA-synchronised; the first warmup_steps batches are left out
        def __init__(self):
            self.docs = self.timed_docs = 0
            self.start = self.t0 = self.end = 0.0

        def on_train_epoch_start(self, trainer, pl_module):
            self.start = self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.docs += int(batch["targets"].shape[0])
            if batch_idx + 1 == args.warmup_steps * args.accumulate:
                _sync(device)
                self.t0, self.timed_docs = time.perf_counter(), self.docs
            if time.perf_counter() - self.start > args.max_train_seconds:
                trainer.should_stop = True

        def on_train_epoch_end(self, trainer, pl_module):
            _sync(device)
            self.end = time.perf_counter()

    sampler = sampler_cls(train.lengths, args.batch_size, shuffle=True, seed=args.seed, bucket=True)
    loader = DataLoader(_Keys(len(train)), batch_sampler=sampler, collate_fn=train.batch, num_workers=0)
    timer = Timer()
    trainer = pl.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision="bf16-mixed", max_epochs=1,
        accumulate_grad_batches=args.accumulate, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        use_distributed_sampler=False, callbacks=[timer], deterministic=False,
    )  # fmt: skip
    # Lightning >= 2.2 keeps each submodule's mode, and from_pretrained returns the encoder in eval mode: without
    # this the encoder would fine-tune with dropout off (the torch loop calls train() too)
    module.train()
    trainer.fit(module, train_dataloaders=loader)
    timed = timer.docs - timer.timed_docs  # the whole epoch when the warm-up never ended (CPU smoke runs)
    return {"docs": timer.docs, "steps": int(trainer.global_step), "epoch_seconds": timer.end - timer.start,
            "timed_docs": timed, "docs_per_s": timed / (timer.end - timer.t0),
            "partial": timer.docs < len(train)}  # fmt: skip


def infer(model, test: Part, sampler_cls, batch_size: int, device, *, warmup: int, max_seconds: float) -> dict:
    """Test-set inference (bf16 autocast, inference mode), length-sorted batches as the project evaluates;
    ms/document over a CUDA-synchronised pass that includes moving scores back to the host."""
    import torch

    batches = list(sampler_cls(test.lengths, batch_size, shuffle=False, bucket=True))
    scores = np.full((len(test), test.targets.shape[1]), np.nan, dtype=np.float32)
    model.to(device).eval()

    def step(keys):
        batch = _to(test.batch(keys), device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            logits = as_output_of(model, batch).logits
        return batch["doc_index"].cpu().numpy(), torch.sigmoid(logits.float()).cpu().numpy()

    with torch.inference_mode():
        for keys in batches[:warmup]:
            step(keys)
        _sync(device)
        docs, start = 0, time.perf_counter()
        for keys in batches:
            rows, probs = step(keys)
            scores[rows] = probs
            docs += len(keys)
            if time.perf_counter() - start > max_seconds:
                break
        _sync(device)
        seconds = time.perf_counter() - start
    return {"batch_size": batch_size, "docs": docs, "seconds": seconds, "ms_per_doc": 1000 * seconds / docs,
            "docs_per_s": docs / seconds, "partial": docs < len(test), "scores": scores}  # fmt: skip


def sanity_metrics(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.5, k: int = 8) -> dict:
    """Micro-F1 at ``threshold`` and P@k over the scored documents (numpy; the metrics package needs polars)."""
    done = ~np.isnan(scores).any(1)
    scores, gold = scores[done], targets[done].astype(bool)
    pred = scores >= threshold
    tp = float((pred & gold).sum())
    denom = float(pred.sum() + gold.sum())
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    p_at_k = float(np.take_along_axis(gold, top, axis=1).mean()) if len(scores) else float("nan")
    return {"docs": int(done.sum()), "micro_f1@0.5": 2 * tp / denom if denom else 0.0, f"p@{k}": p_at_k,
            "predicted_per_doc@0.5": float(pred.sum(1).mean()) if len(scores) else 0.0}  # fmt: skip


def _phase(results: dict, name: str, out: Path, fn):
    """Run one phase; a failure is recorded (and the JSON rewritten) instead of losing the other phases."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one phase failing must not cost the device run's other numbers
        results["errors"][name] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        return None
    finally:
        _write(results, out)


def _write(results: dict, out: Path) -> None:
    (out / RESULT_FILE).write_text(json.dumps(results, indent=1, default=float))


def _peak_mib(device) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def run(args) -> None:
    import torch

    bundle, out = Path(args.bundle), Path(args.out)
    if not (bundle / "meta.json").is_file():
        raise UserError(f"{bundle} is not a bundle (no meta.json); make one with `gpu.py export --out {bundle}`")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda but torch sees no CUDA device; use --device cpu for a smoke run")
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((bundle / "meta.json").read_text())
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    trainers = [t for t in args.trainers.split(",") if t]
    if not trainers or set(trainers) - {"torch", "lightning"}:
        raise UserError(f"--trainers {args.trainers!r}: use torch, lightning or torch,lightning")
    cfg = SimpleNamespace(optim=SimpleNamespace(**{**meta["optim"], "batch_size": args.batch_size,
                                                   "accumulate": args.accumulate}),
                          train=SimpleNamespace(**meta["train"]))  # fmt: skip
    train = Part(bundle / "train.npz", args.max_train_docs)
    test = Part(bundle / "test.npz", args.max_test_docs)
    sampler_cls = _bucket_sampler_class()
    import transformers

    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
        "python": platform.python_version(), "split": meta["split"], "model": MODEL, "n_codes": meta["n_codes"],
        "train_docs": len(train), "test_docs": len(test), "segment_length": meta["data"]["segment_length"],
        "max_segments": meta["data"]["max_segments"], "batch_size": args.batch_size, "accumulate": args.accumulate,
        "lr": cfg.optim.lr, "schedule": f"{cfg.optim.schedule} (warm-up {cfg.optim.warmup})", "loss": cfg.train.loss,
        "precision": "bf16 autocast, fp32 master weights", "warmup_steps_excluded": args.warmup_steps,
        "train": {}, "inference": {}, "sanity": {}, "peak_gpu_mib": {}, "errors": {},
    }  # fmt: skip
    print(f"{results['device']}, torch {torch.__version__}: {len(train)} train / {len(test)} test docs, "
          f"{meta['n_codes']} codes", flush=True)  # fmt: skip

    model = None
    if "torch" in trainers:
        def torch_phase():
            nonlocal model
            _reset_peak(device)
            model, ctx = build_model(bundle, meta, train, args.seed)
            results["encoder_attention"] = getattr(model.encoder.model.config, "_attn_implementation", None)
            results["parameters"] = sum(p.numel() for p in model.parameters())
            results["train"]["torch"] = train_torch(model, ctx, train, sampler_cls, args, cfg, device)
            results["peak_gpu_mib"]["train torch"] = _peak_mib(device)

        _phase(results, "train torch", out, torch_phase)
        if model is not None and "train torch" not in results["errors"]:
            for bs in (1, 32):
                def infer_phase(bs=bs):
                    _reset_peak(device)
                    timing = infer(model, test, sampler_cls, bs, device, warmup=args.infer_warmup,
                                   max_seconds=args.max_infer_seconds)  # fmt: skip
                    scores = timing.pop("scores")
                    results["inference"][f"batch {bs}"] = timing
                    results["peak_gpu_mib"][f"infer batch {bs}"] = _peak_mib(device)
                    if bs == 32 or "torch" not in results["sanity"]:
                        results["sanity"]["torch"] = sanity_metrics(scores, test.targets.numpy())

                _phase(results, f"infer batch {bs}", out, infer_phase)
        model = None
    if "lightning" in trainers:
        def lightning_phase():
            _reset_peak(device)
            fresh, ctx = build_model(bundle, meta, train, args.seed)
            results["train"]["lightning"] = train_lightning(fresh, ctx, train, sampler_cls, args, cfg, device)
            results["peak_gpu_mib"]["train lightning"] = _peak_mib(device)
            timing = infer(fresh, test, sampler_cls, 32, device, warmup=1, max_seconds=args.max_infer_seconds)
            results["sanity"]["lightning"] = sanity_metrics(timing.pop("scores"), test.targets.numpy())

        _phase(results, "train lightning", out, lightning_phase)
    _write(results, out)
    print_table(results)
    print(f"wrote {out / RESULT_FILE}")
    if results["errors"]:
        raise SystemExit(1)


def print_table(r: dict) -> None:
    rows = [("device", r["device"]), ("torch / transformers", f"{r['torch']} / {r['transformers']}")]
    for name, t in r["train"].items():
        rows.append((f"train docs/s ({name})", f"{t['docs_per_s']:.1f}  ({t['timed_docs']} docs timed, "
                     f"epoch {t['epoch_seconds']:.1f} s{', PARTIAL' if t['partial'] else ''})"))  # fmt: skip
    for name, t in r["inference"].items():
        rows.append((f"infer ms/doc ({name})", f"{t['ms_per_doc']:.2f}  ({t['docs_per_s']:.0f} docs/s"
                     f"{', PARTIAL' if t['partial'] else ''})"))  # fmt: skip
    for name, mib in r["peak_gpu_mib"].items():
        if mib is not None:
            rows.append((f"peak GPU MiB ({name})", f"{mib:.0f}"))
    for name, s in r["sanity"].items():
        rows.append((f"test micro-F1@0.5 / P@8 ({name})", f"{s['micro_f1@0.5']:.3f} / {s['p@8']:.3f}"))
    for name, err in r["errors"].items():
        rows.append((f"ERROR {name}", err[:200]))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="tokenise a synthetic split and package the encoder (project venv)")
    ex.add_argument("--split", default="synth-icd10")
    ex.add_argument("--out", default=".gpu_bundle")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--encoder", default="minilm", help="model.encoder of the bundle (the paper's: roberta-pm-m3-voc)")
    ex.add_argument("--force", action="store_true", help="replace an existing bundle")
    ru = sub.add_parser("run", help="train one epoch and time inference (GPU machine, plain python3)")
    ru.add_argument("--bundle", default=".gpu_bundle")
    ru.add_argument("--out", required=True)
    ru.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ru.add_argument("--trainers", default="torch,lightning", help="comma-separated: torch, lightning")
    ru.add_argument("--batch-size", type=int, default=8)
    ru.add_argument("--accumulate", type=int, default=1, help="gradient accumulation steps (paper: batch 1 x 8)")
    ru.add_argument("--max-train-docs", type=int, help="first N train documents (default: all)")
    ru.add_argument("--max-test-docs", type=int, help="first N test documents (default: all)")
    ru.add_argument("--warmup-steps", type=int, default=5, help="optimiser steps left out of the docs/s timing")
    ru.add_argument("--infer-warmup", type=int, default=5, help="untimed batches before each inference pass")
    ru.add_argument("--max-train-seconds", type=float, default=100, help="cap per training epoch (then PARTIAL)")
    ru.add_argument("--max-infer-seconds", type=float, default=45, help="cap per inference pass (then PARTIAL)")
    ru.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        export(args) if args.command == "export" else run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
