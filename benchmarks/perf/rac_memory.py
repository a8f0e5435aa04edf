"""Peak memory and step time of RAC at the paper's size on a full label set (issue 5).

Builds the registered ``rac`` model at its published configuration (d = 300, 4 self-attention layers, d_ff
1,024, 36-token titles) for a label set of ``--codes`` codes (7,942 = MIMIC-IV ICD-10 after the >= 10 filter)
and ``--tokens`` tokens per note (4,096 in the paper), feeds random word ids, and times one training step
(forward, BCE, backward) and one inference pass at ``--batch`` notes, reporting peak memory: CUDA's
``max_memory_allocated`` on a GPU, the process's peak resident set growth on a CPU. Random ids cost the same
as real ones; no data is read, so it runs anywhere the package imports (no polars needed).

    python benchmarks/perf/rac_memory.py                            # CPU, batch 2
    python3 benchmarks/perf/rac_memory.py --device cuda --batch 16 --bf16
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a plain checkout works without installing

from icdbench.models.base import ModelContext  # noqa: E402
from icdbench.models.rac import RacConfig, build_rac  # noqa: E402


def context(n_codes: int, vocab_size: int, title_len: int, d: int, seed: int) -> ModelContext:
    rng = np.random.default_rng(seed)
    title_ids = torch.from_numpy(rng.integers(2, vocab_size, size=(n_codes, title_len)))
    return ModelContext(
        codes=[f"C{i}" for i in range(n_codes)], kinds=["dx"] * n_codes, titles=[""] * n_codes,
        short_titles=[None] * n_codes, ancestors=[[] for _ in range(n_codes)],
        train_counts=np.ones(n_codes), n_train_docs=1, vocab=[f"w{i}" for i in range(vocab_size)],
        embeddings=rng.standard_normal((vocab_size, d)).astype(np.float32), title_ids=title_ids,
    )  # fmt: skip


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=7942)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device(args.device)
    config = RacConfig()  # the paper's sizes
    ctx = context(args.codes, args.vocab, 36, config.embed_dim, seed=0)
    model = build_rac(config, ctx).to(device)
    ids = torch.randint(2, args.vocab, (args.batch, args.tokens), device=device)
    batch = {"input_ids": ids, "mask": torch.ones_like(ids, dtype=torch.bool),
             "lengths": torch.full((args.batch,), args.tokens, device=device)}  # fmt: skip
    targets = (torch.rand(args.batch, args.codes, device=device) < 0.002).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=8e-5)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    base = peak_mib(device)

    def step() -> float:
        start = time.perf_counter()
        with autocast:
            logits = model(batch).logits
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    model.train()
    step()  # warm-up
    train_seconds = min(step() for _ in range(2))
    train_peak = peak_mib(device)
    model.eval()
    with torch.inference_mode(), autocast:
        start = time.perf_counter()
        model(batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        infer_seconds = time.perf_counter() - start
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "codes": args.codes, "tokens": args.tokens, "batch": args.batch,
        "bf16": args.bf16, "parameters": sum(p.numel() for p in model.parameters()),
        "train_step_s": round(train_seconds, 3), "infer_ms_per_doc": round(1000 * infer_seconds / args.batch, 1),
        "peak_mib": round(train_peak, 1), "peak_mib_before_model_run": round(base, 1),
    }  # fmt: skip
    for key, value in result.items():
        print(f"{key:28s} {value}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
