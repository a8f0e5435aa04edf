"""icdbench's CAML, LAAT, MultiResCNN and PLM-ICD against Edin et al.'s modules on the same batches and threads.

Both sides get the published architecture (icdbench's default config; the reference module built with the same
sizes), the same vocabulary, label set and random batches, and the same number of torch threads, in one process.
Training is the bare step (forward, BCE, backward, Adam step) in docs/s; inference is the forward pass without
gradients in eval mode, in ms/doc. The two sides take turns batch by batch, so load on a shared machine slows
both alike. icdbench's models run with their defaults (padding masked), as users train
them. PLM-ICD uses a randomly initialised RoBERTa of the given size (saved to a temporary folder, which both
sides load), not a pretrained encoder: speed depends on the shape, not the weights.

    python benchmarks/perf/train.py --against reference                     # the defaults below
    python benchmarks/perf/train.py --against reference --tokens 256 --codes 200 --steps 3 --models caml,laat

The reference code is read from ``../shared/reference/medical-coding-reproducibility`` (``--reference-dir``)
and imported, never copied.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from icdbench.io import format_table
from icdbench.models.base import ModelContext, as_output
from icdbench.models.registry import get_model
from icdbench.training.losses import CodingLoss

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "medical-coding-reproducibility"
MODELS = ("caml", "laat", "multirescnn", "plm-icd")


def import_reference(folder: Path):
    """Edin et al.'s ``src.models`` (also the loader of tests/models/test_reference_equivalence.py). Its
    ``src.settings`` reads ``configs/`` relative to the working directory at import time, so the import runs inside
    the reference folder; the working directory and ``sys.path`` are put back afterwards."""
    if not (folder / "src" / "models").is_dir():
        raise SystemExit(f"no reference code at {folder}; pass --reference-dir <medical-coding-reproducibility>")
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        return importlib.import_module("src.models")
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path


def make_context(args, rng: np.random.Generator, encoder: str | None) -> ModelContext:
    codes = [f"C{i:04d}" for i in range(args.codes)]
    return ModelContext(
        codes=codes,
        kinds=["dx"] * args.codes,
        titles=codes,
        short_titles=[None] * args.codes,
        ancestors=[[] for _ in codes],
        train_counts=rng.integers(1, 50, size=args.codes),
        n_train_docs=1000,
        vocab=["<pad>", "<unk>"] + [f"w{i}" for i in range(args.vocab - 2)],
        embeddings=rng.normal(size=(args.vocab, args.embed_dim)).astype(np.float32),
        encoder=encoder,
    )


def build_pair(name: str, args, reference, ctx: ModelContext, encoder_dir: str | None):
    """``(icdbench model, reference model, reference call)`` with the published sizes."""
    spec = get_model(name)
    config = spec.default_config()
    if name == "plm-icd":
        config = dataclasses.replace(config, encoder=encoder_dir)
        return spec.build(config, ctx), reference.PLMICD(args.codes, encoder_dir), _segments_call
    config = dataclasses.replace(config, embed_dim=args.embed_dim)
    vectors = SimpleNamespace(embedding_size=args.embed_dim, weights=ctx.embeddings)
    if name == "caml":
        theirs = reference.CAML(
            args.vocab, args.codes, vectors, embed_dropout=config.dropout,
            num_filters=config.num_filters, kernel_size=config.kernel_size,
        )  # fmt: skip
    elif name == "multirescnn":
        theirs = reference.MultiResCNN(
            args.vocab, args.codes, config.num_filters, config.kernel_sizes, vectors, embed_dropout=config.dropout
        )
    elif name == "laat":
        theirs = reference.LAAT(
            args.vocab, args.codes, vectors, embed_dropout=config.dropout, rnn_hidden_size=config.hidden_size,
            rnn_dropout=0.0, projection_size=config.attention_dim,
        )  # fmt: skip
        return spec.build(config, ctx), theirs, lambda model, batch: model(batch["input_ids"], batch["lengths"])
    else:
        raise SystemExit(f"no reference module for {name}; choose from {', '.join(MODELS)}")
    return spec.build(config, ctx), theirs, lambda model, batch: model(batch["input_ids"])


def _segments_call(model, batch):
    return model(batch["input_ids"], batch["attention_mask"])


def make_batches(args, kind: str, rng: np.random.Generator) -> list[dict]:
    """``steps`` batches; lengths between half and all of ``tokens``, the first note of each full length."""
    batches = []
    for _ in range(args.steps):
        lengths = torch.as_tensor(rng.integers(args.tokens // 2, args.tokens + 1, size=args.batch_size))
        lengths[0] = args.tokens
        targets = torch.as_tensor(rng.random((args.batch_size, args.codes)) < 0.02, dtype=torch.float32)
        mask = torch.arange(args.tokens) < lengths[:, None]
        if kind == "words":
            ids = torch.as_tensor(rng.integers(2, args.vocab, size=(args.batch_size, args.tokens)))
            batches.append({"input_ids": ids.masked_fill(~mask, 0), "mask": mask, "lengths": lengths,
                            "targets": targets})  # fmt: skip
            continue
        segments = -(-args.tokens // args.segment_length)
        width = segments * args.segment_length
        mask = torch.arange(width) < lengths[:, None]
        ids = torch.as_tensor(rng.integers(3, args.encoder_vocab, size=(args.batch_size, width))).masked_fill(~mask, 1)
        shape = (args.batch_size, segments, args.segment_length)
        batches.append({
            "input_ids": ids.view(shape), "attention_mask": mask.view(shape).long(),
            "segment_mask": mask.view(shape).any(-1), "targets": targets,
        })  # fmt: skip
    return batches


class Timer:
    """One side's training step and forward pass, timed; the two sides take turns batch by batch, so a busy
    machine slows both alike."""

    def __init__(self, model, call, loss_of):
        self.model, self.call, self.loss_of = model, call, loss_of
        self.optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        self.train_seconds = self.infer_seconds = 0.0

    def train_step(self, batch: dict) -> None:
        self.model.train()
        start = time.perf_counter()
        self.optimiser.zero_grad(set_to_none=True)
        self.loss_of(self.call(self.model, batch), batch["targets"]).backward()
        self.optimiser.step()
        self.train_seconds += time.perf_counter() - start

    @torch.no_grad()
    def forward(self, batch: dict) -> None:
        self.model.eval()
        start = time.perf_counter()
        self.call(self.model, batch)
        self.infer_seconds += time.perf_counter() - start


def time_pair(sides: list[Timer], batches: list[dict]) -> list[tuple[float, float]]:
    """``(train docs/s, inference ms/doc)`` per side over ``batches``, after one untimed step of each."""
    for side in sides:
        side.train_step(batches[0])
        side.forward(batches[0])
        side.train_seconds = side.infer_seconds = 0.0
    for batch in batches:
        for side in sides:
            side.train_step(batch)
        for side in sides:
            side.forward(batch)
    docs = sum(len(batch["targets"]) for batch in batches)
    return [(docs / side.train_seconds, 1000 * side.infer_seconds / docs) for side in sides]


def save_roberta(args, folder: Path) -> str:
    from transformers import RobertaConfig, RobertaModel

    config = RobertaConfig(
        vocab_size=args.encoder_vocab, hidden_size=args.encoder_width, num_hidden_layers=args.encoder_layers,
        num_attention_heads=max(1, args.encoder_width // 64), intermediate_size=4 * args.encoder_width,
        max_position_embeddings=args.segment_length + 2, pad_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    RobertaModel(config).save_pretrained(folder)
    return str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", choices=["reference"], required=True)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512, help="words per note (subword tokens for PLM-ICD)")
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--embed-dim", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5, help="timed batches per model and side")
    parser.add_argument("--segment-length", type=int, default=128)
    parser.add_argument("--encoder-layers", type=int, default=2, help="PLM-ICD's random RoBERTa (base: 12)")
    parser.add_argument("--encoder-width", type=int, default=256, help="its hidden size (base: 768)")
    parser.add_argument("--encoder-vocab", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    reference = import_reference(args.reference_dir)
    loss = CodingLoss("bce")  # icdbench's; the reference modules use the same BCE with logits
    rows = []
    with tempfile.TemporaryDirectory(prefix="icdbench-against-") as tmp:
        for name in args.models.split(","):
            rng = np.random.default_rng(args.seed)
            encoder_dir = save_roberta(args, Path(tmp) / "roberta") if name == "plm-icd" else None
            ctx = make_context(args, rng, encoder_dir)
            torch.manual_seed(args.seed)
            with contextlib.redirect_stdout(io.StringIO()):  # the reference prints while it builds
                ours, theirs, their_call = build_pair(name, args, reference, ctx, encoder_dir)
            batches = make_batches(args, "segments" if name == "plm-icd" else "words", rng)
            sides = [Timer(ours, lambda m, b: as_output(m(b)).logits, loss), Timer(theirs, their_call, theirs.get_loss)]
            (ours_train, ours_infer), (their_train, their_infer) = time_pair(sides, batches)
            rows.append([name, f"{ours_train:.3g}", f"{their_train:.3g}", f"{ours_train / their_train:.2f}",
                         f"{ours_infer:.3g}", f"{their_infer:.3g}", f"{their_infer / ours_infer:.2f}"])  # fmt: skip
            print(f"{name}: done", flush=True)
    header = ["model", "train docs/s", "reference", "speed ratio", "infer ms/doc", "reference", "speed ratio"]
    print(f"\n{args.threads} thread(s), batch {args.batch_size}, {args.tokens} tokens, {args.codes} codes, "
          f"vocabulary {args.vocab}, {args.steps} timed batches; PLM-ICD: random RoBERTa {args.encoder_layers} "
          f"layers x {args.encoder_width}; speed ratio > 1: icdbench faster")  # fmt: skip
    print(format_table(header, rows, numeric=set(range(1, len(header)))))
    return 0
