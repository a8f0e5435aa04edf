"""Reading weight files that a user's command names (a run's ``model.pt``, a Lightning checkpoint to resume
from): tensors and plain containers only (``weights_only=True``), and a damaged or mismatched file is one
:class:`UserError` line naming it, never a traceback from deep inside torch's unpickler."""

from __future__ import annotations

from pathlib import Path

import torch

from icdbench.errors import UserError


def _first_line(exc: BaseException) -> str:
    """The exception's first sentence (torch's messages go on with advice that does not apply here)."""
    text = str(exc).strip()
    return (text.splitlines()[0].split(". ")[0] if text else type(exc).__name__)[:160]


def read_weights(path: Path, *, mmap: bool = False) -> dict:
    """The object saved at ``path`` (a state dict or a Lightning checkpoint dict). ``mmap=True`` only reads the
    archive's index (cheap): enough to tell a complete file from a truncated one before a long job starts."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist; re-run the training to get a complete run folder")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001  (zip, pickle, EOF and size errors all mean a damaged file)
        raise UserError(
            f"{path} is corrupt or truncated ({_first_line(exc)}); re-run the training (or copy the file again)"
        ) from None
    if not isinstance(loaded, dict):
        raise UserError(f"{path} holds a {type(loaded).__name__}, not saved weights; re-run the training")
    return loaded


def load_model_weights(model: torch.nn.Module, path: Path, state: dict | None = None) -> None:
    """Load the plain state dict saved at ``path`` (``model.pt``; ``state`` if already read) into ``model``; a
    file of another architecture or config is a one-line error (``config.yaml`` and ``model.pt`` of
    different runs)."""
    state = read_weights(path) if state is None else state
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise UserError(
            f"{path} does not fit the model its run's config.yaml describes ({_first_line(exc)}); "
            "keep a run folder's files together or re-run the training"
        ) from None
