"""Parameter counts at a stated nominal context (for ``icdbench list models``)."""

from __future__ import annotations

import numpy as np
import torch

from icdbench.models.base import ModelContext
from icdbench.models.registry import ModelSpec

NOMINAL_VOCAB = 20_000
NOMINAL_CODES = 1_000
NOMINAL = f"a {NOMINAL_VOCAB:,}-word vocabulary and {NOMINAL_CODES:,} codes (100 three-character parents)"


def nominal_context(n_codes: int = NOMINAL_CODES, vocab_size: int = NOMINAL_VOCAB) -> ModelContext:
    """A context shaped like a real split: ICD-10-like codes under 3-character parents, code titles as ids."""
    codes = [f"{chr(65 + (i // 1000) % 26)}{(i // 10) % 100:02d}.{i % 10}" for i in range(n_codes)]
    generator = torch.Generator().manual_seed(0)
    return ModelContext(
        codes=codes,
        kinds=["dx"] * n_codes,
        titles=[f"title of {c}" for c in codes],
        short_titles=[None] * n_codes,
        ancestors=[[c.split(".")[0]] for c in codes],
        train_counts=np.full(n_codes, 10, dtype=np.int64),
        n_train_docs=1_000,
        vocab=["<pad>", "<unk>", *[f"w{i}" for i in range(vocab_size - 2)]],
        title_ids=torch.randint(2, vocab_size, (n_codes, 36), generator=generator),
    )


def parameter_count(spec: ModelSpec) -> int | None:
    """Parameters of ``spec`` at its default config in the nominal context; None when not a torch model
    (scikit-learn models grow with the data) or when it cannot be built here (e.g. a missing encoder)."""
    if spec.trainer == "sklearn":
        return None
    try:
        model = spec.build(spec.default_config(), nominal_context())
    except Exception:  # noqa: BLE001 - listing must not fail because one model cannot be built offline
        return None
    if not isinstance(model, torch.nn.Module):
        return None
    return sum(p.numel() for p in model.parameters())
